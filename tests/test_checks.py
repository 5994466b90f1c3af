"""The exercise checks: every check passes correct answers written in other styles than the solution
and answers each typical wrong answer with its own hint; hints are short, well formed and never hold
the solution; answers that only look right (odd types, patched modules, fabricated losses) are refused."""

import functools
import json
import math
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import checks
from course_lib.checks import nb02, nb05
from course_lib.models import ResBlock, ZeroPadShortcut, conv3x3

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def passes(capsys):
    def run(check, answer):
        check(answer)
        return capsys.readouterr().out.strip().endswith("passed")
    return run


# ================================================================ answers, one section per notebook
# CORRECT[check]: answers written differently from notebooks/solutions.ipynb (other styles, float32,
# NumPy, loops instead of vectorised code, other valid conventions).
# WRONG[check]: (a typical wrong answer, a pattern of the hint it must get); each hint is its own.

# ---------------------------------------------------------------- 01
def _chain_autograd(w, n, residual):                      # measured with autograd, in float32: a 0-d tensor
    x = torch.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y + w * y if residual else w * y
    y.backward()
    return x.grad


def _typical(n, sigma, residual, trials=20_000):
    w = torch.randn(trials, n, dtype=torch.float64) * sigma
    return (1 + w if residual else w).abs().prod(1).median().item()


def _typical_numpy_logs(n, sigma, residual):             # NumPy, float32, in logarithms
    w = np.random.default_rng(3).standard_normal((30_000, n)).astype(np.float32) * sigma
    return np.exp(np.median(np.log(np.abs(1 + w if residual else w)).sum(1)))


def _dirac_identity(block):
    with torch.no_grad():
        for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
            nn.init.dirac_(conv.weight)
            bn.weight.copy_((bn.running_var + bn.eps).sqrt())
            bn.bias.copy_(bn.running_mean)
    return block


def _loop_identity(block):                                 # centre taps set one by one; BN reset to neutral
    with torch.no_grad():
        for conv in (block.conv1, block.conv2):
            conv.weight.zero_()
            for i in range(conv.weight.shape[0]):
                conv.weight[i, i, 1, 1] = 1.0
        for bn in (block.bn1, block.bn2):
            bn.weight.copy_(torch.sqrt(bn.running_var + bn.eps))
            bn.bias.copy_(bn.running_mean.clone())
    return block


def _identity_with(eps=True, zero_bn=False, no_bn=False):
    def make(block):
        with torch.no_grad():
            if zero_bn:
                block.bn2.weight.zero_(); block.bn2.bias.zero_()
                return block
            for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
                nn.init.dirac_(conv.weight)
                if not no_bn:
                    bn.weight.copy_((bn.running_var + (bn.eps if eps else 0)).sqrt())
                    bn.bias.copy_(bn.running_mean)
        return block
    return make


def _forward_replaced(block):
    block.forward = lambda x: x
    return block


def _hooked(block):
    block.register_forward_hook(lambda m, i, o: i[0])
    return block


def _layers_replaced(block):
    block.conv1 = nn.Identity()
    return block


# ---------------------------------------------------------------- 02
def _block(kind):
    class Block(ResBlock):
        def forward(self, x):
            h = self.bn1(self.conv1(x))
            h = h if kind == "no middle relu" else F.relu(h)
            f = self.bn2(self.conv2(h)) if kind != "no bn2" else self.conv2(h)
            s = self.shortcut(x) if kind != "no projection" else x
            if kind == "no skip":
                return F.relu(f)
            if kind == "relu before add":
                return F.relu(f) + s
            if kind == "double relu":
                return F.relu(F.relu(f) + s)
            if kind == "no final relu":
                return f + s
            if kind == "no projection" and s.shape != f.shape:
                return F.relu(f)
            return F.relu(f + s)
    return Block


class _ResBlockInPlace(ResBlock):                         # the same block, with in-place operations
    def forward(self, x):
        out = self.conv1(x)
        out = self.bn1(out).relu_()
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return out.clamp_(min=0)


def _block_params_loop(c_in, c_out, stride):              # counting layer by layer, as numpy ints
    layers = [(3, c_in, c_out), (3, c_out, c_out)]
    if stride != 1 or c_in != c_out:
        layers.append((1, c_in, c_out))
    return np.int64(sum(k * k * i * o + 2 * o for k, i, o in layers))


@functools.lru_cache(maxsize=None)
def _race(use_residual, **kwargs):
    return tuple(nb02.identity_race(use_residual, **kwargs))


def _race_own_style(use_residual):                         # nn.MSELoss, set_to_none, a tensor of losses
    torch.manual_seed(0)
    stack = nn.Sequential(*(ResBlock(8, 8, use_residual=use_residual) for _ in range(4)))
    stack.train()
    x = torch.randn(32, 8, 8, 8).relu()
    opt = torch.optim.Adam(stack.parameters(), lr=0.01)
    loss_fn, out = nn.MSELoss(), torch.empty(150)
    for step in range(150):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(stack(x), x)
        loss.backward()
        opt.step()
        out[step] = loss.detach()
    return out


# ---------------------------------------------------------------- 03
def _out(n, k, p, s):
    return (n - k + 2 * p) // s + 1


def _stage_sizes(size, stem, out=_out):
    n = out(out(size, 7, 3, 2), 3, 1, 2) if stem == "imagenet" else size
    sides = [n, n]
    for _ in range(3):
        sides.append(out(sides[-1], 3, 1, 2))
    return sides


def _stage_sizes_no_pool(size, stem):
    n = _out(size, 7, 3, 2) if stem == "imagenet" else size
    sides = [n, n]
    for _ in range(3):
        sides.append(_out(sides[-1], 3, 1, 2))
    return sides


def _stage_sizes_measured(size, stem):                     # measured with real layers, as numpy ints
    h = torch.zeros(1, 1, size, size)
    if stem == "imagenet":
        h = nn.MaxPool2d(3, 2, 1)(nn.Conv2d(1, 1, 7, 2, 3)(h))
    sides = [h.shape[-1]] * 2
    for _ in range(3):
        h = nn.Conv2d(1, 1, 3, 2, 1)(h)
        sides.append(h.shape[-1])
    return np.array(sides)


def _option_a_cat(x, c_out, stride):                       # torch.cat, zeros first, returned as float64
    sub = x[:, :, ::stride, ::stride]
    zeros = torch.zeros(sub.shape[0], c_out - sub.shape[1], *sub.shape[2:])
    return torch.cat([zeros, sub], dim=1).double()


# ---------------------------------------------------------------- 04
class _TvNamedBottleneck(nn.Module):
    def __init__(self, c_in, width, stride, stride_in_1x1=False, relu_last=True, bias=False):
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.relu_last = relu_last
        self.conv1, self.bn1 = nn.Conv2d(c_in, width, 1, s1, bias=bias), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, s3, 1, bias=bias), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, 4 * width, 1, bias=bias), nn.BatchNorm2d(4 * width)
        self.downsample = None
        if stride != 1 or c_in != 4 * width:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, 4 * width, 1, stride, bias=False), nn.BatchNorm2d(4 * width))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y)) + (x if self.downsample is None else self.downsample(x))
        return F.relu(y) if self.relu_last else y


