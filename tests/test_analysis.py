import matplotlib.pyplot as plt
import pytest

from course_lib import analysis
import torch
import torch.nn as nn

from course_lib import Accuracy, Runner, plotting
from course_lib.analysis import activation_stats, format_table, gradient_norms, trace_shapes, weighted_layers
from course_lib.models import cifar_resnet, resnet18


def test_weighted_layers_skip_projections():
    names = [n for n, _ in weighted_layers(cifar_resnet(20))]
    assert len(names) == 20 and not any("shortcut" in n for n in names)
    assert names[0] == "stem.0" and names[-1] == "fc"


def test_gradient_norms_and_activation_stats():
    model = cifar_resnet(8).eval()
    x, y = torch.randn(8, 1, 16, 16), torch.randint(0, 10, (8,))
    names, norms = gradient_norms(model, x, y)
    assert len(names) == len(norms) == 8 and all(n > 0 for n in norms)
    assert not model.training and all(p.grad is None for p in model.parameters())
    stats = activation_stats(model, x)
    assert stats["name"] == ["stem", "layer1.0", "layer2.0", "layer3.0"]
    assert len(stats["std"]) == 4 and not model.training


def test_trace_shapes_depths():
    rows = trace_shapes(resnet18(1, 10), (1, 32, 32), batch_size=2)
    assert rows[-1] == ("fc", "Linear", (2, 10))
    deep = trace_shapes(resnet18(1, 10), (1, 32, 32), depth=2)
    assert ("layer4.1", "ResBlock", (1, 512, 1, 1)) in deep


def test_format_table():
    text = format_table([("a", 1234, 0.5), ("bb", 7, 2.0)], ["name", "n", "x"])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "n", "x"] and "1,234" in lines[2]
    assert len(lines[0]) == len(lines[1])          # header and rule share the column widths


def test_restore_best_needs_a_dev_evaluation():
    model = cifar_resnet(8)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), Accuracy(), device="cpu")
    with pytest.raises(RuntimeError, match="pass dev_loader"):
        runner.restore_best()


def _run(arm, seed, acc):
    return {"arm": arm, "seed": seed, "history": {"step": [1, 2, 3], "train_loss": [2.0, 1.0, 0.5],
                                                   "train_acc": [0.1, 0.5, acc], "dev_step": [3],
                                                   "dev_loss": [0.6], "dev_acc": [acc]}}


def test_plot_arms_and_degradation():
    axes = plotting.plot_arms([_run("plain", 0, 0.8), _run("plain", 1, 0.7), _run("residual", 0, 0.9)], window=1)
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert "plain train (n=2)" in labels and "residual train (n=1)" in labels
    sweep = {"runs": [{"depth": d, "arm": a, "seed": s, "step": [1, 2], "train_acc": [0.5, 0.9 + 0.01 * s],
                       "train_loss": [1.0, 0.5 - 0.1 * s], "epoch_end": [1, 2]}
                      for d in (8, 20) for a in ("plain", "residual") for s in (0, 1)]}
    axes = plotting.plot_degradation(sweep, window=1)
    assert [l.get_label() for l in axes[0].get_lines()] == ["plain-8", "plain-20"]
    assert axes[1].get_title() == "residual networks (mean ± std over seeds)"
    steps, mean, std, n = plotting.sweep_error_curves(sweep, "plain", 8, window=1)
    assert n == 2 and mean[1] == pytest.approx(0.095) and std[1] == pytest.approx(0.005)
    rows = [{"depth": d, "arm": a, "mean": 0.1, "std": 0.01, "n": 2} for d in (8, 20) for a in ("plain", "residual")]
    ax = plotting.plot_error_vs_depth(rows)
    assert len(ax.containers) == 2                      # one errorbar series per arm
    ax = plotting.plot_epoch_loss(sweep, depths=(8, 20), arm="plain")
    assert [l.get_label() for l in ax.get_legend().get_texts()] == [] or len(ax.containers) == 2
    plt.close("all")


def test_conv_output_size_and_errors():
    assert analysis.conv_output_size(224, 7, 3, 2) == 112
    assert analysis.conv_output_size(7, 3, 1, 2) == 4
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        analysis.conv_output_size(8, 3, 1, 0)
    with pytest.raises(ValueError, match="larger than the padded input"):
        analysis.conv_output_size(2, 7, 0, 1)
    assert analysis.output_size_text(32, 3, 1, 2).endswith("<b>16</b>")
    assert "larger than the padded input" in analysis.output_size_text(2, 7, 0, 1)
    with pytest.raises(ValueError, match="block must be"):
        analysis.block_weight_count("dense", 8, 8)
