import pytest

from course_lib import experiments
from course_lib.experiments import final_smoothed, load_results, summarize


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


def test_seed_setting_fast():
    data = experiments.seed_setting(seeds=[0])
    confounded = data["designs"]["seed (confounded)"]["runs"]
    assert {r["arm"]: r["config"]["lr"] for r in confounded} == {"plain": 0.005, "residual": 0.01}
    controlled = data["designs"]["controlled, lr 0.01 batch 128"]["runs"]
    assert {r["config"]["batch_size"] for r in controlled} == {128}


def test_load_results_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_lib"):
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


def test_presets_are_the_only_difference_between_fast_and_full(monkeypatch):
    for name, modes in experiments.PRESETS.items():
        assert set(modes) == {"full", "fast"}
        monkeypatch.setenv("COURSE_FAST", "1")
        assert experiments.preset(name) == modes["fast"]
        monkeypatch.setenv("COURSE_FAST", "0")
        assert experiments.preset(name) == modes["full"]
    assert experiments.plain_vs_residual_config().num_epochs == experiments.PRESETS["plain-vs-residual"]["full"].num_epochs



def test_placement_ranks_your_run_among_the_committed_seeds():
    from course_lib.experiments import placement
    committed = [{"arm": "plain", "seed": s, "test_acc": a} for s, a in enumerate((0.90, 0.92, 0.94))]
    mine = [{"arm": "plain", "seed": 1, "test_acc": 0.93}]
    p = placement(mine, committed)[0]
    assert (p["below"], p["above"], p["same_seed"], p["committed"]) == (2, 1, 0.92, [0.90, 0.92, 0.94])
    assert placement([{"arm": "plain", "seed": 7, "test_acc": 0.5}], committed)[0]["same_seed"] is None


def test_plot_placement_draws_one_panel_per_arm(tmp_path):
    import matplotlib.pyplot as plt
    from course_lib.plotting import plot_placement
    h = {"step": [1, 2, 3], "train_loss": [2.0, 1.0, 0.5]}
    committed = [{"arm": a, "seed": s, "history": h} for a in ("plain", "residual") for s in (0, 1)]
    axes = plot_placement([{"arm": "plain", "seed": 0, "history": h}], committed, window=1)
    assert len(axes) == 2 and "your run, seed 0" in [t.get_text() for t in axes[0].get_legend().get_texts()]
    plt.close("all")
