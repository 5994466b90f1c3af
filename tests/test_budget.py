"""The budget experiment (slow or stuck?): its schedule, stopping rule, resume and analysis."""

import json
import math

import numpy as np
import pytest

from course_lib import budget, files
from course_lib.budget import BudgetConfig, fit_line, lr_at, steps_to


def test_lr_warms_up_then_drops_tenfold_at_each_milestone():
    cfg = BudgetConfig(lr=0.1, warmup_steps=10, max_steps=100, milestones=(0.5, 0.75))
    assert lr_at(0, cfg) == pytest.approx(0.01)
    assert lr_at(9, cfg) == pytest.approx(0.1) and lr_at(49, cfg) == pytest.approx(0.1)
    assert lr_at(50, cfg) == pytest.approx(0.01) and lr_at(74, cfg) == pytest.approx(0.01)
    assert lr_at(75, cfg) == pytest.approx(0.001) and lr_at(99, cfg) == pytest.approx(0.001)


def test_steps_to_is_the_end_of_the_first_epoch_below_the_threshold():
    assert steps_to([32, 64, 96], [0.5, 0.04, 0.001], 0.05) == 64
    assert steps_to([32, 64, 96], [0.5, 0.04, 0.001], 0.01) == 96
    assert steps_to([32, 64, 96], [0.5, 0.04, 0.02], 0.01) is None
    assert steps_to([32], [0.05], 0.05) is None                 # "below" is strict


def test_fit_line_matches_numpy_and_its_slope_interval_covers_the_truth():
    rng = np.random.default_rng(0)
    x = np.repeat([20, 32, 44, 56], 3).astype(float)
    y = 3 + 0.05 * x + rng.normal(0, 0.1, len(x))
    fit = fit_line(list(x), list(y))
    b, a = np.polyfit(x, y, 1)
    assert fit.b == pytest.approx(b) and fit.a == pytest.approx(a)
    assert fit.b_low < 0.05 < fit.b_high and 0 < fit.r2 <= 1
    with pytest.raises(ValueError):
        fit_line([1, 2], [1, 2])


def _fake(depths=(20, 32, 44), plain=(100, 400, None), residual=(50, 60, 70), seeds=(0, 1, 2)):
    runs = []
    for s in seeds:
        for d, p, r in zip(depths, plain, residual):
            for arm, v in (("plain", p), ("residual", r)):
                v = None if v is None else round(v * (1 + 0.1 * s))
                runs.append({"depth": d, "arm": arm, "seed": s, "steps_to": {"0.05": v, "0.01": v},
                             "error_at_mark": {"320": 0.5 if arm == "plain" else None}, "final_train_error": 0.005})
    cfg = json.loads(json.dumps(vars(BudgetConfig(depths=tuple(depths)))))
    return {"experiment": "budget", "config": cfg, "seeds": list(seeds), "runs": runs}


def test_steps_table_pairs_seeds_and_counts_runs_that_never_got_there():
    rows = budget.steps_table(_fake())
    assert [r["depth"] for r in rows] == [20, 32, 44]
    assert rows[0]["log2_ratio"]["mean"] == pytest.approx(1.0)           # 100 vs 50, every seed
    assert rows[1]["log2_ratio"]["mean"] == pytest.approx(math.log2(400 / 60))
    assert rows[2]["censored"] == 3 and "log2_ratio" not in rows[2]


def test_growth_fits_leave_out_and_count_censored_runs():
    fits = budget.growth_fits(_fake(depths=(20, 32, 44, 56), plain=(100, 400, 1600, None), residual=(50, 50, 50, 50)))
    assert fits["censored"] == 3 and fits["n"] == 9
    assert fits["exponential"].b == pytest.approx(2 / 12, abs=0.01)      # ×4 every 12 layers: 2 doublings
    assert fits["power"].n == 9


