"""Checks of notebook 01 (why depth is hard): 01.1 chain gradient, 01.2 typical gradient,
01.3 a plain block set to the identity."""

from __future__ import annotations

from ..i18n import N_, _

import copy
import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._core import CheckFailed, expect, exercise, number, randomise_bn


# The two arms by name, as a learner reads them.
ARMS = {"plain": N_("Plain"), "residual": N_("Residual")}

@exercise("Exercise 01.1")
def check_chain_gradient(fn: Callable[[float, int, bool], float]) -> None:
    """fn(w, n, residual) -> d(output)/d(input) of n scalar layers y = w·x (plain)
    or y = x + w·x (residual)."""
    for w, n in [(0.5, 10), (1.5, 4), (0.1, 20), (-0.5, 3), (2.0, 1)]:
        plain = number(fn(w, n, False), _("a number (the derivative)"))
        res = number(fn(w, n, True), _("a number (the derivative)"))
        for arm, got, factor, other in (("plain", plain, w, 1 + w), ("residual", res, 1 + w, w)):
            want = factor ** n
            if abs(got - want) <= 1e-4 * abs(want):
                continue
            case = _("{capitalize} chain, w={w}, n={n}: you have {got:.6g}").format(capitalize=_(ARMS[arm]), w=w, n=n, got=got)
            if abs(got - other ** n) <= 1e-4 * abs(other ** n):
                raise CheckFailed(_("{case}, the value of the other chain. A residual layer's output holds x itself as well as w·x, so both terms count when you differentiate.").format(case=case))
            if n > 1 and abs(got - n * factor) <= 1e-4 * abs(n * factor):
                raise CheckFailed(_("{case}: you added the n per-layer factors. The chain rule multiplies them.").format(case=case))
            if arm == "residual" and n > 1 and abs(got - (1 + w ** n)) <= 1e-4 * abs(1 + w ** n):
                raise CheckFailed(_("{case}: you added the skip once, around the whole stack. Every layer has its own skip, so apply the chain rule one layer at a time.").format(case=case))
            if n > 1 and any(abs(got - factor ** m) <= 1e-4 * abs(factor ** m) for m in (n - 1, n + 1)):
                raise CheckFailed(_("{case}: one factor too many or too few. A chain of n layers has n factors.").format(case=case))
            raise CheckFailed(_("{case}, the derivative is {want:.6g}. Check it with autograd: a tensor x with requires_grad=True, n layers, then backward().").format(case=case, want=want))


@exercise("Exercise 01.2")
def check_typical_gradient(fn: Callable[[int, float, bool], float]) -> None:
    """`fn(n, sigma, residual)` -> the median, over many random draws, of |f_1 · f_2 ⋯ f_n|, where
    f_i = w_i (plain) or 1 + w_i (residual) and w_i ~ N(0, sigma²)."""
    g = torch.Generator().manual_seed(0)
    answers = {}
    for n, sigma, residual in ((20, 1.0, False), (20, 0.1, True), (50, 0.5, False), (50, 0.5, True)):
        w = torch.randn(100_000, n, generator=g, dtype=torch.float64) * sigma
        log_abs = ((1 + w) if residual else w).abs().log().sum(1)
        median = log_abs.median().exp().item()
        got = answers[n, sigma, residual] = number(fn(n, sigma, residual), _("a number (the median)"))
        kind = f"{'Residual' if residual else 'Plain'}, n={n}, σ={sigma}"
        expect(got > 0, _("{kind}: a median of absolute values is positive, you have {got!r}.").format(kind=kind, got=got))
        if abs(math.log(got / median)) <= 0.5:
            continue
        mean_abs = log_abs.exp().mean().item()
        rms = (1 + sigma ** 2) ** (n / 2) if residual else sigma ** n
        expect(abs(math.log(got / mean_abs)) > 0.5, _("{kind}: that looks like the mean of |∏ f|. A few huge draws dominate the mean; the *typical* draw is the median.").format(kind=kind))
        expect(abs(math.log(got / rms)) > 0.1, _("{kind}: that is the root mean square √E[∏ f²] = {rms:.3g}, computed by formula. Measure the median of many draws instead.").format(kind=kind, rms=rms))
        shared = (((1 + w[:, 0]) if residual else w[:, 0]).abs().median() ** n).item()
        expect(abs(math.log(got / shared)) > 0.5, _("{kind}: that is the median of one factor, raised to the n-th power, as if all n layers shared one w. Draw a fresh w for every layer of every draw.").format(kind=kind))
        raise CheckFailed(_("{kind}: your value is off by a factor of {got_median:.3g} from the median of the check's 100,000 draws. Draw a fresh w for every layer of every draw.").format(kind=kind, got_median=max(got / median, median / got)))
    w = torch.randn(100_000, generator=g, dtype=torch.float64)
    print(_("plain, n = 20, σ = 1: E[∏ w²] = 1 exactly, yet your typical |∏ w| is {answers_20_1_0_False:.2g}; the mean of log|w| over 100,000 draws is {mean:.3f} per layer").format(answers_20_1_0_False=answers[20, 1.0, False], mean=w.abs().log().mean()))


