"""Look inside a network: per-layer gradient norms, activation statistics, shapes.

Pure functions on a model and a batch; the notebooks and the depth explorer plot their output.
"""

from __future__ import annotations

from .i18n import _

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .report import format_table      # noqa: F401 - the notebooks import it from here

from .config import eval_mode, train_mode


def weighted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Convolutions and linear layers in forward order, excluding 1×1 projection shortcuts."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and ".shortcut" not in name]


def gradient_norms(model: nn.Module, x: Tensor, y: Tensor) -> tuple[list[str], list[float]]:
    """L2 norm of the loss gradient w.r.t. each weighted layer's weight, in forward order.

    One forward and backward pass of cross-entropy on (x, y), in train mode (BatchNorm uses
    batch statistics, as during training). The model's gradients are cleared afterwards.
    """
    with train_mode(model):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        layers = weighted_layers(model)
        norms = [m.weight.grad.norm().item() for _unused, m in layers]
        model.zero_grad(set_to_none=True)
    return [name for name, _unused in layers], norms


@torch.no_grad()
def activation_stats(model: nn.Module, x: Tensor) -> dict[str, list]:
    """Mean and standard deviation of every block's output (and the stem's), in forward order."""
    from .models import Bottleneck, ResBlock

    names, means, stds, hooks = [], [], [], []

    def record(name):
        def hook(module, inputs, output):
            names.append(name)
            means.append(output.mean().item())
            stds.append(output.std().item())
        return hook

    for name, m in model.named_modules():
        if isinstance(m, (ResBlock, Bottleneck)) or name == "stem":
            hooks.append(m.register_forward_hook(record(name)))
    try:
        with train_mode(model):  # BatchNorm in train mode: what the first training step sees
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return {"name": names, "mean": means, "std": stds}


@torch.no_grad()
def trace_shapes(model: nn.Module, input_size: Sequence[int], batch_size: int = 1,
                 depth: int = 1) -> list[tuple[str, str, tuple[int, ...]]]:
    """(module name, type, output shape) of each module `depth` levels deep, via forward hooks."""
    rows, hooks = [], []
    for name, m in model.named_modules():
        if name and name.count(".") == depth - 1:
            hooks.append(m.register_forward_hook(
                lambda mod, i, o, name=name: rows.append((name, type(mod).__name__, tuple(o.shape)))))
    try:
        with eval_mode(model):
            model(torch.zeros(batch_size, *input_size, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    return rows


def tf_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """The (before, after) padding TensorFlow/Keras use for `padding='same'` along one axis.

    TF pads max((ceil(n/s) - 1)·s + k - n, 0) in total and puts the extra pixel *after*
    (bottom/right). For a 3×3 at stride 2 that is (0, 1) for even sizes and (1, 1) for odd ones;
    PyTorch's `padding=1` is always (1, 1).
    """
    if min(size, kernel, stride) < 1:
        raise ValueError(_("size, kernel and stride must be >= 1, got {size}, {kernel}, {stride}").format(size=size, kernel=kernel, stride=stride))
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d_tf_same(x: Tensor, weight: Tensor, stride: int) -> Tensor:
    """A convolution padded as TF's 'same' does (asymmetric when the total padding is odd)."""
    (top, bottom), (left, right) = (tf_same_padding(x.shape[-2], weight.shape[-2], stride),
                                    tf_same_padding(x.shape[-1], weight.shape[-1], stride))
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, stride=stride)


def keras_to_torch_bn_momentum(keras_momentum: float) -> float:
    """Keras keeps `moving = m·moving + (1 - m)·batch`; PyTorch keeps
    `running = (1 - m)·running + m·batch`. So Keras m corresponds to PyTorch 1 - m."""
    if not 0 <= keras_momentum <= 1:
        raise ValueError(_("momentum must be in [0, 1], got {keras_momentum}").format(keras_momentum=keras_momentum))
    return 1 - keras_momentum


# ----------------------------------------------------------------- convolution and block arithmetic
def conv_output_size(size: int, kernel: int, padding: int = 0, stride: int = 1) -> int:
    """⌊(size − kernel + 2·padding) / stride⌋ + 1, the output side of a convolution."""
    for name, v, low in (("size", size, 1), ("kernel", kernel, 1), ("padding", padding, 0), ("stride", stride, 1)):
        if not isinstance(v, int) or v < low:
            raise ValueError(_("{name} must be an int >= {low}, got {v!r}").format(name=name, low=low, v=v))
    if kernel > size + 2 * padding:
        raise ValueError(_("kernel {kernel} is larger than the padded input {size} + 2·{padding}").format(kernel=kernel, size=size, padding=padding))
    return (size - kernel + 2 * padding) // stride + 1


def output_size_text(size: int, kernel: int, padding: int, stride: int) -> str:
    """The readout of the calculator: the formula with the numbers filled in, or the error."""
    try:
        out = conv_output_size(size, kernel, padding, stride)
    except ValueError as err:
        return f"<b style='color:crimson'>{err}</b>"
    return (f"⌊({size} − {kernel} + 2·{padding}) / {stride}⌋ + 1 = "
            f"⌊{size - kernel + 2 * padding} / {stride}⌋ + 1 = <b>{out}</b>")


def block_weight_count(block: str, in_channels: int, width: int, expansion: int = 4) -> int:
    """Convolution weights of one block with an identity shortcut (no BN, no bias).

    basic: two 3×3 convs, width → width (in_channels must equal width).
    bottleneck: 1×1 in→width, 3×3 width→width, 1×1 width→expansion·width.
    """
    if block == "basic":
        return 9 * in_channels * width + 9 * width * width
    if block == "bottleneck":
        return in_channels * width + 9 * width * width + width * expansion * width
    raise ValueError(_("block must be 'basic' or 'bottleneck', got {block!r}").format(block=block))


def param_count_text(block: str, channels: int, expansion: int) -> str:
    """Readout: both blocks at `channels` in/out channels, and the ratio."""
    width = channels // expansion if block == "bottleneck" else channels
    basic = block_weight_count("basic", channels, channels)
    bottleneck = block_weight_count("bottleneck", channels, channels // expansion, expansion)
    chosen = basic if block == "basic" else bottleneck
    return (_("{block} block, {channels} channels in and out (3×3 width {width}): <b>{chosen:,}</b> weights. basic {basic:,} vs bottleneck {bottleneck:,}: ratio <b>{value:.2f}×</b>").format(block=block, channels=channels, width=width, chosen=chosen, basic=basic, bottleneck=bottleneck, value=basic / bottleneck))
