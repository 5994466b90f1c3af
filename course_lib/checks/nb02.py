"""Checks of notebook 02 (the residual block): 02.1 the block's forward, 02.2 its parameter count,
02.3 the identity race between a plain and a residual stack, and how far each trained stack is from
the identity function on new inputs."""

from __future__ import annotations

from ..i18n import N_, _

import copy
import functools
import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..profiling import count_params
from ._core import (same_losses, CheckFailed, _NotAttempted, _is_stub, _placeholder_guard, expect, exercise, forward, integer,
                    losses, module_answer, number, randomise_bn, run, used_modules)
from ._predict import NOT_ASKED, WORDING_01_06, read_prediction, reveal_prediction


# The two arms by name, as a learner reads them.
ARMS = {"plain": N_("Plain"), "residual": N_("Residual")}

def _layers_output(block: nn.Module, x: torch.Tensor, variant: str = "right") -> torch.Tensor:
    """The block's layers put together in the right order, or in one of the usual wrong ones."""
    with torch.no_grad():
        h = block.bn1(block.conv1(x))
        h = h if variant == "no middle ReLU" else F.relu(h)
        f = block.bn2(block.conv2(h))
        s = block.shortcut(x)
        if variant == "ReLU before the addition":
            return F.relu(f) + s
        if variant == "ReLU on F(x) too":
            return F.relu(F.relu(f) + s)
        if variant == "no final ReLU":
            return f + s
        return F.relu(f + s)


@exercise("Exercise 02.1")
def check_resblock(block_cls: Callable[..., nn.Module]) -> None:
    """block_cls(in_channels, out_channels, stride) -> a residual block module with the course's
    layers (conv1, bn1, conv2, bn2, shortcut); compared with those layers put together as in Fig. 2."""
    g = torch.Generator().manual_seed(1)
    for in_c, out_c, stride in [(8, 8, 1), (8, 16, 2)]:
        case = f"Block in={in_c}, out={out_c}, stride={stride}"
        block = module_answer(run(block_cls, in_c, out_c, stride), _("block_cls(in, out, stride)")).eval()
        for name in ("conv1", "bn1", "conv2", "bn2", "shortcut"):
            expect(isinstance(getattr(block, name, None), nn.Module), _("{case}: the block needs its layer `{name}`; inherit the layers from ResBlock and write only forward.").format(case=case, name=name))
        randomise_bn(block, g)
        x = torch.randn(2, in_c, 8, 8, generator=g)
        used = used_modules(block, x)
        y = forward(block, x)
        want = _layers_output(block, x)
        expect(tuple(y.shape) == tuple(want.shape), _("{case}: output shape {y_shape}, expected {want_shape}.{value}").format(case=case, y_shape=tuple(y.shape), want_shape=tuple(want.shape), value=_(' Your forward never calls self.shortcut, so x keeps its shape.') if 'shortcut' not in used else ''))
        if torch.allclose(y, want, atol=1e-5):
            continue
        for name in ("conv1", "bn1", "conv2", "bn2"):
            expect(name in used, _("{case}: your forward never uses {name}. F(x) runs through both convolutions and both BatchNorms.").format(case=case, name=name))
        if not isinstance(block.shortcut, nn.Identity):
            expect("shortcut" in used, _("{case}: your forward never calls self.shortcut. When the shape changes, x must go through the projection before it is added.").format(case=case))
        for variant, hint in (("ReLU before the addition", N_("you apply the last ReLU to F(x) before the addition, so the output can be negative. In Fig. 2 the ReLU comes after the sum.")),
                              ("ReLU on F(x) too", N_("you apply a ReLU to F(x) and another after the addition. In Fig. 2 the second BN's output goes into the sum as it is.")),
                              ("no middle ReLU", N_("the ReLU between the two convolutions is missing.")),
                              ("no final ReLU", N_("the ReLU after the addition is missing."))):
            expect(not torch.allclose(y, _layers_output(block, x, variant), atol=1e-5), _("{case}: {hint}").format(case=case, hint=_(hint)))
        with torch.no_grad():                    # silence F(x): with bn2's scale and shift at 0 the block is ReLU(shortcut(x))
            silent = module_answer(run(block_cls, in_c, out_c, stride), _("block_cls(in, out, stride)")).eval()
            silent.load_state_dict(block.state_dict())
            silent.bn2.weight.zero_()
            silent.bn2.bias.zero_()
            s = silent.shortcut(x)
        y0 = forward(silent, x)
        expect(not torch.allclose(y0, torch.zeros_like(y0), atol=1e-6),
               _("{case}: with F(x) silenced (bn2's γ and β at zero) your block outputs zeros, so x is never added back.").format(case=case))
        expect(not torch.allclose(y0, s, atol=1e-5) or bool((s >= 0).all()),
               _("{case}: with F(x) silenced your block returns the shortcut with its negative values. The block ends with a ReLU.").format(case=case))
        raise CheckFailed(_("{case}: same layers, different output (largest difference {max:.3g}). Compare your forward with Fig. 2, one operation at a time.").format(case=case, max=(y - want).abs().max()))


