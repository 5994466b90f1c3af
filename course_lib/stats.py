"""Paired comparisons over seeds: the mean difference and its t-based confidence interval.

Two arms trained with the same seed share data, initialisation and batch order, so the
right comparison is the per-seed difference, not two separate means.
"""

from __future__ import annotations

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
        raise ValueError(f"degrees of freedom must be an int >= 0, got {df!r}")
    if df == 0:
        return math.inf
    return _T975[df - 1] if df <= len(_T975) else 1.960 + 2.4 / df   # within 0.002 of the table beyond 30


def paired_difference(a: Sequence[float], b: Sequence[float]) -> dict:
    """Mean of a[i] - b[i], its standard deviation, and a t-based 95% confidence interval.

    With one pair there is no interval (ci_low = ci_high = nan).
    """
    a, b = list(a), list(b)
    if len(a) != len(b) or not a:
        raise ValueError(f"need two equally long, non-empty lists of paired values, got {len(a)} and {len(b)}")
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


def describe_difference(ci: dict, what: str, unit_scale: float = 100, unit: str = " points") -> str:
    """A sentence that says what a paired interval means, from its numbers only."""
    m, lo, hi = (ci["mean"] * unit_scale, ci["ci_low"] * unit_scale, ci["ci_high"] * unit_scale)
    head = f"{what}: mean paired difference {m:+.2f}{unit} over {ci['n']} seeds"
    if ci["n"] < 2:
        return head + "; one seed gives no interval, so no conclusion."
    head += f", 95% CI [{lo:+.2f}, {hi:+.2f}]{unit}"
    if lo > 0:
        return head + ". The interval lies above zero: the difference is positive beyond seed noise."
    if hi < 0:
        return head + ". The interval lies below zero: the difference is negative beyond seed noise."
    return head + (". The interval includes zero: with these seeds the difference cannot be "
                   "told apart from seed-to-seed noise.")
