"""Exercises of notebooks 01-03, round three (issue 28): each wrong answer the issue names is refused
with a hint that names its own mistake (the learner's exact code), correct unusual answers pass, the
reworked 02.3 asks for a decision (which mode, which inputs) and checks it fairly, and the "predict
first" steps of 01.1, 01.2, 02.3 and 03.2 read a recorded prediction before they measure."""

import copy
import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import checks
from course_lib.checks import nb02
from course_lib.checks._predict import _RECORDED
from course_lib.models import ResBlock
from test_checks import FORMULAS, _solutions, hint_problems, solution_leaks

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_record():
    """Each test starts a fresh session: no prediction recorded yet."""
    _RECORDED.clear()
    yield
    _RECORDED.clear()


def refused(check, *args, **kwargs) -> str:
    """The hint a wrong answer gets; it must follow the course's hint style."""
    with pytest.raises(checks.CheckFailed) as info:
        check(*args, **kwargs)
    message = str(info.value)
    assert not hint_problems(message), (message, hint_problems(message))
    name = check.__name__
    assert not solution_leaks(message, _solutions().get(name, ""), FORMULAS.get(name, ())), message
    return message


def passes(check, capsys, *args, **kwargs) -> str:
    check(*args, **kwargs)
    out = capsys.readouterr().out
    assert out.strip().endswith("passed"), out
    return out


# ================================================================ 01.1
def chain_gradient(w, n, residual):
    return (1 + w) ** n if residual else w ** n


def test_01_1_prediction_is_compared_with_the_chains(capsys):
    out = passes(checks.check_chain_gradient, capsys, chain_gradient, predicted=(0, 1))
    assert "you predicted 0 (plain) and 1 (residual); the chains give 1e-20 and 6.73" in out


def test_01_1_prediction_is_read_before_the_learners_code_runs():
    called = []

    def spy(w, n, residual):
        called.append((w, n))
        return chain_gradient(w, n, residual)

    message = refused(checks.check_chain_gradient, spy, predicted="near 0")
    assert "two numbers" in message and not called


def test_01_1_without_a_prediction_says_nothing_of_one_and_a_placeholder_is_not_attempted(capsys):
    out = passes(checks.check_chain_gradient, capsys, chain_gradient)
    assert "predict" not in out.lower()

    def stub(w, n, residual):
        raise NotImplementedError
    checks.check_chain_gradient(stub, predicted=...)
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "prediction" not in out


# ================================================================ 01.2: each mistake its own hint
def mean_square(n, sigma, residual):
    w = torch.randn(20_000, n) * sigma
    f = 1 + w if residual else w
    return (f ** 2).prod(dim=1).mean().item()


def missing_abs(n, sigma, residual):
    w = torch.randn(20_000, n) * sigma
    f = 1 + w if residual else w
    return f.prod(dim=1).median().item()


def fifty_draws_seeded(n, sigma, residual):            # the solution's style, with 50 draws
    torch.manual_seed(0)
    w = torch.randn(50, n, dtype=torch.float64) * sigma
    factors = 1 + w if residual else w
    return factors.abs().prod(dim=1).median().item()


def fifty_draws(n, sigma, residual):
    w = torch.randn(50, n) * sigma
    f = 1 + w if residual else w
    return f.abs().prod(1).median().item()


def variance_as_std(n, sigma, residual):                # torch.normal takes the standard deviation
    w = torch.normal(0.0, sigma ** 2, size=(20_000, n))
    f = 1 + w if residual else w
    return f.abs().prod(1).median().item()


def std_as_variance(n, sigma, residual):                # as if sigma were the variance
    w = np.random.normal(0, np.sqrt(sigma), size=(20_000, n))
    f = 1 + w if residual else w
    return float(np.median(np.abs(np.prod(f, axis=1))))


def median_of_squares(n, sigma, residual):
    w = torch.randn(20_000, n) * sigma
    f = 1 + w if residual else w
    return (f ** 2).prod(dim=1).median().item()


def residual_without_one(n, sigma, residual):
    w = torch.randn(20_000, n) * sigma
    return w.abs().prod(1).median().item()


