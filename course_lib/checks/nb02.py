"""Checks of notebook 02 (the residual block): 02.1 the block's forward, 02.2 its parameter count,
02.3 the identity race between a plain and a residual stack."""

from __future__ import annotations

from ..i18n import N_, _

import functools
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..profiling import count_params
from ._core import (same_losses, CheckFailed, expect, exercise, forward, integer, losses, module_answer, randomise_bn, run,
                    used_modules)


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
def identity_race(use_residual: bool, seed: int = 0, steps: int = 150, lr: float = 1e-2,
                  pre_relu_target: bool = False, x_first: bool = False, zero_grad: bool = True) -> tuple[float, ...]:
    """The run exercise 02.3 asks for (and, with the switches, the usual slips): the losses of 4
    ResBlock(8, 8) trained with Adam to output their own input."""
    from ..models import ResBlock

    torch.manual_seed(seed)
    z = torch.randn(32, 8, 8, 8) if x_first else None
    stack = nn.Sequential(*[ResBlock(8, 8, use_residual=use_residual) for _unused in range(4)]).train()
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
    return tuple(out)


def _same(a: list[float], b: list[float]) -> bool:
    return same_losses(a, b, atol=1e-7)


@exercise("Exercise 02.3")
def check_identity_race(fn: Callable[[bool], list]) -> None:
    """`fn(use_residual)` -> the 150 training losses of a stack of 4 ResBlock(8, 8) trained with
    Adam (lr 0.01) to output its own input (MSE), for one batch x = ReLU(randn(32, 8, 8, 8))."""
    from .spread import describe, load_spread

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
                 (dict(zero_grad=False), N_("without clearing the gradients. Each step must start from zero gradients."))]
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
