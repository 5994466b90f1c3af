"""Checks of notebook 10 (why residual networks work): 10.1 paths by length, 10.2 filter
normalisation, 10.3 the pre-activation block."""

from __future__ import annotations

from ..i18n import N_, _

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._core import CheckFailed, _LearnerError, _NotAttempted, expect, exercise, forward, integer, module_answer, run, \
    tensor
from ._predict import WORDING_07_10, read_prediction, reveal_prediction, with_prediction


def residual20_blocks() -> int:
    """The number of residual blocks of residual-20, counted in `cifar_resnet(20)`."""
    from ..models import ResBlock, cifar_resnet

    return sum(isinstance(m, ResBlock) for m in cifar_resnet(20).modules())


def _check_path_counts(fn: Callable[[int], list], predicted) -> None:
    """`fn(n)` -> how many of the 2^n paths of an n-block residual net pass through exactly
    k residual branches, for k = 0 … n. `predicted`, optional: the most common path length among
    residual-20's paths, as the learner predicted it before writing any code (or `...`)."""
    from ..stats import join_words, modes

    guess = read_prediction(predicted, lambda v: integer(v, N_("a path length (a whole number of branches) as your prediction")),
                            none_means=None)
    blocks = residual20_blocks()
    counted = {}
    for n in sorted({1, 3, 12, blocks}):
        answer = fn(n)
        expect(isinstance(answer, (list, tuple)) or hasattr(answer, "tolist"),
               _("Return a list of n + 1 numbers; you returned a {name}.").format(name=type(answer).__name__))
        values = answer.tolist() if hasattr(answer, "tolist") else list(answer)
        got = [integer(v, _("whole numbers of paths")) for v in values]
        want = [math.comb(n, k) for k in range(n + 1)]
        expect(len(got) == n + 1, _("For n = {n} a path can pass through 0, 1, …, n branches: that is n + 1 = {value} possible lengths, and you returned {got} numbers.").format(n=n, value=n + 1, got=len(got)))
        expect(sum(got) == 2 ** n, _("For n = {n} the counts must add up to the 2^n = {value} paths, and yours add up to {got}.").format(n=n, value=2 ** n, got=sum(got)))
        expect(got == want, _("For n = {n} you have {got}. How many ways are there to choose which k of the n blocks a path goes through?").format(n=n, got=got))
        counted[n] = got
    counts = counted[blocks]
    common = modes(counts)
    measured = (_("Of residual-20's {paths} paths ({blocks} blocks) the most common lengths are {lengths}, with {count} paths each; {long} paths pass through {near} or more of the {blocks} branches.")
                if len(common) > 1 else
                _("Of residual-20's {paths} paths ({blocks} blocks) the most common length is {lengths}, with {count} paths; {long} paths pass through {near} or more of the {blocks} branches.")
                ).format(paths=sum(counts), blocks=blocks, lengths=join_words(common), count=counts[common[0]],
                         long=sum(counts[blocks - 1:]), near=blocks - 1)
    reveal_prediction("Exercise 10.1", guess, lambda p: _("You predicted length {predicted}. {measured}").format(predicted=p, measured=measured),
                      measured=measured, wording=WORDING_07_10)


check_path_counts = with_prediction("Exercise 10.1", _check_path_counts)


