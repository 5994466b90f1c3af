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


# --- discovery exercises for 01-06 -------------------------------------------------------------

def _dirac_identity(block):
    with torch.no_grad():
        for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
            nn.init.dirac_(conv.weight)
            bn.weight.copy_((bn.running_var + bn.eps).sqrt())
            bn.bias.copy_(bn.running_mean)
    return block


def test_plain_identity(passes):
    assert passes(checks.check_plain_identity, _dirac_identity)

    def zeroed(block):
        with torch.no_grad():
            block.bn2.weight.zero_()
            block.bn2.bias.zero_()
        return block

    def dirac_only(block):
        with torch.no_grad():
            nn.init.dirac_(block.conv1.weight)
            nn.init.dirac_(block.conv2.weight)
            for bn in (block.bn1, block.bn2):
                bn.running_mean.zero_(); bn.running_var.fill_(4.0); bn.weight.fill_(1.0); bn.bias.zero_()
        return block

    with pytest.raises(checks.CheckFailed, match="skip still carries x"):
        checks.check_plain_identity(zeroed)
    with pytest.raises(checks.CheckFailed, match="× x"):
        checks.check_plain_identity(dirac_only)
    with pytest.raises(checks.CheckFailed, match="keep the block's layers"):
        def replaced(block):
            block.conv1 = nn.Identity()
            return block
        checks.check_plain_identity(replaced)
    with pytest.raises(checks.CheckFailed, match="same block"):
        checks.check_plain_identity(lambda block: nn.Identity())


def _typical(n, sigma, residual, trials=20_000):
    w = torch.randn(trials, n, dtype=torch.float64) * sigma
    f = 1 + w if residual else w
    return f.abs().prod(1).median().item()


def test_typical_gradient(passes, capsys):
    torch.manual_seed(1)
    assert passes(checks.check_typical_gradient, _typical)
    torch.manual_seed(1)
    checks.check_typical_gradient(_typical)
    assert "E[∏ w²] = 1 exactly" in capsys.readouterr().out

    def mean_not_median(n, sigma, residual):
        w = torch.randn(20_000, n, dtype=torch.float64) * sigma
        return (1 + w if residual else w).abs().prod(1).mean().item()

    with pytest.raises(checks.CheckFailed, match="median"):
        checks.check_typical_gradient(mean_not_median)
    with pytest.raises(checks.CheckFailed, match="root mean square"):
        checks.check_typical_gradient(lambda n, s, r: (1 + s * s) ** (n / 2) if r else s ** n)


def _race(use_residual, plain_lr=1e-2):
    torch.manual_seed(0)
    stack = nn.Sequential(*[ResBlock(8, 8, use_residual=use_residual) for _ in range(4)])
    opt = torch.optim.Adam(stack.parameters(), lr=1e-2 if use_residual else plain_lr)
    x = torch.relu(torch.randn(32, 8, 8, 8))
    losses = []
    for _ in range(150):
        loss = F.mse_loss(stack(x), x)
        opt.zero_grad(); loss.backward(); opt.step()
        losses.append(loss.item())
    return losses


def test_identity_race(passes, capsys):
    assert passes(checks.check_identity_race, _race)
    with pytest.raises(checks.CheckFailed, match="same losses"):
        checks.check_identity_race(lambda use_residual: _race(True))
    with pytest.raises(checks.CheckFailed, match="should fall"):
        checks.check_identity_race(lambda use_residual: [1.0] * 150)
    with pytest.raises(checks.CheckFailed, match="150 losses"):
        checks.check_identity_race(lambda use_residual: _race(use_residual)[:10])


