"""Checks of notebook 08 (the depth explorer): 08.1 a guess of plain-32's gradient ratio,
08.2 the parameters of option B's projections, 08.3 a receptive field."""

from __future__ import annotations

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
    guess = number(guess, "a positive number")
    expect(math.isfinite(guess) and guess > 0, f"Guess a positive number; you gave {guess!r}.")
    ratios = [gradient_ratio(seed) for seed in SPREAD_SEEDS]
    actual = ratios[0]
    off = abs(math.log10(guess / actual))
    print(f"measured with seed 0 (the explorer's): {actual:.3g}; your guess: {guess:.3g} (off by a factor of "
          f"{10 ** off:.1f})")
    print(f"over seeds {SPREAD_SEEDS[0]}–{SPREAD_SEEDS[-1]} (other weights and digits): median "
          f"{statistics.median(ratios):.3g}, range {min(ratios):.3g} – {max(ratios):.3g}")
    expect(off <= 1, f"Your guess is {'above' if guess > actual else 'below'} the measurement by more than a factor "
                     "of 10. Look at the explorer's gradient panel for plain-20 and plain-56, and think about which way "
                     "the ratio moves with depth.")


@exercise("Exercise 08.2")
def check_projection_params(n) -> None:
    """How many more parameters the option-B residual-20 has than the option-A one."""
    from ..models import cifar_resnet

    want = count_params(cifar_resnet(20, shortcut="B")) - count_params(cifar_resnet(20, shortcut="A"))
    n = integer(n, "a whole number of parameters")
    if n == want:
        return
    expect(n != 16 * 32 + 32 * 64, "That counts the 1×1 convolutions only. Each projection is followed by a "
                                   "BatchNorm with a γ and a β per channel.")
    expect(n != 16 * 32 + 32 * 64 + 4 * (32 + 64), "You counted BN's running_mean and running_var too. They are "
                                                   "buffers, not parameters.")
    expect(n not in (9 * (16 * 32 + 32 * 64) + 2 * (32 + 64), 9 * (16 * 32 + 32 * 64)),
           "You counted 3×3 projections. A projection shortcut is a 1×1 convolution.")
    expect(n not in (16 * 32 + 2 * 32, 32 * 64 + 2 * 64), "You counted one projection. The shape changes twice in "
                                                          "residual-20, at the start of its second and third stages.")
    expect(n != 3 * (16 * 32 + 2 * 32) + 3 * (32 * 64 + 2 * 64), "You gave every block of a stage a projection. "
                                                                 "Only the first block changes the shape.")
    raise CheckFailed(f"Not {n:,}. Count the 1×1 convolutions (no bias) and the BatchNorms of the projections "
                      "where the width changes, 16 → 32 and 32 → 64.")


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
        got, want = integer(fn(list(layers)), "a whole number of pixels"), _receptive_field(layers)
        if got == want:
            continue
        expect(got != _receptive_field(layers, strides_used=False), f"For {layers} you get {got}, as if every stride "
               "were 1. After a stride-2 layer, neighbouring positions of the next layer are 2 input pixels apart.")
        expect(got != sum(k for k, _ in layers), f"For {layers} you added the kernel sizes ({got}). Neighbouring "
                                                 "windows overlap, so each layer adds less than its kernel.")
        after = 1 + sum((k - 1) * math.prod(s for _, s in layers[: i + 1]) for i, (k, _) in enumerate(layers))
        expect(got != after, f"For {layers} you get {got}: your layers count their own stride too. A layer's stride "
                             "spaces out the layers after it, not its own window.")
        expect(got != math.prod(k for k, _ in layers), f"For {layers} you multiplied the kernel sizes ({got}). "
                                                       "Stacked windows grow by adding, not multiplying.")
        raise CheckFailed(f"For {layers} the receptive field is {want}, you have {got}. Work out two layers by hand on "
                          "paper, then code what you did.")
