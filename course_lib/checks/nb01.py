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

from ._core import CheckFailed, exercise, expect, number, numbers_of, randomise_bn
from ._predict import WORDING_01_06, read_prediction, record_prediction, reveal_prediction, with_prediction


# The two arms by name, as a learner reads them.
ARMS = {"plain": N_("Plain"), "residual": N_("Residual")}


def _g(value: float) -> str:
    return f"{value:.3g}"


# ---------------------------------------------------------------- 01.1
def _check_chain_gradient(fn: Callable[[float, int, bool], float], predicted) -> None:
    """fn(w, n, residual) -> d(output)/d(input) of n scalar layers y = w·x (plain)
    or y = x + w·x (residual); `predicted`, optional: the learner's (plain, residual) guess for
    w = 0.1, n = 20, shown next to the answer once it passes."""
    guess = read_prediction(predicted, lambda v: tuple(numbers_of(v, 2, N_("two numbers, (plain, residual)"))))
    shown = {}
    for w, n in [(0.5, 10), (1.5, 4), (0.1, 20), (-0.5, 3), (2.0, 1)]:
        plain = number(fn(w, n, False), _("a number (the derivative)"))
        res = number(fn(w, n, True), _("a number (the derivative)"))
        shown[w, n] = plain, res
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
            if (w, n) == (0.1, 20):
                record_prediction("Exercise 01.1", guess)            # the hint below shows the measurement
            raise CheckFailed(_("{case}, the derivative is {want:.6g}. Check it with autograd: a tensor x with requires_grad=True, n layers, then backward().").format(case=case, want=want))
    plain, res = shown[0.1, 20]
    reveal_prediction("Exercise 01.1", guess,
                      lambda p: _("w = 0.1, n = 20: you predicted {p_plain} (plain) and {p_res} (residual); the chains give {plain:.3g} and {res:.3g}.").format(
                          p_plain=_g(p[0]), p_res=_g(p[1]), plain=plain, res=res),
                      lambda p: f"({_g(p[0])}, {_g(p[1])})", wording=WORDING_01_06)


check_chain_gradient = with_prediction("Exercise 01.1", _check_chain_gradient)


# ---------------------------------------------------------------- 01.2
_DRAWS = 100_000                                        # the check's own draws per case
_PROBES = ((1, 0.5, False), (1, 2.0, True))             # one layer: each usual slip gives its own value here
_CASES = ((20, 1.0, False), (20, 0.1, True), (50, 0.5, False), (50, 0.5, True))
_FEW = 50                                               # "as few as 50 draws" in the hint for a seeded answer


def _chain_name(n: int, sigma: float, residual: bool) -> str:
    return _("{arm}, n={n}, σ={sigma:g}").format(arm=_(ARMS["residual" if residual else "plain"]), n=n, sigma=sigma)


def _typical_reference(n: int, sigma: float, residual: bool, g: torch.Generator) -> dict:
    """The check's own draws for one case: the median of |f_1 ⋯ f_n|, how far the median of 10,000
    draws strays from it (in log units), and the values the usual slips give."""
    z = torch.randn(_DRAWS, n + 1, generator=g, dtype=torch.float64)
    factors = (1 + sigma * z) if residual else sigma * z
    logs = factors.abs().log()
    per_draw = logs[:, :n].sum(1)
    low, high = torch.quantile(per_draw, torch.tensor([0.49, 0.51], dtype=torch.float64)).tolist()
    se = (high - low) / (0.04 * math.sqrt(10_000))          # 1 / (2 density √N), the median's standard error
    ref = {"median": per_draw.median().exp().item(), "se": se, "tol": max(0.05, 5 * se),
           "mean_abs": per_draw.exp().mean().item(),
           "rms": (1 + sigma ** 2) ** (n / 2) if residual else sigma ** n,
           "shared": (factors[:, 0].abs().median() ** n).item(),
           "layers": {n - 1: logs[:, :n - 1].sum(1).median().exp().item(), n + 1: logs.sum(1).median().exp().item()}}
    if n == 1:                                             # the probes: every slip, precisely
        def median_with(std):
            return ((1 + std * z[:, 0]) if residual else std * z[:, 0]).abs().median().item()
        f = factors[:, 0]
        ref["slips"] = {
            "mean_abs": ref["mean_abs"], "rms": ref["rms"], "mean_square": ref["rms"] ** 2,
            "median_square": ref["median"] ** 2, "signed": f.median().item(),
            "variance_as_std": median_with(sigma ** 2), "std_as_variance": median_with(math.sqrt(sigma)),
            "plain_factor": (sigma * z[:, 0]).abs().median().item(),
            "no_sigma": median_with(1.0), "geometric_mean": logs[:, 0].mean().exp().item(),
            "fewer_layers": ref["layers"][n - 1], "more_layers": ref["layers"][n + 1]}
    return ref


