"""Checks of notebook 04 (bottlenecks and parameter counts): 04.1 weights of a basic and a
bottleneck block, 04.2 torchvision's bottleneck block built by hand, 04.3 Table 1's parameters."""

from __future__ import annotations

from ..i18n import _

from ..i18n import N_, _

from typing import Callable

import torch
import torch.nn as nn

from ..analysis import block_weight_count
from ..profiling import count_params
from ._core import CheckFailed, _NotAttempted, expect, exercise, forward, integer, module_answer, randomise_bn, run

_WEIGHT_CASES = [("basic", 64, 64), ("basic", 256, 256), ("bottleneck", 256, 64), ("bottleneck", 1024, 256),
                 ("bottleneck", 64, 64), ("basic", 32, 32)]

_WEIGHT_SLIPS = [
    (lambda b, c, w: block_weight_count(b, c, w) if b == "basic" else c * w + 9 * w * w + w * c // 4,
     N_("Your bottleneck count shrinks the last 1×1 convolution back to the input's width. It expands to 4·width channels, whatever the input.")),
    (lambda b, c, w: block_weight_count(b, c, w) // 2 if b == "basic" else block_weight_count(b, c, w),
     N_("Your basic block has one 3×3 convolution; it has two.")),
    (lambda b, c, w: block_weight_count(b, c, w) if b == "basic" else c * w + w * w + w * 4 * w,
     N_("Your bottleneck's middle convolution has 1×1 weights. It is a 3×3 convolution, 9 weights per pair of channels.")),
    (lambda b, c, w: block_weight_count(b, c, w) if b == "basic" else 3 * 9 * w * w,
     N_("Your bottleneck counts three 3×3 convolutions of width × width. Only the middle one is 3×3; the two 1×1 convolutions change the width.")),
    (lambda b, c, w: 2 * 3 * c * w if b == "basic" else c * w + 3 * w * w + w * 4 * w,
     N_("You counted 3 weights per 3×3 kernel. A 3×3 kernel has 9 per pair of channels.")),
]


@exercise("Exercise 04.1")
def check_param_count(fn: Callable[[str, int, int], int]) -> None:
    """fn(block, in_channels, width) -> conv weights of a block ("basic" or "bottleneck"),
    identity shortcut, no biases, no BN. For "bottleneck" the output has 4·width channels."""
    got = [integer(fn(*case), _("a whole number of weights")) for case in _WEIGHT_CASES]
    want = [block_weight_count(*case) for case in _WEIGHT_CASES]
    if got == want:
        return
    for slip, hint in _WEIGHT_SLIPS:
        if got == [slip(*case) for case in _WEIGHT_CASES]:
            raise CheckFailed(_(hint))
    (block, c, w), g, right = next((case, g, r) for case, g, r in zip(_WEIGHT_CASES, got, want) if g != r)
    raise CheckFailed(_("For {block}, in_channels={c}, width={w}: the block has {right:,} weights, you have {g:,}. Count each convolution as kernel height × width × in channels × out channels.").format(block=block, c=c, w=w, right=right, g=g))


@exercise("Exercise 04.2")
def check_bottleneck(block_cls: Callable[..., nn.Module]) -> None:
    """`block_cls(in_channels, width, stride)` -> a bottleneck block named like torchvision's
    (conv1, bn1, conv2, bn2, conv3, bn3, and `downsample`: None or a 1×1 convolution and a BN),
    compared with torchvision.models.resnet.Bottleneck holding the same weights."""
    from torchvision.models.resnet import Bottleneck as TorchvisionBottleneck

    g = torch.Generator().manual_seed(0)
    for c_in, width, stride in ((64, 64, 1), (256, 64, 1), (256, 128, 2)):
        torch.manual_seed(0)
        theirs = module_answer(run(block_cls, c_in, width, stride), _("block_cls(...)"))
        if not list(theirs.parameters()):                  # __init__ is still the placeholder
            raise _NotAttempted
        down = None
        if stride != 1 or c_in != 4 * width:
            down = nn.Sequential(nn.Conv2d(c_in, 4 * width, 1, stride, bias=False), nn.BatchNorm2d(4 * width))
        ref = TorchvisionBottleneck(c_in, width, stride, downsample=down)
        randomise_bn(ref, g)
        ref.eval()
        case = f"Block in={c_in}, width={width}, stride={stride}"
        n_ref, n_got = count_params(ref), count_params(theirs)
        if n_got != n_ref:
            hint = _(" Compare print(your block) with print(torchvision's Bottleneck) layer by layer.")
            if down is not None and getattr(theirs, "downsample", None) is None:
                hint = (_(" The output has 4·width = {value} channels and the input {c_in}{value2}, so the shortcut needs a projection.").format(value=4 * width, c_in=c_in, value2=_(' at stride 2') if stride == 2 else ''))
            elif (isinstance(getattr(theirs, "downsample", None), nn.Module)
                  and not any(isinstance(m, nn.BatchNorm2d) for m in theirs.downsample.modules()) and down is not None):
                hint = _(" The projection is a 1×1 convolution *and* a BatchNorm.")
            elif isinstance(getattr(theirs, "conv3", None), nn.Conv2d) and theirs.conv3.out_channels != 4 * width:
                hint = _(" The last 1×1 convolution expands to 4·width channels.")
            elif any(isinstance(m, nn.Conv2d) and m.bias is not None for m in theirs.modules()):
                hint = _(" Your convolutions have biases; torchvision's have none, since a BN follows each.")
            raise CheckFailed(_("{case}: {n_got:,} parameters, torchvision's block has {n_ref:,}.{hint}").format(case=case, n_got=n_got, n_ref=n_ref, hint=_(hint)))
        try:
            result = theirs.load_state_dict(ref.state_dict(), strict=False)
            missing, unexpected = result.missing_keys, result.unexpected_keys
        except RuntimeError as err:
            raise CheckFailed(_("{case}: torchvision's weights do not fit your layers: {rstrip}.").format(case=case, rstrip=str(err).splitlines()[1].strip()[:200].rstrip('.'))) from None
        expect(not missing and not unexpected, _("{case}: name the layers as torchvision does. Yours lacks {value} and has {value2} in addition.").format(case=case, value=', '.join(unexpected[:4]) or _('nothing'), value2=', '.join(missing[:4]) or _('nothing')))
        x = torch.randn(2, c_in, 8, 8, generator=g)
        got = forward(theirs.eval(), x)
        with torch.no_grad():
            want = ref(x)
        expect(tuple(got.shape) == tuple(want.shape), _("{case}: output shape {got_shape}, expected {want_shape}.").format(case=case, got_shape=tuple(got.shape), want_shape=tuple(want.shape)))
        if torch.allclose(got, want, atol=1e-5):
            continue
        expect(not (stride == 2 and theirs.conv1.stride == (2, 2)), _("{case}: your stride sits on the first 1×1 convolution, as in the paper's original model (v1). torchvision puts it on the 3×3 (v1.5).").format(case=case))
        expect(not bool((got < 0).any()), _("{case}: your output has negative values, so the last ReLU comes before the addition or is missing.").format(case=case))
        raise CheckFailed(_("{case}: same weights, different output. Compare your forward with torchvision's Bottleneck.forward, one operation at a time.").format(case=case))
    print(_("same parameter count and same outputs as torchvision's Bottleneck"))