def one_layer_short(n, sigma, residual):
    w = torch.randn(20_000, n) * sigma
    f = 1 + w if residual else w
    return f[:, 1:].abs().prod(1).median().item()


def rms_measured(n, sigma, residual):
    w = torch.randn(20_000, n) * sigma
    f = 1 + w if residual else w
    return (f ** 2).prod(dim=1).mean().sqrt().item()


def sigma_forgotten(n, sigma, residual):                # w ~ N(0, 1) whatever sigma is
    w = torch.randn(20_000, n)
    f = 1 + w if residual else w
    return f.abs().prod(1).median().item()


def geometric_mean(n, sigma, residual):                 # exp(n · E log|f|), a formula instead of a median
    w = torch.randn(100_000, n) * sigma
    f = 1 + w if residual else w
    return f.abs().log().sum(1).mean().exp().item()


@pytest.mark.parametrize("answer,pattern", [
    (sigma_forgotten, "standard deviation of 1, whatever σ is"),
    (geometric_mean, "geometric mean of \\|f\\|"),
    (mean_square, "that is the mean square E"),
    (missing_abs, "median of ∏ f with its sign"),
    (fifty_draws_seeded, "as much as the median of 50 draws can"),
    (fifty_draws, "changes from call to call"),
    (variance_as_std, "standard deviation of 0.25 instead of σ = 0.5"),
    (std_as_variance, "standard deviation of 0.707 instead of σ = 0.5"),
    (median_of_squares, "median of \\(∏ f\\)²"),
    (residual_without_one, "factor 1 \\+ w"),
    (one_layer_short, "one factor too many or too few"),
    (rms_measured, "root mean square"),
], ids=lambda v: getattr(v, "__name__", "")[:20])
@pytest.mark.parametrize("seed", [1, 2])
def test_01_2_each_mistake_gets_its_own_hint_not_the_fresh_w_one(answer, pattern, seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    message = refused(checks.check_typical_gradient, answer)
    assert __import__("re").search(pattern, message), message
    assert "fresh w" not in message


def plain_formula(n, sigma, residual):               # learner review: a formula for plain, draws for residual
    if not residual:
        return math.exp(n * (math.log(sigma) - (math.log(2) + 0.5772156649) / 2))
    w = torch.randn(20_000, n) * sigma
    return (1 + w).abs().prod(dim=1).median().item()


def product_of_medians(n, sigma, residual):          # learner review: each layer's median, then the product
    w = torch.randn(20_000, n) * sigma
    f = 1 + w if residual else w
    return f.abs().median(dim=0).values.prod().item()


def test_01_2_learner_review_slips_get_their_own_hints():
    torch.manual_seed(0)
    assert "geometric mean of |f|" in refused(checks.check_typical_gradient, plain_formula)
    message = refused(checks.check_typical_gradient, product_of_medians)
    assert "take each layer's median before multiplying" in message


def test_01_2_a_noisy_median_near_the_mean_is_told_to_use_more_draws():
    """Learner review: 200 draws from a generator made once, seed 2, got "looks like the mean"."""
    rng = np.random.default_rng(2)

    def few(n, sigma, residual):
        w = rng.standard_normal((200, n)) * sigma
        f = 1 + w if residual else w
        return float(np.median(np.abs(np.prod(f, axis=1))))
    message = refused(checks.check_typical_gradient, few)
    assert "Use more draws" in message and "mean of |∏ f|" not in message


def test_01_2_a_shared_w_still_gets_the_fresh_w_hint():
    def shared(n, sigma, residual):
        w = torch.randn(20_000, 1) * sigma
        f = 1 + w if residual else w
        return (f.abs() ** n).median().item()
    assert "fresh w" in refused(checks.check_typical_gradient, shared)


def _typical_distributions(n, sigma, residual):          # torch.distributions, exactly 10,000 draws
    w = torch.distributions.Normal(0.0, sigma).sample((10_000, n))
    return (1 + w if residual else w).abs().prod(1).median()


def _typical_layer_loop(n, sigma, residual):             # NumPy, one layer at a time, in logarithms
    rng = np.random.default_rng(11)
    log_size = np.zeros(12_000)
    for _ in range(n):
        w = rng.normal(0.0, sigma, 12_000)
        log_size += np.log(np.abs(1 + w if residual else w))
    return np.float32(np.exp(np.median(log_size)))


@pytest.mark.parametrize("answer", [_typical_distributions, _typical_layer_loop])
def test_01_2_unusual_correct_answers_pass(answer, capsys):
    torch.manual_seed(4)
    passes(checks.check_typical_gradient, capsys, answer)


def _typical(n, sigma, residual):
    torch.manual_seed(0)
    w = torch.randn(20_000, n, dtype=torch.float64) * sigma
    return (1 + w if residual else w).abs().prod(dim=1).median().item()


def test_01_2_prediction_is_compared_with_the_median(capsys):
    out = passes(checks.check_typical_gradient, capsys, _typical, predicted=0.5)
    assert "you predicted a typical |∏ w| of 0.5; your median is" in out and "times your prediction" in out
    assert refused(checks.check_typical_gradient, _typical, predicted=-1).startswith("Predict a size")


# ================================================================ 01.3
def reset_running_var(block):                           # the BN reset to neutral, ε forgotten
    with torch.no_grad():
        for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
            nn.init.dirac_(conv.weight)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.weight.fill_(1.0)
            bn.bias.zero_()
    return block


def typed_in_eps(block):
    with torch.no_grad():
        for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
            nn.init.dirac_(conv.weight)
            bn.weight.copy_((bn.running_var + 1e-5).sqrt())
            bn.bias.copy_(bn.running_mean)
    return block


def test_01_3_running_var_reset_to_1_without_eps_is_refused():
    message = refused(checks.check_plain_identity, reset_running_var)
    assert "set running_var to 1 and left ε out" in message and "0.1" in message


def test_01_3_eps_typed_in_is_refused():
    assert "instead of typing it in" in refused(checks.check_plain_identity, typed_in_eps)


def _var_one_minus_eps(block):                          # neutral statistics that make room for ε
    with torch.no_grad():
        for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
            conv.weight.zero_()
            conv.weight[:, :, 1, 1] = torch.eye(conv.weight.shape[0])
            bn.reset_running_stats()
            bn.running_var -= bn.eps
            bn.weight.fill_(1.0)
            bn.bias.zero_()
    return block


def _eps_set_to_zero(block):
    with torch.no_grad():
        for conv, bn in ((block.conv1, block.bn1), (block.conv2, block.bn2)):
            nn.init.dirac_(conv.weight)
            bn.eps = 0.0
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.weight.fill_(1.0)
            bn.bias.zero_()
    return block


@pytest.mark.parametrize("answer", [_var_one_minus_eps, _eps_set_to_zero])
def test_01_3_unusual_correct_answers_pass(answer, capsys):
    passes(checks.check_plain_identity, capsys, answer)


# ================================================================ 03.3: the right hint for each shape mistake
@pytest.mark.parametrize("answer,pattern", [
    (lambda x, c, s: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, c - x.shape[1])), "as if the stride were 2"),
    (lambda x, c, s: F.pad(x, (0, 0, 0, 0, 0, c - x.shape[1])), "keeps all 8×8 pixels"),
    (lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 1, 0, 1, 0, c - x.shape[1])), "Pad channels only"),
    (lambda x, c, s: x[:, :, ::s, ::s], "still 16 channels"),
], ids=["stride ignored", "no subsampling", "padded sides", "no channel padding"])
def test_03_3_each_shape_mistake_gets_its_own_hint(answer, pattern):
    message = refused(checks.check_option_a, answer)
    assert pattern in message, message
    if pattern != "still 16 channels":
        assert "channels. Pad the channel dimension" not in message


