"""ResNet, small enough to read in one sitting.

The design follows torchvision's `models/resnet.py` (He et al., "Deep Residual Learning for
Image Recognition", CVPR 2016), with one addition for teaching: every block takes
`use_residual`, and `use_residual=False` removes the skip connection, giving the block's
*plain twin* with exactly the same layers otherwise (the paper's "plain" baselines, §4.1).
"""

from __future__ import annotations

from .i18n import _

import re
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

STEMS = ("imagenet", "cifar")


def _check_channels(**channels: int) -> None:
    for name, value in channels.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(_("{name} must be a positive int, got {value!r}").format(name=name, value=value))


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """3×3 convolution; padding 1 keeps the size at stride 1 and halves it at stride 2."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """1×1 convolution: a linear map across channels at every pixel."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias)


def _norm(channels: int, use_bn: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if use_bn else nn.Identity()


SHORTCUTS = ("A", "B")


class ZeroPadShortcut(nn.Module):
    """Option A of He et al. §3.3: subsample by `stride` and pad the new channels with zeros.

    It has no parameters, so a residual net with option A has exactly the weights of its plain
    twin; the paper's CIFAR networks (§4.2) use it.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(_("option A can only add channels: {in_channels} -> {out_channels}").format(in_channels=in_channels, out_channels=out_channels))
        self.stride, self.extra = stride, out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:            # (N, C_in, H, W)
        x = x[:, :, ::self.stride, ::self.stride]      # (N, C_in, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))   # (N, C_out, H/s, W/s), new channels = 0


def make_shortcut(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False,
                  use_bn: bool = True, shortcut: str = "B") -> nn.Module:
    """Identity when the shape is kept ("solid" line in the paper's Fig. 3). Otherwise
    ("dashed" line, §3.3) option "B": a 1×1 projection with BN, or option "A": zero-padding."""
    if shortcut not in SHORTCUTS:
        raise ValueError(_("shortcut must be 'A' (zero-padding) or 'B' (projection), got {shortcut!r}").format(shortcut=shortcut))
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if shortcut == "A":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Sequential(conv1x1(in_channels, out_channels, stride, bias), _norm(out_channels, use_bn))


def _check_flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(_("{name} must be True or False, got {value!r}").format(name=name, value=value))
    return value


def _check_block(in_channels: int, out_channels: int, stride: int, use_residual: bool) -> None:
    """The checks every block makes of its arguments, with clear messages."""
    _check_channels(in_channels=in_channels, out_channels=out_channels)
    if stride not in (1, 2):
        raise ValueError(_("stride must be 1 or 2, got {stride!r}").format(stride=stride))
    _check_flag("use_residual", use_residual)


class ResBlock(nn.Module):
    """Basic block: two 3×3 conv-BN layers and a skip; `use_residual=False` gives the plain twin.

    `bias=True` gives the convolutions a bias, as in the seed course; with BN after every
    convolution that bias is redundant (notebook 05), so the default is False, as in torchvision.
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 use_residual: bool = True, bias: bool = False, use_bn: bool = True,
                 shortcut: str = "B") -> None:
        super().__init__()
        _check_block(in_channels, out_channels, stride, use_residual)
        bias = bias or not use_bn                      # without BN, the bias is no longer redundant
        self.conv1 = conv3x3(in_channels, out_channels, stride, bias)
        self.bn1 = _norm(out_channels, use_bn)
        self.conv2 = conv3x3(out_channels, out_channels, 1, bias)
        self.bn2 = _norm(out_channels, use_bn)
        self.shortcut = (make_shortcut(in_channels, out_channels, stride, bias, use_bn, shortcut)
                         if use_residual else None)

    def forward(self, x: Tensor) -> Tensor:           # (N, C_in, H, W)
        y = F.relu(self.bn1(self.conv1(x)))            # (N, C_out, H/s, W/s)
        y = self.bn2(self.conv2(y))
        if self.shortcut is not None:
            y = y + self.shortcut(x)                   # H(x) = F(x) + x
        return F.relu(y)                               # the ReLU comes after the addition


class Bottleneck(nn.Module):
    """1×1 reduce → 3×3 → 1×1 expand (×4), the block of ResNet-50/101/152 (paper Fig. 5).

    The stride sits on the 3×3 convolution, as in torchvision ("ResNet v1.5"), which is
    slightly more accurate and costs 4.09 instead of 3.86 GMACs for ResNet-50 (notebook 04).
    `stride_in_1x1=True` puts it on the first 1×1, as in the paper's original Caffe model (v1).
    `out_channels` is the width of the 3×3; the block outputs `out_channels * 4` channels.
    """

    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 use_residual: bool = True, bias: bool = False, use_bn: bool = True,
                 stride_in_1x1: bool = False) -> None:
        super().__init__()
        _check_block(in_channels, out_channels, stride, use_residual)
        bias = bias or not use_bn
        width, expanded = out_channels, out_channels * self.expansion
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(in_channels, width, s1, bias)
        self.bn1 = _norm(width, use_bn)
        self.conv2 = conv3x3(width, width, s3, bias)
        self.bn2 = _norm(width, use_bn)
        self.conv3 = conv1x1(width, expanded, 1, bias)
        self.bn3 = _norm(expanded, use_bn)
        self.shortcut = (make_shortcut(in_channels, expanded, stride, bias, use_bn)
                         if use_residual else None)

    def forward(self, x: Tensor) -> Tensor:           # (N, C_in, H, W)
        y = F.relu(self.bn1(self.conv1(x)))            # (N, width, H, W)
        y = F.relu(self.bn2(self.conv2(y)))            # (N, width, H/s, W/s)
        y = self.bn3(self.conv3(y))                    # (N, 4·width, H/s, W/s)
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return F.relu(y)