def test_block_params(passes):
    def right(c_in, c_out, stride):
        n = 9 * c_in * c_out + 9 * c_out * c_out + 4 * c_out
        return n + (c_in * c_out + 2 * c_out if stride != 1 or c_in != c_out else 0)

    assert passes(checks.check_block_params, right)
    with pytest.raises(checks.CheckFailed, match="convolutions only"):
        checks.check_block_params(lambda i, o, s: 9 * i * o + 9 * o * o)
    with pytest.raises(checks.CheckFailed, match="buffers, not parameters"):
        checks.check_block_params(lambda i, o, s: right(i, o, s) + 4 * o + (2 * o if s != 1 or i != o else 0))
    with pytest.raises(checks.CheckFailed, match="no bias"):
        checks.check_block_params(lambda i, o, s: right(i, o, s) + 2 * o + (o if s != 1 or i != o else 0))
    with pytest.raises(checks.CheckFailed, match="1×1 convolution with its own BatchNorm"):
        checks.check_block_params(lambda i, o, s: 9 * i * o + 9 * o * o + 4 * o)


def test_option_a(passes):
    def right(x, c_out, stride):
        x = x[:, :, ::stride, ::stride]
        return F.pad(x, (0, 0, 0, 0, 0, c_out - x.shape[1]))

    def both_sides(x, c_out, stride):                    # the popular CIFAR code pads half before, half after
        x = x[:, :, ::stride, ::stride]
        extra = c_out - x.shape[1]
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))

    assert passes(checks.check_option_a, right)
    assert passes(checks.check_option_a, both_sides)
    with pytest.raises(checks.CheckFailed, match="averages"):
        checks.check_option_a(lambda x, c, s: F.pad(F.avg_pool2d(x, s, ceil_mode=True), (0, 0, 0, 0, 0, c - x.shape[1])))
    with pytest.raises(checks.CheckFailed, match="start at pixel 0"):
        checks.check_option_a(lambda x, c, s: F.pad(x[:, :, s - 1::s, s - 1::s], (0, 0, 0, 0, 0, c - x.shape[1])))
    with pytest.raises(checks.CheckFailed, match="Pad channels"):
        checks.check_option_a(lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 1, 0, 1, 0, c - x.shape[1])))


def test_stage_sizes(passes):
    def out(n, k, p, s):
        return (n - k + 2 * p) // s + 1

    def right(size, stem):
        n = out(out(size, 7, 3, 2), 3, 1, 2) if stem == "imagenet" else size
        sides = [n, n]
        for _ in range(3):
            sides.append(out(sides[-1], 3, 1, 2))
        return sides

    def no_pool(size, stem):
        n = out(size, 7, 3, 2) if stem == "imagenet" else size
        return [n, n, out(n, 3, 1, 2), out(out(n, 3, 1, 2), 3, 1, 2), out(out(out(n, 3, 1, 2), 3, 1, 2), 3, 1, 2)]

    assert passes(checks.check_stage_sizes, right)
    with pytest.raises(checks.CheckFailed, match="max-pool"):
        checks.check_stage_sizes(no_pool)
    with pytest.raises(checks.CheckFailed, match="layer1 has stride 1"):
        checks.check_stage_sizes(lambda size, stem: [right(size, stem)[0]] + [s // 2 for s in right(size, stem)[:4]])
    with pytest.raises(checks.CheckFailed, match="the sides are"):
        checks.check_stage_sizes(lambda size, stem: [s // 2 for s in right(size, stem)][:1] * 5)


class _TvNamedBottleneck(nn.Module):
    def __init__(self, c_in, width, stride, stride_in_1x1=False, relu_last=True):
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.relu_last = relu_last
        self.conv1, self.bn1 = nn.Conv2d(c_in, width, 1, s1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, s3, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, 4 * width, 1, bias=False), nn.BatchNorm2d(4 * width)
        self.downsample = None
        if stride != 1 or c_in != 4 * width:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, 4 * width, 1, stride, bias=False), nn.BatchNorm2d(4 * width))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y)) + (x if self.downsample is None else self.downsample(x))
        return F.relu(y) if self.relu_last else y


