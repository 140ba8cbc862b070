"""Replication statistics: mean and 95 % confidence interval (Student's t), and the
paired interval of a difference measured on common random numbers."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

# Two-sided 97.5 % quantiles of Student's t by degrees of freedom (1–30); the normal
# quantile beyond. Kept as a table so that the simulation needs no scipy.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(df: int) -> float:
    if df < 1:
        return math.nan
    if df <= len(_T975):
        return _T975[df - 1]
    # Cornish–Fisher correction of the normal quantile: within 0.001 for df > 30.
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df * df)


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high) of the 95 % interval for the mean; one value gives a zero width."""
    n = len(values)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    m = statistics.fmean(values)
    if n == 1:
        return (m, m, m)
    half = t975(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return (m, m - half, m + half)


def paired_ci(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """The interval of mean(b − a) over paired replications (same seeds, same stream)."""
    if len(a) != len(b):
        raise ValueError("paired samples differ in length")
    return mean_ci([y - x for x, y in zip(a, b, strict=True)])
