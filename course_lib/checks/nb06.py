"""Checks of notebook 06 (building ResNet-18): 06.1 a stage, 06.2 where the parameters are,
06.3 three bugs in a colleague's ResNet-18."""

from __future__ import annotations

from ..i18n import _

from typing import Callable

import torch
import torch.nn as nn

from ..profiling import count_params, macs_by_part
from ._core import CheckFailed, expect, exercise, forward, number, randomise_bn


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


@exercise("Exercise 06.2")
def check_param_shares(fn: Callable[[nn.Module], dict]) -> None:
    """`fn(model)` -> {"stem": …, "layer1": …, …, "layer4": …, "fc": …}: the fraction of the model's
    parameters in each of its parts (course_lib's resnet18, 1,000 classes)."""
    from ..models import resnet18

    model = resnet18()
    parts = ("stem", "layer1", "layer2", "layer3", "layer4", "fc")
    want = {n: count_params(getattr(model, n)) / count_params(model) for n in parts}
    answer = fn(model)
    expect(isinstance(answer, dict), _("Return a dict of shares; you returned a {name}.").format(name=type(answer).__name__))
    expect(set(parts) <= set(answer), _("Return a share for each of {join}; missing: {join2}.").format(join=', '.join(parts), join2=', '.join((n for n in parts if n not in answer))))
    shares = {n: number(answer[n], _("a number for each share")) for n in parts}
    total = sum(shares.values())
    expect(abs(total - 1) < 1e-3 or abs(total - 100) > 1e-3, _("Your shares add up to 100: answer with fractions that add up to 1, not percentages."))
    expect(abs(total - 1) < 1e-3, _("Your shares add up to {total:.4g}, not 1. Divide each part's count by the total number of parameters, and count every parameter, BN's γ and β included.").format(total=total))
    with_buffers = {n: sum(t.numel() for t in getattr(model, n).state_dict().values()) for n in parts}
    all_buffers = sum(with_buffers.values())
    expect(not all(abs(shares[n] - with_buffers[n] / all_buffers) < 1e-6 for n in parts),
           _("You counted the state_dict, which holds BN's running_mean and running_var too. Those are buffers, not parameters."))
    weights_only = {n: sum(p.numel() for p in getattr(model, n).parameters() if p.ndim > 1) for n in parts}
    expect(not all(abs(shares[n] - weights_only[n] / sum(weights_only.values())) < 1e-6 for n in parts),
           _("You counted the convolution and linear weights only. BN's γ and β and the classifier's bias are parameters too."))
    for n in parts:
        expect(abs(shares[n] - want[n]) < 1e-4, _("Part {n}: the share is {want_n:.4f}, you have {shares_n:.4f}. Count the parameters of that part of the model, all its submodules included.").format(n=n, want_n=want[n], shares_n=shares[n]))
    macs = macs_by_part(model, (3, 224, 224), part=lambda name, module: name.split(".")[0])
    print(f"{'part':7s} {'parameters':>10s} {'MACs at 224×224':>16s}")
    for n in parts:
        print(f"{n:7s} {want[n]:10.1%} {macs[n] / macs['total']:16.1%}")


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