class _SequentialBottleneck(_TvNamedBottleneck):           # the same block, written with nn.ReLU modules
    def __init__(self, c_in, width, stride=1):
        super().__init__(c_in, width, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class _NoProjection(_TvNamedBottleneck):
    def __init__(self, c, w, s):
        super().__init__(c, w, s)
        self.downsample = None


class _OtherNames(_TvNamedBottleneck):
    def __init__(self, c, w, s):
        super().__init__(c, w, s)
        self.shortcut, self.downsample = self.downsample, None


class _NoProjectionBN(_TvNamedBottleneck):
    def __init__(self, c, w, s):
        super().__init__(c, w, s)
        if self.downsample is not None:
            self.downsample = nn.Sequential(self.downsample[0])


def _resnet_params_by_model(block, layers):                 # counted on torchvision's model, as a 0-d tensor
    import torchvision.models as tvm
    cls = tvm.resnet.BasicBlock if block == "basic" else tvm.resnet.Bottleneck
    return torch.tensor(sum(p.numel() for p in tvm.resnet.ResNet(cls, layers).parameters()))


def _formula(**kwargs):
    return lambda b, l: checks._resnet_param_formula(b, l, **kwargs)


# ---------------------------------------------------------------- 05
def _bn(dims=(0, 2, 3), unbiased=False, std_eps=False, use_eps=True):
    def norm(x, eps):
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
        eps = eps if use_eps else 0.0
        return (x - mean) / ((var.sqrt() + eps) if std_eps else (var + eps).sqrt())
    return norm


def _bn_numpy_float64(x, eps):
    a = x.double().numpy()
    mean = a.mean(axis=(0, 2, 3), keepdims=True)
    return (a - mean) / np.sqrt(((a - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True) + eps)


def _scale_test(c, leaf=True, train=True, invert=False, dtype=torch.float32):
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 8, 3, padding=1, bias=False).to(dtype), nn.BatchNorm2d(8).to(dtype)
    bn.train(train)
    if not train:
        bn.running_mean.uniform_(-1, 1)
    x, r = torch.randn(16, 3, 8, 8, dtype=dtype), torch.randn(16, 8, 8, 8, dtype=dtype)
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
    ratio = g_c.norm() / g_w.norm()
    return np.array([(out_c - out_w).abs().max().item(), (1 / ratio if invert else ratio).item()])


def _scale_test_accumulated(c):                              # .backward() twice into the same .grad
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
    x, r = torch.randn(16, 3, 8, 8), torch.randn(16, 8, 8, 8)
    w = conv.weight.detach().clone().requires_grad_()
    out_w = bn(F.conv2d(x, w, padding=1))
    (out_w * r).sum().backward()
    g_w = w.grad.clone()
    w_c = w.detach().mul(c).requires_grad_()
    w_c.grad = w.grad                                       # the second backward adds to the first one's gradient
    out_c = bn(F.conv2d(x, w_c, padding=1))
    (out_c * r).sum().backward()
    return (out_c - out_w).abs().max().item(), (w_c.grad.norm() / g_w.norm()).item()


@functools.lru_cache(maxsize=None)
def _gamma(zero_init, **kwargs):
    return tuple(nb05.zero_gamma_losses(zero_init, **kwargs))


def _gamma_runner(zero_init):                               # the course's Runner, as the notebook compares
    from course_lib import Accuracy, Runner, cifar_resnet, load_mnist, seed_everything
    data = load_mnist(512, 64, 64, size=16, seed=0)
    seed_everything(0)
    model = cifar_resnet(20, zero_init_residual=zero_init)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), nn.CrossEntropyLoss(),
                    Accuracy(), device="cpu")
    history = runner.train(data.train.loader(64, shuffle=True, seed=0), num_epochs=8, max_steps=30, progress=False)
    return history["train_loss"]


# ---------------------------------------------------------------- 06
def _stage_loop(c_in, c_out, n, stride):
    stage = nn.Sequential()
    for i in range(n):
        stage.add_module(f"block{i}", ResBlock(c_in if i == 0 else c_out, c_out, stride if i == 0 else 1))
    return stage


def _shares(model, parts=("stem", "layer1", "layer2", "layer3", "layer4", "fc")):
    total = sum(p.numel() for p in model.parameters())
    return {n: sum(p.numel() for p in getattr(model, n).parameters()) / total for n in parts}


def _shares_numpy(model):                                   # named_parameters, grouped by prefix, NumPy floats
    counts = {}
    for name, p in model.named_parameters():
        counts[name.split(".")[0]] = counts.get(name.split(".")[0], 0) + p.numel()
    total = np.float32(sum(counts.values()))
    return {k: np.float32(v) / total for k, v in counts.items()}


def _state_dict_shares(m):
    parts = ("stem", "layer1", "layer2", "layer3", "layer4", "fc")
    counts = {n: sum(t.numel() for t in getattr(m, n).state_dict().values()) for n in parts}
    return {n: v / sum(counts.values()) for n, v in counts.items()}


def _six_module_resnet18(stem_bias=False, stem_relu=True, layer3_stride=2, head_out=1000):
    def stage(c_in, c_out, stride):
        return nn.Sequential(ResBlock(c_in, c_out, stride), ResBlock(c_out, c_out))
    stem = [nn.Conv2d(3, 64, 7, 2, 3, bias=stem_bias), nn.BatchNorm2d(64)] + ([nn.ReLU()] if stem_relu else [])
    return nn.Sequential(nn.Sequential(*stem, nn.MaxPool2d(3, 2, 1)), stage(64, 64, 1), stage(64, 128, 2),
                         stage(128, 256, layer3_stride), stage(256, 512, 2),
                         nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, head_out)))


def _torchvision_children():                                 # torchvision's own layers regrouped
    import torchvision
    m = torchvision.models.resnet18()
    return nn.Sequential(nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool), m.layer1, m.layer2, m.layer3, m.layer4,
                         nn.Sequential(m.avgpool, nn.Flatten(), m.fc))


# ---------------------------------------------------------------- 07
def _interval(a, b, t=None, sd=statistics.stdev, n_div=True):
    from course_lib.stats import t_quantile_975
    d = [x - y for x, y in zip(a, b)]
    m = statistics.fmean(d)
    half = (t or t_quantile_975(len(d) - 1)) * sd(d) / (len(d) ** 0.5 if n_div else 1)
    return m, m - half, m + half


