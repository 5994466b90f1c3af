"""Paired comparisons over seeds: the mean difference and its t-based confidence interval.

Two arms trained with the same seed share data, initialisation and batch order, so the
right comparison is the per-seed difference, not two separate means.
"""

from __future__ import annotations

from .i18n import N_, _

import math
import statistics
from typing import Sequence

# Two-sided 95% quantiles of Student's t, t_{0.975, df}, for df = 1..30 (any statistics table).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """t_{0.975, df}: the multiplier of the standard error in a 95% interval. With 0 degrees of
    freedom (one seed) there is no interval: the multiplier is infinite."""
    if not isinstance(df, int) or isinstance(df, bool) or df < 0:
        raise ValueError(_("degrees of freedom must be an int >= 0, got {df!r}").format(df=df))
    if df == 0:
        return math.inf
    return _T975[df - 1] if df <= len(_T975) else 1.960 + 2.4 / df   # within 0.002 of the table beyond 30


def paired_difference(a: Sequence[float], b: Sequence[float]) -> dict:
    """Mean of a[i] - b[i], its standard deviation, and a t-based 95% confidence interval.

    With one pair there is no interval (ci_low = ci_high = nan).
    """
    a, b = list(a), list(b)
    if len(a) != len(b) or not a:
        raise ValueError(_("need two equally long, non-empty lists of paired values, got {a} and {b}").format(a=len(a), b=len(b)))
    d = [x - y for x, y in zip(a, b)]
    n, mean = len(d), statistics.fmean(d)
    std = statistics.stdev(d) if n > 1 else 0.0
    if n > 1:
        half = t_quantile_975(n - 1) * std / math.sqrt(n)
        low, high = mean - half, mean + half
    else:
        low = high = math.nan
    return {"mean": mean, "std": std, "n": n, "ci_low": low, "ci_high": high,
            "diffs": d, "excludes_zero": n > 1 and (low > 0 or high < 0)}


def describe_difference(ci: dict, what: str, unit_scale: float = 100, unit: str = N_(" points")) -> str:
    """A sentence that says what a paired interval means, from its numbers only."""
    m, lo, hi = (ci["mean"] * unit_scale, ci["ci_low"] * unit_scale, ci["ci_high"] * unit_scale)
    unit = _(unit)
    head = _("{what}: mean paired difference {mean:+.2f}{unit} over {n} seeds").format(what=what, mean=m, unit=unit, n=ci["n"])
    if ci["n"] < 2:
        return head + _("; one seed gives no interval, so no conclusion.")
    head += _(", 95% CI [{low:+.2f}, {high:+.2f}]{unit}").format(low=lo, high=hi, unit=unit)
    if lo > 0:
        return head + _(". The interval lies above zero: the difference is positive beyond seed noise.")
    if hi < 0:
        return head + _(". The interval lies below zero: the difference is negative beyond seed noise.")
    return head + _(". The interval includes zero: with these seeds the difference cannot be "
                    "told apart from seed-to-seed noise.")


def binomial_interval(successes: int, n: int) -> tuple[float, float]:
    """The Wilson score 95% interval for a proportion: `successes` of `n` trials.

    (Wilson 1927; it keeps its coverage near 95% for small n and proportions near 0 or 1, where the
    textbook p ± 1.96·√(p(1−p)/n) does not.)
    """
    if not (isinstance(n, int) and n > 0 and isinstance(successes, int) and 0 <= successes <= n):
        raise ValueError(_("need 0 <= successes <= n with n > 0 (whole numbers), got {successes} of {n}").format(successes=successes, n=n))
    z, p = 1.959964, successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (0.0 if successes == 0 else centre - half), (1.0 if successes == n else centre + half)


def describe_vs_chance(successes: int, n: int, chance: float, what: str) -> str:
    """A sentence that says whether an accuracy of `successes`/`n` is above chance, from its interval."""
    low, high = binomial_interval(successes, n)
    head = _("{what}: {share:.1%} of {n} ({successes} right), 95% interval [{low:.1%}, {high:.1%}]; chance is "
             "{chance:.0%}").format(what=what, share=successes / n, n=n, successes=successes, low=low, high=high,
                                    chance=chance)
    if low > chance:
        return head + _(". The interval lies above chance: better than guessing, beyond sampling noise.")
    if high < chance:
        return head + _(". The interval lies below chance.")
    return head + _(". The interval includes chance: it cannot be told apart from guessing.")


def chance_level(labels, num_classes: int | None = None) -> dict:
    """What a model that ignores its input can reach on a split with these `labels`.

    "majority_error": the error of always answering the most common class (the best constant
    answer); "entropy": the entropy of the label frequencies in nats, which is the lowest
    cross-entropy loss a constant prediction can reach (a model that learned only the class
    frequencies ends there); "uniform_error" and "uniform_loss": guessing every class with equal
    probability, 1 − 1/k and ln k. On balanced labels the two agree; on the bundled digits they
    do not (no digit is exactly a tenth).
    """
    values = [int(v) for v in (labels.tolist() if hasattr(labels, "tolist") else labels)]
    if not values:
        raise ValueError(_("chance_level needs at least one label"))
    if any(v < 0 for v in values):
        raise ValueError(_("labels must be class indices >= 0, got {v}").format(v=min(values)))
    k = num_classes if num_classes is not None else max(values) + 1
    if k < max(values) + 1:
        raise ValueError(_("num_classes={k}, but a label is {v}").format(k=k, v=max(values)))
    counts = [0] * k
    for v in values:
        counts[v] += 1
    n = len(values)
    top = max(range(k), key=lambda c: counts[c])
    entropy = -sum(c / n * math.log(c / n) for c in counts if c)
    return {"n": n, "num_classes": k, "counts": counts, "majority_class": top,
            "majority_error": 1 - counts[top] / n, "entropy": entropy + 0.0,
            "uniform_error": 1 - 1 / k, "uniform_loss": math.log(k)}


def modes(values: Sequence[float]) -> list[int]:
    """Every index where `values` takes its largest value (ties kept: [1, 3, 3] -> [1, 2])."""
    values = list(values)
    if not values:
        raise ValueError(_("modes of an empty sequence"))
    top = max(values)
    return [i for i, v in enumerate(values) if v == top]


def join_words(items: Sequence) -> str:
    """'4', '4 and 5', '4, 5 and 6'."""
    items = [str(x) for x in items]
    return items[0] if len(items) == 1 else _(", ").join(items[:-1]) + _(" and ") + items[-1]
