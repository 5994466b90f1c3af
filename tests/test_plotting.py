from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib import plotting

ROOT = Path(__file__).resolve().parents[1]


def test_smooth_and_plots(tmp_path):
    assert np.allclose(plotting.smooth([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    h = {"step": [1, 2, 3], "train_loss": [3, 2, 1], "train_acc": [0.1, 0.5, 0.9],
         "dev_step": [3], "dev_loss": [1.5], "dev_acc": [0.8]}
    axes = plotting.plot_history({"plain": h, "residual": h}, window=2)
    assert [t.get_text() for t in axes[0].get_legend().get_texts()][:2] == ["plain train", "plain dev"]
    fig = plotting.show_images(torch.zeros(3, 1, 8, 8), labels=[1, 2, 3], preds=[1, 5, 3])
    assert [ax.get_title() for ax in fig.axes[:3]] == ["1 →1", "2 →5", "3 →3"]
    with pytest.raises(ValueError, match="no images"):
        plotting.show_images(torch.zeros(0, 1, 8, 8))
    ax = plotting.plot_confusion(torch.eye(3, dtype=torch.long))
    assert ax.get_xlabel() == "predicted"
    png = plotting.figure_to_png(plt.figure())
    assert png[:4] == b"\x89PNG"
    live = plotting.LiveCurve()
    live(h)
    live(h)
    assert live.num_updates == 2
    plt.close("all")


def test_last_epoch_change_pairs_seeds_and_measures_batch_noise():
    from course_lib.plotting import last_epoch_change
    flat = [{"train_loss": [1.0, 0.5, 0.3, 0.1, 0.2, 0.1, 0.2, 0.1, 0.2][: 9], "epoch_end": [3, 6, 9]},
            {"train_loss": [1.0, 0.6, 0.4, 0.2, 0.1, 0.2, 0.1, 0.2, 0.1], "epoch_end": [3, 6, 9]}]
    c = last_epoch_change(flat)
    assert c["n"] == 2 and c["batch_noise"] > 0
    assert abs(c["before"] - (0.4 / 3 + 0.5 / 3) / 2) < 1e-9 and abs(c["last"] - (0.5 / 3 + 0.4 / 3) / 2) < 1e-9
    falling = [{"train_loss": [1.0] * 3 + [0.9, 0.91, 0.89] + [0.5, 0.51, 0.49], "epoch_end": [3, 6, 9]},
               {"train_loss": [1.0] * 3 + [0.92, 0.9, 0.91] + [0.52, 0.5, 0.5], "epoch_end": [3, 6, 9]},
               {"train_loss": [1.0] * 3 + [0.9, 0.9, 0.92] + [0.5, 0.49, 0.51], "epoch_end": [3, 6, 9]}]
    c = last_epoch_change(falling)
    assert c["excludes_zero"] and c["mean"] < -0.3 and abs(c["mean"]) > 2 * c["batch_noise"]


def _run_with_errors(epoch_errors, steps_per_epoch=40, seed=0):
    """A fake run whose per-step training accuracy gives these epoch-mean errors (0/1 per step)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    acc, ends = [], []
    for e in epoch_errors:
        wrong = rng.random(steps_per_epoch) < e
        acc += list(1.0 - wrong)
        ends.append(len(acc))
    return {"train_acc": acc, "epoch_end": ends}


def test_has_levelled_off_flags_a_run_still_falling_and_passes_a_flat_one():
    from course_lib.plotting import error_fall, has_levelled_off
    falling = [_run_with_errors([0.6, 0.5, 0.4, 0.3, 0.2], seed=s) for s in range(3)]
    flat = [_run_with_errors([0.5, 0.1, 0.05, 0.05, 0.05], seed=s) for s in range(3)]
    ok, falls = has_levelled_off(falling)
    assert not ok and all(f["fall"] > 0.1 for f in falls)
    assert has_levelled_off(flat)[0]
    near_zero = [_run_with_errors([0.5, 0.2, 0.012, 0.0, 0.0])]          # fell by 1.2 points, but to zero
    f = error_fall(near_zero[0])
    assert f["fall"] > 0.01 and f["last"] == 0.0
    with pytest.raises(ValueError):
        error_fall(_run_with_errors([0.5, 0.4]))


def test_the_committed_sweep_marks_the_deep_plain_nets_as_still_improving():
    from course_lib.files import load_results
    from course_lib.plotting import has_levelled_off
    sweep = load_results("degradation")
    verdict = {(d, a): has_levelled_off([r for r in sweep["runs"] if r["depth"] == d and r["arm"] == a])[0]
               for d in (20, 56) for a in ("plain", "residual")}
    assert verdict == {(20, "plain"): True, (20, "residual"): True, (56, "plain"): False, (56, "residual"): True}