def _off(got: float, want: float) -> float:
    """How far got is from want, in log units (inf when got is not a positive number)."""
    return abs(math.log(got / want)) if got > 0 and math.isfinite(got) and want > 0 else math.inf


def _slip_matches(slip: str, got: float, ref: dict, case: tuple) -> bool:
    want = ref["slips"][slip]
    if slip == "signed" and not case[2]:                  # plain: the signed median sits near 0
        return abs(got - want) <= 0.05 * case[1]
    return _off(got, want) <= max(0.06, ref["tol"])


def _slip_hint(slip: str, case: tuple, got: float, ref: dict) -> str:
    n, sigma, residual = case
    kind = _chain_name(*case)
    if slip == "mean_abs":
        return _("{kind}: that looks like the mean of |∏ f|. A few huge draws dominate the mean; the *typical* draw is the median.").format(kind=kind)
    if slip == "rms":
        return _("{kind}: that is the root mean square √E[∏ f²] = {rms:.3g}, not the size of a typical draw. Measure the median of |∏ f| over many draws.").format(kind=kind, rms=ref["rms"])
    if slip == "mean_square":
        return _("{kind}: that is the mean square E[∏ f²] = {ms:.3g}, the average that the text says stays at 1 for σ = 1. The question is the size of a typical draw: the median of |∏ f|.").format(kind=kind, ms=ref["slips"]["mean_square"])
    if slip == "median_square":
        return _("{kind}: that is the median of (∏ f)², the square of a typical |∏ f|. Take the median of the absolute values, not of the squares.").format(kind=kind)
    if slip == "signed":
        return _("{kind}: your value, {got:.3g}, is the median of ∏ f with its sign, and with negative factors many products are negative. Take the absolute value of each product before the median.").format(kind=kind, got=got)
    if slip in ("variance_as_std", "std_as_variance"):
        std = sigma ** 2 if slip == "variance_as_std" else math.sqrt(sigma)
        return _("{kind}: your values match w drawn with a standard deviation of {std:.3g} instead of σ = {sigma:g}. In N(0, σ²), σ is the standard deviation: scale standard normal draws by σ.").format(kind=kind, std=std, sigma=sigma)
    if slip == "no_sigma" and sigma != 1:
        return _("{kind}: your values match w drawn with a standard deviation of 1, whatever σ is. Scale the standard normal draws by σ: w = σ · z.").format(kind=kind)
    if slip == "geometric_mean":
        return _("{kind}: that is exp(mean of log|f|), the geometric mean of |f|, not the median of |f|. The two differ (here by a factor of {factor:.3g}); the question asks for the median over draws of |∏ f|.").format(kind=kind, factor=ref["median"] / ref["slips"]["geometric_mean"])
    if slip == "plain_factor":
        return _("{kind}: your residual chain multiplies the factors w alone. A residual layer y = x + w·x has the factor 1 + w.").format(kind=kind)
    return _("{kind}: that is the median for a chain of {m} layers: one factor too many or too few. Each draw is a product of n factors.").format(kind=kind, m=n - 1 if slip == "fewer_layers" else n + 1)


def _noisy(fn: Callable, case: tuple, got: float, ref: dict) -> None:
    """Refuse an answer that changes from call to call more than a median of 10,000 draws does."""
    values = [got] + [number(fn(*case), _("a number (the median)")) for _unused in range(4)]
    if all(v > 0 and math.isfinite(v) for v in values) and \
            math.log(max(values)) - math.log(min(values)) > max(0.15, 10 * ref["se"]):
        raise CheckFailed(_("{kind}: your answer changes from call to call ({low:.3g} to {high:.3g}), more than the median of 10,000 draws does. Use more draws: 10,000 or more.").format(
            kind=_chain_name(*case), low=min(values), high=max(values)))


def _strays_like_few_draws(case: tuple, got: float, ref: dict) -> None:
    """Refuse an answer (the same at every call: seeded) as far off as the median of few draws lands."""
    off = _off(got, ref["median"])
    if off <= 4 * ref["se"] * math.sqrt(10_000 / _FEW):
        raise CheckFailed(_("{kind}: your median, {got:.3g}, is off the check's {want:.3g} by a factor of {factor:.3g}, more than the median of 10,000 draws strays (a factor of {within:.3g} at most) but as much as the median of {few} draws can. Use more draws: 10,000 or more.").format(
            kind=_chain_name(*case), got=got, want=ref["median"], factor=math.exp(off), within=math.exp(ref["tol"]), few=_FEW))


