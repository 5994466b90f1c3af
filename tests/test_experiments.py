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
    # paired: t(1) = 12.706 times std(0.05, 0.03) / sqrt(2)
    half = 12.706 * 0.0141421356 / 2 ** 0.5
    assert s["gap"]["ci_low"] == pytest.approx(0.04 - half, abs=1e-4)
    assert s["gap"]["ci_high"] == pytest.approx(0.04 + half, abs=1e-4)


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
    out_text = capsys.readouterr().out
    assert "gap (residual - plain" in out_text and "run 2 of 2 (seed 0, residual)" in out_text
    assert load_results(out)["experiment"] == "plain-vs-residual"


def test_cli_degradation_fast(tmp_path):
    out = tmp_path / "deg.json"
    main(["degradation", "--fast", "--depths", "8", "14", "--seeds", "2", "--out", str(out)])
    data = load_results(out)
    arms = list(experiments.SWEEP_ARMS)
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


def test_progress_line_estimates_the_rest():
    assert experiments.progress_line(0, 10, 0.0) == "run 1 of 10; elapsed 0 s"
    line = experiments.progress_line(2, 10, 120.0, "seed 1, plain")
    assert line == "run 3 of 10 (seed 1, plain); elapsed 2 min 00 s, about 8 min 00 s left (estimated from the runs so far)"


def test_lr_factor_warmup_then_cosine():
    f = experiments.lr_factor
    assert f(0, 100, "cosine", 10) == pytest.approx(0.1 * (0.5 * (1 + __import__("math").cos(0))))
    assert f(9, 100, "cosine", 10) == pytest.approx(0.5 * (1 + __import__("math").cos(__import__("math").pi * 9 / 100)))
    assert f(100, 100, "cosine", 0) == pytest.approx(0.0)
    assert f(5, 100, "constant", 0) == 1.0


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
    assert "depth must be 6n+2" in capsys.readouterr().err


def test_load_results_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_lib.experiments"):
        load_results(tmp_path / "nope.json")


def test_committed_results_exist_with_commands():
    for name in ("plain_vs_residual", "degradation", "seed_setting"):
        data = load_results(name)
        assert data["meta"]["command"].startswith("python -m course_lib.experiments")
        assert not data["meta"]["fast"]


def test_committed_sweep_is_the_one_the_issue_asks_for():
    sweep = load_results("degradation")
    assert len(sweep["seeds"]) >= 3 and sweep["depths"] == [8, 14, 20, 32, 44, 56, 110]
    assert sweep["config"]["schedule"] == "cosine"
    for depth in sweep["depths"]:
        for arm in ("plain", "residual"):
            assert len([r for r in sweep["runs"] if r["depth"] == depth and r["arm"] == arm]) >= 3
    assert len(load_results("plain_vs_residual")["seeds"]) == 5


def test_transfer_fast(monkeypatch):
    monkeypatch.setattr(experiments, "pick", lambda full, fast: fast)
    r = experiments.transfer(shots=(5,), seeds=[0], steps=5, lrs=(0.01, 0.1))
    methods = [row["method"] for row in r["rows"]]
    # every method searched both rates on the dev split, and uses the one with the best dev accuracy
    assert len(r["search"]) == 2 * len(experiments.TRANSFER_METHODS)
    for m in experiments.TRANSFER_METHODS:
        tried = [s for s in r["search"] if s["method"] == m]
        assert r["chosen_lr"][f"5|{m}"] == max(tried, key=lambda s: s["dev_acc"])["lr"]
    assert len(experiments.transfer_comparisons(r)) == 3
    assert methods == list(experiments.TRANSFER_METHODS)
    frozen = next(row for row in r["rows"] if row["method"].startswith("frozen"))
    assert frozen["trainable_params"] == 64 * 5 + 5          # only the new head trains
    assert all(0 <= row["test_acc"] <= 1 for row in r["rows"])
