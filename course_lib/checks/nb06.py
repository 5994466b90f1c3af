"""Checks of notebook 06 (building ResNet-18): 06.1 a stage, 06.2 where the parameters are,
06.3 three bugs in a colleague's ResNet-18."""

from __future__ import annotations

from ..i18n import _

from typing import Callable

import torch
import torch.nn as nn

from ..profiling import count_params, macs_by_part
from ._core import CheckFailed, _LearnerError, _placeholder_guard, expect, exercise, forward, number, randomise_bn
from ._predict import NOT_ASKED, announce_predictions, read_predictions


@exercise("Exercise 06.1")
def check_stage(fn: Callable[[int, int, int, int], nn.Module]) -> None:
    """fn(in_channels, out_channels, num_blocks, stride) -> nn.Sequential of course ResBlocks."""
    from ..models import ResBlock

    for c_in, c_out, n, stride in ((64, 128, 2, 2), (32, 32, 3, 1), (16, 32, 3, 2)):
        case = _("For make_stage({c_in}, {c_out}, num_blocks={n}, stride={stride})").format(c_in=c_in, c_out=c_out, n=n, stride=stride)
        stage = fn(c_in, c_out, n, stride)
        expect(isinstance(stage, nn.Sequential), _("{case}: return an nn.Sequential, not a {name}.").format(case=case, name=type(stage).__name__))
        blocks = list(stage)
        expect(len(blocks) == n, _("{case}: your stage has {blocks} blocks, not num_blocks = {n}.").format(case=case, blocks=len(blocks), n=n))
        expect(all(isinstance(b, ResBlock) for b in blocks),
               _("{case}: the stage holds {value}; build it from the course's ResBlock.").format(case=case, value=[type(b).__name__ for b in blocks]))
        plain = [i for i, b in enumerate(blocks) if b.shortcut is None]
        expect(len(plain) < len(blocks),
               _("{case}: your blocks have no skip connection (use_residual=False), so this is a stage of plain blocks. Every block of a ResNet-18 stage is residual: keep the ResBlock's skip.").format(case=case))
        expect(not plain,
               _("{case}: block {value} has no skip connection (use_residual=False), so it is a plain block. Every block of a ResNet-18 stage is residual: keep the ResBlock's skip.").format(case=case, value=plain[0] if plain else None))
        expect(blocks[0].conv1.stride == (stride, stride),
               _("{case}: your first block has stride {value}, so the stage does not downsample as the diagram shows.").format(case=case, value=blocks[0].conv1.stride[0]))
        expect(all(b.conv1.stride == (1, 1) for b in blocks[1:]),
               _("{case}: a later block downsamples too, so the stage shrinks the maps more than once.").format(case=case))
        expect(all(b.conv1.in_channels == c_out for b in blocks[1:]),
               _("{case}: a later block takes {value} channels in, but the block before it already outputs out_channels.").format(case=case, value=[b.conv1.in_channels for b in blocks[1:]]))
        expect(blocks[0].conv1.in_channels == c_in, _("{case}: your first block takes {in_channels} channels in, but the stage's input has {c_in}.").format(case=case, in_channels=blocks[0].conv1.in_channels, c_in=c_in))
        y = forward(stage.eval(), torch.randn(1, c_in, 8, 8))
        expect(tuple(y.shape) == (1, c_out, 8 // stride, 8 // stride),
               _("{case}: output shape {y_shape}, expected {value}.").format(case=case, y_shape=tuple(y.shape), value=(1, c_out, 8 // stride, 8 // stride)))


PARTS = ("stem", "layer1", "layer2", "layer3", "layer4", "fc")


def _part_choice(value) -> str:
    """A prediction of 06.2: the name of one of the parts."""
    name = value.strip() if isinstance(value, str) else None
    expect(name in PARTS, _("Predict one of {parts} for each question; you wrote {value!r}.").format(parts=", ".join(PARTS), value=value))
    return name


def _shares_of(answer, model_name: str, what: str) -> dict:
    """The learner's dict of shares as plain numbers, refused when it is not a dict of the six parts
    that add up to 1."""
    expect(isinstance(answer, dict), _("Return a dict of shares; you returned a {name}.").format(name=type(answer).__name__))
    expect(set(PARTS) <= set(answer), _("Return a share for each of {join}; missing: {join2}.").format(join=', '.join(PARTS), join2=', '.join((n for n in PARTS if n not in answer))))
    shares = {n: number(answer[n], _("a number for each share")) for n in PARTS}
    total = sum(shares.values())
    expect(abs(total - 1) < 1e-3 or abs(total - 100) > 1e-3, _("Your shares add up to 100: answer with fractions that add up to 1, not percentages."))
    if what == "parameter":
        expect(abs(total - 1) < 1e-3, _("Your shares add up to {total:.4g}, not 1. Divide each part's count by the total number of parameters, and count every parameter, BN's γ and β included.").format(total=total))
    expect(abs(total - 1) < 1e-3, _("For {model}, your MAC shares add up to {total:.4g}, not 1. Divide each part's count by the total of the whole forward pass.").format(model=model_name, total=total))
    return shares


def _close_shares(a: dict, b: dict, tol: float) -> bool:
    return all(abs(a[n] - b[n]) < tol for n in PARTS)


def _macs(model: nn.Module, x: torch.Tensor, positions: str = "output") -> dict:
    """Multiply–accumulates of the convolutions and the classifier of model(x), by part; with
    `positions="none"` a layer counts its weights once (the parameter count), with "input" a
    convolution counts its weights once per input position (the usual slips)."""
    counts = dict.fromkeys(PARTS, 0)
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and name.split(".")[0] in counts:
            def record(m, inputs, output, part=name.split(".")[0]):
                where = {"output": output, "input": inputs[0]}.get(positions)
                counts[part] += m.weight.numel() * (where.shape[-1] * where.shape[-2] if where is not None and where.ndim == 4 else 1)
            hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    total = sum(counts.values())
    return {n: v / total for n, v in counts.items()}


# Conventions differ (thop adds BatchNorm and pooling, torchinfo the biases): measured on ResNet-18 at
# 224×224 (issue 28), adding BN's elements moves a part's MAC share by at most 4e-4.
MAC_TOLERANCE = 2e-3


def _param_shares(fn: Callable[[nn.Module], dict], mac_fn: Callable | None, predicted) -> None:
    """`fn(model)` -> {"stem": …, "layer1": …, …, "layer4": …, "fc": …}: the fraction of the model's
    parameters in each of its parts, checked on course_lib's resnet18 (1,000 classes) and on the
    digits' resnet18(1, 10). With `mac_shares` (the notebook passes it): `mac_shares(model, x)` ->
    the fraction of the multiply–accumulates of model(x) done in each part, for one image x, checked
    on both models at 224×224 and 32×32. With `predicted` (the notebook passes it): the parts the
    learner guessed hold the most parameters and do the most MACs, read before anything is counted."""
    from ..models import resnet18

    predicted = read_predictions(predicted, 2, _part_choice)
    cases = [(resnet18(), "resnet18()", torch.zeros(1, 3, 224, 224)),
             (resnet18(in_channels=1, num_classes=10), "resnet18(in_channels=1, num_classes=10)", torch.zeros(1, 1, 32, 32))]
    measured = []
    for k, (model, model_name, _x) in enumerate(cases):
        want = {n: count_params(getattr(model, n)) / count_params(model) for n in PARTS}
        shares = _shares_of(fn(model), model_name, "parameter")
        with_buffers = {n: sum(t.numel() for t in getattr(model, n).state_dict().values()) for n in PARTS}
        all_buffers = sum(with_buffers.values())
        expect(not all(abs(shares[n] - with_buffers[n] / all_buffers) < 1e-6 for n in PARTS),
               _("You counted the state_dict, which holds BN's running_mean and running_var too. Those are buffers, not parameters."))
        weights_only = {n: sum(p.numel() for p in getattr(model, n).parameters() if p.ndim > 1) for n in PARTS}
        expect(not all(abs(shares[n] - weights_only[n] / sum(weights_only.values())) < 1e-6 for n in PARTS),
               _("You counted the convolution and linear weights only. BN's γ and β and the classifier's bias are parameters too."))
        if k > 0:
            expect(not _close_shares(shares, measured[0], 1e-4),
                   _("For {model} you return the shares of the first model, resnet18() with 1,000 classes, so your function does not count the model it is given. Count the parameters of the model passed in.").format(model=model_name))
        for n in PARTS:
            expect(abs(shares[n] - want[n]) < 1e-4, _("For {model}, part {n}: the share is {want_n:.4f}, you have {shares_n:.4f}. Count the parameters of that part of the model, all its submodules included.").format(model=model_name, n=n, want_n=want[n], shares_n=shares[n]))
        measured.append(want)
    macs = []
    # and at 8×8, where the maps shrink to 1×1 early and the classifier does a fifth of the work
    mac_cases = [*cases, (cases[0][0], cases[0][1], torch.zeros(1, 3, 8, 8))]
    for k, (model, model_name, x) in enumerate(mac_cases):
        counted = macs_by_part(model, tuple(x.shape[1:]), part=lambda name, module: name.split(".")[0])
        want = {n: counted.get(n, 0) / counted["total"] for n in PARTS}
        macs.append(want)
        if mac_fn is None:
            continue
        expect(callable(mac_fn), _("Pass mac_shares as a function, mac_shares(model, x); you gave a value of type {name}.").format(name=type(mac_fn).__name__))
        try:
            answer = mac_fn(model, x.clone())
        except _LearnerError as wrapped:                   # BatchNorm in training mode on one image
            if isinstance(wrapped.error, ValueError) and "Expected more than 1 value per channel when training" in str(wrapped.error):
                raise CheckFailed(_("For {model} and a {h}×{w} input, your mac_shares ran the model in training mode, where BatchNorm normalises with the batch's own statistics: with one image, layer4's 1×1 maps give it a single value per channel, and BatchNorm raised ValueError. Put the model in eval mode (model.eval()) before the forward pass.").format(
                    model=model_name, h=x.shape[-2], w=x.shape[-1])) from None
            raise
        shares = _shares_of(answer, model_name, "MAC")
        if _close_shares(shares, want, MAC_TOLERANCE):
            continue
        expect(not (shares["fc"] < 1e-6 < want["fc"]),
               _("For {model} and a {h}×{w} input your classifier (fc) does no MACs, but it does {share:.1%} of them: a Linear layer multiplies each input by each output once, in × out MACs per image. Count nn.Linear layers too.").format(
                   model=model_name, h=x.shape[-2], w=x.shape[-1], share=want["fc"]))
        expect(not _close_shares(shares, measured[min(k, 1)] if k < 2 else measured[0], 5e-3) and not _close_shares(shares, _macs(model, x, positions="none"), 5e-3),
               _("For {model} your MAC shares are the parameter shares, but a convolution uses each of its weights once for every position of its output map. Count each layer's multiply–accumulates for this input.").format(model=model_name))
        expect(not _close_shares(shares, _macs(model, x, positions="input"), MAC_TOLERANCE),
               _("For {model} you counted each convolution at the positions of its input map; a strided convolution computes only at the positions of its (smaller) output map. Use the output's height and width.").format(model=model_name))
        worst = max(PARTS, key=lambda n: abs(shares[n] - want[n]))
        raise CheckFailed(_("For {model} and a {h}×{w} input, part {n}: the MAC share is {want_n:.4f}, you have {shares_n:.4f}. Count the multiply–accumulates of every convolution and of the classifier in that part, for this input.").format(
            model=model_name, h=x.shape[-2], w=x.shape[-1], n=worst, want_n=want[worst], shares_n=shares[worst]))

    first = announce_predictions("Exercise 06.2", predicted)
    most = (max(PARTS, key=measured[0].get), max(PARTS, key=macs[0].get))
    shown = (measured[0], macs[0])
    questions = (_("Which part of resnet18() holds the most parameters?"), _("Which part does the most MACs on a 224×224 photo?"))
    for i, question in enumerate(questions):
        if first is not NOT_ASKED and first[i] is not None:
            print(question + " " + _("You predicted {predicted} ({p_share:.1%}); it is {actual} ({share:.1%}).").format(
                predicted=first[i], p_share=shown[i][first[i]], actual=most[i], share=shown[i][most[i]]))
    print(f"{_('part'):7s} {_('parameters'):>10s} {_('MACs at 224×224'):>16s}")
    for n in PARTS:
        print(f"{n:7s} {measured[0][n]:10.1%} {macs[0][n]:16.1%}")


def check_param_shares(fn: Callable[[nn.Module], dict], mac_shares: Callable | None = None, predicted=None) -> None:
    """Exercise 06.2: `param_shares` (and, in the notebook, `mac_shares` and the two predictions); see
    `_param_shares`."""
    if mac_shares is Ellipsis:
        mac_shares = lambda *args: ...                                     # noqa: E731 - a placeholder
    mac_fn = None if mac_shares is None else _placeholder_guard(mac_shares)
    return exercise("Exercise 06.2")(lambda guarded: _param_shares(guarded, mac_fn, predicted))(fn)


def _stage_outputs(model: nn.Module, children: list, x: torch.Tensor) -> list:
    """Outputs after each of the given top-level parts, in order."""
    outs = []
    hooks = [c.register_forward_hook(lambda m, i, o: outs.append(o)) for c in children]
    try:
        forward(model, x)
    finally:
        for h in hooks:
            h.remove()
    return outs


@exercise("Exercise 06.3")
def check_fixed_resnet18(build: Callable[[], nn.Module]) -> None:
    """`build()` -> a six-module nn.Sequential ResNet-18 (3 input channels, 1,000 classes) that
    computes exactly what torchvision.models.resnet18 computes once it holds the same weights."""
    import torchvision

    g = torch.Generator().manual_seed(0)
    ref = torchvision.models.resnet18()
    randomise_bn(ref, g)
    ref.eval()
    model = build()
    expect(isinstance(model, nn.Sequential) and len(model) == 6,
           _("build() should return the six modules as one nn.Sequential: stem, four stages, head."))
    n_ref, n_got = count_params(ref), count_params(model)
    expect(n_got == n_ref, _("The model has {n_got:,} parameters, torchvision's {n_ref:,}: a difference of {value:+,}. Which layer has parameters that torchvision's lacks (or the reverse)?").format(n_got=n_got, n_ref=n_ref, value=n_got - n_ref))
    theirs, ours = model.state_dict(), ref.state_dict()
    for (k_got, v_got), (k_ref, v_ref) in zip(theirs.items(), ours.items()):
        expect(v_got.shape == v_ref.shape, _("In order, your tensor {k_got} {v_got_shape} meets torchvision's {k_ref} {v_ref_shape}, so a layer has the wrong size.").format(k_got=k_got, v_got_shape=tuple(v_got.shape), k_ref=k_ref, v_ref_shape=tuple(v_ref.shape)))
    model.load_state_dict(dict(zip(theirs, ours.values())))
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=g)
    names = ["(1) stem", "(2) layer1", "(3) layer2", "(4) layer3", "(5) layer4", "(6) head"]
    got = _stage_outputs(model, list(model), x)
    want = _stage_outputs(ref, [ref.maxpool, ref.layer1, ref.layer2, ref.layer3, ref.layer4, ref.fc], x)
    for name, a, b in zip(names, got, want):
        expect(a.shape == b.shape, _("Module {name}: output shape {a_shape}, torchvision's {b_shape} (64×64 input). Trace the shapes module by module: which stride is wrong?").format(name=name, a_shape=tuple(a.shape), b_shape=tuple(b.shape)))
    for name, a, b in zip(names, got, want):
        expect(torch.allclose(a, b, atol=1e-4), _("Module {name} has the right shapes and the same weights, but computes something else (largest difference {max:.3g}). Compare its layers one by one with print(torchvision.models.resnet18()).").format(name=name, max=(a - b).abs().max()))
    print(_("same parameters, same shapes, same outputs as torchvision's resnet18"))
