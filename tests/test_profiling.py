import re
from pathlib import Path

import pytest
import torch

from course_lib import profiling
from course_lib.models import cifar_resnet, resnet18

ROOT = Path(__file__).resolve().parents[1]


def test_profiling_counts_agree():
    model = resnet18(1, 10, bias=True)
    counts = profiling.compare_counters(model, (1, 32, 32))
    assert counts["params"] == counts["params (thop)"] == 11_180_170
    # FlopCounterMode and our hooks count conv + linear only: they agree exactly.
    assert counts["MACs (FlopCounterMode)"] == counts["MACs (conv+fc hooks)"] == 35_410_944
    # thop adds BatchNorm and the average pool to conv + fc; it counts the max-pool as zero and
    # ignores biases (measured in notebook 04). 35.6 M is measured here, not a seed figure.
    assert round(counts["MACs (thop)"] / 1e6, 1) == 35.6
    # thop's buffers must not leak onto the model we passed in.
    assert not any("total_ops" in k for k in model.state_dict())
    model.load_state_dict(resnet18(1, 10, bias=True).state_dict())


def test_summary_is_safe():
    model = cifar_resnet(8).train()
    before = model.layer1[0].bn1.running_mean.clone()
    text = profiling.summary(model, (1, 28, 28))
    assert "Total params" in text and model.training
    assert torch.equal(before, model.layer1[0].bn1.running_mean)
    info = profiling.torchinfo_summary(model, (1, 28, 28))
    assert info.total_params == profiling.count_params(model)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        profiling.flop_count(model, (28, 28))


def _names(requirements):
    return {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].lower() for r in requirements}


def test_macs_by_part_can_split_by_top_level_module():
    from course_lib import resnet18
    model = resnet18()
    default = profiling.macs_by_part(model, (3, 64, 64))
    by_stage = profiling.macs_by_part(model, (3, 64, 64), part=lambda name, module: name.split(".")[0])
    assert set(by_stage) == {"stem", "layer1", "layer2", "layer3", "layer4", "fc", "total"}
    assert by_stage["total"] == default["total"] and by_stage["stem"] == default["stem"]
    assert by_stage["fc"] == default["classifier"] == 512 * 1000