def _plain_block_output(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What a plain ResBlock computes in eval mode, from its tensors alone (no forward, no hooks)."""
    def conv(c: nn.Conv2d, h):
        return F.conv2d(h, c.weight, c.bias, c.stride, c.padding, c.dilation, c.groups)

    def bn(b: nn.BatchNorm2d, h):
        return F.batch_norm(h, b.running_mean, b.running_var, b.weight, b.bias, False, 0.0, b.eps)

    with torch.no_grad():
        return F.relu(bn(block.bn2, conv(block.conv2, F.relu(bn(block.bn1, conv(block.conv1, x))))))


@exercise("Exercise 01.3")
def check_plain_identity(fn: Callable[[nn.Module], nn.Module]) -> None:
    """`fn(block)` -> the same plain ResBlock (no skip, eval mode, random weights and BN statistics),
    its numbers changed in place so that block(x) == x for every non-negative x."""
    from ..models import ResBlock

    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    block = ResBlock(4, 4, use_residual=False).eval()
    randomise_bn(block, g)
    with torch.no_grad():                  # small variances, so that BN's eps matters at the 1 % level
        for bn in (block.bn1, block.bn2):
            bn.running_var.copy_(torch.rand(4, generator=g) * 4e-4 + 1e-4)
    layers = [(name, type(m)) for name, m in block.named_modules()]
    got = fn(block)
    expect(got is block, _("Change the numbers of the block you are given, in place, and return that same block."))
    expect([(name, type(m)) for name, m in block.named_modules()] == layers and type(block) is ResBlock,
           _("Keep the block's layers (two convolutions, two BatchNorms, no skip): change only their numbers."))
    patched = [name or "block" for name, m in block.named_modules() if "forward" in vars(m)]
    hooked = [name or "block" for name, m in block.named_modules()
              if m._forward_hooks or m._forward_pre_hooks]
    expect(not patched and not hooked, _("You replaced the computation of {join} (a new forward or a hook): change only the numbers in the layers.").format(join=', '.join(patched + hooked)))
    x = torch.relu(torch.randn(2, 4, 6, 6, generator=g))
    y = _plain_block_output(block, x)
    if torch.allclose(y, x, rtol=1e-4, atol=1e-5):
        return
    expect(not bool((y == 0).all()), _("The block outputs zeros. Zeroing the last BN makes a *residual* block the identity only because its skip still carries x, and a plain block has no skip."))
    no_eps = copy.deepcopy(block)
    for bn in (no_eps.bn1, no_eps.bn2):
        bn.eps = 0.0
    expect(not torch.allclose(_plain_block_output(no_eps, x), x, rtol=1e-4, atol=1e-5),
           _("Close: your block would be the identity if BatchNorm had no eps. In eval mode BN divides by the square root of running_var plus bn.eps, and with small variances that eps matters."))
    ratio = (y * x).sum() / (x * x).sum()
    expect(not torch.allclose(y, ratio * x, atol=1e-3), _("Close: the output is {ratio:.3f} × x. Each BN must give back its input with the block's own (random) running statistics, so choose γ and β from them.").format(ratio=ratio))
    convs_identity = all(torch.equal(c.weight, _dirac(c.weight)) for c in (block.conv1, block.conv2))
    expect(convs_identity, _("The output is not x, and a convolution still mixes pixels or channels. Each convolution must pass channel i to channel i unchanged, pixel by pixel."))
    raise CheckFailed(_("The convolutions pass every channel through, but the output is not x. Each BN must give back its input: compare bn1's output with its input on a batch."))


def _dirac(weight: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(weight)
    nn.init.dirac_(out)
    return out
