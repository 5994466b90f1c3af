"""Checks of notebook 07 (plain vs residual ResNet-18): 07.1 a paired interval, 07.2 how many seeds
halve it (with the learner's guess, recorded first), 07.3 error rates by class from a confusion matrix."""

from __future__ import annotations

from ..i18n import N_, _

import math
import statistics
from typing import Callable

import torch

from ._core import CheckFailed, _LearnerError, expect, exercise, integer, numbers_of, tensor
from ._predict import WORDING_07_10, read_prediction, reveal_prediction, with_prediction


# ----------------------------------------------------------------------------- 07.1
_ROLES = (N_("mean"), N_("low"), N_("high"))


@exercise("Exercise 07.1")
def check_paired_interval(fn: Callable[[list, list], tuple]) -> None:
    """`fn(a, b)` -> (mean, low, high): the mean of the paired differences a[i] − b[i] and its
    95% t-interval."""
    from ..stats import paired_difference, t_quantile_975

    for a, b in (([0.95, 0.97, 0.96, 0.99, 0.94], [0.93, 0.96, 0.96, 0.95, 0.95]),
                 ([0.91, 0.90, 0.93, 0.92, 0.90, 0.94, 0.92, 0.91], [0.90, 0.91, 0.90, 0.90, 0.89, 0.92, 0.91, 0.91])):
        n = len(a)
        want = paired_difference(a, b)
        got = numbers_of(fn(list(a), list(b)), 3, _("three numbers, (mean, low, high)"))
        targets = (want["mean"], want["ci_low"], want["ci_high"])
        roles = [next((i for i, w in enumerate(targets) if abs(v - w) < 1e-5), None) for v in got]
        if None not in roles and sorted(roles) == [0, 1, 2] and roles != [0, 1, 2]:
            raise CheckFailed(_("With {n} seeds: your three numbers are right, but in the order ({order}). Return them as (mean, low, high).").format(
                n=n, order=", ".join(_(_ROLES[r]) for r in roles)))
        mean, low, high = got
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


# ----------------------------------------------------------------------------- 07.2
def _check_seeds_for_half_width(n, predicted) -> None:
    """The smallest number of seeds whose 95% interval is at most half as wide as with 5 seeds,
    for the same standard deviation of the differences. `predicted`, optional: the learner's guess,
    written down before computing (a whole number, or `...`)."""
    from ..stats import t_quantile_975

    guess = read_prediction(predicted, lambda v: integer(v, N_("a whole number of seeds as your guess")), none_means=None)
    width = lambda k: t_quantile_975(k - 1) / k ** 0.5          # noqa: E731
    target = next(k for k in range(6, 200) if width(k) <= width(5) / 2)
    n = integer(n, _("a whole number of seeds"))
    expect(n >= 2, _("With {n} seeds there is no interval at all; you need at least 2.").format(n=n))
    expect(n != 20, _("With 4 × 5 = 20 seeds the width would halve if the t multiplier stayed fixed. It shrinks as the seeds grow, so fewer seeds suffice: compute the width for a few n."))
    expect(n != 10, _("Doubling the seeds narrows the interval by about √2 (and a little more from t), not by 2."))
    expect(n <= target or width(n - 1) > width(5) / 2, _("With {n} seeds the width halves, but fewer seeds do that too: find the smallest number.").format(n=n))
    expect(n == target, _("With {n} seeds the width is {value:.2f} times the width with 5 seeds, not half. Compute the width for each n with t_quantile_975.").format(n=n, value=width(n) / width(5)))
    reveal_prediction("Exercise 07.2", guess, lambda g: _("You guessed {guess} seeds; the smallest number is {n}.").format(guess=g, n=n),
                      measured=_("The smallest number is {n} seeds.").format(n=n), wording=WORDING_07_10)


check_seeds_for_half_width = with_prediction("Exercise 07.2", _check_seeds_for_half_width)