class PreActBlock(nn.Module):
    """Pre-activation basic block (He et al. 2016b, "Identity Mappings in Deep Residual
    Networks", Fig. 4e): BN → ReLU → conv, twice, then the addition, with nothing after it, so
    that the shortcut path is a pure identity from one block to the next.

    The shortcut takes the block's input x itself (identity, or option A's zero-padding); a 1×1
    projection (option B) takes the pre-activated input instead, as common implementations do.
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 use_residual: bool = True, bias: bool = False, use_bn: bool = True,
                 shortcut: str = "B") -> None:
        super().__init__()
        _check_block(in_channels, out_channels, stride, use_residual)
        bias = bias or not use_bn
        self.bn1 = _norm(in_channels, use_bn)
        self.conv1 = conv3x3(in_channels, out_channels, stride, bias)
        self.bn2 = _norm(out_channels, use_bn)
        self.conv2 = conv3x3(out_channels, out_channels, 1, bias)
        self.shortcut = (make_shortcut(in_channels, out_channels, stride, bias, use_bn=False, shortcut=shortcut)
                         if use_residual else None)
        self.projects = shortcut == "B" and (stride != 1 or in_channels != out_channels)

    def forward(self, x: Tensor) -> Tensor:           # (N, C_in, H, W)
        a = F.relu(self.bn1(x))                        # pre-activation
        y = self.conv1(a)                              # (N, C_out, H/s, W/s)
        y = self.conv2(F.relu(self.bn2(y)))
        if self.shortcut is not None:
            y = y + self.shortcut(a if self.projects else x)
        return y                                       # no ReLU after the addition


BLOCKS = {"basic": ResBlock, "bottleneck": Bottleneck, "preact": PreActBlock}


def _make_stage(block: type[nn.Module], in_channels: int, width: int, num_blocks: int, stride: int,
                **block_args) -> tuple[nn.Sequential, int]:
    """`num_blocks` blocks; the first has `stride` (and a shortcut that fits the change of shape).
    Returns the stage and its output channels."""
    blocks = []
    for j in range(num_blocks):
        blocks.append(block(in_channels, width, stride if j == 0 else 1, **block_args))
        in_channels = width * block.expansion
    return nn.Sequential(*blocks), in_channels


class ResNet(nn.Module):
    """Stem → stages of blocks → global average pooling → fully connected classifier.

    Args:
        block: `ResBlock` or `Bottleneck` (or "basic" / "bottleneck").
        layers: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        widths: channels of each stage; every stage after the first halves the size.
        stem: "imagenet" (7×7 stride-2 conv + 3×3 max-pool: 224 → 56) or
            "cifar" (one 3×3 stride-1 conv, no pooling, for 32×32 inputs; paper §4.2).
        zero_init_residual: start every block's last BN scale γ at 0, as torchvision's switch of
            the same name does, so that each block's residual branch starts at F(x) = 0.
        name: a label recorded with the arguments (e.g. "resnet18"); it changes nothing.

    `model_args` records every argument, so `build_model(model.model_args)` rebuilds the model
    (checkpoints store it).
    """

    def __init__(self, block: type[nn.Module] | str, layers: Sequence[int], in_channels: int = 3,
                 num_classes: int = 1000, use_residual: bool = True, stem: str = "imagenet",
                 widths: Sequence[int] = (64, 128, 256, 512), bias: bool = False,
                 use_bn: bool = True, stride_in_1x1: bool = False, shortcut: str = "B",
                 zero_init_residual: bool = False, name: str | None = None) -> None:
        super().__init__()
        block_name = block if isinstance(block, str) else next((k for k, v in BLOCKS.items() if v is block), None)
        if block_name not in BLOCKS:
            raise ValueError(_("block must be one of {BLOCKS} (or their classes), got {block!r}").format(BLOCKS=sorted(BLOCKS), block=block))
        block = BLOCKS[block_name]
        if stem not in STEMS:
            raise ValueError(_("stem must be one of {STEMS}, got {stem!r}").format(STEMS=STEMS, stem=stem))
        _check_channels(in_channels=in_channels, num_classes=num_classes,
                        **{f"widths[{i}]": w for i, w in enumerate(widths)})
        if len(layers) != len(widths) or not layers or any(int(n) < 1 for n in layers):
            raise ValueError(_("layers and widths must be non-empty and of equal length, with at least one block per stage; got {layers}, {widths}").format(layers=tuple(layers), widths=tuple(widths)))
        self.model_args = {"arch": "ResNet", "name": name, "block": block_name, "layers": [int(n) for n in layers],
                           "in_channels": in_channels, "num_classes": num_classes, "use_residual": use_residual,
                           "stem": stem, "widths": list(widths), "bias": bias, "use_bn": use_bn,
                           "stride_in_1x1": stride_in_1x1, "shortcut": shortcut,
                           "zero_init_residual": zero_init_residual}
        self.in_channels = in_channels
        bias_stem = bias or not use_bn
        if stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=bias_stem),
                _norm(widths[0], use_bn), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1))           # (N, 64, H/4, W/4)
        elif block is PreActBlock:                         # the first block pre-activates
            self.stem = nn.Sequential(conv3x3(in_channels, widths[0], 1, bias_stem))
        else:
            self.stem = nn.Sequential(conv3x3(in_channels, widths[0], 1, bias_stem),
                                      _norm(widths[0], use_bn), nn.ReLU(inplace=True))
        block_args = {"use_residual": use_residual, "bias": bias, "use_bn": use_bn,
                      **({"stride_in_1x1": stride_in_1x1} if block is Bottleneck else {"shortcut": shortcut})}
        channels, self.stage_names = widths[0], []
        for i, (num_blocks, width) in enumerate(zip(layers, widths)):
            stage, channels = _make_stage(block, channels, width, num_blocks, 1 if i == 0 else 2, **block_args)
            self.add_module(f"layer{i + 1}", stage)            # torchvision's names: layer1, layer2, ...
            self.stage_names.append(f"layer{i + 1}")
        # A pre-activation net ends with the BN and ReLU that its last block leaves out.
        self.head_act = (nn.Sequential(_norm(channels, use_bn), nn.ReLU(inplace=True)) if block is PreActBlock
                         else None)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.num_features = channels
        for m in self.modules():                           # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual and use_bn:
            for m in self.modules():
                last_bn = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, ResBlock) else None
                # (a pre-activation block has no BN after its last conv: zero_init leaves it as it is)
                if last_bn is not None:
                    nn.init.zeros_(last_bn.weight)

    def _check_input(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(_("expected input of shape (N, {in_channels}, H, W), got {x_shape}").format(in_channels=self.in_channels, x_shape=tuple(x.shape)))
        return x

    def forward_features(self, x: Tensor) -> Tensor:
        """The last stage's feature maps: (N, C_last, H/32, W/32) with the ImageNet stem."""
        x = self.stem(self._check_input(x))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x if self.head_act is None else self.head_act(x)

    def forward(self, x: Tensor) -> Tensor:                # (N, C_in, H, W)
        x = self.stem(self._check_input(x))                # (N, w0, H/4, W/4); cifar stem: (N, w0, H, W)
        for name in self.stage_names:
            x = getattr(self, name)(x)                     # every stage after the first halves H and W
        if self.head_act is not None:                      # pre-activation nets: the last BN and ReLU
            x = self.head_act(x)
        x = torch.flatten(self.avgpool(x), 1)              # (N, C_last)
        return self.fc(x)                                  # (N, num_classes)


