"""How long each cell of a committed notebook took, read from the timings its full-mode run saved.

`jupyter nbconvert --execute` (nbclient) records in every code cell's `metadata.execution` when
the cell started (`iopub.status.busy`) and finished (`iopub.status.idle`). These functions turn
them into seconds, so that the README's table, the notebook headers, the course map and the
warnings before slow cells quote the measured run instead of a number typed by hand:

    python -m course_lib.tools.runtimes            # rewrite them all from the saved timings
    python -m course_lib.tools.runtimes --check    # exit 1 when one is stale
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from ..files import write_text
from ..i18n import _, language

SLOW_SECONDS = 60           # a cell that ran longer than this says so in the text above it


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def cell_seconds(cell: dict) -> float | None:
    """Seconds one code cell took in the saved run; None when the run saved no timing."""
    ex = cell.get("metadata", {}).get("execution", {})
    if "iopub.status.busy" not in ex or "iopub.status.idle" not in ex:
        return None
    try:
        seconds = (_when(ex["iopub.status.idle"]) - _when(ex["iopub.status.busy"])).total_seconds()
    except (TypeError, ValueError):
        return None                               # a timestamp that is not one: no timing
    return seconds if seconds >= 0 else None      # idle before busy: a broken timing, not a negative time


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


# ------------------------------------------------ the times quoted in the prose, written from the runs
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
HEADER = re.compile(r"\n?\*\*(?:Full run:|完整运行：)\*\*[^\n]*")
SLOW_NOTE = re.compile(r"\n?<!-- runtime -->.*?<!-- /runtime -->", re.S)
DURATION = re.compile(r"^(?:\d+ min(?: \d\d s)?|\d+ s)")


def run_date(nb: dict) -> str:
    stamps = [c["metadata"]["execution"]["iopub.status.busy"] for c in nb["cells"]
              if c["cell_type"] == "code" and "iopub.status.busy" in c.get("metadata", {}).get("execution", {})]
    return min(stamps)[:10] if stamps else "unknown"


def shared(nb: dict) -> bool:
    """Was the saved run made with one thread while another notebook ran beside it? (The notebook's
    metadata says so: `"course": {"run": "shared"}`, set by whoever ran it that way.) Its times
    are then upper bounds of a quiet run, and the text says so."""
    return nb.get("metadata", {}).get("course", {}).get("run") == "shared"


def header_line(nb: dict) -> str:
    if shared(nb):
        return _("**Full run:** {time} on a 2-core CPU shared with another notebook's run (one thread each), measured "
                 "{date} (`jupyter nbconvert --execute`, the run whose outputs you see): an upper bound of a quiet "
                 "run. Your machine may differ: every slow cell shows a progress bar with the time left."
                 ).format(time=duration(notebook_seconds(nb)), date=run_date(nb))
    return _("**Full run:** {time} on a 2-core CPU, measured {date} (`jupyter nbconvert --execute`, the run whose "
             "outputs you see). Your machine may differ: every slow cell shows a progress bar with the time left."
             ).format(time=duration(notebook_seconds(nb)), date=run_date(nb))


def slow_note(seconds: float, k: int = 1, shared_run: bool = False) -> str:
    which = _("The next code cell") if k == 1 else _("The {ordinal} code cell below").format(ordinal=ordinal(k))
    text = (_("{which} took {time} in the committed full run (2-core CPU shared with another notebook's run: an "
              "upper bound); its progress bar shows the time left on your machine.") if shared_run else
            _("{which} took {time} in the committed full run (2-core CPU); its progress bar "
              "shows the time left on your machine."))
    return "<!-- runtime -->*" + text.format(which=which, time=duration(seconds)) + "*<!-- /runtime -->"


def ordinal(n: int) -> str:
    if language() == "zh":
        return f"第{n}个"
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def updated(nb: dict) -> dict:
    """`nb` with its header line and the notes above its slow cells written from its saved timings."""
    if notebook_seconds(nb) is None:
        return nb
    cells = nb["cells"]
    head = HEADER.sub("", "".join(cells[0]["source"])).rstrip("\n")
    _set(cells[0], head + "\n\n" + header_line(nb))
    notes: dict[int, list[str]] = {}
    for i, seconds in slow_cells(nb):                   # a note in the nearest markdown cell above
        above = next((j for j in range(i - 1, -1, -1) if cells[j]["cell_type"] == "markdown"), None)
        if above is not None:
            k = sum(cells[j]["cell_type"] == "code" for j in range(above + 1, i + 1))
            notes.setdefault(above, []).append(slow_note(seconds, k, shared(nb)))
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            text = SLOW_NOTE.sub("", "".join(cell["source"])).rstrip("\n")
            _set(cell, text + "".join("\n\n" + note for note in notes.get(i, [])))
    return nb


def _set(cell: dict, text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]


def readme_with_times(readme: str, times: dict[str, float], date: str) -> str:
    """README.md's table of notebooks with its measured column rewritten from `times` (by stem)."""
    out = []
    for line in readme.split("\n"):
        m = re.match(r"\| (\d\d|–) \| `(\w+)` \|", line)
        if m and m.group(2) in times:
            cols = line.split(" | ")
            cols[-1] = DURATION.sub(duration(times[m.group(2)]), cols[-1], count=1)
            line = " | ".join(cols)
        line = re.sub(r"(full run, measured on a 2-core CPU \(`jupyter nbconvert --execute`\)), \d{4}-\d\d-\d\d",
                      rf"\1, {date}", line)
        line = re.sub(r"(完整运行（2 核 CPU，`jupyter nbconvert --execute`），)(?:\d{4}-\d\d-\d\d|unknown)", rf"\g<1>{date}", line)
        out.append(line)
    return "\n".join(out)