def test_bottleneck(passes):
    assert passes(checks.check_bottleneck, _TvNamedBottleneck)
    with pytest.raises(checks.CheckFailed, match="v1.5"):
        checks.check_bottleneck(lambda c, w, s: _TvNamedBottleneck(c, w, s, stride_in_1x1=True))
    with pytest.raises(checks.CheckFailed, match="after the addition"):
        checks.check_bottleneck(lambda c, w, s: _TvNamedBottleneck(c, w, s, relu_last=False))

    class NoProjection(_TvNamedBottleneck):
        def __init__(self, c, w, s):
            super().__init__(c, w, s)
            self.downsample = None

    with pytest.raises(checks.CheckFailed, match="needs a projection"):
        checks.check_bottleneck(NoProjection)

    class OtherNames(_TvNamedBottleneck):
        def __init__(self, c, w, s):
            super().__init__(c, w, s)
            self.shortcut, self.downsample = self.downsample, None

    with pytest.raises(checks.CheckFailed, match="name the layers as torchvision does"):
        checks.check_bottleneck(OtherNames)


def test_resnet_params(passes):
    assert passes(checks.check_resnet_params, checks._resnet_param_formula)
    with pytest.raises(checks.CheckFailed, match="γ and a β"):
        checks.check_resnet_params(lambda b, l: checks._resnet_param_formula(b, l, bn=False))
    with pytest.raises(checks.CheckFailed, match="layer1 needs a projection too"):
        checks.check_resnet_params(lambda b, l: checks._resnet_param_formula(b, l, layer1_proj=False))
    with pytest.raises(checks.CheckFailed, match="has a bias"):
        checks.check_resnet_params(lambda b, l: checks._resnet_param_formula(b, l, fc_bias=False))


def test_resnet_param_formula_matches_torchvision():
    import torchvision.models as tvm
    for block, layers in (("basic", [2, 1, 3, 1]), ("bottleneck", [2, 1, 1, 2])):
        cls = tvm.resnet.BasicBlock if block == "basic" else tvm.resnet.Bottleneck
        model = tvm.resnet.ResNet(cls, layers)
        assert checks._resnet_param_formula(block, layers) == sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def digits():
    from course_lib import load_mnist
    return load_mnist(512, 64, 64, size=16, seed=0)          # notebook 05's digits


def _first_losses(data, zero_init, record_after=False):
    from course_lib import cifar_resnet, seed_everything
    seed_everything(0)
    model = cifar_resnet(20, zero_init_residual=zero_init)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses, batches = [], iter(data.train.loader(64, shuffle=True, seed=0))
    for _ in range(30):
        try:
            xb, yb = next(batches)
        except StopIteration:
            batches = iter(data.train.loader(64, shuffle=True, seed=0))
            xb, yb = next(batches)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(); loss.backward(); opt.step()
        losses.append(F.cross_entropy(model(xb), yb).item() if record_after else loss.item())
    return losses


def test_zero_gamma(passes, digits):
    assert passes(checks.check_zero_gamma, lambda z: _first_losses(digits, z))
    with pytest.raises(checks.CheckFailed, match="same losses"):
        checks.check_zero_gamma(lambda z: _first_losses(digits, False))
    with pytest.raises(checks.CheckFailed, match="30 losses"):
        checks.check_zero_gamma(lambda z: _first_losses(digits, z)[:5])
    with pytest.raises(checks.CheckFailed, match="before its update"):
        checks.check_zero_gamma(lambda z: _first_losses(digits, z, record_after=True))


def _scale_test(c, leaf=True, train=True, invert=False):
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
    bn.train(train)
    if not train:
        bn.running_mean.uniform_(-1, 1)
    x, r = torch.randn(16, 3, 8, 8), torch.randn(16, 8, 8, 8)
    w = conv.weight.detach().clone().requires_grad_()
    out_w = bn(F.conv2d(x, w, padding=1))
    (g_w,) = torch.autograd.grad((out_w * r).sum(), w)
    if leaf:
        w_c = (c * conv.weight.detach()).requires_grad_()
        out_c = bn(F.conv2d(x, w_c, padding=1))
        (g_c,) = torch.autograd.grad((out_c * r).sum(), w_c)
    else:
        out_c = bn(F.conv2d(x, c * w, padding=1))
        (g_c,) = torch.autograd.grad((out_c * r).sum(), w)
    ratio = (g_c.norm() / g_w.norm()).item()
    return (out_c - out_w).abs().max().item(), 1 / ratio if invert else ratio


