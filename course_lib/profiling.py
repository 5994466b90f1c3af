"""Counting parameters and multiply-accumulates (MACs), four ways, on the CPU.

* `count_params`: exact, from the tensors.
* `thop_profile`: thop (unmaintained). It registers `total_ops`/`total_params` buffers on every
  module it visits, which then break `load_state_dict`, so we profile a deep copy. What it counts,
  as notebook 04 measures module by module: a convolution's MACs without its bias (the same with
  and without one), BatchNorm counted, ReLU and max-pool counted as 0, the average pool counted;
  it misses bare `torch.matmul`.
* `flop_count`: `torch.utils.flop_counter.FlopCounterMode`, shipped with PyTorch; it counts only
  matrix products and convolutions, as FLOPs = 2 × MACs.
* `summary` / `torchinfo_summary`: layer tables. torchsummary (unmaintained) defaults to
  `device="cuda"` and, in train mode, updates BatchNorm running statistics while it runs, so we
  run it in eval mode on the model's own device. torchinfo is the maintained alternative.
"""

from __future__ import annotations

from .i18n import _

import contextlib
import copy
import io
from typing import Callable, Sequence

import torch
import torch.nn as nn

from .config import eval_mode


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (weights, biases, BN scale and shift; not BN running stats)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _example(model: nn.Module, input_size: Sequence[int]) -> torch.Tensor:
    if len(input_size) != 3:
        raise ValueError(_("input_size must be (C, H, W), got {input_size}").format(input_size=tuple(input_size)))
    return torch.randn(1, *input_size, device=_device_of(model))


def thop_profile(model: nn.Module, input_size: Sequence[int]) -> tuple[int, int]:
    """(MACs, params) for one input of shape `input_size` = (C, H, W), by thop, on a copy."""
    from thop import profile

    clone = copy.deepcopy(model).eval()          # thop adds buffers to the modules it profiles
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        macs, params = profile(clone, inputs=(_example(clone, input_size),), verbose=False)
    return int(macs), int(params)


def flop_count(model: nn.Module, input_size: Sequence[int]) -> int:
    """FLOPs of one forward pass, counted by PyTorch's own FlopCounterMode (2 per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter, eval_mode(model):
        model(_example(model, input_size))
    return int(counter.get_total_flops())


def conv_linear_macs(model: nn.Module, input_size: Sequence[int]) -> int:
    """MACs of the convolutions and linear layers only, counted with forward hooks.

    This is the convention of the paper's Table 1 ("multiply-adds"), up to whether biases count.
    """
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad(), eval_mode(model):
            model(_example(model, input_size))
    finally:
        for h in handles:
            h.remove()
    return total


def summary(model: nn.Module, input_size: Sequence[int]) -> str:
    """torchsummary's layer table, run safely: eval mode, on the model's device; returns text."""
    from torchsummary import summary as ts_summary

    device = _device_of(model)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), eval_mode(model):   # train mode would update BN running stats
        ts_summary(model, tuple(input_size), device=device.type)
    return buf.getvalue()


def torchinfo_summary(model: nn.Module, input_size: Sequence[int], depth: int = 2):
    """torchinfo's summary (maintained); `.total_params` and `.total_mult_adds` hold the counts."""
    from torchinfo import summary as ti_summary

    with eval_mode(model):                       # torchinfo leaves the model in eval mode
        return ti_summary(model, input_size=(1, *input_size), depth=depth, mode="eval",
                          device=_device_of(model), verbose=0,
                          col_names=("output_size", "num_params", "mult_adds"))


def compare_counters(model: nn.Module, input_size: Sequence[int]) -> dict[str, int]:
    """Parameters and MACs of one model by every counter, for side-by-side tables."""
    thop_macs, thop_params = thop_profile(model, input_size)
    info = torchinfo_summary(model, input_size)
    return {
        "params": count_params(model),
        "params (thop)": thop_params,
        "MACs (conv+fc hooks)": conv_linear_macs(model, input_size),
        "MACs (thop)": thop_macs,
        "MACs (FlopCounterMode)": flop_count(model, input_size) // 2,
        "MACs (torchinfo)": int(info.total_mult_adds),
    }


def _part_of_resnet(name: str, module: nn.Module) -> str:
    """The stem, the projection shortcuts, the classifier, or the blocks' own convolutions."""
    return ("stem" if name.startswith("stem") else "projection shortcuts" if ".shortcut" in name
            else "classifier" if isinstance(module, nn.Linear) else "blocks")


def macs_by_part(model: nn.Module, input_size: Sequence[int],
                 part: Callable[[str, nn.Module], str] = _part_of_resnet) -> dict[str, int]:
    """Convolution and classifier MACs of a course ResNet, split by `part(name, module)`: by
    default into the stem, the projection shortcuts, the classifier and the blocks' own
    convolutions; `lambda name, m: name.split(".")[0]` splits by top-level module instead."""
    parts = {"stem": 0, "projection shortcuts": 0, "classifier": 0, "blocks": 0} if part is _part_of_resnet else {}
    hooks = []

    def hook(name):
        def record(module, inputs, output):
            macs = module.weight.numel() * (output.shape[-1] * output.shape[-2] if output.ndim == 4 else 1)
            key = part(name, module)
            parts[key] = parts.get(key, 0) + macs
        return record

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            hooks.append(module.register_forward_hook(hook(name)))
    try:
        with eval_mode(model), torch.no_grad():
            model(torch.zeros(1, *input_size, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    parts["total"] = sum(parts.values())
    return parts
