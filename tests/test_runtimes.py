"""Every run time the course quotes is written from the saved timings of the committed run."""

import json
import shutil

import pytest

from course_lib.tools import runtimes

NOTEBOOKS = sorted(runtimes.NOTEBOOKS.glob("*.ipynb"))


def timed(source, seconds, kind="code"):
    return {"cell_type": kind, "source": source, "metadata": {"execution": {
        "iopub.status.busy": "2026-11-30T10:00:00.000000Z",
        "iopub.status.idle": f"2026-11-30T10:{seconds // 60:02d}:{seconds % 60:02d}.000000Z"}}}


def test_durations_read_as_a_learner_reads_them():
    assert [runtimes.duration(s) for s in (7.4, 65, 610, 1093)] == ["7 s", "1 min 05 s", "10 min", "18 min"]
    nb = {"cells": [{"cell_type": "markdown", "source": "# 99 · A title\n*sub*", "metadata": {}},
                    timed("x = 1", 5), {"cell_type": "markdown", "source": "Train it.", "metadata": {}},
                    timed("train()", 130)]}
    assert runtimes.notebook_seconds(nb) == 135 and runtimes.slow_cells(nb) == [(3, 130)]
    out = runtimes.updated(json.loads(json.dumps(nb)))
    assert "**Full run:** 2 min 15 s on a 2-core CPU, measured 2026-11-30" in "".join(out["cells"][0]["source"])
    assert "The next code cell took 2 min 10 s" in "".join(out["cells"][2]["source"])
    assert runtimes.updated(json.loads(json.dumps(out))) == out          # idempotent


def test_the_committed_times_are_current(tmp_path):
    shutil.copytree(runtimes.NOTEBOOKS, tmp_path / "notebooks")
    shutil.copy(runtimes.ROOT / "README.md", tmp_path / "README.md")
    stale = runtimes.write_all(tmp_path / "notebooks", tmp_path / "README.md")
    assert not stale, f"run `python -m course_lib.tools.runtimes`: stale times in {[p.name for p in stale]}"


def test_a_changed_timing_makes_the_times_stale(tmp_path):
    shutil.copytree(runtimes.NOTEBOOKS, tmp_path / "notebooks")
    shutil.copy(runtimes.ROOT / "README.md", tmp_path / "README.md")
    path = tmp_path / "notebooks" / "02_the_residual_block.ipynb"
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell["metadata"]["execution"]["iopub.status.idle"] = "2030-01-01T00:00:00.000000Z"
    path.write_text(json.dumps(nb))
    assert path in runtimes.write_all(tmp_path / "notebooks", tmp_path / "README.md")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_slow_cell_announces_itself_and_how_to_skip_it(path):
    nb = json.loads(path.read_text())
    assert runtimes.notebook_seconds(nb) is not None, "the committed run saved no timings: execute it with nbconvert"
    for i, seconds in runtimes.slow_cells(nb):
        above = next("".join(c["source"]) for c in reversed(nb["cells"][:i]) if c["cell_type"] == "markdown")
        assert "<!-- runtime -->" in above, f"cell {i} took {seconds:.0f} s with no note above it"
        assert "skip" in above.lower() or "COURSE_FAST=1" in above, \
            f"cell {i} took {seconds:.0f} s: say above it how to skip it or make it short"


def test_a_run_shared_with_another_notebook_says_its_times_are_upper_bounds():
    nb = {"metadata": {"course": {"run": "shared"}},
          "cells": [{"cell_type": "markdown", "source": "# 99 · A title", "metadata": {}},
                    {"cell_type": "markdown", "source": "Train it.", "metadata": {}}, timed("train()", 130)]}
    out = runtimes.updated(json.loads(json.dumps(nb)))
    head, note = "".join(out["cells"][0]["source"]), "".join(out["cells"][1]["source"])
    assert "shared with another notebook's run (one thread each)" in head and "an upper bound of a quiet run" in head
    assert "2-core CPU shared with another notebook's run: an upper bound" in note
    assert runtimes.updated(json.loads(json.dumps(out))) == out