def _interval_float32(a, b):                                 # torch float32, exact t from the table
    from course_lib.stats import t_quantile_975
    d = torch.tensor(a) - torch.tensor(b)
    half = t_quantile_975(len(d) - 1) * d.std() / len(d) ** 0.5
    return torch.stack([d.mean(), d.mean() - half, d.mean() + half])


def _interval_own_t(a, b):
    from course_lib.stats import t_quantile_975
    return _interval(a, b, t=t_quantile_975(len(a)))


def _unpaired(a, b):
    from course_lib.stats import t_quantile_975
    m = statistics.fmean(a) - statistics.fmean(b)
    half = t_quantile_975(len(a) - 1) * (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
    return m, m - half, m + half


def _confusion_loop(m):                                      # 07.3 (issue 28): error rates, row by row in Python
    rows = m.tolist()
    return [(sum(row) - row[i]) / sum(row) if sum(row) else math.nan for i, row in enumerate(rows)]


def _confusion_numpy(m):                                     # NumPy, float64
    m = m.numpy().astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - np.diag(m) / m.sum(axis=1)


# ---------------------------------------------------------------- 08
def _measured_ratio():
    return checks.nb08.gradient_ratio(0)


def _rf(layers, use_strides=True):
    size, jump = 1, 1
    for k, s in layers:
        size, jump = size + (k - 1) * jump, jump * (s if use_strides else 1)
    return size


def _rf_backwards(layers):                                   # from the output back to the input
    r = 1
    for k, s in reversed(layers):
        r = s * (r - 1) + k
    return np.int64(r)


def _rf_own_stride(layers):
    return 1 + sum((k - 1) * math.prod(s for _, s in layers[: i + 1]) for i, (k, _) in enumerate(layers))


# ---------------------------------------------------------------- 09
def _top5_sorted(logits, cats):                              # sorting in plain Python, NumPy probabilities
    p = torch.softmax(logits.double(), dim=0).numpy()
    order = sorted(range(len(p)), key=lambda i: -p[i])[:5]
    return [(cats[i], p[i]) for i in order]


def _top5_tensors(logits, cats):                             # 0-d tensors as probabilities, a tuple of pairs
    p = F.softmax(logits, dim=-1)
    idx = torch.argsort(p, descending=True)[:5]
    return tuple((cats[int(i)], p[i]) for i in idx)


def _top5_from(values_fn, order=slice(None)):
    def top5(logits, cats):
        v = values_fn(logits)
        idx = torch.argsort(logits, descending=True)[:5].tolist()
        return [(cats[i], v[i].item()) for i in idx][order]
    return top5


def _from_tv(x):                                             # 09.2: torchvision's input back to RGB in [0, 1]
    from course_lib.assets import IMAGENET_MEAN, IMAGENET_STD
    return x * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)


def _caffe_mean():
    from course_lib.assets import CAFFE_MEAN_BGR
    return torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)


def _fold_numpy_float64(w, bn):                              # NumPy, float64
    g, b = bn.weight.detach().double().numpy(), bn.bias.detach().double().numpy()
    m, v = bn.running_mean.double().numpy(), bn.running_var.double().numpy()
    scale = g / np.sqrt(v + bn.eps)
    return w.double().numpy() * scale[:, None, None, None], b - m * scale


def _fold_loop(w, bn):                                       # channel by channel, float64 tensors
    weight, bias = torch.empty_like(w, dtype=torch.float64), torch.empty(w.shape[0], dtype=torch.float64)
    for c in range(w.shape[0]):
        s = bn.weight[c].item() / math.sqrt(bn.running_var[c].item() + bn.eps)
        weight[c] = w[c].double() * s
        bias[c] = bn.bias[c].item() - bn.running_mean[c].item() * s
    return weight, bias


def _fold(var_fn, bias=True, weight=True):
    def fold(w, bn):
        scale = bn.weight / var_fn(bn)
        return (w * scale.view(-1, 1, 1, 1) if weight else w), (bn.bias - bn.running_mean * scale if bias else bn.bias)
    return fold


_EPS_VAR = lambda bn: (bn.running_var + bn.eps).sqrt()          # noqa: E731


# ---------------------------------------------------------------- 10
def _paths_recursive(n):                                      # Pascal's triangle, a tensor
    row = [1]
    for _ in range(n):
        row = [a + b for a, b in zip([0] + row, row + [0])]
    return torch.tensor(row)


def _paths_enumerated(n):                                     # count all 2^n paths, NumPy
    import itertools
    counts = np.zeros(n + 1, dtype=np.int64)
    for path in itertools.product((0, 1), repeat=n):
        counts[sum(path)] += 1
    return counts


def _filter_norm_linalg(d, w):                                # vectorised with torch.linalg.vector_norm
    dims = tuple(range(1, d.ndim))
    return d * (torch.linalg.vector_norm(w, dim=dims, keepdim=True) / torch.linalg.vector_norm(d, dim=dims, keepdim=True))


def _filter_norm_numpy64(d, w):                               # NumPy, float64
    d, w = d.double().numpy(), w.double().numpy()
    nd = np.sqrt((d ** 2).reshape(len(d), -1).sum(1)).reshape(-1, *[1] * (d.ndim - 1))
    nw = np.sqrt((w ** 2).reshape(len(w), -1).sum(1)).reshape(-1, *[1] * (w.ndim - 1))
    return d / nd * nw


def _preact(relu_after_add=False, bn_after_conv=False, short_from_a=False, no_short=False, pad_front=False):
    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.bn1 = nn.BatchNorm2d(c_out if bn_after_conv else c_in)
            self.conv1 = conv3x3(c_in, c_out, stride)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.conv2 = conv3x3(c_out, c_out)
            self.c_in, self.c_out, self.stride = c_in, c_out, stride

        def short(self, h):
            if (self.stride, self.c_in) == (1, self.c_out):
                return h
            h = h[:, :, ::self.stride, ::self.stride]
            pad = (0, 0, 0, 0, self.c_out - self.c_in, 0) if pad_front else (0, 0, 0, 0, 0, self.c_out - self.c_in)
            return F.pad(h, pad)

        def forward(self, x):
            if bn_after_conv:
                y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
                a = x
            else:
                a = F.relu(self.bn1(x))
                y = self.conv2(F.relu(self.bn2(self.conv1(a))))
            if not no_short:
                y = y + self.short(a if short_from_a else x)
            return F.relu(y) if relu_after_add else y
    return Block


class _PreActModules(nn.Module):                              # nn.Sequential branches and the course's shortcut
    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), conv3x3(c_in, c_out, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), conv3x3(c_out, c_out)
        self.shortcut = ZeroPadShortcut(c_in, c_out, stride) if (stride, c_in) != (1, c_out) else nn.Identity()

    def forward(self, x):
        branch = nn.Sequential(self.bn1, nn.ReLU(), self.conv1, self.bn2, nn.ReLU(), self.conv2)
        return branch(x) + self.shortcut(x)


