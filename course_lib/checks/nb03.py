"""Checks of notebook 03 (1×1 convolutions and shortcuts): 03.1 a convolution's output size,
03.2 the feature-map sides of ResNet-18, 03.3 option A's shortcut."""

from __future__ import annotations

from ..i18n import N_, _

import math
from typing import Callable

import torch
import torch.nn as nn

from ..analysis import conv_output_size
from ._core import CheckFailed, _LearnerError, expect, exercise, integer, number, tensor
from ._predict import WORDING_01_06, read_prediction, record_prediction, reveal_prediction, with_prediction

_SIZE_CASES = [(224, 7, 3, 2), (112, 3, 1, 2), (56, 3, 1, 1), (56, 1, 0, 2), (32, 3, 1, 2), (7, 3, 0, 1),
               (28, 5, 0, 1), (5, 3, 1, 2), (9, 3, 0, 2), (10, 4, 1, 3)]

# Usual slips for 03.1, each tested on every case: (how it computes, what the learner is told).
_SIZE_SLIPS = [
    (lambda n, k, p, s: (n - k + 2 * p) / s + 1, N_("Your sizes are fractions when the stride does not fit evenly: a convolution only places whole windows, so round down.")),
    (lambda n, k, p, s: math.ceil((n - k + 2 * p) / s) + 1, N_("You rounded up: a window that would hang over the padded edge is never placed, so round down.")),
    (lambda n, k, p, s: (n - k + 2 * p) // s, N_("Your sizes are one short: count the window's first position as well as the steps it takes.")),
    (lambda n, k, p, s: (n - k + p) // s + 1, N_("You padded one side only: padding p adds p pixels on each side.")),
    (lambda n, k, p, s: n - k + 2 * p + 1, N_("Your sizes ignore the stride: a window moving s pixels at a time fits about 1/s as often.")),
    (lambda n, k, p, s: (n + 2 * p) // s, N_("Your sizes ignore the kernel: a window of k pixels must fit inside the padded input.")),
]


@exercise("Exercise 03.1")
def check_output_size(fn: Callable[[int, int, int, int], int]) -> None:
    """fn(size, kernel, padding, stride) -> output size of a convolution."""
    got = [number(fn(*case), _("a whole number of pixels")) for case in _SIZE_CASES]
    want = [conv_output_size(*case) for case in _SIZE_CASES]
    if got == want:
        return
    for slip, hint in _SIZE_SLIPS:
        if all(abs(g - slip(*case)) < 1e-9 for g, case in zip(got, _SIZE_CASES)):
            raise CheckFailed(_(hint))
    case, g, w = next((c, g, w) for c, g, w in zip(_SIZE_CASES, got, want) if g != w)
    raise CheckFailed(_("For size={case_0}, k={case_1}, p={case_2}, s={case_3}: nn.Conv2d gives {w}, you have {g:g}. Build that nn.Conv2d and count where its window can stand.").format(case_0=case[0], case_1=case[1], case_2=case[2], case_3=case[3], w=w, g=g))


_PREDICTED_SIZES = (7, 97)          # the inputs whose sides notebook 03 asks the learner to predict


def _sides_guess(value) -> tuple | None:
    """The learner's predicted sides for the 7×7 and 97×97 inputs: a pair (or {7: …, 97: …}) of five
    whole numbers each, or `...` for a size not predicted."""
    if isinstance(value, dict):
        value = tuple(value.get(size, ...) for size in _PREDICTED_SIZES)
    expect(isinstance(value, (list, tuple)) and len(value) == 2,
           _("Write your prediction as a pair: (the five sides for 7×7, the five sides for 97×97); you gave {value!r}.").format(value=value))
    guess = []
    for sides in value:
        if sides is Ellipsis or sides is None:
            guess.append(None)
            continue
        expect(isinstance(sides, (list, tuple)) and len(sides) == 5,
               _("Predict five sides for each input (after the stem, layer1, layer2, layer3, layer4); you gave {sides!r}.").format(sides=sides))
        guess.append(tuple(integer(v, N_("whole numbers of pixels")) for v in sides))
    return tuple(guess) if any(g is not None for g in guess) else None


def _compare_sides(guess: tuple, measured: dict) -> str:
    lines = []
    for size, sides in zip(_PREDICTED_SIZES, guess):
        if sides is None:
            lines.append(_("{size}×{size}: no prediction; the model gives {model}.").format(size=size, model=measured[size]))
        else:
            right = sum(a == b for a, b in zip(sides, measured[size]))
            lines.append(_("{size}×{size}: you predicted {guess}; the model gives {model} ({right} of 5 sides as you predicted).").format(
                size=size, guess=list(sides), model=measured[size], right=right))
    return "\n".join(lines)


def _check_stage_sizes(fn: Callable[[int, str], list], predicted) -> None:
    """`fn(size, stem)` -> the sides of the feature maps of the course's resnet18(stem=stem) for a
    size×size input: [after the stem, after layer1, layer2, layer3, layer4]. `predicted`, optional:
    the learner's guess of the sides for 7×7 and 97×97 inputs (ImageNet stem), shown next to the
    model's once the answer passes."""
    from ..models import resnet18

    guess = read_prediction(predicted, _sides_guess)
    measured = {}

    out = conv_output_size

    def arithmetic(size, stem, pool=True, halve=False):
        step = (lambda n: n // 2) if halve else (lambda n: out(n, 3, 1, 2))
        n = ((size // 2) if halve else out(size, 7, 3, 2)) if stem == "imagenet" else size
        if stem == "imagenet" and pool:
            n = step(n)
        sides = [n, n]
        for _unused in range(3):
            sides.append(step(sides[-1]))
        return sides

    models = {stem: resnet18(in_channels=1, num_classes=10, stem=stem).eval() for stem in ("imagenet", "cifar")}
    for size, stem in ((224, "imagenet"), (32, "imagenet"), (97, "imagenet"), (33, "imagenet"), (7, "imagenet"),
                       (32, "cifar"), (15, "cifar")):
        model, sides = models[stem], []
        hooks = [getattr(model, n).register_forward_hook(lambda m, i, o: sides.append(o.shape[-1]))
                 for n in ("stem", "layer1", "layer2", "layer3", "layer4")]
        with torch.no_grad():
            model(torch.zeros(1, 1, size, size))
        for h in hooks:
            h.remove()
        answer = fn(size, stem)
        expect(isinstance(answer, (list, tuple)) or hasattr(answer, "__len__"),
               _("Return a list of 5 sides; you returned a {name}.").format(name=type(answer).__name__))
        got = [integer(v, _("whole numbers of pixels")) for v in answer]
        case = _("For a {size}×{size} input and stem={stem!r}").format(size=size, stem=stem)
        expect(len(got) == 5, _("{case}: return 5 sides (after the stem, layer1, layer2, layer3, layer4), not {got}.").format(case=case, got=len(got)))
        if stem == "imagenet":
            measured[size] = sides
        if got == sides:
            continue
        expect(not (stem == "imagenet" and got == arithmetic(size, stem, pool=False)),
               _("{case}: your sides leave out the stem's max-pool. It has stride 2 too.").format(case=case))
        expect(got != arithmetic(size, stem, halve=True),
               _("{case}: halving with // 2 is not what a stride-2 layer does to an odd side. Work each layer out with your output_size.").format(case=case))
        expect(got[1] == got[0], _("{case}: layer1 has stride 1, so it keeps the size of the stem's output.").format(case=case))
        expect(stem != "cifar" or got[0] == size, _("{case}: the CIFAR stem is a 3×3 convolution of stride 1 with padding 1, so it keeps the input's size.").format(case=case))
        if stem == "imagenet" and size in _PREDICTED_SIZES:
            record_prediction("Exercise 03.2", guess)         # the hint below shows the model's sides
        raise CheckFailed(_("{case}: the model gives {sides}, you have {got}. Trace one layer at a time with the cells above.").format(case=case, sides=sides, got=got))
    reveal_prediction("Exercise 03.2", guess, lambda p: _compare_sides(p, measured),
                      lambda p: ", ".join(f"{size}×{size} {list(sides) if sides else '—'}" for size, sides in zip(_PREDICTED_SIZES, p)),
                      wording=WORDING_01_06)


check_stage_sizes = with_prediction("Exercise 03.2", _check_stage_sizes)


def _expect_gradient(fn, x: torch.Tensor, c_out: int, stride: int, offset: int, case: str) -> None:
    """The shortcut's gradient must reach x: backward through the learner's output with random
    weights must put those weights on the kept pixels of x and zeros on the others."""
    no_grad = _("{case}: the values are right, but no gradient reaches x through your shortcut. The shortcut must let the gradient through: no .detach() / NumPy; build the output from x with torch operations.").format(case=case)
    leaf = x.clone().requires_grad_(True)
    try:
        out = fn(leaf, c_out, stride)
    except _LearnerError as wrapped:                       # x.numpy() refuses a tensor that requires grad
        if isinstance(wrapped.error, RuntimeError) and "requires grad" in str(wrapped.error):
            raise CheckFailed(no_grad) from None
        raise
    expect(isinstance(out, torch.Tensor) and out.requires_grad, no_grad)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    out.backward(weights)
    expect(leaf.grad is not None and bool(leaf.grad.ne(0).any()), no_grad)
    want = torch.zeros_like(x)
    want[:, :, ::stride, ::stride] = weights[:, offset:offset + x.shape[1]].to(x.dtype)
    expect(torch.allclose(leaf.grad, want, atol=1e-6),
           _("{case}: the gradient that reaches x through your shortcut is not option A's: each kept pixel should get the gradient of its own output position, every other pixel 0.").format(case=case))


@exercise("Exercise 03.3")
def check_option_a(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> None:
    """`fn(x, out_channels, stride)` -> option A's shortcut (He et al. §3.3) for x of shape (N, C, H, W):
    keep every `stride`-th pixel and pad the extra channels with zeros; no parameters."""
    g = torch.Generator().manual_seed(0)
    for c_in, c_out, stride, size in ((16, 32, 2, 8), (16, 32, 2, 7), (8, 8, 1, 6), (8, 16, 1, 6), (4, 12, 2, 5)):
        x = torch.randn(2, c_in, size, size, generator=g)
        got = tensor(fn(x.clone(), c_out, stride), _("a tensor")).float()
        side = (size - 1) // stride + 1
        case = _("For x of shape {x_shape} → {c_out} channels, stride {stride}").format(x_shape=tuple(x.shape), c_out=c_out, stride=stride)
        if tuple(got.shape) != (2, c_out, side, side):
            expect(not (stride == 1 and c_in != c_out and tuple(got.shape) == tuple(x.shape) and torch.equal(got, x)),
                   _("{case}: you return x unchanged. With stride 1 the pixels all stay, but the channels still grow from {c_in} to {c_out}: pad them with zeros as for stride 2.").format(case=case, c_in=c_in, c_out=c_out))
            expect(got.ndim != 4 or c_in == c_out or got.shape[1] != c_in, _("{case}: your output has shape {got_shape}, still {c_in} channels. Pad the channel dimension (dim 1) with zeros up to {c_out}.").format(case=case, got_shape=tuple(got.shape), c_in=c_in, c_out=c_out))
            if got.ndim == 4 and got.shape[1] == c_out and tuple(got.shape[2:]) != (side, side):
                sides = tuple(got.shape[2:])
                expect(not (stride > 1 and sides == (size, size)),
                       _("{case}: your output keeps all {size}×{size} pixels, F(x)'s has {side}×{side}. Subsample x by the stride, as F(x)'s first convolution does.").format(case=case, size=size, side=side))
                expect(not (size % stride and sides == (size // stride,) * 2),
                       _("{case}: your output is {got_side}×{got_side}, F(x)'s is {side}×{side}: your subsampling rounds the size down. Keeping pixels 0, s, 2s, … of a side of H pixels gives ceil(H/s) of them, as many as F(x)'s first convolution computes.").format(case=case, got_side=sides[0], side=side))
                steps = [s for s in range(1, 5) if s != stride and sides == ((size - 1) // s + 1,) * 2]
                expect(not steps, _("{case}: your output is {got_side}×{got_side}, as if the stride were {other}. Subsample by the stride you are given, not by a fixed step.").format(case=case, got_side=sides[0], other=steps[0] if steps else 0))
                raise CheckFailed(_("{case}: your output's sides are {got_shape_2}, F(x)'s are {value}. Pad channels only, not height or width, and subsample by the stride.").format(case=case, got_shape_2=sides, value=(side, side)))
            raise CheckFailed(_("{case}: expected shape {value}, got {got_shape}.").format(case=case, value=(2, c_out, side, side), got_shape=tuple(got.shape)))
        sub = x[:, :, ::stride, ::stride]
        offsets = [o for o in range(c_out - c_in + 1) if torch.equal(got[:, o:o + c_in], sub)
                   and bool(got[:, :o].eq(0).all()) and bool(got[:, o + c_in:].eq(0).all())]
        if offsets:                                          # x in one block of channels, zeros elsewhere
            _expect_gradient(fn, x, c_out, stride, offsets[0], case)
            continue
        if stride == 2:
            pooled = nn.functional.avg_pool2d(x, 2, ceil_mode=True)
            expect(not torch.allclose(got[:, :c_in], pooled, atol=1e-5),
                   _("{case}: your shortcut averages 2×2 pixels (the later ResNet-D idea). Option A keeps single pixels, as the stride-2 1×1 projection of option B does.").format(case=case))
            odd = x[:, :, 1::2, 1::2]
            expect(odd.shape != sub.shape or not torch.equal(got[:, :c_in], odd),
                   _("{case}: your shortcut keeps pixels 1, 3, 5, …, but F(x)'s windows are centred on other input pixels. Find which, from the convolution's padding and stride.").format(case=case))
        kept = [o for o in range(c_out - c_in + 1) if torch.equal(got[:, o:o + c_in], sub)]
        expect(not kept, _("{case}: x is there, but the extra channels are not zeros.").format(case=case))
        raise CheckFailed(_("{case}: the output should hold x, subsampled by the stride and otherwise unchanged, in one block of channels, and zeros in the extra ones.").format(case=case))
