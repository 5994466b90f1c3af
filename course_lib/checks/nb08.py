"""Checks of notebook 08 (the depth explorer): 08.1 a guess of plain-32's gradient ratio,
08.2 the parameters of option B's projections, 08.3 a receptive field (with plain-20's, predicted
first)."""

from __future__ import annotations

from ..i18n import N_, _

import math
import statistics
from typing import Callable

from ..profiling import count_params
from ._core import CheckFailed, expect, exercise, integer, number
from ._predict import WORDING_07_10, read_prediction, reveal_prediction, with_prediction

SPREAD_SEEDS = (0, 1, 2, 3, 4)


def gradient_ratio(seed: int, depth: int = 32) -> float:
    """Plain-`depth`'s first-to-last-layer gradient-norm ratio at initialisation (the explorer's readout)."""
    from ..explorer import init_profile

    norms = init_profile(depth, use_residual=False, seed=seed)["grad_norm"]
    return norms[0] / norms[-1]


@exercise("Exercise 08.1")
def check_gradient_ratio_guess(guess) -> None:
    """A guess of plain-32's first-to-last-layer gradient ratio at initialisation (the explorer's
    readout); passes within a factor of 10 of the value measured with seed 0."""
    guess = number(guess, _("a positive number"))
    expect(math.isfinite(guess) and guess > 0, _("Guess a positive number; you gave {guess!r}.").format(guess=guess))
    ratios = [gradient_ratio(seed) for seed in SPREAD_SEEDS]
    actual = ratios[0]
    off = abs(math.log10(guess / actual))
    print(_("measured with seed 0 (the explorer's): {actual:.3g}; your guess: {guess:.3g} (off by a factor of {value:.1f})").format(actual=actual, guess=guess, value=10 ** off))
    print(_("over seeds {SPREAD_SEEDS_0}–{SPREAD_SEEDS_1} (other weights and digits): median {median:.3g}, range {ratios:.3g} – {ratios2:.3g}").format(SPREAD_SEEDS_0=SPREAD_SEEDS[0], SPREAD_SEEDS_1=SPREAD_SEEDS[-1], median=statistics.median(ratios), ratios=min(ratios), ratios2=max(ratios)))
    expect(off <= 1, _("Your guess is {value} the measurement by more than a factor of 10. Look at the explorer's gradient panel for plain-20 and plain-56, and think about which way the ratio moves with depth.").format(value=_('above') if guess > actual else _('below')))


@exercise("Exercise 08.2")
def check_projection_params(n) -> None:
    """How many more parameters the option-B residual-20 has than the option-A one."""
    from ..models import cifar_resnet

    want = count_params(cifar_resnet(20, shortcut="B")) - count_params(cifar_resnet(20, shortcut="A"))
    n = integer(n, _("a whole number of parameters"))
    if n == want:
        return
    expect(n != 16 * 32 + 32 * 64, _("That counts the 1×1 convolutions only. Each projection is followed by a BatchNorm with a γ and a β per channel."))
    expect(n != 16 * 32 + 32 * 64 + 4 * (32 + 64), _("You counted BN's running_mean and running_var too. They are buffers, not parameters."))
    expect(n not in (9 * (16 * 32 + 32 * 64) + 2 * (32 + 64), 9 * (16 * 32 + 32 * 64)),
           _("You counted 3×3 projections. A projection shortcut is a 1×1 convolution."))
    expect(n not in (16 * 32 + 2 * 32, 32 * 64 + 2 * 64), _("You counted one projection. The shape changes twice in residual-20, at the start of its second and third stages."))
    expect(n != 3 * (16 * 32 + 2 * 32) + 3 * (32 * 64 + 2 * 64), _("You gave every block of a stage a projection. Only the first block changes the shape."))
    raise CheckFailed(_("Not {n:,}. Count the 1×1 convolutions (no bias) and the BatchNorms of the projections where the width changes, 16 → 32 and 32 → 64.").format(n=n))


def _receptive_field(layers, strides_used: bool = True) -> int:
    size, jump = 1, 1
    for k, s in layers:
        size += (k - 1) * jump
        jump *= s if strides_used else 1
    return size


def _field_scaled_by_stride(layers) -> int:
    """The field seen so far multiplied by each layer's stride, as if a stride widened it."""
    r = 1
    for k, s in layers:
        r = r * s + (k - 1)
    return r