@exercise("Exercise 02.2")
def check_block_params(fn: Callable[[int, int, int], int]) -> None:
    """`fn(in_channels, out_channels, stride)` -> the number of parameters of the course's
    ResBlock(in_channels, out_channels, stride), as `count_params` counts them."""
    from ..models import ResBlock

    for c_in, c_out, stride in ((64, 64, 1), (64, 128, 2), (16, 32, 2), (256, 256, 1), (32, 32, 2), (64, 128, 1)):
        want = count_params(ResBlock(c_in, c_out, stride))
        got = integer(fn(c_in, c_out, stride), _("a whole number of parameters"))
        if got == want:
            continue
        convs = 9 * c_in * c_out + 9 * c_out * c_out
        projects = stride != 1 or c_in != c_out
        proj = (c_in * c_out + 2 * c_out) if projects else 0
        case = f"ResBlock({c_in}, {c_out}, stride={stride})"
        expect(got != convs and got != convs + (c_in * c_out if projects else 0),
               _("{case}: you counted the convolutions only. Each BatchNorm learns a scale γ and a shift β per channel.").format(case=case))
        expect(got != want + 4 * c_out + (2 * c_out if projects else 0),
               _("{case}: you counted running_mean and running_var too. They are buffers, not parameters: the optimiser never updates them.").format(case=case))
        expect(got != want + 2 * c_out + (c_out if projects else 0),
               _("{case}: you gave the convolutions a bias. They have none (bias=False), since the BN after each would cancel it.").format(case=case))
        expect(not projects or got != convs + 4 * c_out,
               _("{case}: the shape changes here, so the shortcut is a 1×1 convolution with its own BatchNorm.").format(case=case))
        expect(projects or got != want + proj,
               _("{case}: the shape is kept here, so the shortcut is the identity, without parameters.").format(case=case))
        expect(got != 2 * 9 * c_in * c_out + 4 * c_out + proj or c_in == c_out,
               _("{case}: your second convolution takes in_channels in. It follows the first, so it takes out_channels.").format(case=case))
        raise CheckFailed(_("{case} has {want:,} parameters, you have {got:,}. Count each layer of print(ResBlock(...)) with its shape.").format(case=case, want=want, got=got))


@functools.lru_cache(maxsize=64)          # deterministic runs: the check compares with each once per session
def _race_run(use_residual: bool, seed: int = 0, steps: int = 150, lr: float = 1e-2, pre_relu_target: bool = False,
              x_first: bool = False, zero_grad: bool = True, shared: bool = False) -> tuple[tuple[float, ...], nn.Module]:
    """The run exercise 02.3 asks for (and, with the switches, the usual slips): the losses of 4
    ResBlock(8, 8) trained with Adam to output their own input, and the trained stack. `shared`: one
    block repeated four times, as `[ResBlock(…)] * 4` gives."""
    from ..models import ResBlock

    torch.manual_seed(seed)
    z = torch.randn(32, 8, 8, 8) if x_first else None
    blocks = [ResBlock(8, 8, use_residual=use_residual)] * 4 if shared else [ResBlock(8, 8, use_residual=use_residual) for _unused in range(4)]
    stack = nn.Sequential(*blocks).train()
    z = torch.randn(32, 8, 8, 8) if z is None else z
    x = torch.relu(z)
    target = z if pre_relu_target else x
    opt = torch.optim.Adam(stack.parameters(), lr=lr)
    out = []
    for _unused in range(steps):
        loss = F.mse_loss(stack(x), target)
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return tuple(out), stack


