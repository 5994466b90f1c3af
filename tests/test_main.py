"""The command line, `python -m course_lib` (course_lib/__main__.py)."""

import json
import subprocess
import sys

import pytest

from course_lib import experiments
from course_lib.__main__ import main
from course_lib.experiments import load_results


def test_cli_plain_vs_residual_fast(tmp_path, capsys):
    out = tmp_path / "pvr.json"
    assert main(["plain-vs-residual", "--fast", "--seeds", "1", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["meta"]["command"].endswith("--out " + str(out)) and data["meta"]["fast"]
    assert {r["arm"] for r in data["runs"]} == {"plain", "residual"}
    plain, residual = data["runs"]
    # controlled: same seed, same data order, same number of steps for both arms
    assert plain["history"]["step"] == residual["history"]["step"]
    assert len(plain["test_pred"]) == len(plain["test_labels"]) == data["sizes"][2]
    out_text = capsys.readouterr().out
    assert "gap (residual - plain" in out_text and "run 2 of 2 (seed 0, residual)" in out_text
    assert load_results(out)["experiment"] == "plain-vs-residual"


def test_cli_degradation_fast(tmp_path):
    out = tmp_path / "deg.json"
    main(["degradation", "--fast", "--depths", "8", "14", "--seeds", "2", "--out", str(out)])
    data = load_results(out)
    arms = list(experiments.DEFAULT_ARMS)
    assert [(r["seed"], r["depth"], r["arm"]) for r in data["runs"]] == [
        (s, d, a) for s in (0, 1) for d in (8, 14) for a in arms]
    assert all(0 <= r["final_train_error"] <= 1 for r in data["runs"])
    by = {(r["seed"], r["depth"], r["arm"]): r for r in data["runs"]}
    # option A has exactly the parameters of the plain twin; option B adds the projections
    assert by[(0, 8, "plain")]["params"] == by[(0, 8, "residual")]["params"] < by[(0, 8, "residual-B")]["params"]
    assert by[(0, 8, "residual")]["shortcut"] == "A" and by[(0, 8, "plain")]["shortcut"] is None
    rows = experiments.degradation_table(data)
    assert len(rows) == 2 * len(arms) and all(r["n"] == 2 for r in rows)


def test_cli_checks_out_before_training(tmp_path, capsys, monkeypatch):
    called = []
    monkeypatch.setattr(experiments, "degradation", lambda *a, **k: called.append(1))
    existing = tmp_path / "deg.json"
    existing.write_text("{}")
    with pytest.raises(SystemExit):
        main(["degradation", "--fast", "--depths", "8", "--out", str(existing)])
    assert "--force" in capsys.readouterr().err and not called and existing.read_text() == "{}"
    with pytest.raises(SystemExit):
        main(["degradation", "--fast", "--depths", "8", "--out", str(tmp_path)])
    assert "is a folder" in capsys.readouterr().err and not called


@pytest.mark.parametrize("seeds", ["0", "-1", "two"])
def test_cli_rejects_bad_seed_counts(seeds, capsys):
    with pytest.raises(SystemExit):
        main(["plain-vs-residual", "--fast", "--seeds", seeds])
    assert "--seeds takes a whole number >= 1" in capsys.readouterr().err


def test_cli_rejects_bad_depth(capsys):
    with pytest.raises(SystemExit):
        main(["degradation", "--fast", "--depths", "21"])
    assert "depth must be 6n+2" in capsys.readouterr().err


def test_the_old_module_command_still_runs(tmp_path):
    """The committed results record `python -m course_lib.experiments ...`; it must keep working."""
    out = subprocess.run([sys.executable, "-m", "course_lib.experiments", "degradation", "--depths", "21"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "depth must be 6n+2" in out.stderr

