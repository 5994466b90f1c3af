"""Checks of notebook 08 (the depth explorer): 08.1 a guess of plain-32's gradient ratio,
08.2 the parameters of option B's projections, 08.3 a receptive field."""

from __future__ import annotations

from ..i18n import _

import math
import statistics
from typing import Callable

from ..profiling import count_params
from ._core import CheckFailed, expect, exercise, integer, number

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


@exercise("Exercise 08.3")
def check_receptive_field(fn: Callable[[list], int]) -> None:
    """`fn(layers)` -> the receptive field (in input pixels) of one output position after a stack
    of layers given as (kernel, stride) pairs."""
    cases = [[(3, 1)], [(3, 1), (3, 1)], [(3, 2), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 1)], [(3, 1)] * 19,
             [(3, 2), (3, 2), (3, 2)], [(1, 2), (3, 1)]]
    for layers in cases:
        got, want = integer(fn(list(layers)), _("a whole number of pixels")), _receptive_field(layers)
        if got == want:
            continue
        expect(got != _receptive_field(layers, strides_used=False), _("For {layers} you get {got}, as if every stride were 1. After a stride-2 layer, neighbouring positions of the next layer are 2 input pixels apart.").format(layers=layers, got=got))
        expect(got != sum(k for k, _unused in layers), _("For {layers} you added the kernel sizes ({got}). Neighbouring windows overlap, so each layer adds less than its kernel.").format(layers=layers, got=got))
        after = 1 + sum((k - 1) * math.prod(s for _unused, s in layers[: i + 1]) for i, (k, _unused) in enumerate(layers))
        expect(got != after, _("For {layers} you get {got}: your layers count their own stride too. A layer's stride spaces out the layers after it, not its own window.").format(layers=layers, got=got))
        expect(got != math.prod(k for k, _unused in layers), _("For {layers} you multiplied the kernel sizes ({got}). Stacked windows grow by adding, not multiplying.").format(layers=layers, got=got))
        raise CheckFailed(_("For {layers} the receptive field is {want}, you have {got}. Work out two layers by hand on paper, then code what you did.").format(layers=layers, want=want, got=got))