def _influencing_pixels(layers) -> int:
    """How many input pixels one output position depends on: the window with the holes that a
    stride larger than the kernel leaves (what counting nonzero input gradients measures)."""
    positions = {0}
    for k, s in reversed(layers):
        positions = {p * s + i for p in positions for i in range(k)}
    return len(positions)


def plain20_layers() -> list[tuple[int, int]]:
    """(kernel, stride) of plain-20's convolutions, in order, read from `cifar_resnet(20)`."""
    import torch.nn as nn

    from ..models import cifar_resnet

    return [(m.kernel_size[0], m.stride[0]) for m in cifar_resnet(20, use_residual=False).modules()
            if isinstance(m, nn.Conv2d)]


# Each typical slip as a function of the layers, and its hint. A slip is named only when the
# learner's answer agrees with it on every case, so a number that one slip gives by coincidence on
# one stack (`r * s + (k - 1)` gives 6 for [(3, 2), (3, 1)], the sum of the kernels) is not
# taken for another.
_SLIPS = (
    (lambda layers: _receptive_field(layers, strides_used=False),
     N_("For {layers} you get {got}, as if every stride were 1. After a stride-2 layer, neighbouring positions of the next layer are 2 input pixels apart.")),
    (lambda layers: sum(k for k, _unused in layers),
     N_("For {layers} you added the kernel sizes ({got}). Neighbouring windows overlap, so each layer adds less than its kernel.")),
    (lambda layers: 1 + sum((k - 1) * math.prod(s for _unused, s in layers[: i + 1]) for i, (k, _unused) in enumerate(layers)),
     N_("For {layers} you get {got}: your layers count their own stride too. A layer's stride spaces out the layers after it, not its own window.")),
    (lambda layers: math.prod(k for k, _unused in layers),
     N_("For {layers} you multiplied the kernel sizes ({got}). Stacked windows grow by adding, not multiplying.")),
    (_field_scaled_by_stride,
     N_("For {layers} you get {got}: you multiplied the field seen so far by each layer's stride. A stride does not widen what the layers before it see; it spaces out the windows of the layers after it.")),
    (_influencing_pixels,
     N_("For {layers} you get {got}: you counted the input pixels that reach the output, but a stride larger than its kernel skips pixels inside the window. The receptive field is the window's width, from its first pixel to its last, skipped ones included.")),
)

DIGIT_SIZE = 16                         # the sweep's digits are 16×16 (notebook 08)


def _check_receptive_field(fn: Callable[[list], int], predicted) -> None:
    """`fn(layers)` -> the receptive field (in input pixels, one side) of one output position after
    a stack of layers given as (kernel, stride) pairs: the width of the window of input pixels it
    depends on, from the first to the last. `predicted`, optional: plain-20's receptive field as the
    learner predicted it before writing any code (a whole number, or `...`)."""
    guess = read_prediction(predicted, lambda v: integer(v, N_("a whole number of pixels as your prediction")), none_means=None)
    plain20 = plain20_layers()
    cases = [[(3, 1)], [(3, 1), (3, 1)], [(3, 2), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 1)], [(3, 1)] * 19,
             [(3, 2), (3, 2), (3, 2)], [(1, 2), (3, 1)], [(1, 2), (3, 2), (3, 1)], plain20]
    got = [integer(fn(list(layers)), _("a whole number of pixels")) for layers in cases]
    want = [_receptive_field(layers) for layers in cases]
    if got != want:
        first = next(i for i in range(len(cases)) if got[i] != want[i])
        layers = cases[first] if cases[first] is not plain20 else _("plain-20's layers")
        for slip, hint in _SLIPS:
            if got == [slip(case) for case in cases]:
                raise CheckFailed(_(hint).format(layers=layers, got=got[first]))
        raise CheckFailed(_("For {layers} the receptive field is {want}, you have {got}. Work out two layers by hand on paper, then code what you did.").format(layers=layers, want=want[first], got=got[first]))
    field = got[-1]
    measured = _("Plain-20's {count} convolutions (read from cifar_resnet(20)) give one output position a receptive field of {field} × {field} input pixels, against a {digit} × {digit} digit.").format(
        count=len(plain20), field=field, digit=DIGIT_SIZE)
    reveal_prediction("Exercise 08.3", guess, lambda p: _("You predicted {predicted} pixels. {measured}").format(predicted=p, measured=measured),
                      measured=measured, wording=WORDING_07_10)


check_receptive_field = with_prediction("Exercise 08.3", _check_receptive_field)