def _resnet_param_formula(block: str, layers, proj: bool = True, bn: bool = True, fc_bias: bool = True,
                          layer1_proj: bool = True) -> int:
    """Parameters of an ImageNet ResNet by arithmetic, with switches that reproduce common slips."""
    e = 4 if block == "bottleneck" else 1
    total = 3 * 64 * 49 + (2 * 64 if bn else 0)
    c_in = 64
    for stage, n in enumerate(layers):
        w = 64 * 2 ** stage
        for i in range(n):
            bn_channels = 2 * w + (w * e if block == "bottleneck" else 0)     # the BNs after the block's convolutions
            total += block_weight_count(block, c_in, w) + (2 * bn_channels if bn else 0)
            needs = i == 0 and (stage > 0 or c_in != w * e)
            if needs and proj and (stage > 0 or layer1_proj):
                total += c_in * w * e + (2 * w * e if bn else 0)
            c_in = w * e
    return total + c_in * 1000 + (1000 if fc_bias else 0)


@exercise("Exercise 04.3")
def check_resnet_params(fn: Callable[[str, list], int]) -> None:
    """`fn(block, layers)` -> the parameters of an ImageNet ResNet with 1,000 classes built from
    `block` ("basic" or "bottleneck") and `layers` blocks per stage, as torchvision builds it."""
    import torchvision.models as tvm

    cases = [("basic", [2, 2, 2, 2], tvm.ResNet18_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("basic", [3, 4, 6, 3], tvm.ResNet34_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("bottleneck", [3, 4, 6, 3], tvm.ResNet50_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("bottleneck", [3, 4, 23, 3], tvm.ResNet101_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("bottleneck", [3, 8, 36, 3], tvm.ResNet152_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("basic", [1, 1, 1, 1], count_params(tvm.resnet.ResNet(tvm.resnet.BasicBlock, [1, 1, 1, 1]))),
             ("bottleneck", [1, 1, 1, 1], count_params(tvm.resnet.ResNet(tvm.resnet.Bottleneck, [1, 1, 1, 1])))]
    for block, layers, want in cases:
        got = integer(fn(block, list(layers)), _("a whole number of parameters"))
        if got == want:
            continue
        case = _("ResNet of {block} blocks {layers}: {got:,} instead of {want:,}").format(block=block, layers=layers, got=got, want=want)
        slips = [(dict(bn=False), N_("each BatchNorm learns a γ and a β per channel, and a BN follows every convolution.")),
                 (dict(proj=False), N_("the first block of layers 2-4 needs a projection shortcut (1×1 convolution + BN).")),
                 (dict(layer1_proj=False), N_("in a bottleneck network layer1 needs a projection too, 64 → 256 channels.")),
                 (dict(fc_bias=False), N_("the classifier nn.Linear(·, 1000) has a bias."))]
        bn_channels = (_resnet_param_formula(block, layers) - _resnet_param_formula(block, layers, bn=False)) // 2
        expect(got != want + 2 * bn_channels, _("{case}: you counted BN's running_mean and running_var. They are buffers, not parameters: the optimiser never updates them.").format(case=case))
        for kwargs, hint in slips:
            expect(got != _resnet_param_formula(block, layers, **kwargs), _("{case}: {hint}").format(case=case, hint=_(hint)))
        raise CheckFailed(_("{case}. Count the stem (7×7 convolution from 3 to 64 channels and a BN), every block, the projections and the classifier.").format(case=case))
