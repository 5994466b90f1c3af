import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import checks
from course_lib.models import ResBlock


@pytest.fixture
def passes(capsys):
    def run(check, answer):
        check(answer)
        return capsys.readouterr().out.strip().endswith("passed")
    return run


def test_not_attempted_is_reported_not_failed(capsys):
    def stub(*args):
        raise NotImplementedError
    assert checks.check_output_size(stub) is None
    assert "not attempted yet" in capsys.readouterr().out


def test_chain_gradient(passes):
    assert passes(checks.check_chain_gradient, lambda w, n, res: (1 + w) ** n if res else w ** n)
    with pytest.raises(checks.CheckFailed, match="1 \\+ w"):
        checks.check_chain_gradient(lambda w, n, res: w ** n)


def test_resblock_check(passes):
    assert passes(checks.check_resblock, ResBlock)

    class NoSkip(ResBlock):
        def forward(self, x):
            return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))

    class ReluBeforeAdd(ResBlock):
        def forward(self, x):
            y = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
            return y + self.shortcut(x)

    with pytest.raises(checks.CheckFailed, match="input x added back"):
        checks.check_resblock(NoSkip)
    with pytest.raises(checks.CheckFailed, match="ReLU"):
        checks.check_resblock(ReluBeforeAdd)


def test_output_size(passes):
    assert passes(checks.check_output_size, lambda n, k, p, s: (n - k + 2 * p) // s + 1)
    with pytest.raises(checks.CheckFailed, match="round down"):
        checks.check_output_size(lambda n, k, p, s: (n - k + 2 * p) / s + 1)
    with pytest.raises(checks.CheckFailed, match="2p"):
        checks.check_output_size(lambda n, k, p, s: (n - k + p) // s + 1)


def test_param_count(passes):
    def right(block, c, w):
        return 2 * 9 * c * w if block == "basic" else c * w + 9 * w * w + w * 4 * w

    def wrong(block, c, w):
        return 2 * 9 * c * w if block == "basic" else c * w + 9 * w * w + w * c // 4
    assert passes(checks.check_param_count, right)
    with pytest.raises(checks.CheckFailed, match="expands to 4·width"):
        checks.check_param_count(wrong)


def test_batchnorm(passes):
    def right(x, eps):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + eps)

    def per_sample(x, eps):
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + eps)
    assert passes(checks.check_batchnorm, right)
    with pytest.raises(checks.CheckFailed, match="dims \\(0, 2, 3\\)"):
        checks.check_batchnorm(per_sample)


def test_stage(passes):
    def right(c_in, c_out, n, stride):
        return nn.Sequential(ResBlock(c_in, c_out, stride), *[ResBlock(c_out, c_out) for _ in range(n - 1)])

    def all_strided(c_in, c_out, n, stride):
        return nn.Sequential(ResBlock(c_in, c_out, stride), *[ResBlock(c_out, c_out, stride) for _ in range(n - 1)])
    assert passes(checks.check_stage, right)
    with pytest.raises(checks.CheckFailed):
        checks.check_stage(all_strided)


@pytest.mark.parametrize("placeholder", [None, ..., lambda *a: None, lambda *a: ...])
def test_placeholders_are_not_attempted(placeholder, capsys):
    assert checks.check_output_size(placeholder) is None
    assert "not attempted yet" in capsys.readouterr().out


def test_forward_with_pass_is_not_attempted(capsys):
    class Stub(ResBlock):
        def forward(self, x):
            pass
    checks.check_resblock(Stub)
    assert "not attempted yet" in capsys.readouterr().out


def test_wrong_answer_renders_as_one_short_message():
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_output_size(lambda size, k, p, s: (size - k + 2 * p) / s + 1)
    lines = info.value._render_traceback_()
    assert len(lines) == 2 and "Exercise 03.1: not yet right" in lines[0] and "round down" in lines[0]


def test_learner_exception_becomes_a_check_message():
    def broken(size, k, p, s):
        return size.nope
    with pytest.raises(checks.CheckFailed, match="your code raised AttributeError") as info:
        checks.check_output_size(broken)
    assert "Exercise 03.1" in info.value._render_traceback_()[0]


def test_render_traceback_is_used_by_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with capture_output() as cap:
        result = shell.run_cell("from course_lib import checks\n"
                                "checks.check_output_size(lambda size, k, p, s: 0)")
    shown = cap.stdout + cap.stderr
    assert isinstance(result.error_in_exec, checks.CheckFailed)
    assert "not yet right" in shown and "Traceback" not in shown and "checks.py" not in shown