def test_a_fast_run_writes_every_run_and_resume_trains_only_the_missing_ones(tmp_path, monkeypatch):
    cfg = BudgetConfig(depths=(8,), max_steps=6, warmup_steps=2, marks=(3, 6), num_train=256, num_eval=64,
                       stop_error=0.0)
    out = tmp_path / "budget.json"
    first = budget.run([0], cfg, out=out, progress=False, log=None)
    assert {(r["arm"], r["steps"]) for r in first["runs"]} == {("plain", 6), ("residual", 6)}
    row = first["runs"][0]
    assert row["epoch_end"] == [2, 4, 6] and set(row["error_at_mark"]) == {"3", "6"}
    assert files.record_path(out).is_file()
    trained = []
    real = budget.train_until
    monkeypatch.setattr(budget, "train_until", lambda *a, **k: trained.append(a[:3]) or real(*a, **k))
    again = budget.run([0, 1], cfg, out=out, resume=True, progress=False, log=None)
    assert sorted(trained) == [(8, "plain", 1), (8, "residual", 1)]          # seed 0 was kept
    assert len(again["runs"]) == 4 and len(files.load_results(out)["runs"]) == 4
    other = BudgetConfig(**{**vars(cfg), "lr": 0.2})
    with pytest.raises(ValueError, match="other settings"):
        budget.run([0], other, out=out, resume=True, progress=False, log=None)


def test_a_run_stops_at_the_first_epoch_below_the_stop_error():
    from course_lib.data import load_mnist
    cfg = BudgetConfig(depths=(8,), max_steps=40, warmup_steps=2, marks=(), num_train=128, num_eval=32,
                       stop_error=1.0)                                         # any epoch is below 100%
    data = load_mnist(128, 32, 32, seed=0, size=16)
    row = budget.train_until(8, "residual", 0, data, cfg, progress=False)
    assert row["stopped"] == "threshold" and row["steps"] == 1 and row["epoch_end"] == [1]


def test_the_command_line_refuses_an_existing_out_unless_resume_or_force(tmp_path, capsys):
    from course_lib.__main__ import main
    out = tmp_path / "b.json"
    out.write_text("{}")
    with pytest.raises(SystemExit):
        main(["budget", "--fast", "--out", str(out)])
    assert "exists" in capsys.readouterr().err


def test_verdicts_say_slow_stuck_or_mixed_from_the_runs():
    slow = budget.verdicts(_fake(plain=(100, 400, 1600), residual=(50, 50, 50)))
    assert slow[0].startswith("plain-20: every seed reached 5%") and "2.0×" in slow[0]
    assert "slower than its residual twin beyond seed noise" in slow[2]
    stuck = budget.verdicts(_fake(plain=(100, 400, None)))
    assert stuck[2] == "plain-44: stuck within 2560 steps: no seed reached 5% training error"
    mixed = _fake(plain=(100, 400, 1600))
    for r in mixed["runs"]:
        if (r["depth"], r["arm"], r["seed"]) == (44, "plain", 2):
            r["steps_to"]["0.05"] = None
    assert budget.verdicts(mixed)[2] == ("plain-44: 2 of 3 seeds reached 5% within 2560 steps (after 1600, 1760 steps); "
                                         "the others ended the cap at 0.50% training error (eval mode, whole training set)")


def test_equal_budget_compares_plain_at_the_mark_with_residual_where_it_stopped():
    result = _fake(depths=(20,), plain=(100,), residual=(50,))
    for r in result["runs"]:
        if r["arm"] == "plain":
            r.update(steps=2560, epoch_end=[300, 600, 900], epoch_error=[0.2 + 0.01 * r["seed"], 0.1, 0.05])
        else:
            r.update(steps=300, epoch_end=[150, 300], epoch_error=[0.3, 0.005])
    assert budget.error_at(result["runs"][0], 650) == 0.1 and budget.error_at(result["runs"][0], 299) is None
    rows = budget.equal_budget(result)
    assert [(row["mark"], row["depth"]) for row in rows] == [(320, 20), (640, 20), (1280, 20), (2560, 20)]
    assert rows[0]["diff"]["mean"] == pytest.approx(0.205) and rows[0]["diff"]["excludes_zero"]
    for r in result["runs"]:
        if r["arm"] == "residual":
            r["steps"] = 400                                   # stopped after the first mark: no pair there
    assert [row["mark"] for row in budget.equal_budget(result)] == [640, 1280, 2560]