def identity_race(use_residual: bool, seed: int = 0, steps: int = 150, lr: float = 1e-2,
                  pre_relu_target: bool = False, x_first: bool = False, zero_grad: bool = True, shared: bool = False) -> tuple[float, ...]:
    """The losses of the run exercise 02.3 asks for (and, with the switches, the usual slips)."""
    return _race_run(use_residual, seed, steps, lr, pre_relu_target, x_first, zero_grad, shared)[0]


def _same(a: list[float], b: list[float]) -> bool:
    return same_losses(a, b, atol=1e-7)


def _ratio_guess(value) -> float:
    guess = number(value, N_("a number (the plain stack's final loss ÷ the residual stack's)"))
    expect(math.isfinite(guess) and guess > 0, _("Predict a ratio: a positive number, above 1 if you expect the residual stack to end lower; you gave {guess!r}.").format(guess=guess))
    return guess


def _compare_ratio(guess: float, ratio: float, spread: dict | None) -> str:
    if spread:
        ratios = sorted(p / r for p, r in zip(spread["arms"]["plain"], spread["arms"]["residual"]))
        return _("You predicted the plain stack's final loss to be {guess:.3g} times the residual stack's; in your run it is {ratio:.3g} times (over the course's {n} seeds: {low:.3g} to {high:.3g} times).").format(
            guess=guess, ratio=ratio, n=len(ratios), low=ratios[0], high=ratios[-1])
    return _("You predicted the plain stack's final loss to be {guess:.3g} times the residual stack's; in your run it is {ratio:.3g} times.").format(guess=guess, ratio=ratio)


def check_identity_race(fit_identity: Callable[[bool], list], identity_gap: Callable[[nn.Module], float] = NOT_ASKED,
                        predicted=NOT_ASKED) -> None:
    """`fit_identity(use_residual)` -> the 150 training losses of a stack of 4 ResBlock(8, 8) trained
    with Adam (lr 0.01) to output its own input (MSE), for one batch x = ReLU(randn(32, 8, 8, 8)).
    `identity_gap(stack)` -> how far a trained stack is from the identity function: the mean squared
    error of stack(x) against x on new inputs drawn like the training batch, in eval mode (the way
    the stack computes after training). `predicted`: the learner's guess of the plain stack's final
    loss ÷ the residual stack's, read before the runs and shown next to them."""
    return exercise("Exercise 02.3")(lambda fit: _check_identity_race(fit, identity_gap, predicted))(fit_identity)