def _check_typical_gradient(fn: Callable[[int, float, bool], float], predicted) -> None:
    """`fn(n, sigma, residual)` -> the median, over many random draws, of |f_1 · f_2 ⋯ f_n|, where
    f_i = w_i (plain) or 1 + w_i (residual) and w_i ~ N(0, sigma²). One-layer chains first, where
    every usual slip has its own value, then chains of 20 and 50 layers. `predicted`, optional: the
    learner's guess of the typical |∏ w| for n = 20, σ = 1, shown next to their median."""
    guess = read_prediction(predicted, _size_guess)
    g = torch.Generator().manual_seed(0)
    refs = {case: _typical_reference(*case, g) for case in _PROBES + _CASES}
    answers = {case: number(fn(*case), _("a number (the median)")) for case in _PROBES}
    wrong = [case for case in _PROBES if _off(answers[case], refs[case]["median"]) > refs[case]["tol"]]
    if wrong:
        case, got, ref = wrong[0], answers[wrong[0]], refs[wrong[0]]
        # a slip made in both chains first; else one made only where the answer is wrong (a formula for
        # one arm), except the sign slip, whose loose tolerance near 0 would catch any small number
        matches = [slip for slip in ref["slips"] if all(_slip_matches(slip, answers[c], refs[c], c) for c in _PROBES)] or \
            [slip for slip in ref["slips"] if slip != "signed" and all(_slip_matches(slip, answers[c], refs[c], c) for c in wrong)]
        matches.sort(key=lambda slip: sum(_off(answers[c], refs[c]["slips"][slip]) for c in wrong))   # the nearest first
        expect("signed" not in matches, _slip_hint("signed", case, got, ref))
        _noisy(fn, case, got, ref)                          # before the slips: few draws can land near one
        if matches:
            raise CheckFailed(_slip_hint(matches[0], case, got, ref))
        _strays_like_few_draws(case, got, ref)
        expect(got > 0, _("{kind}: a median of absolute values is positive, you have {got!r}.").format(kind=_chain_name(*case), got=got))
        raise CheckFailed(_("{kind}: your value, {got:.3g}, is off by a factor of {factor:.3g} from the median of |f| over the check's draws, {want:.3g}. With one layer there is no product yet: draw many f and take the median of |f|.").format(
            kind=_chain_name(*case), got=got, factor=math.exp(_off(got, ref["median"])) if got > 0 else math.inf, want=ref["median"]))
    for case in _CASES:
        ref = refs[case]
        got = answers[case] = number(fn(*case), _("a number (the median)"))
        kind = _chain_name(*case)
        expect(got > 0, _("{kind}: a median of absolute values is positive, you have {got!r}.").format(kind=kind, got=got))
        if _off(got, ref["median"]) <= ref["tol"]:
            continue
        off = _off(got, ref["median"])
        _noisy(fn, case, got, ref)          # first: a noisy median can land near any of the slips below
        # a slip's hint only when the answer is nearer that slip's value than the right one
        expect(not (_off(got, ref["mean_abs"]) <= 0.5 and _off(got, ref["mean_abs"]) < off), _slip_hint("mean_abs", case, got, ref))
        expect(not (_off(got, ref["rms"]) <= 0.1 and _off(got, ref["rms"]) < off), _slip_hint("rms", case, got, ref))
        expect(not (_off(got, ref["shared"]) <= 0.5 and _off(got, ref["shared"]) < off), _("{kind}: that is the median of one factor, raised to the n-th power: what you get when all n layers share one w, or when you take each layer's median before multiplying. Multiply the n factors of each draw first (a fresh w for every layer of every draw), then take the median over the draws.").format(kind=kind))
        for m, value in ref["layers"].items():
            expect(_off(got, value) > ref["tol"], _slip_hint("fewer_layers" if m < case[0] else "more_layers", case, got, ref))
        _strays_like_few_draws(case, got, ref)
        raise CheckFailed(_("{kind}: your value is off by a factor of {factor:.3g} from the median of the check's 100,000 draws, though your one-layer medians are right. Check how each draw multiplies its n factors.").format(
            kind=kind, factor=math.exp(_off(got, ref["median"]))))
    w = torch.randn(100_000, generator=g, dtype=torch.float64)
    mine = answers[20, 1.0, False]
    print(_("plain, n = 20, σ = 1: E[∏ w²] = 1 exactly, yet your typical |∏ w| is {answers_20_1_0_False:.2g}; the mean of log|w| over 100,000 draws is {mean:.3f} per layer").format(answers_20_1_0_False=mine, mean=w.abs().log().mean()))
    reveal_prediction("Exercise 01.2", guess,
                      lambda p: (_("n = 20, σ = 1: you predicted a typical |∏ w| of {p}; your median is {mine:.2g}, {ratio:.2g} times your prediction.").format(p=_g(p), mine=mine, ratio=mine / p)
                                 if p > 0 else _("n = 20, σ = 1: you predicted a typical |∏ w| of 0; your median is {mine:.2g}.").format(mine=mine)),
                      _g, wording=WORDING_01_06)