def test_03_3_unusual_correct_answer_passes(capsys):
    def pooled(x, c_out, stride):                        # a 1×1 max-pool subsamples; zeros written in place
        out = x.new_zeros(x.shape[0], c_out, *F.max_pool2d(x, 1, stride).shape[2:])
        out[:, :x.shape[1]] = F.max_pool2d(x, 1, stride)
        return out
    passes(checks.check_option_a, capsys, pooled)


# ================================================================ 03.2: predicted sides
def stage_sizes(size, stem):
    def out(n, k, p, s):
        return (n - k + 2 * p) // s + 1
    if stem == "imagenet":
        size = out(out(size, 7, 3, 2), 3, 1, 2)
    sides = [size, size]
    for _ in range(3):
        sides.append(out(sides[-1], 3, 1, 2))
    return sides


def test_03_2_prediction_is_compared_side_by_side(capsys):
    out = passes(checks.check_stage_sizes, capsys, stage_sizes, predicted=([4, 4, 2, 1, 1], ...))
    assert "7×7: you predicted [4, 4, 2, 1, 1]; the model gives [2, 2, 1, 1, 1] (2 of 5 sides as you predicted)" in out
    assert "97×97: no prediction; the model gives [25, 25, 13, 7, 4]" in out
    assert "Write your prediction as a pair" in refused(checks.check_stage_sizes, stage_sizes, predicted=[2, 2, 1, 1, 1])


