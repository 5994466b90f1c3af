"""What a learner sees in the committed notebooks before running anything."""

import json
import re
from pathlib import Path

import pytest

_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(_DIR.glob("*.ipynb")) + sorted((_DIR / "zh").glob("*.ipynb"))     # both editions
STUCK = re.compile(r"(?<!\d)0%\|")


def final_lines(text: str) -> list[str]:
    """What a terminal (and Jupyter) shows of a stream: the last \\r-segment of every line."""
    return [line.split("\r")[-1] for line in text.split("\n")]


def stuck_progress_bars(nb: dict) -> list[str]:
    found = []
    for i, cell in enumerate(nb["cells"]):
        texts, stream = [], None
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" or ("text" in out and "data" not in out):
                # Jupyter shows consecutive outputs of one stream as one text: join them first
                if stream is not None and out.get("name") == stream[0]:
                    texts[-1] += "".join(out["text"])
                else:
                    texts.append("".join(out["text"]))
                stream = (out.get("name"),)
                continue
            stream = None
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                texts.append("".join(data.get("text/plain", "")))
        for text in texts:
            found += [f"cell {i}: {line.strip()[:80]}" for line in final_lines(text) if STUCK.search(line)]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[("zh/" if p.parent.name == "zh" else "") + p.stem for p in NOTEBOOKS])
def test_no_saved_progress_bar_is_stuck_at_zero(path):
    assert not stuck_progress_bars(json.loads(path.read_text(encoding="utf-8")))


def test_the_check_sees_a_stuck_bar():
    nb = {"cells": [{"outputs": [{"text": "training:   0%|          | 0/625 [00:00<?, ?step/s]"}]},
                    {"outputs": [{"text": "training:   0%|   | 0/9\rtraining: 100%|###| 9/9 [00:01<00:00]\n"}]},
                    {"outputs": [{"output_type": "stream", "name": "stdout", "text": "training:   0%|   | 0/9"},
                                 {"output_type": "stream", "name": "stdout", "text": "\rtraining: 100%|###| 9/9\n"}]}]}
    assert len(stuck_progress_bars(nb)) == 1


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem[:2].isdigit()], ids=lambda p: ("zh/" if p.parent.name == "zh" else "") + p.stem)
def test_every_notebook_links_to_the_next(path):
    last = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][-1]["source"])
    if path.parent.name != "zh":                 # the Chinese edition says it in Chinese
        assert last.startswith("**Next:**") or last.startswith("**This is the last notebook")
    for target in re.findall(r"\]\(([^)]+\.ipynb)\)", last):
        assert (path.parent / target).is_file(), target


WIDGET = "application/vnd.jupyter.widget-view+json"


def widget_copies(nb: dict) -> list[str]:
    """What would draw a widget before the kernel runs: saved widget state, or a widget view."""
    found = ["metadata.widgets (saved widget state)"] if "widgets" in nb.get("metadata", {}) else []
    for i, cell in enumerate(nb["cells"]):
        found += [f"cell {i}: a saved widget view" for out in cell.get("outputs", []) if WIDGET in out.get("data", {})]
    return found


def widget_pictures(nb: dict) -> list[tuple[int, str]]:
    """(cell, alt text) of every saved widget picture: the outputs of cells that call show(...)."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and re.search(r"^\s*show\(", "".join(cell["source"]), re.M):
            found += [(i, out.get("metadata", {}).get("image/png", {}).get("alt", ""))
                      for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[("zh/" if p.parent.name == "zh" else "") + p.stem for p in NOTEBOOKS])
def test_each_widget_is_one_saved_picture_before_running(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert not widget_copies(nb), "run `python -m course_lib.tools.freeze` on the notebook after executing it"
    shows = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and re.search(r"^\s*show\(", "".join(c["source"]), re.M)]
    pictures = widget_pictures(nb)
    assert [i for i, _ in pictures] == shows, "each show(...) cell saves exactly one picture"
    prefixes = ["saved picture of the widget: "] + (["小部件的保存图片："] if path.parent.name == "zh" else [])
    assert all(any(alt.startswith(p) and len(alt) > len(p) + 12 for p in prefixes)
               for _, alt in pictures)                                                            # and says something


def test_freeze_keeps_the_picture_and_drops_the_live_half():
    from course_lib.tools.freeze import freeze_notebook
    nb = {"metadata": {"widgets": {"state": {}}},
          "cells": [{"outputs": [{"data": {WIDGET: {"model_id": "x"}, "image/png": "AAAA", "text/plain": "VBox()"}}]}]}
    assert freeze_notebook(nb) == 1 and not widget_copies(nb)
    assert nb["cells"][0]["outputs"][0]["data"] == {"image/png": "AAAA", "text/plain": "VBox()"}
    with pytest.raises(ValueError, match="without a saved picture"):
        freeze_notebook({"cells": [{"outputs": [{"data": {WIDGET: {}, "text/plain": "VBox()"}}]}]})


def test_show_displays_one_output_holding_the_widget_and_its_picture():
    from course_lib.snapshot import bundle
    from course_lib.widgets import output_size_calculator
    data, meta = bundle(output_size_calculator())
    assert WIDGET in data and data["image/png"] and "text/plain" in data
    assert meta["image/png"]["alt"].startswith("saved picture of the widget: ")


def test_snapshot_of_the_depth_explorer_holds_its_figure():
    from course_lib.snapshot import snapshot_parts
    from course_lib.widgets import depth_explorer

    parts = snapshot_parts(depth_explorer(depth=8, sweep=None))
    kinds = [k for k, _ in parts]
    assert kinds[0] == "markdown" and "png" in kinds
    assert any(k == "markdown" and "depth = 8" in v for k, v in parts)
    png = next(v for k, v in parts if k == "png")
    assert png[:4] == b"\x89PNG"


def test_snapshot_of_the_upload_predictor_before_any_upload():
    from course_lib.models import cifar_resnet
    from course_lib.widgets import upload_predictor
    from course_lib.snapshot import snapshot_parts

    parts = snapshot_parts(upload_predictor(cifar_resnet(8), {"a.png": b""}))
    assert parts[0][0] == "markdown" and any("or a sample = (choose a sample)" in v for k, v in parts if k == "markdown")


def test_nbval_markers_are_cell_tags_not_comments_a_learner_reads():
    tagged = 0
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            assert "NBVAL_" not in "".join(cell["source"]), f"{path.name}: use the cell tag nbval-check-output"
            tagged += "nbval-check-output" in cell.get("metadata", {}).get("tags", [])
    assert tagged >= 30