def _check_identity_race(fn: Callable[[bool], list], identity_gap, predicted) -> None:
    from .spread import describe, load_spread

    guess = read_prediction(predicted, _ratio_guess)
    runs = {}
    for use_residual in (True, False):
        arm = "residual" if use_residual else "plain"
        runs[arm] = losses(fn, use_residual, 150, _(ARMS[arm]))
    expect(runs["residual"] != runs["plain"], _("The two arms gave the same losses: build the stack with use_residual=use_residual."))
    for use_residual in (True, False):
        arm = "residual" if use_residual else "plain"
        got, want = runs[arm], list(identity_race(use_residual, steps=5))
        if _same(got[:5], want):
            continue
        slips = [(dict(lr=1e-3), N_("with lr 1e-3. The steps above ask for Adam with lr 0.01.")),
                 (dict(pre_relu_target=True), N_("against the random numbers before the ReLU. The target is the stack's own input x, after the ReLU.")),
                 (dict(x_first=True), N_("with x drawn before the stack was built. Seed, build the stack, then draw x, so that both arms start from the same weights and data.")),
                 (dict(zero_grad=False), N_("without clearing the gradients. Each step must start from zero gradients.")),
                 (dict(shared=True), N_("with one block shared by all four places: a list times 4 repeats the same block object, so the stack has the weights of one block only. Build four blocks, one new ResBlock for each place."))]
        for kwargs, hint in slips:
            expect(not _same(got[:5], identity_race(use_residual, steps=5, **kwargs)),
                   _("{capitalize}: your losses match a run {hint}").format(capitalize=_(ARMS[arm]), hint=_(hint)))
        expect(not _same(got[:4], list(identity_race(use_residual, steps=6))[1:5]),
               _("{capitalize}: your losses are one step late: record each loss before its update.").format(capitalize=_(ARMS[arm])))
        raise CheckFailed(_("{capitalize}: your first losses ({got_0:.4f}, {got_1:.4f}) are not those of a run with the settings above ({want_0:.4f}, {want_1:.4f}). Follow the steps in order, in train mode.").format(capitalize=_(ARMS[arm]), got_0=got[0], got_1=got[1], want_0=want[0], want_1=want[1]))
    for arm, use_residual in (("residual", True), ("plain", False)):
        full = identity_race(use_residual)
        expect(full[-1] / 2 <= runs[arm][-1] <= 2 * full[-1],        # loose: rounding differs between machines
               _("{capitalize}: your first losses are right but your last, {runs_arm_1:.4g}, is not what the same run reaches ({full_1:.4g}). Return the loss of every one of the 150 steps, in order.").format(capitalize=_(ARMS[arm]), runs_arm_1=runs[arm][-1], full_1=full[-1]))
    res, plain = runs["residual"][-1], runs["plain"][-1]
    print(_("after 150 steps: residual stack {res:.4f}, plain stack {plain:.4f} (start: {runs_residual_0:.3f} and {runs_plain_0:.3f})").format(res=res, plain=plain, runs_residual_0=runs['residual'][0], runs_plain_0=runs['plain'][0]))
    spread = load_spread().get("02.3")
    if spread:
        print(describe(spread, {"residual": res, "plain": plain}, N_("final loss")))
    reveal_prediction("Exercise 02.3", guess, lambda p: _compare_ratio(p, plain / res, spread), lambda p: f"{p:.3g}",
                      wording=WORDING_01_06)
    if identity_gap is NOT_ASKED:
        return
    try:
        if identity_gap is None or identity_gap is Ellipsis or _is_stub(identity_gap):
            raise _NotAttempted
        gaps = _check_identity_gap(_placeholder_guard(identity_gap))
    except (_NotAttempted, NotImplementedError):
        print(_("Your race runs as it should; identity_gap is still a placeholder."))
        raise
    print(_("Your identity_gap on the two trained stacks: residual {res_gap:.3g} (last training loss {res:.3g}), plain {plain_gap:.3g} (last training loss {plain:.3g}).").format(
        res_gap=gaps["residual"], res=res, plain_gap=gaps["plain"], plain=plain))


# ---------------------------------------------------------------- 02.3, second part: is it the identity function?
_FRESH = 4096          # the inputs on which the check measures the gap itself


def _eval_identity_stack(g: torch.Generator) -> nn.Module:
    """4 plain ResBlock(8, 8) that are exactly the identity for non-negative inputs in eval mode (each
    BN undoes its own running statistics, chosen large), and far from it in train mode. Left in train
    mode, as training leaves a stack."""
    from ..models import ResBlock

    stack = nn.Sequential(*[ResBlock(8, 8, use_residual=False) for _unused in range(4)]).train()
    with torch.no_grad():
        for block in stack:
            for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
                nn.init.dirac_(conv.weight)
                bn.running_mean.copy_(torch.rand(8, generator=g) * 4 - 2)
                bn.running_var.copy_(torch.rand(8, generator=g) * 4 + 2)
                bn.weight.copy_((bn.running_var + bn.eps).sqrt())
                bn.bias.copy_(bn.running_mean)
    return stack


def _gap(stack: nn.Module, x: torch.Tensor, train: bool = False, loss=F.mse_loss) -> float:
    stack = copy.deepcopy(stack).train(train)
    with torch.no_grad():
        return loss(stack(x), x).item()


def _buffers(stack: nn.Module) -> list[torch.Tensor]:
    return [b.detach().clone() for b in stack.buffers()]