# Variants as data (paper Table 1): block type and blocks per stage.
ARCHS = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}


def _resnet(arch: str, **kwargs) -> ResNet:
    block, layers = ARCHS[arch]
    return ResNet(block, layers, name=arch, **kwargs)


def resnet18(in_channels: int = 3, num_classes: int = 1000, use_residual: bool = True,
             stem: str = "imagenet", **kwargs) -> ResNet:
    """ResNet-18: basic blocks (2, 2, 2, 2); 1 + 2·2·4 + 1 = 18 weighted layers."""
    return _resnet("resnet18", in_channels=in_channels, num_classes=num_classes,
                   use_residual=use_residual, stem=stem, **kwargs)


def resnet34(in_channels: int = 3, num_classes: int = 1000, use_residual: bool = True,
             stem: str = "imagenet", **kwargs) -> ResNet:
    """ResNet-34: basic blocks (3, 4, 6, 3)."""
    return _resnet("resnet34", in_channels=in_channels, num_classes=num_classes,
                   use_residual=use_residual, stem=stem, **kwargs)


def resnet50(in_channels: int = 3, num_classes: int = 1000, use_residual: bool = True,
             stem: str = "imagenet", **kwargs) -> ResNet:
    """ResNet-50: bottleneck blocks (3, 4, 6, 3)."""
    return _resnet("resnet50", in_channels=in_channels, num_classes=num_classes,
                   use_residual=use_residual, stem=stem, **kwargs)