# ----------------------------------------------------------------------------- notebook 10
def test_path_counts(passes):
    import math
    assert passes(checks.check_path_counts, lambda n: [math.comb(n, k) for k in range(n + 1)])
    for wrong, hint in [(lambda n: [1] * (n + 1), r"add up to 2\^n"), (lambda n: [2 ** n], r"n \+ 1"),
                        (lambda n: [0] * n + [2 ** n], "choose which k")]:
        with pytest.raises(checks.CheckFailed, match=hint):
            checks.check_path_counts(wrong)


def _preact(relu_after_add=False, bn_after_conv=False):
    import torch.nn.functional as F
    from torch import nn

    from course_lib.models import ZeroPadShortcut, conv3x3

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(c_out if bn_after_conv else c_in)
            self.conv1 = conv3x3(c_in, c_out, stride)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.conv2 = conv3x3(c_out, c_out)
            self.short = ZeroPadShortcut(c_in, c_out, stride) if (stride, c_in) != (1, c_out) else nn.Identity()

        def forward(self, x):
            if bn_after_conv:                                   # the original order: conv → BN → ReLU
                y = F.relu(self.bn1(self.conv1(x)))
                y = self.bn2(self.conv2(y))
            else:
                y = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
            y = y + self.short(x)
            return F.relu(y) if relu_after_add else y
    return Block


def test_preact_block(passes):
    assert passes(checks.check_preact_block, _preact())
    with pytest.raises(checks.CheckFailed, match="no ReLU after the addition"):
        checks.check_preact_block(_preact(relu_after_add=True))
    with pytest.raises(checks.CheckFailed, match="Order"):
        checks.check_preact_block(_preact(bn_after_conv=True))


def test_filter_normalize(passes):
    import torch
    assert passes(checks.check_filter_normalize,
           lambda d, w: torch.stack([df * wf.norm() / df.norm() for df, wf in zip(d, w)]))
    with pytest.raises(checks.CheckFailed, match="each\nfilter|each filter"):
        checks.check_filter_normalize(lambda d, w: d * w.norm() / d.norm())
    with pytest.raises(checks.CheckFailed, match="norm of the same filter"):
        checks.check_filter_normalize(lambda d, w: d / d.flatten(1).norm(dim=1).view(-1, 1, 1, 1))


def test_preact_placeholder_is_not_attempted(capsys):
    from torch import nn

    class Empty(nn.Module):
        def __init__(self, c_in, c_out, stride=1):
            super().__init__()

        def forward(self, x):
            ...

    checks.check_preact_block(Empty)
    assert "not attempted yet" in capsys.readouterr().out