def _gap_number(identity_gap, stack: nn.Module) -> float:
    return number(identity_gap(stack), _("a number (the mean squared error)"))


def _check_identity_gap(identity_gap) -> dict:
    """Call the learner's identity_gap on a stack that is the identity in eval mode only, then on the
    two trained stacks of the race; return its gaps on the latter."""
    g = torch.Generator().manual_seed(3)
    fresh = torch.relu(torch.randn(_FRESH, 8, 8, 8, generator=g))
    exact = _eval_identity_stack(g)
    given = copy.deepcopy(exact)
    got = _gap_number(identity_gap, given)
    moved = any(not torch.equal(a, b) for a, b in zip(_buffers(exact), _buffers(given)))
    case = _("A stack that is exactly the identity for non-negative inputs, as it computes after training")
    if not (math.isfinite(got) and abs(got) <= 1e-6):
        expect(not moved, _("{case}: your identity_gap changed its running statistics, so it ran the stack in train mode. In train mode BN normalises each batch with its own statistics and updates the running ones; after training a stack runs in eval mode.").format(case=case))
        expect(not _near(got, _gap(exact, fresh, train=True), 0.3),
               _("{case}: your identity_gap gives {got:.3g}, what the stack gives in train mode. After training a stack runs in eval mode, where BN uses its running statistics.").format(case=case, got=got))
        negative = torch.randn(_FRESH, 8, 8, 8, generator=g)
        expect(not _near(got, _gap(exact, negative), 0.2),
               _("{case}: your identity_gap gives {got:.3g}, what it gives for inputs with negative values. A block's input comes after a ReLU: draw non-negative inputs, like the training batch.").format(case=case, got=got))
        raise CheckFailed(_("{case}: your identity_gap gives {got:.3g}, not 0. Measure the mean squared error of stack(x) against x, in the mode a trained stack runs in, on non-negative inputs.").format(case=case, got=got))
    gaps = {}
    for arm, use_residual in (("residual", True), ("plain", False)):
        trained = _race_run(use_residual)[1]
        want = _gap(trained, fresh)
        got = gaps[arm] = _gap_number(identity_gap, copy.deepcopy(trained))
        if _near(got, want, 0.5):
            continue
        kind = _("{capitalize} stack, as trained by the race").format(capitalize=_(ARMS[arm]))
        expect(not (got > 0 and got / want >= 100),
               _("{kind}: your gap is {ratio:,.0f} times the mean squared error: it looks like a sum. Take the mean of the squared errors, as F.mse_loss does, so that it compares with the training losses.").format(kind=kind, ratio=got / want))
        expect(not _near(got, math.sqrt(want), 0.15),
               _("{kind}: your gap, {got:.3g}, is the root of the mean squared error ({want:.3g}). Leave out the square root, so that it compares with the training losses.").format(kind=kind, got=got, want=want))
        expect(not _near(got, _gap(trained, fresh, loss=F.l1_loss), 0.15),
               _("{kind}: your gap, {got:.3g}, is the mean absolute error. Measure the mean squared error ({want:.3g} on the check's inputs), so that it compares with the training losses.").format(kind=kind, got=got, want=want))
        again = [_gap_number(identity_gap, copy.deepcopy(trained)) for _unused in range(2)]
        values = [got] + again
        expect(not (min(values) > 0 and math.log(max(values) / min(values)) > 0.35),
               _("{kind}: your gap changes from call to call ({low:.3g} to {high:.3g}). Measure it on more inputs: a few hundred.").format(kind=kind, low=min(values), high=max(values)))
        raise CheckFailed(_("{kind}: your gap is {got:.3g}; on {n:,} new inputs, in eval mode, it is {want:.3g}. Draw new inputs like the training batch (ReLU of standard normal numbers, shape (N, 8, 8, 8)) and compare stack(x) with x.").format(
            kind=kind, got=got, n=_FRESH, want=want))
    return gaps


def _near(got: float, want: float, tol: float) -> bool:
    return got > 0 and want > 0 and math.isfinite(got) and abs(math.log(got / want)) <= tol