def test_scale_invariance(passes):
    assert passes(checks.check_scale_invariance, _scale_test)
    with pytest.raises(checks.CheckFailed, match="new leaf tensor"):
        checks.check_scale_invariance(lambda c: _scale_test(c, leaf=False))
    with pytest.raises(checks.CheckFailed, match="other way round"):
        checks.check_scale_invariance(lambda c: _scale_test(c, invert=True))
    with pytest.raises(checks.CheckFailed, match="train mode"):
        checks.check_scale_invariance(lambda c: _scale_test(c, train=False))
    with pytest.raises(checks.CheckFailed, match="fixed random tensor r"):
        checks.check_scale_invariance(lambda c: (0.0, 0.159))
    with pytest.raises(checks.CheckFailed, match="gradients are zero"):
        checks.check_scale_invariance(lambda c: (0.0, float("nan")))


def test_param_shares(passes, capsys):
    def shares(model):
        total = sum(p.numel() for p in model.parameters())
        return {n: sum(p.numel() for p in getattr(model, n).parameters()) / total
                for n in ("stem", "layer1", "layer2", "layer3", "layer4", "fc")}

    assert passes(checks.check_param_shares, shares)
    checks.check_param_shares(shares)
    out = capsys.readouterr().out
    assert "MACs at 224×224" in out and "layer4" in out
    with pytest.raises(checks.CheckFailed, match="fractions"):
        checks.check_param_shares(lambda m: {k: 100 * v for k, v in shares(m).items()})
    with pytest.raises(checks.CheckFailed, match="missing: fc"):
        checks.check_param_shares(lambda m: {k: v for k, v in shares(m).items() if k != "fc"})
    with pytest.raises(checks.CheckFailed, match="add up to 1"):
        checks.check_param_shares(lambda m: {**shares(m), "layer4": 0.5})


def _six_module_resnet18(stem_bias=False, stem_relu=True, layer3_stride=2):
    def stage(c_in, c_out, stride):
        return nn.Sequential(ResBlock(c_in, c_out, stride), ResBlock(c_out, c_out))
    stem = [nn.Conv2d(3, 64, 7, 2, 3, bias=stem_bias), nn.BatchNorm2d(64)] + ([nn.ReLU()] if stem_relu else [])
    return nn.Sequential(nn.Sequential(*stem, nn.MaxPool2d(3, 2, 1)), stage(64, 64, 1), stage(64, 128, 2),
                         stage(128, 256, layer3_stride), stage(256, 512, 2),
                         nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)))


def test_fixed_resnet18(passes):
    assert passes(checks.check_fixed_resnet18, _six_module_resnet18)
    with pytest.raises(checks.CheckFailed, match=r"\+64"):
        checks.check_fixed_resnet18(lambda: _six_module_resnet18(stem_bias=True))
    with pytest.raises(checks.CheckFailed, match=r"module \(4\) layer3: output shape"):
        checks.check_fixed_resnet18(lambda: _six_module_resnet18(layer3_stride=1))
    with pytest.raises(checks.CheckFailed, match=r"module \(1\) stem has the right shapes"):
        checks.check_fixed_resnet18(lambda: _six_module_resnet18(stem_relu=False))


def test_every_notebook_has_three_checked_exercises_solved_tested_and_a_questionnaire():
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    defined = {name for name in dir(checks) if name.startswith("check_")}
    tests = Path(__file__).read_text()
    solutions = json.loads((root / "notebooks" / "solutions.ipynb").read_text())
    solved = "".join("".join(c["source"]) for c in solutions["cells"] if c["cell_type"] == "code")
    for n in range(1, 11):
        (path,) = (root / "notebooks").glob(f"{n:02d}_*.ipynb")
        cells = json.loads(path.read_text())["cells"]
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        used = set(re.findall(r"\b(check_\w+)\(", code)) & defined
        assert len(used) >= 3, (path.name, used)
        for name in used:
            assert f"checks.{name}(" in solved, f"{name} has no solution in solutions.ipynb"
            assert f"checks.{name}," in tests or f"checks.{name}(" in tests, f"{name} has no test"
        questions = ["".join(c["source"]).split("## Questions", 1)[1] for c in cells
                     if c["cell_type"] == "markdown" and "## Questions" in "".join(c["source"])]
        assert questions and len(re.findall(r"^\d+\. ", questions[0], re.M)) >= 5, path.name


