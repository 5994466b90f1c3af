"""Checks for the exercises. Each accepts a correct answer and rejects typical wrong ones
with a hint. A stub that still raises NotImplementedError is reported, not failed, so
the notebooks run top to bottom before the learner has written anything.
"""

from __future__ import annotations

import functools
import math
import statistics
from typing import Callable

import torch
import torch.nn as nn

from .analysis import block_weight_count, conv_output_size
from .profiling import count_params, macs_by_part


class CheckFailed(AssertionError):
    """An exercise answer is wrong; the message says how.

    In Jupyter it shows as one short paragraph, not a traceback (IPython calls
    `_render_traceback_` when an exception defines it)."""

    exercise = "Exercise"

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;31m{self.exercise}: not yet right.\x1b[0m {self}",
                "Change your code and run the cell again (solutions: notebooks/solutions.ipynb)."]


class _NotAttempted(Exception):
    """The answer is still a placeholder: `...`, `pass`, `None` or NotImplementedError."""


_STUB_OPS = {"RESUME", "NOP", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST", "POP_TOP", "CACHE"}


def _is_stub(fn) -> bool:
    """True when a function's body does nothing (`...`, `pass`, or a docstring): a placeholder."""
    import dis

    code = getattr(fn, "__code__", None)
    return code is not None and all(i.opname in _STUB_OPS for i in dis.get_instructions(code))


def _placeholder_guard(answer):
    """Wrap a function answer: returning `...`, or None from an empty body, counts as not
    attempted; returning None from a body that does work is a forgotten `return`."""
    if isinstance(answer, type) or not callable(answer):
        return answer

    @functools.wraps(answer)
    def guarded(*args, **kwargs):
        result = answer(*args, **kwargs)
        if result is Ellipsis or (result is None and _is_stub(answer)):
            raise _NotAttempted
        if result is None:
            raise CheckFailed("your function returned None: did you forget `return`?")
        return result
    return guarded


def _exercise(name: str):
    def wrap(check: Callable) -> Callable:
        @functools.wraps(check)
        def run(answer) -> None:
            not_attempted = (f"{name}: not attempted yet. Replace the placeholder (`...`, `pass` or "
                             "`raise NotImplementedError`) with your code and run the cell again "
                             "(solutions: notebooks/solutions.ipynb).")
            if answer is None or answer is Ellipsis:
                print(not_attempted)
                return
            try:
                check(_placeholder_guard(answer))
            except (NotImplementedError, _NotAttempted):
                print(not_attempted)
                return
            except CheckFailed as err:
                err.exercise = name
                raise
            except Exception as err:                # the learner's code itself failed
                failed = CheckFailed(f"your code raised {type(err).__name__}: {err}. The check called it "
                                     f"as described above the cell; run `%debug` or `%tb` to see where.")
                failed.exercise = name
                raise failed from err
            print(f"{name} passed")
        return run
    return wrap


def _whole_number(n, what: str) -> int:
    """Accept 13, numpy's int64(13) or 13.0; refuse anything else with a message."""
    import numbers

    ok = (isinstance(n, numbers.Integral) and not isinstance(n, bool)) or (isinstance(n, float) and n.is_integer())
    _expect(ok, f"answer with a whole number of {what}, got {n!r}")
    return int(n)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


@_exercise("Exercise 01.1")
def check_chain_gradient(fn: Callable[[float, int, bool], float]) -> None:
    """fn(w, n, residual) -> d(output)/d(input) of n scalar layers y = w·x (plain)
    or y = x + w·x (residual)."""
    for w, n in [(0.5, 10), (1.5, 4), (0.1, 20), (-0.5, 3)]:
        plain, res = fn(w, n, False), fn(w, n, True)
        _expect(abs(plain - w ** n) < 1e-9 * max(1, abs(w ** n)),
                f"plain, w={w}, n={n}: expected {w ** n:.6g}, got {plain!r}. Each plain layer "
                "multiplies the gradient by w.")
        want = (1 + w) ** n
        _expect(abs(res - want) < 1e-9 * max(1, abs(want)),
                f"residual, w={w}, n={n}: expected {want:.6g}, got {res!r}. Hint: the derivative "
                "of x + w·x is 1 + w, not w.")


def _resblock_instance(answer, in_c: int, out_c: int, stride: int) -> nn.Module:
    block = answer(in_c, out_c, stride)
    _expect(isinstance(block, nn.Module), f"{answer!r}(in, out, stride) should build an nn.Module, "
            f"got {type(block).__name__}")
    return block


@_exercise("Exercise 02.1")
def check_resblock(block_cls: Callable[..., nn.Module]) -> None:
    """block_cls(in_channels, out_channels, stride) -> a residual block module."""
    from .models import ResBlock

    torch.manual_seed(0)
    for in_c, out_c, stride, size in [(8, 8, 1, 8), (8, 16, 2, 8)]:
        block = _resblock_instance(block_cls, in_c, out_c, stride).eval()
        x = torch.randn(2, in_c, size, size)
        y = block(x)
        if y is None or y is Ellipsis:
            raise _NotAttempted
        want = (2, out_c, size // stride, size // stride)
        _expect(tuple(y.shape) == want, f"in={in_c}, out={out_c}, stride={stride}: output shape "
                f"{tuple(y.shape)}, expected {want}. Does the shortcut project when the shape changes?")
        _expect(bool((y >= 0).all()), "the output has negative values: apply the ReLU *after* "
                "adding the shortcut, H(x) = ReLU(F(x) + x).")
    # The skip must really be used: with F(x) silenced (last BN scale and shift 0) the block is ReLU(x).
    block = _resblock_instance(block_cls, 8, 8, 1).eval()
    last_bn = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    _expect(len(last_bn) >= 2, "the block should have a BatchNorm2d after each convolution")
    with torch.no_grad():
        last_bn[1].weight.zero_()
        last_bn[1].bias.zero_()
        x = torch.randn(2, 8, 6, 6)
        y = block(x)
    _expect(torch.allclose(y, torch.relu(x), atol=1e-6),
            "with F(x) = 0 the block should return ReLU(x): is the input x added back "
            "(y = y + shortcut(x)) before the final ReLU?")
    g = torch.Generator().manual_seed(1)
    for in_c, out_c, stride in [(8, 8, 1), (8, 16, 2)]:
        block = _resblock_instance(block_cls, in_c, out_c, stride).eval()
        if not isinstance(block, ResBlock):
            break
        _randomise_bn(block, g)
        x = torch.randn(2, in_c, 8, 8, generator=g)
        with torch.no_grad():
            y, want = block(x), ResBlock.forward(block, x)
        _expect(torch.allclose(y, want, atol=1e-5),
                f"in={in_c}, out={out_c}, stride={stride}: with the same layers your output differs from the "
                "block's: F(x) = bn2(conv2(ReLU(bn1(conv1(x))))) with no ReLU after bn2, then ReLU(F(x) + shortcut(x))")


@_exercise("Exercise 03.1")
def check_output_size(fn: Callable[[int, int, int, int], int]) -> None:
    """fn(size, kernel, padding, stride) -> output size of a convolution."""
    cases = [(224, 7, 3, 2, 112), (112, 3, 1, 2, 56), (56, 3, 1, 1, 56), (56, 1, 0, 2, 28),
             (32, 3, 1, 2, 16), (7, 3, 0, 1, 5), (28, 5, 0, 1, 24), (5, 3, 1, 2, 3)]
    for size, k, p, s, want in cases:
        got = fn(size, k, p, s)
        hint = ""
        if got == (size - k + 2 * p) / s + 1:
            hint = " Hint: round down, (in - k + 2p) // s + 1."
        elif got == (size - k + p) // s + 1:
            hint = " Hint: padding is added on both sides: 2p."
        _expect(got == want, f"size={size}, k={k}, p={p}, s={s}: expected {want}, got {got!r}.{hint}")


@_exercise("Exercise 04.1")
def check_param_count(fn: Callable[[str, int, int], int]) -> None:
    """fn(block, in_channels, width) -> conv weights of a block ("basic" or "bottleneck"),
    identity shortcut, no biases, no BN. For "bottleneck" the output has 4·width channels."""
    cases = [("basic", 64, 64, 73_728), ("basic", 256, 256, 1_179_648),
             ("bottleneck", 256, 64, 69_632), ("bottleneck", 1024, 256, 1_114_112)]
    for block, in_c, width, want in cases:
        got = fn(block, in_c, width)
        hint = ""
        if block == "bottleneck" and got == in_c * width + 9 * width * width + width * in_c // 4:
            hint = " Hint: the last 1×1 expands to 4·width channels."
        if block == "basic" and got == want // 2:
            hint = " Hint: a basic block has two 3×3 convolutions."
        _expect(got == want, f"{block}, in_channels={in_c}, width={width}: expected {want:,}, "
                f"got {got!r}.{hint}")


@_exercise("Exercise 05.1")
def check_batchnorm(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    """fn(x, eps) -> train-mode batch norm of x (N, C, H, W) without scale and shift."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 5) * torch.tensor([3.0, 0.01, 0.002]).view(1, 3, 1, 1) + 2   # small variances: eps matters
    got = torch.as_tensor(fn(x.clone(), 1e-5)).float()
    want = nn.functional.batch_norm(x, None, None, training=True, eps=1e-5)
    _expect(tuple(got.shape) == tuple(x.shape), f"shape {tuple(got.shape)}, expected {tuple(x.shape)}")
    if not torch.allclose(got, want, atol=1e-4):
        per_sample = (x - x.mean(dim=(2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(2, 3), keepdim=True, unbiased=False) + 1e-5)
        unbiased = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(0, 2, 3), keepdim=True) + 1e-5)
        hint = ""
        if torch.allclose(got, per_sample, atol=1e-4):
            hint = " Hint: BatchNorm averages over the batch too: dims (0, 2, 3), one mean per channel."
        elif torch.allclose(got, unbiased, atol=1e-4):
            hint = " Hint: normalise with the biased variance (unbiased=False)."
        raise CheckFailed(f"the output differs from nn.BatchNorm2d by up to "
                          f"{(got - want).abs().max():.3g}.{hint}")


@_exercise("Exercise 06.1")
def check_stage(fn: Callable[[int, int, int, int], nn.Module]) -> None:
    """fn(in_channels, out_channels, num_blocks, stride) -> nn.Sequential of course ResBlocks."""
    from .models import ResBlock

    for c_in, c_out, n, stride in ((64, 128, 2, 2), (32, 32, 3, 1), (16, 32, 3, 2)):
        stage = fn(c_in, c_out, n, stride)
        _expect(isinstance(stage, nn.Sequential), f"expected an nn.Sequential, got {type(stage).__name__}")
        blocks = list(stage)
        _expect(len(blocks) == n and all(isinstance(b, ResBlock) for b in blocks),
                f"num_blocks={n}: expected {n} ResBlocks, got {[type(b).__name__ for b in blocks]}")
        _expect(blocks[0].conv1.stride == (stride, stride), f"the first block takes the stage's stride ({stride})")
        _expect(all(b.conv1.stride == (1, 1) for b in blocks[1:]),
                "only the first block of a stage downsamples: the later blocks use stride 1")
        _expect(all(b.conv1.in_channels == c_out for b in blocks[1:]),
                "the later blocks take out_channels in, since the first block already changed the width")
        y = stage.eval()(torch.randn(1, c_in, 8, 8))
        _expect(tuple(y.shape) == (1, c_out, 8 // stride, 8 // stride),
                f"output shape {tuple(y.shape)}, expected {(1, c_out, 8 // stride, 8 // stride)}")


@_exercise("Exercise 10.1")
def check_path_counts(fn: Callable[[int], list[int]]) -> None:
    """`fn(n)` -> how many of the 2^n paths of an n-block residual net pass through exactly
    k residual branches, for k = 0 … n."""
    for n in (1, 3, 9):
        got = list(fn(n))
        want = [math.comb(n, k) for k in range(n + 1)]
        _expect(len(got) == n + 1, f"for n = {n} there are n + 1 = {n + 1} possible lengths (0 … n), "
                                   f"you returned {len(got)} numbers")
        _expect(sum(got) == 2 ** n, f"for n = {n} the counts must add up to 2^n = {2 ** n} paths "
                                    f"(each block: through the branch or around it); yours add up to {sum(got)}")
        _expect(got == want, f"for n = {n} you have {got}; how many ways are there to choose which k "
                             "of the n blocks a path goes through?")


@_exercise("Exercise 10.3")
def check_preact_block(block_cls: Callable[..., nn.Module]) -> None:
    """`block_cls(in_channels, out_channels, stride)`: a pre-activation block with option A
    shortcuts, with attributes bn1, conv1, bn2, conv2, compared with course_lib's PreActBlock."""
    from .models import PreActBlock

    for c_in, c_out, stride in ((8, 8, 1), (8, 16, 2)):
        torch.manual_seed(0)
        theirs = block_cls(c_in, c_out, stride).eval()
        if not list(theirs.parameters()):                  # __init__ is still the placeholder
            raise _NotAttempted
        ours = PreActBlock(c_in, c_out, stride, shortcut="A").eval()
        for name in ("bn1", "conv1", "bn2", "conv2"):
            _expect(hasattr(theirs, name), f"your block needs an attribute `{name}` (BN → ReLU → conv, twice)")
        ours.load_state_dict({k: v for k, v in theirs.state_dict().items() if k in ours.state_dict()}, strict=False)
        for bn in (ours.bn1, ours.bn2):                  # non-trivial statistics, so BN's place matters
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
        theirs.load_state_dict(ours.state_dict(), strict=False)
        x = torch.randn(2, c_in, 8, 8)
        with torch.no_grad():
            got, want = theirs(x), ours(x)
        if got is Ellipsis or (got is None and _is_stub(type(theirs).forward)):   # forward is still the placeholder
            raise _NotAttempted
        _expect(got is not None, "your forward returned None: did you forget `return`?")
        _expect(got.shape == want.shape, f"{c_in}→{c_out}, stride {stride}: output shape {tuple(got.shape)}, "
                                         f"expected {tuple(want.shape)}")
        if not torch.allclose(got, want, atol=1e-5):
            _expect(bool((got < 0).any()), "your output has no negative values: a pre-activation block "
                                            "has no ReLU after the addition")
        _expect(torch.allclose(got, want, atol=1e-5),
                f"{c_in}→{c_out}, stride {stride}: the output differs. Order: a = ReLU(BN1(x)); "
                "y = conv2(ReLU(BN2(conv1(a)))); return y + shortcut(x), where the shortcut is x itself, or "
                "x[:, :, ::2, ::2] padded with zero channels when the shape changes")


@_exercise("Exercise 10.2")
def check_filter_normalize(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """`fn(direction, weight)` -> the direction with each filter (slice along dim 0) rescaled
    to the norm of the same filter of the weight (Li et al. 2018, §4)."""
    torch.manual_seed(0)
    w, d = torch.randn(6, 3, 3, 3) * torch.arange(1, 7).view(6, 1, 1, 1), torch.randn(6, 3, 3, 3)
    got = fn(d.clone(), w)
    want = torch.stack([d_f * (w_f.norm() / d_f.norm()) for d_f, w_f in zip(d, w)])
    _expect(got.shape == w.shape, f"return a tensor of the weight's shape {tuple(w.shape)}, got {tuple(got.shape)}")
    whole = d * (w.norm() / d.norm())
    _expect(not torch.allclose(got, whole, atol=1e-5),
            "you rescaled the whole direction to the norm of the whole weight: Li et al. rescale each "
            "filter (each slice along dim 0) separately, so that every filter moves in proportion to its size")
    _expect(torch.allclose(got, want, atol=1e-5),
            "each filter of the result must have the norm of the same filter of the weight, "
            "and point in the direction of the same filter of `direction`")


@_exercise("Exercise 07.1")
def check_paired_interval(fn: Callable[[list, list], tuple]) -> None:
    """`fn(a, b)` -> (mean, low, high): the mean of the paired differences a[i] − b[i] and its
    95% t-interval."""
    from .stats import paired_difference

    a, b = [0.95, 0.97, 0.96, 0.99, 0.94], [0.93, 0.96, 0.96, 0.95, 0.95]
    want = paired_difference(a, b)
    got = tuple(float(v) for v in fn(a, b))
    _expect(len(got) == 3, "return three numbers: (mean, low, high)")
    mean, low, high = got
    _expect(abs(mean - want["mean"]) < 1e-6, f"the mean of the differences is {want['mean']:.6f}, you have {mean:.6f}")
    z_half = 1.96 * want["std"] / len(a) ** 0.5
    _expect(not (abs(high - mean - z_half) < 1e-4),
            "you used 1.96, the normal quantile: with 5 seeds use Student's t with n − 1 = 4 degrees of "
            "freedom (2.776), since the standard deviation is itself estimated from 5 values")
    welch = 2.776 * (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
    _expect(not (abs(high - mean - welch) < 1e-4),
            "you treated the two arms as independent samples: pair them by seed and use the standard "
            "deviation of the *differences*, which removes the seed-to-seed variation both arms share")
    _expect(abs(low - want["ci_low"]) < 1e-4 and abs(high - want["ci_high"]) < 1e-4,
            f"the interval should be [{want['ci_low']:.4f}, {want['ci_high']:.4f}]: mean ± t·s/√n, with s the "
            "standard deviation of the differences (n − 1 in its denominator) and t = 2.776 for 4 degrees of freedom")


@_exercise("Exercise 07.2")
def check_seeds_for_half_width(n: int) -> None:
    """The smallest number of seeds whose 95% interval is at most half as wide as with 5 seeds,
    for the same standard deviation of the differences."""
    from .stats import t_quantile_975

    width = lambda k: t_quantile_975(k - 1) / k ** 0.5          # noqa: E731
    target = next(k for k in range(6, 200) if width(k) <= width(5) / 2)
    n = _whole_number(n, "seeds")
    _expect(n != 20, "20 = 4 × 5 would be right if the t multiplier stayed fixed; it shrinks as the seeds grow "
                     "(2.776 at 5 seeds), so fewer seeds suffice: compute t(n−1)/√n for a few n")
    _expect(n != 10, "doubling the seeds narrows the interval by about √2 (and a little more from t), not by 2")
    _expect(n == target, f"{n} seeds give a width of {width(n) / width(5):.2f} times the width with 5 seeds; find "
                         "the smallest n with t(n−1)/√n ≤ ½ · t(4)/√5 (course_lib.stats.t_quantile_975 gives t)")


@_exercise("Exercise 07.3")
def check_confusion(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> None:
    """`fn(pred, labels, k)` -> a k×k matrix whose row i, column j counts the images of true
    class i predicted as j."""
    from .metrics import confusion_matrix

    torch.manual_seed(0)
    labels = torch.randint(0, 4, (50,))
    pred = torch.where(torch.rand(50) < 0.7, labels, torch.randint(0, 4, (50,)))
    want = confusion_matrix(pred, labels, 4)
    got = torch.as_tensor(fn(pred, labels, 4))
    _expect(tuple(got.shape) == (4, 4), f"the matrix should be 4×4 for 4 classes, got {tuple(got.shape)}")
    _expect(int(got.sum()) == 50, f"the counts should add up to the 50 images, yours add up to {int(got.sum())}")
    _expect(not torch.equal(got.long(), want.T.long()) or torch.equal(want, want.T),
            "your matrix is transposed: rows are the true classes, columns the predictions")
    _expect(torch.equal(got.long(), want.long()), "row i, column j must count the images of true class i "
                                                  "predicted as class j")


@_exercise("Exercise 08.3")
def check_receptive_field(fn: Callable[[list], int]) -> None:
    """`fn(layers)` -> the receptive field (in input pixels) of one output position after a stack
    of layers given as (kernel, stride) pairs."""
    def rf(layers):
        size, jump = 1, 1
        for k, s in layers:
            size += (k - 1) * jump
            jump *= s
        return size

    cases = [[(3, 1)], [(3, 1), (3, 1)], [(3, 2), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 1)],
             [(3, 1)] * 19]
    for layers in cases:
        got, want = fn(list(layers)), rf(layers)
        if got != want:
            no_stride = rf([(k, 1) for k, _ in layers])
            _expect(got != no_stride, f"for {layers} you get {got}, as if every stride were 1: after a stride-2 "
                                      "layer, one step of the next kernel covers 2 input pixels")
            _expect(got != sum(k for k, _ in layers), f"for {layers} you added the kernel sizes ({got}); each layer "
                                                      "adds (k − 1) times the product of the strides before it")
            _expect(False, f"for {layers} the receptive field is {want}, you have {got}")


@_exercise("Exercise 08.2")
def check_projection_params(n: int) -> None:
    """How many more parameters the option-B residual-20 has than the option-A one."""
    from .models import cifar_resnet

    want = count_params(cifar_resnet(20, shortcut="B")) - count_params(cifar_resnet(20, shortcut="A"))
    n = _whole_number(n, "parameters")
    _expect(n != 16 * 32 + 32 * 64, "that counts the 1×1 convolutions only: each projection is followed by a "
                                    "BatchNorm with a γ and a β per channel")
    _expect(n == want, f"{n} is not it: there are two projections (16→32 and 32→64), each a 1×1 convolution "
                       "without bias plus a BatchNorm")


@_exercise("Exercise 08.1")
def check_gradient_ratio_guess(guess: float) -> None:
    """A guess of plain-32's first-to-last-layer gradient ratio at initialisation (the explorer's
    readout); passes within a factor of 10 of the measured value."""
    from .explorer import init_profile

    _expect(isinstance(guess, (int, float)) and not isinstance(guess, bool) and guess > 0,
            f"guess a positive number, got {guess!r}")
    norms = init_profile(32, use_residual=False)["grad_norm"]
    actual = norms[0] / norms[-1]
    off = abs(math.log10(guess / actual))
    print(f"measured: {actual:.3g}; your guess: {guess:.3g} (off by a factor of {10 ** off:.1f})")
    _expect(off <= 1, "more than a factor of 10 away: look at the explorer's gradient panel for plain-20 and "
                      "plain-56, and think about which way the ratio moves with depth")


@_exercise("Exercise 09.1")
def check_top5(fn: Callable[[torch.Tensor, list], list]) -> None:
    """`fn(logits, categories)` -> the 5 most probable (category, probability) pairs, most probable
    first, for one image's logits (shape (1000,))."""
    torch.manual_seed(0)
    logits = torch.randn(1000) * 3
    categories = [f"class {i}" for i in range(1000)]
    got = list(fn(logits.clone(), categories))
    probs = logits.softmax(0)
    want = [(categories[i], probs[i].item()) for i in probs.topk(5).indices.tolist()]
    _expect(len(got) == 5, f"return 5 pairs, got {len(got)}")
    _expect([n for n, _ in got] == [n for n, _ in want],
            "the names are not the 5 most probable, in order: sort by probability, highest first")
    values = [float(v) for _, v in got]
    _expect(not all(abs(v - logits[i].item()) < 1e-5 for v, i in zip(values, probs.topk(5).indices.tolist())),
            "those are logits, not probabilities: apply the softmax over the 1,000 classes first")
    _expect(all(abs(v - w) < 1e-5 for v, (_, w) in zip(values, want)),
            "the probabilities should be the softmax of the logits over all 1,000 classes")


@_exercise("Exercise 09.2")
def check_caffe_input(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """`fn(rgb)` -> the Caffe-style input of the original ResNet-50 for an image `rgb` of shape
    (3, H, W) with values in [0, 1]: channels in BGR order, scaled to 0-255, minus the mean colour
    (103.939, 116.779, 123.68) given in BGR order."""
    from .assets import CAFFE_MEAN_BGR

    torch.manual_seed(0)
    rgb = torch.rand(3, 4, 4)
    want = rgb.flip(0) * 255 - torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)
    got = torch.as_tensor(fn(rgb.clone())).float()
    _expect(tuple(got.shape) == (3, 4, 4), f"keep the shape (3, H, W), got {tuple(got.shape)}")
    rgb_order = rgb * 255 - torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)
    _expect(not torch.allclose(got, rgb_order, atol=1e-3), "the channels are still in RGB order: Caffe wants BGR")
    _expect(not torch.allclose(got, rgb.flip(0) - torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1), atol=1e-3),
            "scale to 0-255 before subtracting the mean colour")
    _expect(torch.allclose(got, want, atol=1e-3), "BGR order, values 0-255, minus the mean colour of each channel")


@_exercise("Exercise 09.3")
def check_fold_bn(fn: Callable[[torch.Tensor, nn.BatchNorm2d], tuple]) -> None:
    """`fn(conv_weight, bn)` -> (weight, bias) of one convolution that computes bn(conv(x)) in eval
    mode, for a convolution without bias."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 6, 3, padding=1, bias=False)
    bn = nn.BatchNorm2d(6).eval()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.001, 0.01)            # small variances: eps matters
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        want = bn(conv(x))
        weight, bias = (torch.as_tensor(v) for v in fn(conv.weight.detach().clone(), bn))
        _expect(tuple(weight.shape) == (6, 3, 3, 3) and tuple(bias.shape) == (6,),
                f"the weight must keep the convolution's shape (6, 3, 3, 3) and the bias have one value per "
                f"output channel, (6,); you returned {tuple(weight.shape)} and {tuple(bias.shape)}")
        got = nn.functional.conv2d(x, weight, bias, padding=1)
    if not torch.allclose(got, want, atol=1e-4):
        scale_no_eps = bn.weight / bn.running_var.sqrt()
        w_no_eps = conv.weight * scale_no_eps.view(-1, 1, 1, 1)
        b_no_eps = bn.bias - bn.running_mean * scale_no_eps
        no_eps = nn.functional.conv2d(x, w_no_eps, b_no_eps, padding=1)
        _expect(not torch.allclose(got, no_eps, atol=1e-4), "close: BatchNorm divides by √(var + eps), and with "
                                                            "small variances the eps (bn.eps) matters")
        _expect(False, "in eval mode BN computes γ·(y − running_mean)/√(running_var + eps) + β for each channel: "
                       "scale each output filter by γ/√(var + eps), and put the rest into the bias")


# ---------------------------------------------------------------------------------------------
# Discovery exercises for 01-06: predict, build or measure something the notebook has not shown.


def _losses(fn: Callable, arg, steps: int, name: str) -> list[float]:
    """Call a learner's training function and check that it returned `steps` finite losses."""
    losses = [float(v) for v in fn(arg)]
    _expect(len(losses) == steps, f"{name}: return the {steps} losses, one per step; you returned {len(losses)}")
    _expect(all(math.isfinite(v) for v in losses), f"{name}: some losses are not finite")
    return losses


def _randomise_bn(module: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-trivial statistics, scales and shifts, so its place and numbers matter."""
    for bn in (m for m in module.modules() if isinstance(m, nn.BatchNorm2d)):
        c = bn.num_features
        with torch.no_grad():
            bn.running_mean.copy_(torch.rand(c, generator=generator) * 2 - 1)
            bn.running_var.copy_(torch.rand(c, generator=generator) * 1.5 + 0.5)
            bn.weight.copy_(torch.rand(c, generator=generator) + 0.5)
            bn.bias.copy_(torch.rand(c, generator=generator) - 0.5)


@_exercise("Exercise 01.3")
def check_plain_identity(fn: Callable[[nn.Module], nn.Module]) -> None:
    """`fn(block)` -> the same plain ResBlock (no skip, eval mode, random weights and BN statistics),
    its numbers changed in place so that block(x) == x for every non-negative x."""
    from .models import ResBlock

    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    block = ResBlock(4, 4, use_residual=False).eval()
    _randomise_bn(block, g)
    layers = [(name, type(m)) for name, m in block.named_modules()]
    got = fn(block)
    _expect(got is block, "change the numbers of the block you are given, in place, and return that same block")
    _expect([(name, type(m)) for name, m in block.named_modules()] == layers,
            "keep the block's layers (two convolutions, two BatchNorms, no skip): change only their numbers")
    x = torch.relu(torch.randn(2, 4, 6, 6, generator=g))
    with torch.no_grad():
        y = block.eval()(x)
    if torch.allclose(y, x, atol=1e-4):
        return
    _expect(not bool((y == 0).all()), "the block outputs zeros. Zeroing the last BN turns a *residual* block into "
                                      "the identity because its skip still carries x; a plain block has no skip")
    ratio = (y * x).sum() / (x * x).sum()
    _expect(not torch.allclose(y, ratio * x, atol=1e-3), f"close: the output is {ratio:.3f} × x. In eval mode BN "
            "computes γ·(y − running_mean)/√(running_var + eps) + β with the block's own (random) statistics: "
            "choose γ and β so that each BN gives back its input")
    _expect(False, "the output is not x. Each convolution must pass channel i to channel i unchanged (a 3×3 kernel "
                   "with a single 1 at the centre of [i, i]: torch.nn.init.dirac_), and each BN must give back its "
                   "input: γ = √(running_var + eps), β = running_mean")


@_exercise("Exercise 01.2")
def check_typical_gradient(fn: Callable[[int, float, bool], float]) -> None:
    """`fn(n, sigma, residual)` -> the median, over many random draws, of |f_1 · f_2 ⋯ f_n|, where
    f_i = w_i (plain) or 1 + w_i (residual) and w_i ~ N(0, sigma²)."""
    g = torch.Generator().manual_seed(0)
    answers = {}
    for n, sigma, residual in ((20, 1.0, False), (20, 0.1, True), (50, 0.5, False), (50, 0.5, True)):
        w = torch.randn(100_000, n, generator=g, dtype=torch.float64) * sigma
        log_abs = ((1 + w) if residual else w).abs().log().sum(1)
        median = log_abs.median().exp().item()
        got = answers[n, sigma, residual] = float(fn(n, sigma, residual))
        kind = f"{'residual' if residual else 'plain'}, n={n}, σ={sigma}"
        _expect(got > 0, f"{kind}: a median of absolute values is positive, you have {got!r}")
        if abs(math.log(got / median)) <= 0.5:
            continue
        mean_abs = log_abs.exp().mean().item()
        rms = (1 + sigma ** 2) ** (n / 2) if residual else sigma ** n
        _expect(abs(math.log(got / mean_abs)) > 0.5, f"{kind}: that looks like the mean of |∏ f|. A few huge "
                "draws dominate the mean; the *typical* draw is the median")
        _expect(abs(math.log(got / rms)) > 0.1, f"{kind}: that is the root mean square √E[∏ f²] = {rms:.3g}, "
                "computed by formula; measure the median of many draws instead")
        _expect(False, f"{kind}: your value is off by a factor of {max(got / median, median / got):.3g} from the median "
                       "of the check's 100,000 draws. Draw w with torch.randn(trials, n) * sigma, form the n factors of "
                       "each draw, and take the median over draws of the absolute product")
    w = torch.randn(100_000, generator=g, dtype=torch.float64)
    print(f"plain, n = 20, σ = 1: E[∏ w²] = 1 exactly, yet your typical |∏ w| is {answers[20, 1.0, False]:.2g}; "
          f"the mean of log|w| over 100,000 draws is {w.abs().log().mean():.3f} per layer")


@_exercise("Exercise 02.3")
def check_identity_race(fn: Callable[[bool], list]) -> None:
    """`fn(use_residual)` -> the 150 training losses of a stack of 4 ResBlock(8, 8) trained with
    Adam (lr 0.01) to output its own input (MSE), for one batch x = ReLU(randn(32, 8, 8, 8))."""
    runs = {}
    for use_residual in (True, False):
        arm = "residual" if use_residual else "plain"
        losses = _losses(fn, use_residual, 150, arm)
        _expect(losses[-1] < losses[0] / 2, f"{arm}: the loss went from {losses[0]:.3g} to {losses[-1]:.3g}; in 150 steps "
                "it should fall below half its start. Keep the stack in train mode, and call opt.zero_grad(), "
                "loss.backward() and opt.step() at every step, with the stack's parameters")
        runs[arm] = losses
    _expect(runs["residual"] != runs["plain"], "the two arms gave the same losses: build the stack with "
                                               "ResBlock(8, 8, use_residual=use_residual)")
    res, plain = runs["residual"][-1], runs["plain"][-1]
    print(f"after 150 steps: residual stack {res:.4f}, plain stack {plain:.4f} (start: "
          f"{runs['residual'][0]:.3f} and {runs['plain'][0]:.3f})")
    _expect(res < plain, "your residual stack ends with a higher loss than the plain one. Same data, same optimiser "
                         "and learning rate for both? The ReLU comes after the addition in each block")


@_exercise("Exercise 02.2")
def check_block_params(fn: Callable[[int, int, int], int]) -> None:
    """`fn(in_channels, out_channels, stride)` -> the number of parameters of the course's
    ResBlock(in_channels, out_channels, stride), as `count_params` counts them."""
    from .models import ResBlock

    for c_in, c_out, stride in ((64, 64, 1), (64, 128, 2), (16, 32, 2), (256, 256, 1), (32, 32, 2), (64, 128, 1)):
        want = count_params(ResBlock(c_in, c_out, stride))
        got = _whole_number(fn(c_in, c_out, stride), "parameters")
        if got == want:
            continue
        convs = 9 * c_in * c_out + 9 * c_out * c_out
        projects = stride != 1 or c_in != c_out
        proj = (c_in * c_out + 2 * c_out) if projects else 0
        case = f"ResBlock({c_in}, {c_out}, stride={stride})"
        _expect(got != convs and got != convs + (c_in * c_out if projects else 0),
                f"{case}: you counted the convolutions only. Each BatchNorm learns a scale γ and a shift β per channel")
        _expect(got != want + 4 * c_out + (2 * c_out if projects else 0),
                f"{case}: running_mean and running_var are buffers, not parameters: the optimiser never updates them "
                "(compare block.parameters() with block.buffers())")
        _expect(got != want + 2 * c_out + (c_out if projects else 0),
                f"{case}: the convolutions have no bias (bias=False): the BN after each would cancel it")
        _expect(not projects or got != convs + 4 * c_out,
                f"{case}: the shape changes here, so the shortcut is a 1×1 convolution with its own BatchNorm")
        _expect(projects or got != want + proj,
                f"{case}: the shape is kept here, so the shortcut is the identity: no parameters")
        _expect(False, f"{case} has {want:,} parameters, you have {got:,}: two 3×3 convolutions, a BN (γ, β) after "
                       "each, and a projection (1×1 convolution and BN) when the stride or the width changes")


@_exercise("Exercise 03.3")
def check_option_a(fn: Callable[[torch.Tensor, int, int], torch.Tensor]) -> None:
    """`fn(x, out_channels, stride)` -> option A's shortcut (He et al. §3.3) for x of shape (N, C, H, W):
    keep every `stride`-th pixel and pad the extra channels with zeros; no parameters."""
    g = torch.Generator().manual_seed(0)
    for c_in, c_out, stride, size in ((16, 32, 2, 8), (16, 32, 2, 7), (8, 8, 1, 6), (4, 12, 2, 5)):
        x = torch.randn(2, c_in, size, size, generator=g)
        got = torch.as_tensor(fn(x.clone(), c_out, stride))
        side = (size - 1) // stride + 1
        _expect(tuple(got.shape) == (2, c_out, side, side),
                f"x of shape {tuple(x.shape)} → {c_out} channels, stride {stride}: expected shape "
                f"{(2, c_out, side, side)}, got {tuple(got.shape)}. Pad channels (dim 1) only, not height or width; "
                "the sides must match those of F(x), a 3×3 convolution with padding 1 and this stride")
        sub = x[:, :, ::stride, ::stride]
        offsets = [o for o in range(c_out - c_in + 1) if torch.equal(got[:, o:o + c_in], sub)
                   and bool(got[:, :o].eq(0).all()) and bool(got[:, o + c_in:].eq(0).all())]
        if offsets:                                          # x in one block of channels, zeros elsewhere
            continue
        if stride == 2:
            pooled = nn.functional.avg_pool2d(x, 2, ceil_mode=True)
            _expect(not torch.allclose(got[:, :c_in], pooled, atol=1e-5),
                    "that averages 2×2 pixels (the later ResNet-D idea); option A keeps every other pixel, as the "
                    "stride-2 1×1 projection of option B does: x[:, :, ::2, ::2]")
            odd = x[:, :, 1::2, 1::2]
            _expect(odd.shape != sub.shape or not torch.equal(got[:, :c_in], odd),
                    "start at pixel 0: a 3×3 convolution with stride 2 and padding 1 centres its outputs on input "
                    "pixels 0, 2, 4, …, so the shortcut must take those same pixels")
        _expect(False, f"{c_in} → {c_out} channels, stride {stride}: the output should hold x[:, :, ::{stride}, ::{stride}] "
                       "unchanged in one block of channels and zeros in the extra ones")


@_exercise("Exercise 03.2")
def check_stage_sizes(fn: Callable[[int, str], list]) -> None:
    """`fn(size, stem)` -> the sides of the feature maps of the course's resnet18(stem=stem) for a
    size×size input: [after the stem, after layer1, layer2, layer3, layer4]."""
    from .models import resnet18

    out = conv_output_size

    def arithmetic(size, stem, pool=True):
        n = out(size, 7, 3, 2) if stem == "imagenet" else size
        if stem == "imagenet" and pool:
            n = out(n, 3, 1, 2)
        sides = [n, n]
        for _ in range(3):
            sides.append(out(sides[-1], 3, 1, 2))
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
        got = [_whole_number(v, "pixels") for v in fn(size, stem)]
        case = f"{size}×{size} input, stem={stem!r}"
        _expect(len(got) == 5, f"{case}: return 5 sides (after the stem, layer1, layer2, layer3, layer4), got {len(got)}")
        if got == sides:
            continue
        _expect(not (stem == "imagenet" and got == arithmetic(size, stem, pool=False)),
                f"{case}: the ImageNet stem ends with a 3×3 max-pool, stride 2, padding 1: it halves the size again")
        _expect(got[1] == got[0], f"{case}: layer1 has stride 1, it keeps the size of the stem's output")
        _expect(False, f"{case}: the sides are {sides}, you have {got}. The stem is conv 7×7/2 (padding 3) and "
                       "max-pool 3×3/2 (padding 1) for 'imagenet', conv 3×3/1 for 'cifar'; layers 2-4 start with "
                       "a 3×3 convolution of stride 2 and padding 1")


@_exercise("Exercise 04.2")
def check_bottleneck(block_cls: Callable[..., nn.Module]) -> None:
    """`block_cls(in_channels, width, stride)` -> a bottleneck block named like torchvision's
    (conv1, bn1, conv2, bn2, conv3, bn3, and `downsample`: None or a 1×1 convolution and a BN),
    compared with torchvision.models.resnet.Bottleneck holding the same weights."""
    from torchvision.models.resnet import Bottleneck as TorchvisionBottleneck

    g = torch.Generator().manual_seed(0)
    for c_in, width, stride in ((64, 64, 1), (256, 64, 1), (256, 128, 2)):
        torch.manual_seed(0)
        theirs = block_cls(c_in, width, stride)
        _expect(isinstance(theirs, nn.Module), f"block_cls(...) should build an nn.Module, got {type(theirs).__name__}")
        if not list(theirs.parameters()):                  # __init__ is still the placeholder
            raise _NotAttempted
        down = None
        if stride != 1 or c_in != 4 * width:
            down = nn.Sequential(nn.Conv2d(c_in, 4 * width, 1, stride, bias=False), nn.BatchNorm2d(4 * width))
        ref = TorchvisionBottleneck(c_in, width, stride, downsample=down)
        _randomise_bn(ref, g)
        ref.eval()
        case = f"in={c_in}, width={width}, stride={stride}"
        n_ref, n_got = count_params(ref), count_params(theirs)
        if n_got != n_ref:
            hint = ""
            if down is not None and getattr(theirs, "downsample", None) is None:
                hint = (f" The output has 4·width = {4 * width} channels and the input {c_in}"
                        f"{' at stride 2' if stride == 2 else ''}: the shortcut needs a projection")
            elif (isinstance(getattr(theirs, "downsample", None), nn.Module)
                  and not any(isinstance(m, nn.BatchNorm2d) for m in theirs.downsample.modules()) and down is not None):
                hint = " The projection is a 1×1 convolution *and* a BatchNorm"
            elif "conv3" in dict(theirs.named_children()) and theirs.conv3.out_channels != 4 * width:
                hint = " The last 1×1 convolution expands to 4·width channels"
            raise CheckFailed(f"{case}: {n_got:,} parameters, torchvision's block has {n_ref:,}.{hint}")
        missing, unexpected = [], []
        try:
            result = theirs.load_state_dict(ref.state_dict(), strict=False)
            missing, unexpected = result.missing_keys, result.unexpected_keys
        except RuntimeError as err:
            raise CheckFailed(f"{case}: torchvision's weights do not fit your layers: {str(err).splitlines()[1][:200]}")
        _expect(not missing and not unexpected, f"{case}: name the layers as torchvision does. Missing in yours: "
                f"{', '.join(unexpected[:4]) or 'none'}; not in torchvision's: {', '.join(missing[:4]) or 'none'}")
        x = torch.randn(2, c_in, 8, 8, generator=g)
        with torch.no_grad():
            got, want = theirs.eval()(x), ref(x)
        if got is Ellipsis or (got is None and _is_stub(type(theirs).forward)):
            raise _NotAttempted
        _expect(got is not None, "your forward returned None: did you forget `return`?")
        _expect(tuple(got.shape) == tuple(want.shape), f"{case}: output shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        if torch.allclose(got, want, atol=1e-5):
            continue
        _expect(not (stride == 2 and theirs.conv1.stride == (2, 2)), f"{case}: your stride sits on the first 1×1 "
                "convolution, as in the paper's original model (v1); torchvision puts it on the 3×3 (v1.5)")
        _expect(not bool((got < 0).any()), f"{case}: your output has negative values: the last ReLU comes after the addition")
        _expect(False, f"{case}: same weights, different output. Order: ReLU(bn1(conv1(x))), ReLU(bn2(conv2(·))), "
                       "bn3(conv3(·)), then add x (or downsample(x)) and apply ReLU")
    print("same parameter count and same outputs as torchvision's Bottleneck")


def _resnet_param_formula(block: str, layers, proj: bool = True, bn: bool = True, fc_bias: bool = True,
                          layer1_proj: bool = True) -> int:
    """Parameters of an ImageNet ResNet by arithmetic, with switches that reproduce common slips."""
    e = 4 if block == "bottleneck" else 1
    total = 3 * 64 * 49 + (2 * 64 if bn else 0)
    c_in = 64
    for stage, n in enumerate(layers):
        w = 64 * 2 ** stage
        for i in range(n):
            bn_channels = 2 * w + (w * e if block == "bottleneck" else 0)     # the BNs after the block's convolutions
            total += block_weight_count(block, c_in, w) + (2 * bn_channels if bn else 0)
            needs = i == 0 and (stage > 0 or c_in != w * e)
            if needs and proj and (stage > 0 or layer1_proj):
                total += c_in * w * e + (2 * w * e if bn else 0)
            c_in = w * e
    return total + c_in * 1000 + (1000 if fc_bias else 0)


@_exercise("Exercise 04.3")
def check_resnet_params(fn: Callable[[str, list], int]) -> None:
    """`fn(block, layers)` -> the parameters of an ImageNet ResNet with 1,000 classes built from
    `block` ("basic" or "bottleneck") and `layers` blocks per stage, as torchvision builds it."""
    import torchvision.models as tvm

    cases = [("basic", [2, 2, 2, 2], tvm.ResNet18_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("basic", [3, 4, 6, 3], tvm.ResNet34_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("bottleneck", [3, 4, 6, 3], tvm.ResNet50_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("bottleneck", [3, 4, 23, 3], tvm.ResNet101_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("bottleneck", [3, 8, 36, 3], tvm.ResNet152_Weights.IMAGENET1K_V1.meta["num_params"]),
             ("basic", [1, 1, 1, 1], count_params(tvm.resnet.ResNet(tvm.resnet.BasicBlock, [1, 1, 1, 1]))),
             ("bottleneck", [1, 1, 1, 1], count_params(tvm.resnet.ResNet(tvm.resnet.Bottleneck, [1, 1, 1, 1])))]
    for block, layers, want in cases:
        got = _whole_number(fn(block, list(layers)), "parameters")
        if got == want:
            continue
        case = f"{block} {layers}"
        slips = [(dict(bn=False), "each BatchNorm learns a γ and a β per channel (and BN follows every convolution)"),
                 (dict(proj=False), "the first block of layers 2-4 needs a projection shortcut (1×1 convolution + BN)"),
                 (dict(layer1_proj=False), "in a bottleneck network layer1 needs a projection too: 64 → 256 channels"),
                 (dict(fc_bias=False), "the classifier nn.Linear(·, 1000) has a bias")]
        bn_channels = (_resnet_param_formula(block, layers) - _resnet_param_formula(block, layers, bn=False)) // 2
        _expect(got != want + 2 * bn_channels, f"{case}: {got:,} instead of {want:,}: BN's running_mean and running_var "
                                               "are buffers, not parameters: the optimiser never updates them")
        for kwargs, hint in slips:
            _expect(got != _resnet_param_formula(block, layers, **kwargs), f"{case}: {got:,} instead of {want:,}: {hint}")
        _expect(False, f"{case}: torchvision's model has {want:,} parameters, you have {got:,}. Count the stem "
                       "(7×7 convolution from 3 to 64 channels and a BN), every block, the projections and the classifier")


@_exercise("Exercise 05.3")
def check_zero_gamma(fn: Callable[[bool], list]) -> None:
    """`fn(zero_init)` -> the first 30 training losses of cifar_resnet(20, zero_init_residual=zero_init)
    on the notebook's digits (seed 0, SGD lr 0.05, momentum 0.9, batches of 64)."""
    runs = {}
    for zero_init in (False, True):
        runs[zero_init] = _losses(fn, zero_init, 30, "zero γ" if zero_init else "default γ = 1")
    _expect(runs[True] != runs[False], "both runs gave the same losses: pass zero_init_residual=zero_init to cifar_resnet")
    from .config import seed_everything
    from .data import load_mnist
    from .models import cifar_resnet

    xb, yb = next(iter(load_mnist(512, 64, 64, size=16, seed=0).train.loader(64, shuffle=True, seed=0)))
    for zero_init in (False, True):
        seed_everything(0)
        with torch.no_grad():
            first = nn.functional.cross_entropy(cifar_resnet(20, zero_init_residual=zero_init).train()(xb), yb).item()
        _expect(abs(runs[zero_init][0] - first) < 1e-3,
                f"{'zero γ' if zero_init else 'default γ = 1'}: your first loss is {runs[zero_init][0]:.4f}, but the model "
                f"built right after seed_everything(0), in train mode, gives {first:.4f} on the first batch of "
                "data.train.loader(64, shuffle=True, seed=0). Seed, then build, and record each loss before its update")
    _expect(abs(runs[True][0] - math.log(10)) < 0.15,
            f"with zero γ the first loss is {runs[True][0]:.3f}; with every residual branch switched off at the start the "
            f"network is its stem, pooling and classifier, and its first loss should be near ln 10 = {math.log(10):.3f}. "
            "Is the loss recorded *before* the first update?")
    for zero_init, label in ((False, "default γ = 1"), (True, "zero γ")):
        r = runs[zero_init]
        print(f"{label:14s} step 0: {r[0]:.3f}   step 10: {r[10]:.3f}   step 29: {r[-1]:.3f}")


@_exercise("Exercise 05.2")
def check_scale_invariance(fn: Callable[[float], tuple]) -> None:
    """`fn(c)` -> (output_change, grad_ratio) for a convolution without bias followed by BatchNorm in
    train mode: the largest |change| of the BN output when the convolution's weight is multiplied by c,
    and ‖gradient at c·w‖ / ‖gradient at w‖ for a loss computed from that output."""
    for c in (10.0, 0.5, 3.0):
        got = tuple(float(v) for v in fn(c))
        _expect(len(got) == 2, "return two numbers: (output_change, grad_ratio)")
        change, ratio = got
        _expect(math.isfinite(ratio) and ratio > 1e-6,
                f"c = {c}: the gradient ratio is {ratio!r}: your gradients are zero. In train mode each BN output channel "
                "has mean β and a fixed variance, so out.sum() or out.pow(2).sum() do not depend on w: use a loss "
                "such as (out * r).sum() with a fixed random tensor r")
        _expect(change < 1e-3, f"c = {c}: the BN output changed by {change:.3g}. Use the same input x for both weights, "
                               "and keep BN in train mode (batch statistics): then BN divides out the scale; with fixed "
                               "running statistics it cannot. (Return the change first, the ratio second.)")
        if abs(ratio * c - 1) < 0.02:
            continue
        _expect(abs(ratio - (1 + 1 / c)) > 0.02, f"c = {c}: you have 1 + 1/c: the second backward() added to the "
                f"gradient left by the first. Zero it (w.grad = None) or use torch.autograd.grad")
        _expect(abs(ratio / c - 1) > 0.02, f"c = {c}: you have {ratio:.3g} = c. Divide the gradient at c·w by the gradient "
                                           "at w, not the other way round")
        _expect(abs(ratio - 1) > 0.02, f"c = {c}: a ratio of 1. Take the gradient with respect to the scaled weight "
                                       "itself (a new leaf tensor c·w, as the optimiser sees it), not with respect to w "
                                       "through the multiplication")
        _expect(False, f"c = {c}: your ratio is {ratio:.3g}. Use the same input and the same loss for both weights, and "
                       "a loss that depends on w: in train mode out.sum() and out.pow(2).sum() are constants (their "
                       "gradients are rounding noise), so use (out * r).sum() with a fixed random tensor r")
    print(f"the output does not change, and the gradient shrinks by 1/c (your last ratio: {ratio:.4g} at c = {c:g})")


@_exercise("Exercise 06.2")
def check_param_shares(fn: Callable[[nn.Module], dict]) -> None:
    """`fn(model)` -> {"stem": …, "layer1": …, …, "layer4": …, "fc": …}: the fraction of the model's
    parameters in each of its parts (course_lib's resnet18, 1,000 classes)."""
    from .models import resnet18

    model = resnet18()
    parts = ("stem", "layer1", "layer2", "layer3", "layer4", "fc")
    want = {n: count_params(getattr(model, n)) / count_params(model) for n in parts}
    got = dict(fn(model))
    _expect(set(parts) <= set(got), f"return a share for each of {', '.join(parts)}; missing: "
                                    f"{', '.join(n for n in parts if n not in got)}")
    shares = {n: float(got[n]) for n in parts}
    _expect(abs(sum(shares.values()) - 1) < 1e-3 or abs(sum(shares.values()) - 100) > 1e-3,
            "answer with fractions (they add up to 1), not percentages")
    _expect(abs(sum(shares.values()) - 1) < 1e-3, f"the shares should add up to 1, yours add up to "
                                                  f"{sum(shares.values()):.4g}: divide each part's count by the total "
                                                  "number of parameters, and count every parameter, BN's γ and β included")
    with_buffers = {n: sum(t.numel() for t in getattr(model, n).state_dict().values()) for n in parts}
    all_buffers = sum(with_buffers.values())
    _expect(not all(abs(shares[n] - with_buffers[n] / all_buffers) < 1e-6 for n in parts),
            "you counted the state_dict, which holds BN's running_mean and running_var too: those are buffers, "
            "not parameters; use .parameters()")
    for n in parts:
        _expect(abs(shares[n] - want[n]) < 1e-4, f"{n}: the share is {want[n]:.4f}, you have {shares[n]:.4f}. "
                                                 f"sum(p.numel() for p in model.{n}.parameters()) / the total")
    macs = macs_by_part(model, (3, 224, 224), part=lambda name, module: name.split(".")[0])
    print(f"{'part':7s} {'parameters':>10s} {'MACs at 224×224':>16s}")
    for n in parts:
        print(f"{n:7s} {want[n]:10.1%} {macs[n] / macs['total']:16.1%}")


def _stage_outputs(model: nn.Module, children: list, x: torch.Tensor) -> list:
    """Outputs after each of the given top-level parts, in order."""
    outs = []
    hooks = [c.register_forward_hook(lambda m, i, o: outs.append(o)) for c in children]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return outs


@_exercise("Exercise 06.3")
def check_fixed_resnet18(build: Callable[[], nn.Module]) -> None:
    """`build()` -> a six-module nn.Sequential ResNet-18 (3 input channels, 1,000 classes) that
    computes exactly what torchvision.models.resnet18 computes once it holds the same weights."""
    import torchvision

    g = torch.Generator().manual_seed(0)
    ref = torchvision.models.resnet18()
    _randomise_bn(ref, g)
    ref.eval()
    model = build()
    _expect(isinstance(model, nn.Sequential) and len(model) == 6,
            "build() should return the six modules as one nn.Sequential: stem, four stages, head")
    n_ref, n_got = count_params(ref), count_params(model)
    _expect(n_got == n_ref, f"the model has {n_got:,} parameters, torchvision's {n_ref:,}: a difference of "
                            f"{n_got - n_ref:+,}. Which layer has parameters that torchvision's lacks (or the reverse)?")
    theirs, ours = model.state_dict(), ref.state_dict()
    for (k_got, v_got), (k_ref, v_ref) in zip(theirs.items(), ours.items()):
        _expect(v_got.shape == v_ref.shape, f"in order, your tensor {k_got} {tuple(v_got.shape)} meets torchvision's "
                                            f"{k_ref} {tuple(v_ref.shape)}: a layer has the wrong size")
    model.load_state_dict(dict(zip(theirs, ours.values())))
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=g)
    names = ["(1) stem", "(2) layer1", "(3) layer2", "(4) layer3", "(5) layer4", "(6) head"]
    got = _stage_outputs(model, list(model), x)
    want = _stage_outputs(ref, [ref.maxpool, ref.layer1, ref.layer2, ref.layer3, ref.layer4, ref.fc], x)
    for name, a, b in zip(names, got, want):
        _expect(a.shape == b.shape, f"module {name}: output shape {tuple(a.shape)}, torchvision's {tuple(b.shape)} "
                                    "(64×64 input). Trace the shapes module by module: which stride is wrong?")
    for name, a, b in zip(names, got, want):
        _expect(torch.allclose(a, b, atol=1e-4), f"module {name} has the right shapes and the same weights, but computes "
                f"something else (largest difference {(a - b).abs().max():.3g}): compare its layers, one by one, with "
                "torchvision's (print(torchvision.models.resnet18()))")
    print("same parameters, same shapes, same outputs as torchvision's resnet18")