# ----------------------------------------------------------------------------- notebooks 07 and 08
def test_paired_interval(passes):
    import statistics

    from course_lib.stats import paired_difference, t_quantile_975

    def good(a, b):
        d = [x - y for x, y in zip(a, b)]
        half = t_quantile_975(len(d) - 1) * statistics.stdev(d) / len(d) ** 0.5
        return statistics.fmean(d), statistics.fmean(d) - half, statistics.fmean(d) + half

    assert passes(checks.check_paired_interval, good)
    assert passes(checks.check_paired_interval, lambda a, b: (lambda ci: (ci["mean"], ci["ci_low"], ci["ci_high"]))(paired_difference(a, b)))

    def normal(a, b):
        m, lo, hi = good(a, b)
        half = 1.96 * statistics.stdev([x - y for x, y in zip(a, b)]) / len(a) ** 0.5
        return m, m - half, m + half

    def unpaired(a, b):
        m = statistics.fmean(a) - statistics.fmean(b)
        half = 2.776 * (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
        return m, m - half, m + half

    with pytest.raises(checks.CheckFailed, match="normal quantile"):
        checks.check_paired_interval(normal)
    with pytest.raises(checks.CheckFailed, match="independent samples"):
        checks.check_paired_interval(unpaired)


def test_seeds_for_half_width(passes):
    assert passes(checks.check_seeds_for_half_width, 13)
    for wrong, hint in [(20, "t multiplier"), (10, "√2"), (15, "smallest n")]:
        with pytest.raises(checks.CheckFailed, match=hint):
            checks.check_seeds_for_half_width(wrong)


def test_confusion(passes):
    from course_lib.metrics import confusion_matrix
    assert passes(checks.check_confusion, lambda p, y, k: confusion_matrix(p, y, k))

    def loop(p, y, k):
        m = torch.zeros(k, k, dtype=torch.long)
        for t, q in zip(y.tolist(), p.tolist()):
            m[t, q] += 1
        return m

    assert passes(checks.check_confusion, loop)
    with pytest.raises(checks.CheckFailed, match="transposed"):
        checks.check_confusion(lambda p, y, k: loop(p, y, k).T)


def test_receptive_field(passes):
    def rf(layers):
        size, jump = 1, 1
        for k, s in layers:
            size, jump = size + (k - 1) * jump, jump * s
        return size

    assert passes(checks.check_receptive_field, rf)
    with pytest.raises(checks.CheckFailed, match="every stride were 1"):
        checks.check_receptive_field(lambda layers: rf([(k, 1) for k, _ in layers]))
    with pytest.raises(checks.CheckFailed, match="added the kernel sizes"):
        checks.check_receptive_field(lambda layers: sum(k for k, _ in layers) if len(layers) > 1 else 3)


def test_projection_params(passes):
    assert passes(checks.check_projection_params, 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64)
    with pytest.raises(checks.CheckFailed, match="BatchNorm"):
        checks.check_projection_params(16 * 32 + 32 * 64)
    with pytest.raises(checks.CheckFailed, match="two projections"):
        checks.check_projection_params(100)


def test_gradient_ratio_guess(passes, capsys):
    from course_lib.explorer import init_profile
    norms = init_profile(32, use_residual=False)["grad_norm"]
    actual = norms[0] / norms[-1]
    assert passes(checks.check_gradient_ratio_guess, actual * 3)
    with pytest.raises(checks.CheckFailed, match="factor of 10"):
        checks.check_gradient_ratio_guess(actual * 100)
    with pytest.raises(checks.CheckFailed, match="positive number"):
        checks.check_gradient_ratio_guess(-1)


# ----------------------------------------------------------------------------- notebook 09
def test_top5(passes):
    def good(logits, cats):
        p = logits.softmax(0)
        return [(cats[i], p[i].item()) for i in p.topk(5).indices.tolist()]

    assert passes(checks.check_top5, good)
    with pytest.raises(checks.CheckFailed, match="logits, not probabilities"):
        checks.check_top5(lambda logits, cats: [(cats[i], logits[i].item()) for i in logits.topk(5).indices.tolist()])
    with pytest.raises(checks.CheckFailed, match="highest first"):
        checks.check_top5(lambda logits, cats: good(logits, cats)[::-1])


def test_caffe_input(passes):
    from course_lib.assets import CAFFE_MEAN_BGR
    mean = torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)
    assert passes(checks.check_caffe_input, lambda rgb: rgb[[2, 1, 0]] * 255 - mean)
    with pytest.raises(checks.CheckFailed, match="RGB order"):
        checks.check_caffe_input(lambda rgb: rgb * 255 - mean)
    with pytest.raises(checks.CheckFailed, match="0-255 before"):
        checks.check_caffe_input(lambda rgb: rgb.flip(0) - mean)


def test_fold_bn(passes):
    def good(w, bn):
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        return w * scale.view(-1, 1, 1, 1), bn.bias - bn.running_mean * scale

    assert passes(checks.check_fold_bn, good)
    with pytest.raises(checks.CheckFailed, match="eps"):
        checks.check_fold_bn(lambda w, bn: (w * (bn.weight / bn.running_var.sqrt()).view(-1, 1, 1, 1),
                                            bn.bias - bn.running_mean * bn.weight / bn.running_var.sqrt()))
    with pytest.raises(checks.CheckFailed, match="scale each output filter"):
        checks.check_fold_bn(lambda w, bn: (w, bn.bias))


def test_a_forgotten_return_is_not_called_not_attempted(capsys):
    def forgot(n):
        counts = [1] * (n + 1)
        counts[0] = 1                     # does work, returns nothing

    with pytest.raises(checks.CheckFailed, match="forget `return`"):
        checks.check_path_counts(forgot)

    def stub(n):
        """Write me."""

    checks.check_path_counts(stub)
    assert "not attempted yet" in capsys.readouterr().out


def test_whole_numbers_of_other_types_are_accepted(passes):
    import numpy as np
    assert passes(checks.check_seeds_for_half_width, np.int64(13))
    assert passes(checks.check_seeds_for_half_width, 13.0)
    assert passes(checks.check_projection_params, np.int64(2752))
    with pytest.raises(checks.CheckFailed, match="whole number"):
        checks.check_seeds_for_half_width(13.5)


def test_paired_interval_accepts_float32_and_an_exact_t(passes):
    import statistics

    def exact_t(a, b):
        d = torch.tensor(a) - torch.tensor(b)               # float32
        half = 2.7764451 * d.std() / len(d) ** 0.5
        return d.mean(), d.mean() - half, d.mean() + half

    assert passes(checks.check_paired_interval, exact_t)
    del statistics


def test_fold_bn_wrong_shapes_get_a_message():
    with pytest.raises(checks.CheckFailed, match=r"\(6, 3, 3, 3\)"):
        checks.check_fold_bn(lambda w, bn: (w, bn.bias.view(6, 1, 1)))
