import json

import pytest

from course_lib import experiments
from course_lib.experiments import final_smoothed, load_results, main, summarize


def test_summarize_pairs_by_seed():
    runs = [{"arm": "plain", "seed": 0, "test_acc": 0.90, "seconds": 1},
            {"arm": "residual", "seed": 0, "test_acc": 0.95, "seconds": 1},
            {"arm": "plain", "seed": 1, "test_acc": 0.80, "seconds": 1},
            {"arm": "residual", "seed": 1, "test_acc": 0.83, "seconds": 1}]
    s = summarize(runs)
    assert s["plain"]["test_acc_mean"] == pytest.approx(0.85)
    assert s["gap"]["mean"] == pytest.approx(0.04) and s["gap"]["n"] == 2


def test_final_smoothed():
    assert final_smoothed(list(range(100))) == pytest.approx(94.5)
    assert final_smoothed([3.0]) == 3.0


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
    assert "gap (residual - plain" in capsys.readouterr().out
    assert load_results(out)["experiment"] == "plain-vs-residual"


def test_cli_degradation_fast(tmp_path):
    out = tmp_path / "deg.json"
    main(["degradation", "--fast", "--depths", "8", "14", "--out", str(out)])
    data = load_results(out)
    assert [(r["depth"], r["arm"]) for r in data["runs"]] == [(8, "plain"), (8, "residual"), (14, "plain"), (14, "residual")]
    assert all(0 <= r["final_train_error"] <= 1 for r in data["runs"])


def test_cli_seed_setting_fast(monkeypatch, tmp_path):
    monkeypatch.setattr(experiments, "pick", lambda full, fast: fast)
    data = experiments.seed_setting(seeds=[0])
    confounded = data["designs"]["seed (confounded)"]["runs"]
    assert {r["arm"]: r["config"]["lr"] for r in confounded} == {"plain": 0.005, "residual": 0.01}
    controlled = data["designs"]["controlled, lr 0.01 batch 128"]["runs"]
    assert {r["config"]["batch_size"] for r in controlled} == {128}


def test_cli_rejects_bad_depth(capsys):
    with pytest.raises(SystemExit):
        main(["degradation", "--fast", "--depths", "21"])
    assert "not 6n+2" in capsys.readouterr().err


def test_load_results_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_lib.experiments"):
        load_results(tmp_path / "nope.json")


def test_committed_results_exist_with_commands():
    for name in ("plain_vs_residual", "degradation", "seed_setting"):
        data = load_results(name)
        assert data["meta"]["command"].startswith("python -m course_lib.experiments")
        assert not data["meta"]["fast"]


def test_transfer_fast(monkeypatch):
    monkeypatch.setattr(experiments, "pick", lambda full, fast: fast)
    r = experiments.transfer(shots=(5,), seeds=[0], steps=5)
    methods = [row["method"] for row in r["rows"]]
    assert methods == list(experiments.TRANSFER_METHODS)
    frozen = next(row for row in r["rows"] if row["method"].startswith("frozen"))
    assert frozen["trainable_params"] == 64 * 5 + 5          # only the new head trains
    assert all(0 <= row["test_acc"] <= 1 for row in r["rows"])