def course_map_with_times(text: str, times: dict[str, float]) -> str:
    """Notebook 00's course map with a 'full run' column from `times` (by notebook number)."""
    out = []
    for line in text.split("\n"):
        if line.startswith("| # |"):
            cols = [c.strip() for c in line.strip().strip("|").split(" | ")][:3]
            line = "| " + " | ".join(cols) + " | " + _("full run") + " |"
        elif line.startswith("|---|---|---|") and line.count("|") <= 5:
            line = "|---|---|---|---|"
        else:
            m = re.match(r"\| (\d\d) \|", line)
            if m and m.group(1) in times:
                cols = [c for c in line.strip().strip("|").split(" | ")][:3]
                line = "| " + " | ".join(c.strip() for c in cols) + f" | {duration(times[m.group(1)])} |"
        out.append(line)
    return "\n".join(out)


def write_all(notebooks: Path = NOTEBOOKS, readme: Path = ROOT / "README.md") -> list[Path]:
    """Rewrite every quoted run time from the saved timings; return the files that changed."""
    changed, times, dates = [], {}, []
    paths = sorted(notebooks.glob("*.ipynb"))
    for path in paths:
        nb = read(path)
        if notebook_seconds(nb) is not None:
            times[path.stem] = notebook_seconds(nb)
            dates.append(run_date(nb))
        text = json.dumps(updated(nb), indent=1, ensure_ascii=False) + "\n"
        if text != path.read_text(encoding="utf-8"):
            write_text(path, text)
            changed.append(path)
    start = notebooks / "00_start_here.ipynb"
    nb = read(start)
    by_number = {stem[:2]: t for stem, t in times.items() if stem[:2].isdigit()}
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and "## The course map" in "".join(cell["source"]):
            _set(cell, course_map_with_times("".join(cell["source"]), by_number))
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if text != start.read_text(encoding="utf-8"):
        write_text(start, text)
        changed.append(start)
    new = readme_with_times(readme.read_text(encoding="utf-8"), times, max(dates) if dates else "unknown")
    if new != readme.read_text(encoding="utf-8"):
        write_text(readme, new)
        changed.append(readme)
    return changed


def main(argv: list[str] | None = None) -> int:
    import argparse
    import shutil
    import sys
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.runtimes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a quoted time is stale")
    args = parser.parse_args(argv)
    broken = [f"{path.name} cell {i}" for path in sorted(NOTEBOOKS.glob("*.ipynb"))
              for i, c in enumerate(read(path)["cells"]) if c["cell_type"] == "code"
              and {"iopub.status.busy", "iopub.status.idle"} <= set(c.get("metadata", {}).get("execution", {}))
              and cell_seconds(c) is None]
    if broken:
        print(f"ignored broken timings (idle before busy, or not a time), so those notebooks get no total: "
              f"{', '.join(broken)}", file=sys.stderr)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(NOTEBOOKS, Path(tmp) / "notebooks")
            shutil.copy(ROOT / "README.md", Path(tmp) / "README.md")
            stale = write_all(Path(tmp) / "notebooks", Path(tmp) / "README.md")
        print("stale:", [p.name for p in stale] or "none")
        return 1 if stale else 0
    print("rewrote:", [str(p.relative_to(ROOT)) for p in write_all()] or "nothing (all current)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