def _size_guess(value) -> float:
    guess = number(value, N_("a number (your guess of a typical |∏ w|)"))
    expect(math.isfinite(guess) and guess >= 0, _("Predict a size: a number of 0 or more; you gave {guess!r}.").format(guess=guess))
    return guess


check_typical_gradient = with_prediction("Exercise 01.2", _check_typical_gradient)


# ---------------------------------------------------------------- 01.3
def _plain_block_output(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What a plain ResBlock computes in eval mode, from its tensors alone (no forward, no hooks)."""
    def conv(c: nn.Conv2d, h):
        return F.conv2d(h, c.weight, c.bias, c.stride, c.padding, c.dilation, c.groups)

    def bn(b: nn.BatchNorm2d, h):
        return F.batch_norm(h, b.running_mean, b.running_var, b.weight, b.bias, False, 0.0, b.eps)

    with torch.no_grad():
        return F.relu(bn(block.bn2, conv(block.conv2, F.relu(bn(block.bn1, conv(block.conv1, x))))))


# The second block's BatchNorms have an eps far from PyTorch's default 1e-5, so that an answer that
# leaves eps out, or types in 1e-5, is off by more than the check's tolerance.
_LARGE_EPS = (0.1, 0.01)


def _random_plain_block(g: torch.Generator, large_eps: bool) -> nn.Module:
    from ..models import ResBlock

    block = ResBlock(4, 4, use_residual=False).eval()
    randomise_bn(block, g)
    with torch.no_grad():
        if large_eps:                      # eps that matters whatever the variances
            block.bn1.eps, block.bn2.eps = _LARGE_EPS
        else:                              # small variances, so that BN's eps matters at the 1 % level
            for bn in (block.bn1, block.bn2):
                bn.running_var.copy_(torch.rand(4, generator=g) * 4e-4 + 1e-4)
    return block


def _is_identity(block: nn.Module, x: torch.Tensor, eps: tuple | None = None) -> bool:
    """block(x) == x within the tolerance of the check, with each BN's eps replaced by `eps` if given."""
    if eps is not None:
        block = copy.deepcopy(block)
        block.bn1.eps, block.bn2.eps = eps
    return torch.allclose(_plain_block_output(block, x), x, rtol=1e-4, atol=1e-5)


@exercise("Exercise 01.3")
def check_plain_identity(fn: Callable[[nn.Module], nn.Module]) -> None:
    """`fn(block)` -> the same plain ResBlock (no skip, eval mode, random weights and BN statistics),
    its numbers changed in place so that block(x) == x for every non-negative x. Two blocks: one with
    small running variances, one whose BNs have a large eps (0.1 and 0.01)."""
    from ..models import ResBlock

    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    for large_eps in (False, True):
        block = _random_plain_block(g, large_eps)
        eps = (block.bn1.eps, block.bn2.eps)
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
            continue
        expect(not bool((y == 0).all()), _("The block outputs zeros. Zeroing the last BN makes a *residual* block the identity only because its skip still carries x, and a plain block has no skip."))
        without_eps = _is_identity(block, x, eps=(0.0, 0.0))
        reset = all(bool((bn.running_var == 1).all()) for bn in (block.bn1, block.bn2))
        expect(not (without_eps and reset), _("You set running_var to 1 and left ε out: BN divides by √(1 + ε), and this block's BatchNorms have ε = {eps1:g} and {eps2:g}. Take bn.eps into account too.").format(eps1=eps[0], eps2=eps[1]))
        expect(not (large_eps and _is_identity(block, x, eps=(1e-5, 1e-5))),
               _("Your block would be the identity if each BN's ε were 1e-5, PyTorch's default, but this block's BatchNorms have ε = {eps1:g} and {eps2:g}. Read ε from bn.eps instead of typing it in.").format(eps1=eps[0], eps2=eps[1]))
        expect(not without_eps, _("Close: your block would be the identity if BatchNorm had no eps. In eval mode BN divides by the square root of running_var plus bn.eps, and with small variances that eps matters."))
        ratio = (y * x).sum() / (x * x).sum()
        expect(not torch.allclose(y, ratio * x, atol=1e-3), _("Close: the output is {ratio:.3f} × x. Each BN must give back its input with the block's own (random) running statistics, so choose γ and β from them.").format(ratio=ratio))
        convs_identity = all(torch.equal(c.weight, _dirac(c.weight)) for c in (block.conv1, block.conv2))
        expect(convs_identity, _("The output is not x, and a convolution still mixes pixels or channels. Each convolution must pass channel i to channel i unchanged, pixel by pixel."))
        raise CheckFailed(_("The convolutions pass every channel through, but the output is not x. Each BN must give back its input: compare bn1's output with its input on a batch."))


def _dirac(weight: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(weight)
    nn.init.dirac_(out)
    return out