def resnet101(in_channels: int = 3, num_classes: int = 1000, use_residual: bool = True,
              stem: str = "imagenet", **kwargs) -> ResNet:
    """ResNet-101: bottleneck blocks (3, 4, 23, 3)."""
    return _resnet("resnet101", in_channels=in_channels, num_classes=num_classes,
                   use_residual=use_residual, stem=stem, **kwargs)


def resnet152(in_channels: int = 3, num_classes: int = 1000, use_residual: bool = True,
              stem: str = "imagenet", **kwargs) -> ResNet:
    """ResNet-152: bottleneck blocks (3, 8, 36, 3)."""
    return _resnet("resnet152", in_channels=in_channels, num_classes=num_classes,
                   use_residual=use_residual, stem=stem, **kwargs)


def check_depth(depth: int) -> int:
    """The one check of the CIFAR family's depths: 6n + 2 with n >= 1."""
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 8 or (depth - 2) % 6:
        raise ValueError(_("depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth!r}").format(depth=depth))
    return depth


def cifar_resnet(depth: int, use_residual: bool = True, in_channels: int = 1,
                 num_classes: int = 10, use_bn: bool = True, shortcut: str = "A",
                 zero_init_residual: bool = False, preact: bool = False) -> ResNet:
    """The CIFAR family of He et al. §4.2: depth = 6n + 2, three stages of n basic blocks
    with 16/32/64 channels, a 3×3 stem and no max-pool (ResNet-20, 32, 44, 56, 110, ...).

    `shortcut="A"` (the default) zero-pads where the shape changes, as the paper's CIFAR
    networks do (§4.2: "we use identity shortcuts in all cases (i.e., option A)"), so the
    residual net has exactly the parameters of its plain twin. `shortcut="B"` uses 1×1
    projections instead, which adds two small convolutions. `preact=True` uses pre-activation
    blocks (He et al. 2016b) with the same convolutions.
    """
    n = (check_depth(depth) - 2) // 6
    return ResNet("preact" if _check_flag("preact", preact) else "basic", (n, n, n), in_channels=in_channels, num_classes=num_classes,
                  use_residual=use_residual, stem="cifar", widths=(16, 32, 64), use_bn=use_bn,
                  shortcut=shortcut, zero_init_residual=zero_init_residual,
                  name=f"{'preact-' if preact else ''}{'resnet' if use_residual else 'plain'}{depth}")