@exercise("Exercise 10.2")
def check_filter_normalize(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(direction, weight)` -> the direction with each filter (slice along dim 0) rescaled
    to the norm of the same filter of the weight (Li et al. 2018, §4); tried on a convolution's
    4-D weight and on a Linear layer's 2-D one, since the course's landscape probe
    (`probes.filter_normalized_direction`) normalises every weight with more than one dim."""
    torch.manual_seed(0)
    conv_w, conv_d = torch.randn(6, 3, 3, 3) * torch.arange(1, 7).view(6, 1, 1, 1), torch.randn(6, 3, 3, 3)
    fc_w, fc_d = torch.randn(5, 7) * torch.arange(1, 6).view(5, 1), torch.randn(5, 7)
    _filter_case(fn, conv_d, conv_w)
    _filter_case(fn, fc_d, fc_w)


def _filter_case(fn, d: torch.Tensor, w: torch.Tensor) -> None:
    linear = w.ndim == 2
    try:
        answer = run(fn, d.clone(), w.clone())
    except _LearnerError as wrapped:
        if linear:
            raise CheckFailed(_("Your function works on a convolution's 4-D weight but raised {name} on a Linear layer's weight of shape {w_shape}. The course's landscape probe normalises every weight with more than one dim, so a filter is a slice along dim 0 whatever the number of dims.").format(
                name=type(wrapped.error).__name__, w_shape=tuple(w.shape))) from None
        if "2-tuple" in str(wrapped.error):
            raise CheckFailed(_("Your code raised: Tensor.norm with three dims treats them as a matrix norm, which takes two. torch.linalg.vector_norm takes any number of dims.")) from None
        raise
    got = tensor(answer, _("a tensor"))
    if linear:
        expect(got.shape == w.shape, _("On a Linear layer's weight of shape {w_shape} your result has shape {got_shape}: your code assumes a 4-D weight. The course's landscape probe normalises every weight with more than one dim, so shape the per-filter norms to fit any number of dims.").format(
            w_shape=tuple(w.shape), got_shape=tuple(got.shape)))
    per_filter = (-1,) + (1,) * (w.ndim - 1)
    want = torch.stack([d_f * (w_f.norm() / d_f.norm()) for d_f, w_f in zip(d, w)]).double()
    expect(got.shape == w.shape, _("Return a tensor of the weight's shape {w_shape}, not {got_shape}.").format(w_shape=tuple(w.shape), got_shape=tuple(got.shape)))
    if torch.allclose(got, want, rtol=1e-4, atol=1e-5):
        return
    whole = (d * (w.norm() / d.norm())).double()
    expect(not torch.allclose(got, whole, rtol=1e-4, atol=1e-5),
           _("You rescaled the whole direction to the norm of the whole weight. Li et al. rescale each filter (each slice along dim 0) on its own, so that every filter moves in proportion to its size."))
    unit = (d / d.flatten(1).norm(dim=1).view(per_filter)).double()
    expect(not torch.allclose(got, unit, rtol=1e-4, atol=1e-5),
           _("Your filters have norm 1. Each should have the norm of the same filter of the weight."))
    expect(not torch.allclose(got, (w * (d.norm() / w.norm())).double(), rtol=1e-4, atol=1e-5)
           and not torch.allclose(got, torch.stack([w_f * (d_f.norm() / w_f.norm()) for d_f, w_f in zip(d, w)]).double(),
                                  rtol=1e-4, atol=1e-5),
           _("Your result points along the weight. It should point along the random direction, with the weight's filter sizes."))
    if w.ndim == 4:
        per_channel = (d * (w.norm(dim=(2, 3), keepdim=True) / d.norm(dim=(2, 3), keepdim=True))).double()
        expect(not torch.allclose(got, per_channel, rtol=1e-4, atol=1e-5),
               _("You rescaled each 3×3 kernel (one input channel of a filter). A filter is the whole slice along dim 0, all its input channels together."))
    else:
        per_column = (d * (w.norm(dim=0, keepdim=True) / d.norm(dim=0, keepdim=True))).double()
        expect(not torch.allclose(got, per_column, rtol=1e-4, atol=1e-5),
               _("On a Linear layer's weight you rescaled each column. A filter is a slice along dim 0: one row, the weights of one output."))
    norms = got.flatten(1).norm(dim=1)
    expect(torch.allclose(norms, w.flatten(1).norm(dim=1).double(), rtol=1e-4),
           _("Each filter of the result must have the norm of the same filter of the weight."))
    raise CheckFailed(_("Your filters have the right norms but point elsewhere. Rescale each filter of the direction; do not change its direction."))


def _preact_variant(block: nn.Module, x: torch.Tensor, variant: str) -> torch.Tensor:
    """The learner's layers put together in a usual wrong order."""
    c_in, c_out = block.conv1.in_channels, block.conv1.out_channels
    stride = block.conv1.stride[0]

    def short(h):
        return h if (stride, c_in) == (1, c_out) else F.pad(h[:, :, ::stride, ::stride], (0, 0, 0, 0, 0, c_out - c_in))

    with torch.no_grad():
        a = F.relu(block.bn1(x))
        y = block.conv2(F.relu(block.bn2(block.conv1(a))))
        if variant == "shortcut from a":
            return y + short(a)
        if variant == "ReLU after the addition":
            return F.relu(y + short(x))
        if variant == "no shortcut":
            return y
        if variant in ("BN after each convolution", "original block"):
            if block.bn1.num_features != c_out:
                return torch.full_like(y, float("nan"))
            y = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x))))) + short(x)
            return F.relu(y) if variant == "original block" else y
        if variant == "bn2 after conv2":
            return block.bn2(block.conv2(F.relu(block.conv1(a)))) + short(x)
        return y + short(x)


@exercise("Exercise 10.3")
def check_preact_block(block_cls: Callable[..., nn.Module]) -> None:
    """`block_cls(in_channels, out_channels, stride)`: a pre-activation block with option A
    shortcuts, with attributes bn1, conv1, bn2, conv2, compared with course_lib's PreActBlock."""
    from ..models import PreActBlock

    for c_in, c_out, stride in ((8, 8, 1), (8, 16, 2)):
        case = f"Block {c_in}→{c_out}, stride {stride}"
        torch.manual_seed(0)
        theirs = module_answer(run(block_cls, c_in, c_out, stride), _("block_cls(...)")).eval()
        if not list(theirs.parameters()):                  # __init__ is still the placeholder
            raise _NotAttempted
        for name in ("bn1", "conv1", "bn2", "conv2"):
            expect(isinstance(getattr(theirs, name, None), nn.Module), _("Your block needs an attribute `{name}`.").format(name=name))
        expect(theirs.bn1.num_features == c_in, _("{case}: your bn1 has {num_features} channels. In a pre-activation block the first BN sees the block's input, before any convolution.").format(case=case, num_features=theirs.bn1.num_features))
        ours = PreActBlock(c_in, c_out, stride, shortcut="A").eval()
        ours.load_state_dict({k: v for k, v in theirs.state_dict().items() if k in ours.state_dict()}, strict=False)
        for bn in (ours.bn1, ours.bn2):                  # non-trivial statistics, so BN's place matters
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
        theirs.load_state_dict(ours.state_dict(), strict=False)
        x = torch.randn(2, c_in, 8, 8)
        got = forward(theirs, x)
        with torch.no_grad():
            want = ours(x)
        expect(got.shape == want.shape, _("{case}: output shape {got_shape}, expected {want_shape}.").format(case=case, got_shape=tuple(got.shape), want_shape=tuple(want.shape)))
        if torch.allclose(got, want, atol=1e-5):
            continue
        for variant, hint in (("original block", N_("your block is the original one, with BN after each convolution and a ReLU after the addition. In a pre-activation block BN and ReLU come before each convolution, and nothing follows the addition.")),
                              ("bn2 after conv2", N_("your bn2 comes after conv2. In a pre-activation block bn2 and a ReLU come before conv2, and the branch ends with conv2 itself.")),
                              ("ReLU after the addition", N_("your output has no negative values, so a ReLU follows the addition. In a pre-activation block nothing comes after it.")),
                              ("shortcut from a", N_("your shortcut takes the input after bn1 and the ReLU. Option A takes the block's input x itself.")),
                              ("no shortcut", N_("your output is the branch alone, so x is never added back.")),
                              ("BN after each convolution", N_("your block normalises after each convolution, as the original block does. In a pre-activation block BN and ReLU come before each one."))):
            expect(not torch.allclose(got, _preact_variant(theirs, x, variant), atol=1e-5), _("{case}: {hint}").format(case=case, hint=_(hint)))
        with torch.no_grad():
            theirs.conv2.weight.zero_()
            if theirs.conv2.bias is not None:
                theirs.conv2.bias.zero_()
        silent = forward(theirs, x)
        shortcut = _preact_variant(theirs, x, "right")
        if not torch.allclose(silent, shortcut, atol=1e-5):
            offset = silent - shortcut                     # the same in every image and position: a shift after conv2
            expect(not torch.allclose(offset, offset[:1, :, :1, :1].expand_as(offset), atol=1e-5),
                   _("{case}: with conv2's weights at zero your block still adds a constant to each channel, so something with a shift (a BN?) comes after conv2. In a pre-activation block the branch ends with conv2 itself.").format(case=case))
            expect((stride, c_in) != (1, c_out),
                   _("{case}: with conv2's weights at zero the block should return x itself, and yours returns something else. Here the shape does not change, so the shortcut is x unchanged and nothing follows the addition.").format(case=case))
            raise CheckFailed(_("{case}: with conv2's weights at zero the block should return its shortcut alone, and yours returns something else. Check the subsampling and the zero channels.").format(case=case))
        raise CheckFailed(_("{case}: the shortcut is right, but the branch differs. In a pre-activation block each convolution comes after a BN and a ReLU, not before.").format(case=case))
