"""The seed-to-seed spread of the runs that exercises 02.3 and 05.3 ask for, so that a check can show
the learner's one run next to the distribution the course measured over seeds.

The numbers live in data/results/exercise_spread.json, made by

    python -m course_lib.tools.exercise_spread --seeds 10 --out data/results/exercise_spread.json

which runs the exercises' own reference runs (the functions the checks compare with) once per seed.
Exercise 08.1's spread is cheap enough to measure at check time.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from ..i18n import _

SPREAD_FILE = Path(__file__).resolve().parents[2] / "data" / "results" / "exercise_spread.json"


def load_spread(path: Path = SPREAD_FILE) -> dict:
    """The committed spread, or {} when the file is missing or unreadable (the checks then skip the line)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def describe(entry: dict, mine: dict, what: str) -> str:
    """One line per arm: the learner's value, then the median and range over the course's seeds."""
    seeds = entry["seeds"]
    lines = [_("{what}, yours against the course's {n} seeds ({first}–{last}), one run each:").format(
        what=_(what), n=len(seeds), first=seeds[0], last=seeds[-1])]
    for arm, value in mine.items():
        values = sorted(entry["arms"][arm])
        rank = sum(v < value for v in values)
        lines.append(f"  {arm:9s} " + _("yours {value:.4g}; seeds: median {median:.4g}, range {low:.4g} – {high:.4g} "
                                          "({rank} of {n} seeds lower)").format(
            value=value, median=statistics.median(values), low=values[0], high=values[-1], rank=rank, n=len(values)))
    return "\n".join(lines)