# ----------------------------------------------------------------------------- 07.3
# Two made-up confusion matrices (rows: true class, columns: prediction, as plot_confusion draws
# them): the classes are unbalanced, so rows and columns add up differently, and in the second
# class 3 never occurs although it is predicted twice.
_MATRICES = ([[50, 2, 3, 0],
              [10, 20, 0, 5],
              [0, 1, 8, 1],
              [4, 0, 6, 90]],
             [[30, 1, 0, 2, 0],
              [3, 12, 1, 0, 0],
              [0, 2, 25, 0, 1],
              [0, 0, 0, 0, 0],
              [1, 0, 4, 0, 40]])


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)


@exercise("Exercise 07.3")
def check_confusion(fn: Callable[[torch.Tensor], object]) -> None:
    """`fn(matrix)` -> the error rate of each true class (the share of its images predicted as
    another class), k numbers, from a k×k confusion matrix of counts laid out as notebook 07's plots
    (rows: true class, columns: prediction); NaN for a class with no images."""
    for rows in _MATRICES:
        m = torch.tensor(rows)
        k, n = len(rows), int(m.sum())
        images, right, predicted = m.sum(1).double(), m.diagonal().double(), m.sum(0).double()
        want = torch.where(images > 0, 1 - right / images, torch.full_like(images, math.nan))
        try:
            answer = fn(m.clone())
        except _LearnerError as wrapped:
            if isinstance(wrapped.error, ZeroDivisionError):
                empty = int((images == 0).nonzero()[0]) if bool((images == 0).any()) else None
                raise CheckFailed(_("Your code divided by zero: in this {k}×{k} matrix class {c} has no images. Give NaN for such a class.").format(k=k, c=empty)
                                  if empty is not None else _("Your code divided by zero: every row of this {k}×{k} matrix has images, so check what you divide by.").format(k=k)) from None
            raise
        if isinstance(answer, (list, tuple)) and any(v is None for v in answer):
            c = next(i for i, v in enumerate(answer) if v is None)
            raise CheckFailed(_("Your rate for class {c} is None. A list of numbers is fine, but for a class with no images give NaN, float('nan'), so that every entry is a number.").format(c=c)
                              if c < k and not bool(images[c] > 0) else
                              _("Your rate for class {c} is None, though that class has images. Give a number for every class, and NaN, float('nan'), only for a class with no images.").format(c=c))
        got = tensor(answer, _("a tensor of k error rates"))
        expect(got.ndim == 1 and len(got) == k,
               _("For a {k}×{k} matrix return {k} numbers, one error rate per true class; you returned shape {shape}.").format(k=k, shape=tuple(got.shape)))
        if _same(got, want):
            continue
        slips = [(1 - right / predicted, N_("you divided by the column sums, the images predicted as each class. The plots' axes say which way round the matrix is: a true class's images are one row.")),
                 (right / images, N_("those are the shares of each class the model got right. The error rate is the share it got wrong.")),
                 (100 * want, N_("those are percentages. Give each rate as a share between 0 and 1.")),
                 (images - right, N_("those are counts of mistakes, not shares: a common digit makes more mistakes just by being common. Divide by each class's own number of images.")),
                 ((images - right) / n, N_("you divided each class's mistakes by all the images in the matrix. Divide by that class's own number of images, so that rare and common digits compare.")),
                 (torch.full_like(want, 1 - float(right.sum()) / n), N_("that is the overall error rate, the same for every class. Each class needs its own, from its own images."))]
        for value, hint in slips:
            expect(not _same(got, value), _("For the {k}×{k} matrix: {hint}").format(k=k, hint=_(hint)))
        empty = (images == 0)
        if bool(empty.any()) and _same(got[~empty], want[~empty]):
            c = int(empty.nonzero()[0])
            raise CheckFailed(_("Class {c} has no images in this matrix, so it has no error rate: give NaN for it, not {value:g}. A number would claim to know how often the model gets it wrong.").format(c=c, value=float(got[c])))
        bad = int(next(i for i in range(k) if not _same(got[i:i + 1], want[i:i + 1])))
        raise CheckFailed(_("For the {k}×{k} matrix your rate for class {c} is {value:.4g}. Count that class's images, and how many of them the model predicted as another class.").format(k=k, c=bad, value=float(got[bad])))