def test_03_2_a_hint_that_shows_a_predicted_size_records_the_prediction(capsys):
    def wrong_at_7(size, stem):
        return [9, 9, 9, 9, 9] if size == 7 else stage_sizes(size, stem)
    refused(checks.check_stage_sizes, wrong_at_7, predicted=([4, 4, 2, 1, 1], [25, 25, 13, 7, 4]))
    out = passes(checks.check_stage_sizes, capsys, stage_sizes, predicted=([2, 2, 1, 1, 1], [25, 25, 13, 7, 4]))
    assert "you predicted [4, 4, 2, 1, 1]" in out and "compares that one, not the one you wrote since" in out


# ================================================================ recorded predictions
def test_an_unanswered_prediction_is_allowed_but_said(capsys):
    out = passes(checks.check_chain_gradient, capsys, chain_gradient, predicted=...)
    assert "You left a prediction as `...`" in out


def test_a_prediction_changed_after_the_measurement_is_not_compared(capsys):
    passes(checks.check_chain_gradient, capsys, chain_gradient, predicted=(0.5, 1.0))
    out = passes(checks.check_chain_gradient, capsys, chain_gradient, predicted=(1e-20, 6.73))
    assert "you predicted 0.5 (plain) and 1 (residual)" in out and "not the one you wrote since" in out


def test_a_prediction_added_after_the_measurement_is_named(capsys):
    passes(checks.check_typical_gradient, capsys, _typical, predicted=...)
    out = passes(checks.check_typical_gradient, capsys, _typical, predicted=4e-6)
    assert "written after this check first showed the measurement" in out and "you predicted" not in out


# ================================================================ 02.3: the race, the prediction, and identity_gap
@functools.lru_cache(maxsize=None)
def _race(use_residual):
    return nb02.identity_race(use_residual)


def fit_identity(use_residual):                          # the learner's race, as the reference (cached)
    return list(_race(use_residual))


def identity_gap(stack):
    stack.eval()
    x = torch.relu(torch.randn(1024, 8, 8, 8))
    with torch.no_grad():
        return F.mse_loss(stack(x), x).item()


def _gap_on_a_copy(stack):                               # a copy, train(False), NumPy, four batches of 64
    s = copy.deepcopy(stack).train(False)
    errors = []
    for _ in range(4):
        x = torch.randn(64, 8, 8, 8).clamp(min=0)
        with torch.inference_mode():
            errors.append(((s(x) - x).numpy() ** 2).mean())
    return np.mean(errors)


def gap_in_train_mode(stack):
    x = torch.relu(torch.randn(1024, 8, 8, 8))
    with torch.no_grad():
        return F.mse_loss(stack(x), x).item()


def gap_in_train_mode_on_a_copy(stack):
    s = copy.deepcopy(stack)
    x = torch.relu(torch.randn(256, 8, 8, 8))
    with torch.no_grad():
        return F.mse_loss(s(x), x).item()


def gap_with_negative_inputs(stack):
    stack.eval()
    x = torch.randn(1024, 8, 8, 8)
    with torch.no_grad():
        return F.mse_loss(stack(x), x).item()


def gap_summed(stack):
    stack.eval()
    x = torch.relu(torch.randn(256, 8, 8, 8))
    with torch.no_grad():
        return ((stack(x) - x) ** 2).sum().item()


