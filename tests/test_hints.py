"""course_lib.hints: a NameError in a cell names the cell that defines the name."""

import json

from IPython.core.interactiveshell import InteractiveShell

from course_lib import hints

CELLS = ["import torch\nfrom course_lib import load_mnist as lm",
         "%matplotlib inline\ndata = lm(seed=0)\na, (b, c) = 1, (2, 3)",
         "# train\nfor epoch in range(2):\n    model = epoch\ndef helper(x):\n    return x\nwith open('f') as fh:\n    pass",
         "this is not python ("]


def test_defining_cell_finds_every_kind_of_binding():
    expected = {"torch": 0, "lm": 0, "data": 1, "a": 1, "c": 1, "epoch": 2, "model": 2, "helper": 2, "fh": 2}
    assert {n: hints.defining_cell(CELLS, n) for n in expected} == expected
    assert hints.defining_cell(CELLS, "load_mnist") is None      # imported under another name
    assert hints.defining_cell(CELLS, "nowhere") is None


def test_hint_text():
    text = hints.name_error_hint("model", CELLS)
    assert "the 3rd code cell from the top" in text and "`for epoch in range(2):`" in text and "Run All Above" in text
    assert "counts runs, not cells" in text and "On the way" not in text
    assert "not defined yet" in hints.name_error_hint("nowhere", CELLS)
    assert "not defined yet" in hints.name_error_hint("model", None)


def test_hint_warns_of_slow_cells_on_the_way():
    def timed(source, seconds):
        return {"cell_type": "code", "source": source, "metadata": {"execution": {
            "iopub.status.busy": "2026-11-23T10:00:00.000000Z",
            "iopub.status.idle": f"2026-11-23T10:{seconds // 60:02d}:{seconds % 60:02d}.000000Z"}}}
    cells = [timed("import torch", 3), timed("data = 1\nmodel = train(data)", 370), timed("x = data", 2),
             timed("later = slow()", 600)]
    text = hints.name_error_hint("data", cells, current=2)
    assert "the 2nd code cell" in text and "took 6 min 10 s" in text and "later" not in text
    assert "On the way" not in hints.name_error_hint("torch", cells, current=1)


def test_installed_handler_prints_the_hint_and_keeps_the_error(tmp_path, monkeypatch, capsys):
    nb = {"cells": [{"cell_type": "markdown", "source": "# title"},
                    *[{"cell_type": "code", "source": s} for s in CELLS]]}
    path = tmp_path / "lesson.ipynb"
    path.write_text(json.dumps(nb))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    shell = InteractiveShell.instance()
    try:
        assert hints.install(shell)
        result = shell.run_cell("print(data)")
        assert isinstance(result.error_in_exec, NameError)          # still an error for nbval and tools
        out = capsys.readouterr().out
        assert "NameError" in out and "`data` is defined in the 2nd code cell" in out
        shell.run_cell("def f():\n    return undefined_inside\n")
        capsys.readouterr()
        shell.run_cell("import json; json.loads('[1]')")
        assert "Hint" not in capsys.readouterr().out
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()


def test_install_outside_ipython_is_a_no_op():
    assert hints.install() is False
