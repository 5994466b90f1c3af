"""How long each cell of a committed notebook took, read from the timings its full-mode run saved.

`jupyter nbconvert --execute` (nbclient) records in every code cell's `metadata.execution` when
the cell started (`iopub.status.busy`) and finished (`iopub.status.idle`). These functions turn
them into seconds, so that the README's table, the notebook headers, the course map and the
warnings before slow cells quote the measured run instead of a number typed by hand.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

SLOW_SECONDS = 60           # a cell that ran longer than this says so in the text above it


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def cell_seconds(cell: dict) -> float | None:
    """Seconds one code cell took in the saved run; None when the run saved no timing."""
    ex = cell.get("metadata", {}).get("execution", {})
    if "iopub.status.busy" not in ex or "iopub.status.idle" not in ex:
        return None
    return (_when(ex["iopub.status.idle"]) - _when(ex["iopub.status.busy"])).total_seconds()


def notebook_seconds(nb: dict) -> float | None:
    """The notebook's full run: the sum of its code cells' times (None if any cell lacks a timing)."""
    times = [cell_seconds(c) for c in nb["cells"] if c["cell_type"] == "code"]
    return None if not times or any(t is None for t in times) else sum(times)


def slow_cells(nb: dict, limit: float = SLOW_SECONDS) -> list[tuple[int, float]]:
    """(cell index, seconds) of every code cell that took longer than `limit` in the saved run."""
    out = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] == "code":
            t = cell_seconds(c)
            if t is not None and t > limit:
                out.append((i, t))
    return out


def duration(seconds: float) -> str:
    """A run time as a learner reads it: 7 s, 1 min 05 s, 18 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    return f"{minutes} min" if minutes >= 10 else f"{minutes} min {s:02d} s"


def read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