def gap_rms(stack):
    stack.eval()
    x = torch.relu(torch.randn(256, 8, 8, 8))
    with torch.no_grad():
        return F.mse_loss(stack(x), x).sqrt().item()


def gap_absolute(stack):
    stack.eval()
    x = torch.relu(torch.randn(256, 8, 8, 8))
    with torch.no_grad():
        return F.l1_loss(stack(x), x).item()


def gap_noisy(stack):                                    # not a learner's code: a gap that jumps about
    return identity_gap(stack) * float(torch.empty(()).uniform_(0.1, 10))


def gap_uniform_inputs(stack):
    stack.eval()
    x = torch.rand(512, 8, 8, 8)
    with torch.no_grad():
        return F.mse_loss(stack(x), x).item()


@pytest.mark.parametrize("answer", [identity_gap, _gap_on_a_copy])
def test_02_3_identity_gap_in_eval_mode_on_new_inputs_passes(answer, capsys):
    torch.manual_seed(5)
    out = passes(checks.check_identity_race, capsys, fit_identity, answer)
    assert "Your identity_gap on the two trained stacks: residual" in out


@pytest.mark.parametrize("answer,pattern", [
    (gap_in_train_mode, "changed its running statistics, so it ran the stack in train mode"),
    (gap_in_train_mode_on_a_copy, "what the stack gives in train mode"),
    (gap_with_negative_inputs, "inputs with negative values"),
    (gap_summed, "it looks like a sum"),
    (gap_rms, "root of the mean squared error"),
    (gap_absolute, "mean absolute error"),
    (gap_noisy, "changes from call to call"),
    (gap_uniform_inputs, "Draw new inputs like the training batch"),
], ids=lambda v: getattr(v, "__name__", "")[:24])
def test_02_3_each_identity_gap_mistake_gets_its_own_hint(answer, pattern):
    torch.manual_seed(5)
    message = refused(checks.check_identity_race, fit_identity, answer)
    assert pattern in message, message


def test_02_3_identity_gap_left_as_a_placeholder_is_not_attempted(capsys):
    def stub(stack):
        raise NotImplementedError
    checks.check_identity_race(fit_identity, stub)
    out = capsys.readouterr().out
    assert "after 150 steps" in out and "identity_gap is still a placeholder" in out and "not attempted yet" in out
    assert not out.strip().endswith("passed")


def test_02_3_prediction_of_the_ratio_is_compared_with_the_run_and_the_seeds(capsys):
    out = passes(checks.check_identity_race, capsys, fit_identity, identity_gap, predicted=4.2)
    ratio = _race(False)[-1] / _race(True)[-1]
    assert f"You predicted the plain stack's final loss to be 4.2 times the residual stack's; in your run it is {ratio:.3g} times" in out
    assert "over the course's 10 seeds" in out
    assert "Predict a ratio" in refused(checks.check_identity_race, fit_identity, identity_gap, predicted=0)


def test_02_3_called_as_before_it_still_passes(capsys):
    out = passes(checks.check_identity_race, capsys, fit_identity)
    assert "identity_gap" not in out and "predict" not in out.lower()


# ================================================================ the notebooks' exercise cells
CELLS = [("01_why_depth_is_hard.ipynb", "check_chain_gradient(chain_gradient"),
         ("01_why_depth_is_hard.ipynb", "check_typical_gradient(typical_gradient"),
         ("01_why_depth_is_hard.ipynb", "check_plain_identity(make_identity"),
         ("02_the_residual_block.ipynb", "check_identity_race(fit_identity"),
         ("03_1x1_convolutions_and_shortcuts.ipynb", "check_stage_sizes(stage_sizes"),
         ("03_1x1_convolutions_and_shortcuts.ipynb", "check_option_a(option_a")]


@pytest.mark.parametrize("notebook,call", CELLS, ids=[c for _, c in CELLS])
def test_the_notebooks_stubs_are_not_attempted_and_say_nothing_of_predictions(notebook, call, capsys):
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    (source,) = ["".join(c["source"]) for c in cells if c["cell_type"] == "code" and call in "".join(c["source"])]
    namespace = {}
    exec("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom course_lib.checks import *", namespace)
    exec(source, namespace)
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "predict" not in out.lower()
    if "predicted" in source:
        assert "predicted=" in source.splitlines()[-1]


