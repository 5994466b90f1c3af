"""course_lib.diagrams: every diagram renders, and its numbers come from the course's code."""

import matplotlib.pyplot as plt
import pytest

from course_lib import diagrams
from course_lib.analysis import block_weight_count


def texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title])


@pytest.mark.parametrize("name", sorted(diagrams.ALL))
def test_every_diagram_renders(name, tmp_path):
    fig = diagrams.ALL[name]()
    fig.savefig(tmp_path / f"{name}.png")
    assert (tmp_path / f"{name}.png").stat().st_size > 5000
    plt.close(fig)


def test_numbers_on_the_diagrams():
    fig = diagrams.basic_vs_bottleneck(256)
    assert f"{block_weight_count('basic', 256, 256):,} weights" in texts(fig)
    assert f"{block_weight_count('bottleneck', 256, 64):,} weights" in texts(fig)
    stages = texts(diagrams.resnet18_stages())
    assert "512×7×7" in stages and "64×56×56" in stages and "512×1×1" in stages
    assert "projection" in texts(diagrams.residual_block("projection"))
    with pytest.raises(ValueError, match="shortcut must be"):
        diagrams.residual_block("zero")