# ================================================================ the table
CORRECT = {
    "check_chain_gradient": [lambda w, n, r: np.float32(1 + w) ** n if r else np.float32(w) ** n, _chain_autograd,
                             lambda w, n, r: math.exp(n * math.log(abs(1 + w if r else w))) * (1 if (w if not r else 1 + w) > 0 or n % 2 == 0 else -1)],
    "check_typical_gradient": [_typical_numpy_logs, lambda n, s, r: torch.tensor(_typical(n, s, r), dtype=torch.float32)],
    "check_plain_identity": [_loop_identity, _identity_with()],
    "check_resblock": [_ResBlockInPlace, _block("right")],
    "check_block_params": [_block_params_loop, lambda i, o, s: float(sum(p.numel() for p in ResBlock(i, o, s).parameters()))],
    "check_identity_race": [_race_own_style, lambda r: np.array(_race(r), dtype=np.float32)],
    "check_output_size": [lambda n, k, p, s: math.floor((n + 2 * p - k) / s) + 1,
                          lambda n, k, p, s: nn.Conv2d(1, 1, k, s, p)(torch.zeros(1, 1, n, n)).shape[-1],
                          lambda n, k, p, s: np.int64(len(range(0, n + 2 * p - k + 1, s)))],
    "check_stage_sizes": [_stage_sizes_measured, lambda size, stem: tuple(float(v) for v in _stage_sizes(size, stem))],
    "check_option_a": [_option_a_cat, lambda x, c, s: torch.cat([x[..., ::s, ::s], x.new_zeros(x.shape[0], c - x.shape[1],
                                                                  *x[..., ::s, ::s].shape[2:])], 1)],
    "check_param_count": [lambda b, c, w: np.int64(9 * c * w + 9 * w * w) if b == "basic" else np.int64(c * w + 9 * w * w + 4 * w * w),
                          lambda b, c, w: sum(m.weight.numel() for m in (nn.Conv2d(c, w, 3), nn.Conv2d(w, w, 3)))
                          if b == "basic" else sum(m.weight.numel() for m in (nn.Conv2d(c, w, 1), nn.Conv2d(w, w, 3),
                                                                              nn.Conv2d(w, 4 * w, 1)))],
    "check_bottleneck": [_SequentialBottleneck, _TvNamedBottleneck],
    "check_resnet_params": [_resnet_params_by_model, _formula()],
    "check_batchnorm": [_bn_numpy_float64, lambda x, eps: F.batch_norm(x, None, None, training=True, eps=eps)],
    "check_scale_invariance": [_scale_test, lambda c: tuple(torch.tensor(v) for v in _scale_test(c, dtype=torch.float64))],
    "check_zero_gamma": [_gamma_runner, lambda z: torch.tensor(_gamma(z))],
    "check_stage": [_stage_loop, lambda i, o, n, s: nn.Sequential(*[ResBlock(i if b == 0 else o, o, s if b == 0 else 1)
                                                                    for b in range(n)])],
    "check_param_shares": [_shares_numpy, lambda m: {k: torch.tensor(v) for k, v in _shares(m).items()}],
    "check_fixed_resnet18": [_torchvision_children, _six_module_resnet18],
    "check_paired_interval": [_interval_float32, lambda a, b: np.array(_interval(a, b))],
    "check_seeds_for_half_width": [np.int64(13), torch.tensor(13)],
    "check_confusion": [_confusion_loop, _confusion_numpy],
    "check_gradient_ratio_guess": [lambda: np.float32(_measured_ratio() * 3), lambda: torch.tensor(_measured_ratio() / 5),
                                   lambda: np.int64(round(_measured_ratio())), lambda: torch.tensor(float(round(_measured_ratio())))],
    "check_projection_params": [np.int64(2752), torch.tensor(2752.0)],
    "check_receptive_field": [_rf_backwards, lambda layers: float(_rf(layers))],
    "check_top5": [_top5_sorted, _top5_tensors],
    "check_caffe_input": [lambda x: (_from_tv(x)[[2, 1, 0]] * 255 - _caffe_mean()).numpy(),
                          lambda x: torch.stack([(x[2] * 0.225 + 0.406) * 255 - 103.939, (x[1] * 0.224 + 0.456) * 255 - 116.779,
                                                 (x[0] * 0.229 + 0.485) * 255 - 123.68]).double()],
    "check_fold_bn": [_fold_numpy_float64, _fold_loop],
    "check_path_counts": [_paths_recursive, _paths_enumerated],
    "check_filter_normalize": [_filter_norm_linalg, _filter_norm_numpy64],
    "check_preact_block": [_PreActModules, _preact()],
}

# Answers that are values, not functions, are given as zero-argument lambdas when they must be measured.
VALUE_CHECKS = {"check_seeds_for_half_width", "check_gradient_ratio_guess", "check_projection_params"}