def test_review_fixes(passes):
    class DoubleRelu(ResBlock):
        def forward(self, x):
            y = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
            return F.relu(y + self.shortcut(x))

    with pytest.raises(checks.CheckFailed, match="no ReLU after bn2"):
        checks.check_resblock(DoubleRelu)
    with pytest.raises(checks.CheckFailed, match="shape is kept|1×1 convolution"):
        checks.check_block_params(lambda i, o, s: 9 * i * o + 9 * o * o + 4 * o + (i * o + 2 * o if s != 1 else 0))
    zeros_first = lambda x, c, s: torch.cat([torch.zeros(x.shape[0], c - x.shape[1], *x[:, :, ::s, ::s].shape[2:]),
                                             x[:, :, ::s, ::s]], 1)
    assert passes(checks.check_option_a, zeros_first)
    assert passes(checks.check_batchnorm, lambda x, eps: ((x - x.mean((0, 2, 3), keepdim=True)) /
                                                        (x.var((0, 2, 3), keepdim=True, unbiased=False) + eps).sqrt()).numpy())
    with pytest.raises(checks.CheckFailed):
        checks.check_batchnorm(lambda x, eps: (x - x.mean((0, 2, 3), keepdim=True)) /
                               (x.std((0, 2, 3), keepdim=True, unbiased=False) + eps))

    def two_blocks(i, o, n, s):
        return nn.Sequential(ResBlock(i, o, s), ResBlock(o, o))

    with pytest.raises(checks.CheckFailed, match="num_blocks=3"):
        checks.check_stage(two_blocks)
    with pytest.raises(checks.CheckFailed, match="only the first block"):
        checks.check_stage(lambda i, o, n, s: nn.Sequential(ResBlock(i, o, s), *[ResBlock(o, o, s) for _ in range(n - 1)]))


def test_second_review_hints():
    with pytest.raises(checks.CheckFailed, match="1 \\+ 1/c"):
        checks.check_scale_invariance(lambda c: (0.0, 1 + 1 / c))
    with pytest.raises(checks.CheckFailed, match="divide each part's count"):
        checks.check_param_shares(lambda m: {n: sum(p.numel() for p in getattr(m, n).parameters())
                                             for n in ("stem", "layer1", "layer2", "layer3", "layer4", "fc")})

    def state_dict_shares(m):
        parts = ("stem", "layer1", "layer2", "layer3", "layer4", "fc")
        counts = {n: sum(t.numel() for t in getattr(m, n).state_dict().values()) for n in parts}
        return {n: v / sum(counts.values()) for n, v in counts.items()}

    with pytest.raises(checks.CheckFailed, match="buffers"):
        checks.check_param_shares(state_dict_shares)
    with pytest.raises(checks.CheckFailed, match="buffers"):
        checks.check_resnet_params(lambda b, l: checks._resnet_param_formula(b, l) + (checks._resnet_param_formula(b, l)
                                   - checks._resnet_param_formula(b, l, bn=False)))

    class NoProjectionBN(_TvNamedBottleneck):
        def __init__(self, c, w, s):
            super().__init__(c, w, s)
            if self.downsample is not None:
                self.downsample = nn.Sequential(self.downsample[0])

    with pytest.raises(checks.CheckFailed, match="and\\* a BatchNorm"):
        checks.check_bottleneck(NoProjectionBN)
    with pytest.raises(checks.CheckFailed, match="off by a factor") as err:
        checks.check_typical_gradient(lambda n, s, r: 1e-3 if not r else _typical(n, s, r))
    assert "3.9e-06" not in str(err.value) and "e-06" not in str(err.value)