# Older checkpoints recorded a factory's name as "arch"; new ones record "ResNet" and every argument.
FACTORIES = {"ResNet": ResNet, "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50,
             "resnet101": resnet101, "resnet152": resnet152, "cifar_resnet": cifar_resnet}


def build_model(model_args: dict) -> ResNet:
    """Rebuild a model from the `model_args` it recorded (used by checkpoints)."""
    args = dict(model_args)
    arch = args.pop("arch", None)
    if arch not in FACTORIES:
        raise ValueError(_("unknown arch {arch!r}; expected one of {FACTORIES}").format(arch=arch, FACTORIES=sorted(FACTORIES)))
    return FACTORIES[arch](**args)


def torchvision_key(course_key: str) -> str:
    """Name of a course parameter in torchvision's ResNet: stem.0 → conv1, stem.1 → bn1,
    shortcut → downsample. Everything else (layerX.Y.convZ, bnZ, fc) has the same name."""
    key = re.sub(r"^stem\.0\.", "conv1.", course_key)
    key = re.sub(r"^stem\.1\.", "bn1.", key)
    return key.replace(".shortcut.", ".downsample.")


def load_torchvision_weights(model: ResNet, torchvision_model: nn.Module) -> ResNet:
    """Copy every weight and BN statistic of a torchvision ResNet into a course ResNet.

    Raises a ValueError listing the parameters that have no counterpart or differ in shape
    (for example a course model built with `bias=True`, whose conv biases torchvision lacks).
    """
    source = torchvision_model.state_dict()
    target = model.state_dict()
    new_state, problems = {}, []
    for key, value in target.items():
        tv_key = torchvision_key(key)
        if tv_key not in source:
            problems.append(_("{key}: no '{tv_key}' in the torchvision model").format(key=key, tv_key=tv_key))
        elif source[tv_key].shape != value.shape:
            problems.append(_("{key}: shape {value_shape} here, {source_tv_key_shape} in torchvision").format(key=key, value_shape=tuple(value.shape), source_tv_key_shape=tuple(source[tv_key].shape)))
        else:
            new_state[key] = source[tv_key]
    used = {torchvision_key(k) for k in target}
    problems += [_("'{k}' of the torchvision model has no place here").format(k=k) for k in source if k not in used]
    if problems:
        shown = "\n  ".join(problems[:8]) + ("\n  ..." if len(problems) > 8 else "")
        raise ValueError(_("the models do not match ({problems} problems):\n  {shown}").format(problems=len(problems), shown=shown))
    model.load_state_dict(new_state)
    return model