# ================================================================ 03.3: gradient, stride 1 with more channels, rounding
def _option_a_detach(x, out_channels, stride):
    x = x[:, :, ::stride, ::stride].detach()        # cuts the gradient through the shortcut
    return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))


def _option_a_numpy(x, out_channels, stride):
    a = x.detach().numpy()[:, :, ::stride, ::stride]
    out = np.zeros((a.shape[0], out_channels) + a.shape[2:], dtype=a.dtype)
    out[:, :a.shape[1]] = a
    return torch.from_numpy(out)


def _option_a_numpy_of_x(x, out_channels, stride):       # x.numpy() itself: refused by torch when x requires grad
    a = x.numpy()[:, :, ::stride, ::stride]
    return F.pad(torch.from_numpy(a.copy()), (0, 0, 0, 0, 0, out_channels - a.shape[1]))


@pytest.mark.parametrize("answer", [_option_a_detach, _option_a_numpy, _option_a_numpy_of_x],
                         ids=["detach", "numpy round trip", "x.numpy()"])
def test_03_3_a_shortcut_without_gradient_is_refused(answer):
    message = refused(checks.check_option_a, answer)
    assert "The shortcut must let the gradient through: no .detach() / NumPy" in message, message
    assert "no gradient reaches x" in message


def test_03_3_a_shortcut_with_a_wrong_gradient_is_refused():
    class Halved(torch.autograd.Function):                # right values, half the gradient
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return g / 2

    def option_a(x, out_channels, stride):
        x = Halved.apply(x)[:, :, ::stride, ::stride]
        return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))
    assert "gradient that reaches x" in refused(checks.check_option_a, option_a)


def test_03_3_returning_x_for_stride_1_is_refused_when_channels_grow():
    def option_a(x, out_channels, stride):
        if stride == 1:
            return x
        x = x[:, :, ::stride, ::stride]
        return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))
    message = refused(checks.check_option_a, option_a)
    assert "stride 1" in message and "you return x unchanged" in message and "grow from 8 to 16" in message, message


@pytest.mark.parametrize("answer", [
    lambda x, c, s: F.pad(F.interpolate(x, scale_factor=1 / s, mode="nearest"), (0, 0, 0, 0, 0, c - x.shape[1])),
    lambda x, c, s: F.pad(x[:, :, :x.shape[2] // s * s:s, :x.shape[3] // s * s:s], (0, 0, 0, 0, 0, c - x.shape[1])),
], ids=["interpolate", "floor slice"])
def test_03_3_a_floor_sized_output_is_told_it_rounds_down(answer):
    message = refused(checks.check_option_a, answer)
    assert "rounds the size down" in message and "ceil(H/s)" in message and "3×3, F(x)'s is 4×4" in message, message
    assert "as if the stride were" not in message


def test_03_3_a_shortcut_that_keeps_the_gradient_passes(capsys):
    def option_a(x, out_channels, stride):               # zeros written in place keep the gradient of x
        n, c, h, w = x.shape
        out = torch.zeros(n, out_channels, (h + stride - 1) // stride, (w + stride - 1) // stride, dtype=x.dtype)
        out[:, :c] = x[:, :, ::stride, ::stride]
        return out
    passes(checks.check_option_a, capsys, option_a)


# ================================================================ 02.3: one block shared four times
def fit_identity_shared_block(use_residual):        # the learner's code: [ResBlock(...)] * 4
    torch.manual_seed(0)
    stack = nn.Sequential(*[ResBlock(8, 8, use_residual=use_residual)] * 4)
    x = torch.relu(torch.randn(32, 8, 8, 8))
    opt = torch.optim.Adam(stack.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        opt.zero_grad(); loss = F.mse_loss(stack(x), x); loss.backward(); opt.step(); losses.append(loss.item())
    return losses


def test_02_3_one_block_shared_four_times_is_named():
    message = refused(checks.check_identity_race, fit_identity_shared_block)
    assert "one block shared by all four places" in message and "Follow the steps in order" not in message, message
