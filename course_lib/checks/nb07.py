"""Checks of notebook 07 (plain vs residual ResNet-18): 07.1 a paired interval, 07.2 how many seeds
halve it, 07.3 a confusion matrix."""

from __future__ import annotations

from ..i18n import _

import statistics
from typing import Callable

import torch

from ._core import CheckFailed, expect, exercise, integer, numbers_of, tensor


@exercise("Exercise 07.1")
def check_paired_interval(fn: Callable[[list, list], tuple]) -> None:
    """`fn(a, b)` -> (mean, low, high): the mean of the paired differences a[i] − b[i] and its
    95% t-interval."""
    from ..stats import paired_difference, t_quantile_975

    for a, b in (([0.95, 0.97, 0.96, 0.99, 0.94], [0.93, 0.96, 0.96, 0.95, 0.95]),
                 ([0.91, 0.90, 0.93, 0.92, 0.90, 0.94, 0.92, 0.91], [0.90, 0.91, 0.90, 0.90, 0.89, 0.92, 0.91, 0.91])):
        n = len(a)
        want = paired_difference(a, b)
        mean, low, high = numbers_of(fn(list(a), list(b)), 3, _("three numbers, (mean, low, high)"))
        expect(abs(mean - want["mean"]) < 1e-6, _("With {n} seeds: the mean of the differences is {want_mean:.6f}, you have {mean:.6f}.").format(n=n, want_mean=want['mean'], mean=mean))
        if abs(low - want["ci_low"]) < 1e-4 and abs(high - want["ci_high"]) < 1e-4:
            continue
        half, s = high - mean, want["std"]
        expect(abs(half - 1.96 * s / n ** 0.5) > 1e-4,
               _("With {n} seeds: you used 1.96, the normal quantile. With {n} seeds the standard deviation is itself estimated, so the multiplier comes from Student's t.").format(n=n))
        expect(abs(half - t_quantile_975(n) * s / n ** 0.5) > 1e-4,
               _("With {n} seeds: your t multiplier has n degrees of freedom. A standard deviation estimated from n values has one fewer.").format(n=n))
        welch = t_quantile_975(n - 1) * (statistics.variance(a) / n + statistics.variance(b) / n) ** 0.5
        expect(abs(half - welch) > 1e-4, _("With {n} seeds: you treated the two arms as independent samples. Pair them by seed: the spread that matters is that of the differences.").format(n=n))
        biased = statistics.pstdev(want["diffs"])
        expect(abs(half - t_quantile_975(n - 1) * biased / n ** 0.5) > 1e-4,
               _("With {n} seeds: your standard deviation divides by n. The sample standard deviation divides by n − 1.").format(n=n))
        expect(abs(half - t_quantile_975(n - 1) * s) > 1e-4,
               _("With {n} seeds: your interval is as wide as the spread of single differences. The mean of n differences varies less than one difference does.").format(n=n))
        raise CheckFailed(_("With {n} seeds: the interval is [{want_ci_low:.4f}, {want_ci_high:.4f}], you have [{low:.4f}, {high:.4f}]. It is centred on the mean and its half-width shrinks with n.").format(n=n, want_ci_low=want['ci_low'], want_ci_high=want['ci_high'], low=low, high=high))


@exercise("Exercise 07.2")
def check_seeds_for_half_width(n) -> None:
    """The smallest number of seeds whose 95% interval is at most half as wide as with 5 seeds,
    for the same standard deviation of the differences."""
    from ..stats import t_quantile_975

    width = lambda k: t_quantile_975(k - 1) / k ** 0.5          # noqa: E731
    target = next(k for k in range(6, 200) if width(k) <= width(5) / 2)
    n = integer(n, _("a whole number of seeds"))
    expect(n >= 2, _("With {n} seeds there is no interval at all; you need at least 2.").format(n=n))
    expect(n != 20, _("With 4 × 5 = 20 seeds the width would halve if the t multiplier stayed fixed. It shrinks as the seeds grow, so fewer seeds suffice: compute the width for a few n."))
    expect(n != 10, _("Doubling the seeds narrows the interval by about √2 (and a little more from t), not by 2."))
    expect(n <= target or width(n - 1) > width(5) / 2, _("With {n} seeds the width halves, but fewer seeds do that too: find the smallest number.").format(n=n))
    expect(n == target, _("With {n} seeds the width is {value:.2f} times the width with 5 seeds, not half. Compute the width for each n with t_quantile_975.").format(n=n, value=width(n) / width(5)))


@exercise("Exercise 07.3")
def check_confusion(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> None:
    """`fn(pred, labels, k)` -> a k×k matrix whose row i, column j counts the images of true
    class i predicted as j."""
    from ..metrics import confusion_matrix

    torch.manual_seed(0)
    cases = []
    labels = torch.randint(0, 4, (50,))
    cases.append((torch.where(torch.rand(50) < 0.7, labels, torch.randint(0, 4, (50,))), labels, 4))
    labels = torch.randint(0, 3, (30,))                      # classes 3 and 4 never occur: the size comes from k
    cases.append((torch.where(torch.rand(30) < 0.6, labels, torch.randint(0, 3, (30,))), labels, 5))
    for pred, labels, k in cases:
        want = confusion_matrix(pred, labels, k)
        got = tensor(fn(pred.clone(), labels.clone(), k), _("a tensor of counts"))
        n = len(labels)
        expect(got.ndim == 2 and tuple(got.shape) == (k, k),
               _("For k={k}: your matrix has shape {got_shape}, not ({k}, {k}).").format(k=k, got_shape=tuple(got.shape))
               + (_(" Its size comes from the data; take it from k, since a class may never occur in a batch.")
                  if got.ndim == 2 and got.shape[0] == got.shape[1] == int(max(pred.max(), labels.max())) + 1 else ""))
        expect(abs(float(got.sum()) - n) < 1e-6, _("For k={k}: the counts should add up to the {n} images, yours add up to {got_sum:g}.").format(k=k, n=n, got_sum=float(got.sum())))
        expect(not torch.equal(got, want.T.double()) or torch.equal(want, want.T),
               _("For k={k}: your matrix is transposed: rows are the true classes, columns the predictions.").format(k=k))
        expect(torch.equal(got, want.double()), _("For k={k}: row i, column j must count the images of true class i predicted as class j.").format(k=k))