WRONG = {
    "check_chain_gradient": [(lambda w, n, r: w ** n, "the other chain"),
                             (lambda w, n, r: n * (1 + w) if r else n * w, "added the n per-layer factors"),
                             (lambda w, n, r: 1 + w ** n if r else w ** n, "skip once, around the whole stack"),
                             (lambda w, n, r: (1 + w) ** (n - 1) if r else w ** (n - 1), "one factor too many or too few")],
    "check_typical_gradient": [(lambda n, s, r: (1 + s * s) ** (n / 2) if r else s ** n, "root mean square"),
                               (lambda n, s, r: torch.randn(20_000, n, dtype=torch.float64).mul(s).add(1 if r else 0)
                                .abs().prod(1).mean().item(), "mean of"),
                               (lambda n, s, r: (torch.randn(20_000, 1, dtype=torch.float64).mul(s).add(1 if r else 0)
                                                 .abs() ** n).median().item(), "share one w"),
                               (lambda n, s, r: 1e-3 if not r else _typical(n, s, r), "off by a factor")],
    "check_plain_identity": [(_identity_with(zero_bn=True), "outputs zeros"),
                             (_identity_with(eps=False), "if BatchNorm had no eps"),
                             (_identity_with(no_bn=True), "Each BN must give back its input"),
                             (_forward_replaced, "replaced the computation of block"),
                             (_hooked, "replaced the computation of block"),
                             (_layers_replaced, "Keep the block's layers"),
                             (lambda block: nn.Identity(), "return that same block")],
    "check_resblock": [(_block("no skip"), "never added back"),
                       (_block("no bn2"), "never uses bn2"),
                       (_block("relu before add"), "before the addition"),
                       (_block("double relu"), "another after the addition"),
                       (_block("no middle relu"), "between the two convolutions"),
                       (_block("no final relu"), "after the addition is missing"),
                       (_block("no projection"), "never calls self.shortcut")],
    "check_block_params": [(lambda i, o, s: 9 * i * o + 9 * o * o, "convolutions only"),
                           (lambda i, o, s: 9 * i * o + 9 * o * o + 8 * o + (i * o + 4 * o if s != 1 or i != o else 0),
                            "buffers, not parameters"),
                           (lambda i, o, s: 9 * i * o + 9 * o * o + 6 * o + (i * o + 3 * o if s != 1 or i != o else 0),
                            "gave the convolutions a bias"),
                           (lambda i, o, s: 9 * i * o + 9 * o * o + 4 * o, "1×1 convolution with its own BatchNorm"),
                           (lambda i, o, s: 9 * i * o + 9 * o * o + 4 * o + (i * o + 2 * o if s != 1 else 0),
                            "shape changes here|1×1 convolution"),
                           (lambda i, o, s: 18 * i * o + 4 * o + (i * o + 2 * o if s != 1 or i != o else 0),
                            "second convolution takes in_channels")],
    "check_identity_race": [(lambda r: _race(True), "same losses"),
                            (lambda r: _race(r, lr=1e-3), "with lr 1e-3"),
                            (lambda r: _race(r, pre_relu_target=True), "before the ReLU"),
                            (lambda r: _race(r, x_first=True), "x drawn before the stack"),
                            (lambda r: [(1.0 if r else 0.9) - i / 200 for i in range(150)], "not those of a run"),
                            (lambda r: _race(r)[:10], "150 losses"),
                            (lambda r: list(_race(r)[:140]) + [1e-6] * 10, "your last")],
    "check_output_size": [(lambda n, k, p, s: (n - k + 2 * p) / s + 1, "round down"),
                          (lambda n, k, p, s: (n - k + 2 * p) // s, "one short"),
                          (lambda n, k, p, s: (n - k + p) // s + 1, "one side only"),
                          (lambda n, k, p, s: math.ceil((n - k + 2 * p) / s) + 1, "rounded up"),
                          (lambda n, k, p, s: n - k + 2 * p + 1, "ignore the stride"),
                          (lambda n, k, p, s: "56", "Answer with")],
    "check_stage_sizes": [(lambda size, stem: _stage_sizes_no_pool(size, stem), "max-pool"),
                          (lambda size, stem: [_stage_sizes(size, stem)[0]] + [s // 2 for s in _stage_sizes(size, stem)[:4]],
                           "layer1 has stride 1"),
                          (lambda size, stem: [size // 4, size // 4, size // 8, size // 16, size // 32]
                           if stem == "imagenet" else [size, size, size // 2, size // 4, size // 8], "halving with // 2"),
                          (lambda size, stem: _stage_sizes(size, "imagenet"), "CIFAR stem")],
    "check_option_a": [(lambda x, c, s: F.pad(F.avg_pool2d(x, s, ceil_mode=True), (0, 0, 0, 0, 0, c - x.shape[1])), "averages"),
                       (lambda x, c, s: F.pad(x[:, :, s - 1::s, s - 1::s], (0, 0, 0, 0, 0, c - x.shape[1])), "pixels 1, 3, 5"),
                       (lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 1, 0, 1, 0, c - x.shape[1])), "Pad channels only"),
                       (lambda x, c, s: x[:, :, ::s, ::s], "still"),
                       (lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, 0, c - x.shape[1]), value=1.0), "not zeros")],
    "check_param_count": [(lambda b, c, w: 18 * c * w if b == "basic" else c * w + 9 * w * w + w * c // 4, "expands to 4·width"),
                          (lambda b, c, w: 9 * c * w if b == "basic" else c * w + 9 * w * w + 4 * w * w, "one 3×3 convolution"),
                          (lambda b, c, w: 18 * c * w if b == "basic" else c * w + w * w + 4 * w * w, "middle convolution"),
                          (lambda b, c, w: 6 * c * w if b == "basic" else c * w + 3 * w * w + 4 * w * w, "3 weights per"),
                          (lambda b, c, w: 7, "the block has")],
    "check_bottleneck": [(lambda c, w, s: _TvNamedBottleneck(c, w, s, stride_in_1x1=True), "v1.5"),
                         (lambda c, w, s: _TvNamedBottleneck(c, w, s, relu_last=False), "negative values"),
                         (_NoProjection, "needs a projection"),
                         (_OtherNames, "name the layers as torchvision does"),
                         (_NoProjectionBN, "and\\* a BatchNorm"),
                         (lambda c, w, s: _TvNamedBottleneck(c, w, s, bias=True), "biases")],
    "check_resnet_params": [(_formula(bn=False), "γ and a β"),
                            (_formula(layer1_proj=False), "layer1 needs a projection too"),
                            (_formula(fc_bias=False), "has a bias"),
                            (_formula(proj=False), "first block of layers 2-4"),
                            (lambda b, l: 2 * checks._resnet_param_formula(b, l) - checks._resnet_param_formula(b, l, bn=False),
                             "buffers")],
    "check_batchnorm": [(_bn(dims=(2, 3)), "each image on its own"),
                        (_bn(dims=(0,)), "each pixel position"),
                        (_bn(dims=(0, 1, 2, 3)), "for all channels"),
                        (_bn(unbiased=True), "unbiased variance"),
                        (_bn(std_eps=True), "added eps to the standard deviation"),
                        (_bn(use_eps=False), "ignores eps")],
    "check_scale_invariance": [(lambda c: _scale_test(c, leaf=False), "new leaf tensor"),
                               (lambda c: _scale_test(c, invert=True), "other way round"),
                               (lambda c: _scale_test(c, train=False), "train mode"),
                               (_scale_test_accumulated, "1 \\+ 1/c"),
                               (lambda c: (0.0, float("nan")), "gradients are zero"),
                               (lambda c: (0.0, 0.159), "fixed random tensor r"),
                               (lambda c: (-math.inf, 1 / c), "finite number")],
    "check_zero_gamma": [(lambda z: _gamma(False), "same losses"),
                         (lambda z: _gamma(z, zero_grad=False), "never clears the gradients"),
                         (lambda z: _gamma(z, record_after=True), "after each update"),
                         (lambda z: _gamma(z, eval_mode=True), "eval mode"),
                         (lambda z: _gamma(z)[:5], "30 losses"),
                         (lambda z: [v + 0.3 for v in _gamma(z)], "first loss is"),
                         (lambda z: _gamma(z, seed=1), "first loss is")],  # noqa: E501
    "check_stage": [(lambda i, o, n, s: nn.Sequential(ResBlock(i, o, s), *[ResBlock(o, o, s) for _ in range(n - 1)]),
                     "later block downsamples"),
                    (lambda i, o, n, s: nn.Sequential(ResBlock(i, o, s), ResBlock(o, o)), "num_blocks = 3"),
                    (lambda i, o, n, s: nn.Sequential(ResBlock(i, o, 1), *[ResBlock(o, o) for _ in range(n - 1)]),
                     "does not downsample"),
                    (lambda i, o, n, s: [ResBlock(i, o, s)] + [ResBlock(o, o) for _ in range(n - 1)], "nn.Sequential")],
    "check_param_shares": [(lambda m: {k: 100 * v for k, v in _shares(m).items()}, "fractions"),
                           (lambda m: _shares(m, parts=("stem", "layer1", "layer2", "layer3", "layer4")), "missing: fc"),
                           (lambda m: {**_shares(m), "layer4": 0.5}, "not 1"),
                           (_state_dict_shares, "buffers"),
                           (lambda m: {n: sum(p.numel() for p in getattr(m, n).parameters() if p.ndim > 1)
                                       / sum(p.numel() for p in m.parameters() if p.ndim > 1) for n in
                                       ("stem", "layer1", "layer2", "layer3", "layer4", "fc")}, "weights only")],
    "check_fixed_resnet18": [(lambda: _six_module_resnet18(stem_bias=True), r"\+64"),
                             (lambda: _six_module_resnet18(layer3_stride=1), r"Module \(4\) layer3: output shape"),
                             (lambda: _six_module_resnet18(stem_relu=False), r"Module \(1\) stem has the right shapes"),
                             (lambda: _six_module_resnet18(head_out=10), "parameters, torchvision's")],
    "check_paired_interval": [(lambda a, b: _interval(a, b, t=1.96), "normal quantile"),
                              (_unpaired, "independent samples"),
                              (_interval_own_t, "n degrees of freedom"),
                              (lambda a, b: _interval(a, b, sd=statistics.pstdev), "divides by n"),
                              (lambda a, b: _interval(a, b, n_div=False), "spread of single differences")],
    "check_seeds_for_half_width": [(20, "t multiplier"), (10, "√2"), (15, "find the smallest"), (8, "not half"),
                                   (13.5, "whole number")],
    "check_confusion": [(lambda m: 1 - m.diag() / m.sum(0), "column sums"),
                        (lambda m: m.diag() / m.sum(1), "got right"),
                        (lambda m: m.sum(1) - m.diag(), "counts of mistakes"),
                        (lambda m: (m.sum(1) - m.diag()) / m.sum(), "all the images"),
                        (lambda m: 1 - m.diag() / m.sum(1).clamp(min=1), "give NaN")],
    "check_gradient_ratio_guess": [(lambda: _measured_ratio() * 100, "above the measurement"),
                                   (lambda: _measured_ratio() / 100, "below the measurement"),
                                   (lambda: -1, "positive number"),
                                   (lambda: True, "Answer with")],
    "check_projection_params": [(16 * 32 + 32 * 64, "BatchNorm"),
                                (16 * 32 + 32 * 64 + 4 * 96, "buffers"),
                                (9 * (16 * 32 + 32 * 64) + 2 * 96, "3×3 projections"),
                                (32 * 64 + 2 * 64, "one projection"),
                                (3 * (16 * 32 + 64) + 3 * (32 * 64 + 128), "every block of a stage"),
                                (100, "Not 100")],
    "check_receptive_field": [(lambda layers: _rf(layers, use_strides=False), "every stride were 1"),
                              (lambda layers: sum(k for k, _ in layers), "added the kernel sizes"),
                              (_rf_own_stride, "their own stride"),
                              (lambda layers: math.prod(k for k, _ in layers), "multiplied the kernel sizes")],
    "check_top5": [(_top5_from(lambda l: l), "logits, not probabilities"),
                   (_top5_from(lambda l: l.softmax(0), order=slice(None, None, -1)), "wrong order"),
                   (_top5_from(torch.sigmoid), "sigmoids"),
                   (lambda l, c: [(c[i], v) for i, v in zip(l.topk(5).indices.tolist(), l.topk(5).values.softmax(0).tolist())],
                    "among themselves"),
                   (lambda l, c: [(c[i], l.softmax(0)[i].item()) for i in (-l).topk(5).indices.tolist()], "least probable"),
                   (lambda l, c: [(i, l.softmax(0)[i].item()) for i in l.topk(5).indices.tolist()], "name")],
    "check_caffe_input": [(lambda x: _from_tv(x) * 255 - _caffe_mean(), "still in RGB order"),
                          (lambda x: _from_tv(x).flip(0) * 255 - _caffe_mean().flip(0), "mean colour in the wrong order"),
                          (lambda x: _from_tv(x).flip(0) - _caffe_mean(), "values in \\[0, 1\\]"),
                          (lambda x: (_from_tv(x).flip(0) - _caffe_mean()) * 255, "before scaling"),
                          (lambda x: _from_tv(x).flip(0) * 255 + _caffe_mean(), "added the mean"),
                          (lambda x: _from_tv(x).flip(0) * 255, "left out the mean")],
    "check_fold_bn": [(_fold(lambda bn: bn.running_var.sqrt()), "no eps"),
                      (_fold(lambda bn: bn.running_var + bn.eps), "divided by the variance"),
                      (_fold(_EPS_VAR, bias=False), "bias is not"),
                      (_fold(_EPS_VAR, weight=False), "weight is not"),
                      (lambda w, bn: (w, bn.bias.view(6, 1, 1)), r"\(6, 3, 3, 3\)")],
    "check_path_counts": [(lambda n: [1] * (n + 1), r"add up to"),
                          (lambda n: [2 ** n], r"n \+ 1"),
                          (lambda n: [0] * n + [2 ** n], "choose which k"),
                          (lambda n: [math.comb(n, k) + (k == 0) - (k == 1) for k in range(n + 1)], "choose which k")],
    "check_filter_normalize": [(lambda d, w: d * w.norm() / d.norm(), "whole direction"),
                               (lambda d, w: d / d.flatten(1).norm(dim=1).view(-1, 1, 1, 1), "norm 1"),
                               (lambda d, w: d * w.norm(dim=(1, 2, 3), keepdim=True) / d.norm(dim=(1, 2, 3), keepdim=True),
                                "vector_norm"),
                               (lambda d, w: d * (w.norm(dim=(2, 3), keepdim=True) / d.norm(dim=(2, 3), keepdim=True)),
                                "each 3×3 kernel"),
                               (lambda d, w: torch.stack([wf * (df.norm() / wf.norm()) for df, wf in zip(d, w)]),
                                "points along the weight")],
    "check_preact_block": [(_preact(relu_after_add=True), "no negative values"),
                           (_preact(bn_after_conv=True), "normalises after each convolution"),
                           (_preact(short_from_a=True), "after bn1 and the ReLU"),
                           (_preact(no_short=True), "branch alone")],
}


def _answer(check_name, answer):
    return answer() if check_name in VALUE_CHECKS and callable(answer) else answer


def _cases(table, minimum):
    return [pytest.param(name, i, id=f"{name}-{i}") for name in sorted(table) for i in range(len(table[name]))]


# ---------------------------------------------------------------- the solution of each check, and hint style
def _solutions() -> dict:
    """Each check's solution code from notebooks/solutions.ipynb, keyed by the check's name."""
    nb = json.loads((ROOT / "notebooks" / "solutions.ipynb").read_text(encoding="utf-8"))
    found = {}
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        for name in re.findall(r"checks\.(check_\w+)\(", source):
            found[name] = found.get(name, "") + source + "\n"
    return found


# The formulas a hint must not give away, besides every line of the solution's code.
FORMULAS = {
    "check_chain_gradient": ["(1 + w)", "1 + w,", "(1+w)", "w ** n", "w^n"],
    "check_plain_identity": ["dirac", "√(running_var", "sqrt(running_var", "β = running_mean", "(running_var + eps)"],
    "check_resblock": ["bn2(conv2(", "ReLU(F(x) + x)", "relu(f + self.shortcut"],
    "check_block_params": ["9 * in_channels", "4 * out_channels", "2 * (2 *"],
    "check_output_size": ["// s + 1", "2p) //", "(in - k", "⌊(", "// stride + 1"],
    "check_stage_sizes": ["output_size(output_size("],
    "check_option_a": ["::2, ::2]", "::stride", "F.pad(x"],
    "check_param_count": ["9 * c", "3 * 3 *", "w * 4 * w", "width * 4 * width"],
    "check_batchnorm": ["(0, 2, 3)", "unbiased=False", "dim=(0"],
    "check_scale_invariance": ["autograd.grad((out"],
    "check_param_shares": ["p.numel() for p", ".parameters()) /"],
    "check_paired_interval": ["t·s/√n", "mean ± t", "t_quantile_975(n - 1)", "stdev(d) /"],
    "check_seeds_for_half_width": ["t(n−1)/√n", "width(n) <= width(5) / 2"],
    "check_confusion": ["m.sum(1)", "diagonal() /", "1 - m.diag"],
    "check_receptive_field": ["(k − 1) times", "(kernel - 1) * jump", "jump *= stride", "(k - 1) *"],
    "check_top5": ["softmax(0)", "topk(5)"],
    "check_caffe_input": ["flip(0) * 255", "* 255 - "],
    "check_fold_bn": ["γ/√", "running_mean * scale", "/ (bn.running_var + bn.eps).sqrt()", "γ·(y − running_mean)"],
    "check_path_counts": ["comb(n, k)", "C(n, k)", "n choose k"],
    "check_filter_normalize": ["w.norm() / d.norm()", "(w_f.norm() / d_f.norm())"],
    "check_preact_block": ["x[:, :, ::2, ::2]", "F.pad(", "conv2(ReLU(BN2", "a = ReLU(BN1(x))"],
}


def solution_leaks(hint: str, solution: str, formulas=()) -> list[str]:
    """The parts of a solution (code lines of 12+ characters, or listed formulas) that a hint contains."""
    flat = " ".join(hint.split())
    lines = [" ".join(line.split("#")[0].split()) for line in solution.splitlines()]
    lines = [line.removeprefix("return ").split(" = ", 1)[-1] for line in lines
             if not line.startswith(("def ", "class ", "checks.", "from ", "import ", "super()", "print("))]
    code = [line for line in lines if len(line) >= 12]
    return [part for part in code + list(formulas) if part and part in flat]


def hint_problems(message: str) -> list[str]:
    """Style problems of a hint: it is 1-2 sentences, starts with a capital and ends with a full stop."""
    problems = []
    if not message[:1].isupper():
        problems.append("does not start with a capital")
    if not message.endswith((".", "?")):
        problems.append("does not end with a full stop")
    sentences = [s for s in re.split(r"(?<=[.?!])\s+(?=[A-Z(“`])", message) if s]
    if not 1 <= len(sentences) <= 2:
        problems.append(f"has {len(sentences)} sentences")
    return problems


def test_the_hint_rules_can_fail():
    assert solution_leaks("Use (size - kernel + 2 * padding) // stride + 1 here.",
                          "def f(size, kernel, padding, stride):\n    return (size - kernel + 2 * padding) // stride + 1")
    assert solution_leaks("Round down: (in - k + 2p) // s + 1.", "", FORMULAS["check_output_size"])
    assert not solution_leaks("Round down.", _solutions()["check_output_size"], FORMULAS["check_output_size"])
    assert hint_problems("the output has negative values") == ["does not start with a capital",
                                                               "does not end with a full stop"]
    assert hint_problems("One. Two. Three.") == ["has 3 sentences"]
    assert not hint_problems("Close: the output is 0.98 × x. Choose γ and β from them.")


# ---------------------------------------------------------------- the tests of the table
def test_every_check_has_two_correct_variants_and_three_wrong_answers_with_their_own_hints():
    defined = {name for name in dir(checks) if name.startswith("check_")}
    assert set(CORRECT) == defined and set(WRONG) == defined
    for name in defined:
        assert len(CORRECT[name]) >= 2, name
        patterns = [p for _, p in WRONG[name]]
        assert len(patterns) >= 3, name
        assert len(set(patterns)) >= 3, f"{name}: the wrong answers must get at least three different hints"


@pytest.mark.parametrize("name,i", _cases(CORRECT, 2))
def test_correct_variants_pass(name, i, passes):
    assert passes(getattr(checks, name), _answer(name, CORRECT[name][i]))


@pytest.mark.parametrize("name,i", _cases(WRONG, 3))
def test_wrong_answers_get_their_own_hint_which_is_short_and_keeps_the_solution(name, i):
    answer, pattern = WRONG[name][i]
    with pytest.raises(checks.CheckFailed, match=pattern) as info:
        getattr(checks, name)(_answer(name, answer))
    message = str(info.value)
    assert not hint_problems(message), (message, hint_problems(message))
    assert not solution_leaks(message, _solutions()[name], FORMULAS.get(name, ())), message


# ================================================================ answers that only look right (issue 21, item 9)
class _AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class _ZeroDifference(float):
    def __sub__(self, other):
        return 0.0

    def __rsub__(self, other):
        return 0.0


@pytest.mark.parametrize("check,answer", [
    (checks.check_output_size, lambda n, k, p, s: _AlwaysEqual()),
    (checks.check_param_count, lambda b, c, w: _AlwaysEqual()),
    (checks.check_receptive_field, lambda layers: _AlwaysEqual()),
    (checks.check_path_counts, lambda n: [_AlwaysEqual()] * (n + 1)),
    (checks.check_path_counts, lambda n: _AlwaysEqual()),
    (checks.check_seeds_for_half_width, _AlwaysEqual()),
    (checks.check_chain_gradient, lambda w, n, r: _ZeroDifference(0.0)),
    (checks.check_scale_invariance, lambda c: (-math.inf, 1 / c)),
    (checks.check_identity_race, lambda r: [1.0 / (i + 1) for i in range(150)] if r else [1.0 - i / 300 for i in range(150)]),
    (checks.check_plain_identity, _forward_replaced),
    (checks.check_plain_identity, _hooked),
])
def test_answers_that_only_look_right_are_refused(check, answer):
    with pytest.raises(checks.CheckFailed):
        check(answer)


def test_an_error_inside_the_check_is_not_blamed_on_the_learner(monkeypatch):
    import operator

    monkeypatch.setattr(checks.nb09, "tensor", operator.itemgetter(0))    # a fault in the check's own code
    with pytest.raises(checks.CheckError, match="fault of the course, not of your answer") as info:
        checks.check_fold_bn(_fold(_EPS_VAR))
    assert "your code raised" not in str(info.value).lower()


def test_an_error_in_the_learners_code_is_theirs():
    def broken(size, k, p, s):
        return size.nope
    with pytest.raises(checks.CheckFailed, match="Your code raised AttributeError") as info:
        checks.check_output_size(broken)
    assert "Exercise 03.1" in info.value._render_traceback_()[0]

    class BrokenForward(ResBlock):
        def forward(self, x):
            return x.nope
    with pytest.raises(checks.CheckFailed, match="Your code raised AttributeError"):
        checks.check_resblock(BrokenForward)


def test_float64_and_numpy_answers_to_10_2_and_09_3_pass(passes):
    assert passes(checks.check_filter_normalize, lambda d, w: _filter_norm_linalg(d.double(), w.double()))
    assert passes(checks.check_filter_normalize, _filter_norm_numpy64)
    assert passes(checks.check_fold_bn, _fold_numpy_float64)
    assert passes(checks.check_fold_bn, lambda w, bn: tuple(t.double() for t in _fold(_EPS_VAR)(w, bn)))


def test_ctrl_c_in_a_hanging_answer_shows_one_line():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.user_ns["checks"] = checks
    with capture_output() as cap:
        result = shell.run_cell("def hangs(n, k, p, s):\n    raise KeyboardInterrupt\n"
                                "checks.check_output_size(hangs)")
    shown = (cap.stdout + cap.stderr).strip()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert "Traceback" not in shown and len(shown.splitlines()) == 1 and "interrupted" in shown


# ================================================================ placeholders, messages, the notebooks
def test_not_attempted_is_reported_not_failed(capsys):
    def stub(*args):
        raise NotImplementedError
    assert checks.check_output_size(stub) is None
    assert "not attempted yet" in capsys.readouterr().out


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


def test_preact_placeholder_is_not_attempted(capsys):
    class Empty(nn.Module):
        def __init__(self, c_in, c_out, stride=1):
            super().__init__()

        def forward(self, x):
            ...

    checks.check_preact_block(Empty)
    assert "not attempted yet" in capsys.readouterr().out


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


def test_wrong_answer_renders_as_one_short_message():
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_output_size(lambda size, k, p, s: (size - k + 2 * p) / s + 1)
    lines = info.value._render_traceback_()
    assert len(lines) == 2 and "Exercise 03.1: not yet right" in lines[0] and "round down" in lines[0]


def test_render_traceback_is_used_by_ipython():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with capture_output() as cap:
        result = shell.run_cell("from course_lib import checks\n"
                                "checks.check_output_size(lambda size, k, p, s: 0)")
    shown = cap.stdout + cap.stderr
    assert isinstance(result.error_in_exec, checks.CheckFailed)
    assert "not yet right" in shown and "Traceback" not in shown and "checks" + "/" not in shown


def test_typical_gradient_prints_what_was_found(capsys):
    torch.manual_seed(1)
    checks.check_typical_gradient(_typical)
    assert "E[∏ w²] = 1 exactly" in capsys.readouterr().out


def test_runs_are_shown_next_to_the_course_spread_over_seeds(capsys):
    from course_lib.checks.spread import load_spread
    spread = load_spread()
    assert len(spread["02.3"]["seeds"]) >= 5 and len(spread["05.3"]["seeds"]) >= 5
    assert spread["02.3"]["arms"]["residual"][0] == pytest.approx(_race(True)[-1], rel=0.1)   # seed 0 is the exercise's run
    checks.check_identity_race(lambda r: _race(r))
    out = capsys.readouterr().out
    assert "course's" in out and "median" in out and "range" in out
    checks.check_gradient_ratio_guess(_measured_ratio())
    assert "over seeds 0–4" in capsys.readouterr().out


def test_param_shares_prints_the_macs(capsys):
    checks.check_param_shares(_shares)
    out = capsys.readouterr().out
    assert "MACs at 224×224" in out and "layer4" in out


def test_resnet_param_formula_matches_torchvision():
    import torchvision.models as tvm
    for block, layers in (("basic", [2, 1, 3, 1]), ("bottleneck", [2, 1, 1, 2])):
        cls = tvm.resnet.BasicBlock if block == "basic" else tvm.resnet.Bottleneck
        model = tvm.resnet.ResNet(cls, layers)
        assert checks._resnet_param_formula(block, layers) == sum(p.numel() for p in model.parameters())


def test_every_notebook_has_three_checked_exercises_solved_tested_and_a_questionnaire():
    defined = {name for name in dir(checks) if name.startswith("check_")}
    tests = Path(__file__).read_text()
    solutions = json.loads((ROOT / "notebooks" / "solutions.ipynb").read_text())
    solved = "".join("".join(c["source"]) for c in solutions["cells"] if c["cell_type"] == "code")
    for n in range(1, 11):
        (path,) = (ROOT / "notebooks").glob(f"{n:02d}_*.ipynb")
        cells = json.loads(path.read_text())["cells"]
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        used = set(re.findall(r"\b(check_\w+)\(", code)) & defined
        assert len(used) >= 3, (path.name, used)
        for name in used:
            assert f"checks.{name}(" in solved, f"{name} has no solution in solutions.ipynb"
            assert f'"{name}"' in tests, f"{name} has no test"
        questions = ["".join(c["source"]).split("## Questions", 1)[1] for c in cells
                     if c["cell_type"] == "markdown" and "## Questions" in "".join(c["source"])]
        assert questions and len(re.findall(r"^\d+\. ", questions[0], re.M)) >= 5, path.name


def test_every_exercise_links_to_its_worked_answer():
    """Each check's message is followed (in a notebook) by a link to the exercise's heading in the solutions."""
    import json
    import re
    from pathlib import Path

    from course_lib.checks._core import solution_anchor

    root = Path(__file__).resolve().parents[1]
    numbers = sorted({m for p in (root / "notebooks").glob("[01][0-9]_*.ipynb")
                      for m in re.findall(r"(?:\*\*|### )Exercise (\d\d\.\d)", p.read_text())})
    assert len(numbers) >= 30
    headings = {line.lstrip("#").strip().replace(" ", "-") for c in json.loads((root / "notebooks" / "solutions.ipynb").read_text())["cells"]
                for line in "".join(c["source"]).splitlines() if line.startswith("## ")}
    for n in numbers:
        anchor = solution_anchor(f"Exercise {n}")
        assert anchor and anchor.split("#", 1)[1] in headings, n
