"""Kendall's rank correlation test, as R's ``cor.test(method="kendall", exact=TRUE)``.

tau_b = S / sqrt((T0 - T1)(T0 - T2)), S = sum_{i<j} sign(x_i - x_j) sign(y_i - y_j), T0 = n(n-1)/2,
T1, T2 the tied pairs in x and y (Kendall 1945, Biometrika 33:239). Without ties the two-sided
p-value is exact: the number of concordant pairs T = (S + T0)/2 has, under independence, the
distribution of the number of inversions of a random permutation (Mahonian numbers). With ties
it is the normal approximation z = S / sqrt(Var S), Var S with Kendall's tie correction, no
continuity correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from .. import distributions as dist


@dataclass(frozen=True)
class KendallTest:
    tau: float
    p: float
    exact: bool  # False: ties, normal approximation


def inversion_cdf(n: int) -> np.ndarray:
    """P(T <= t), t = 0..n(n-1)/2, for the inversions T of a uniformly random permutation of n.

    Recursion: inserting element m into a permutation of m-1 adds 0..m-1 inversions, uniformly.
    """
    pmf = np.ones(1)
    for m in range(2, n + 1):
        cum = np.concatenate([[0.0], np.cumsum(pmf)])
        size = len(pmf) + m - 1
        j = np.arange(size)
        pmf = (cum[np.minimum(j + 1, len(pmf))] - cum[np.maximum(j - m + 1, 0)]) / m
    return np.cumsum(pmf)


def _tie_sizes(a: np.ndarray) -> np.ndarray:
    counts = np.unique(a, return_counts=True)[1]
    return counts[counts > 1].astype(float)


def kendall_test(x, y) -> KendallTest:
    """Kendall's tau_b and its two-sided p-value (exact without ties)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    upper = np.triu_indices(n, 1)
    s = float(np.sum(np.sign(np.subtract.outer(x, x))[upper] * np.sign(np.subtract.outer(y, y))[upper]))
    tx, ty = _tie_sizes(x), _tie_sizes(y)
    t0 = n * (n - 1) / 2
    t1, t2 = np.sum(tx * (tx - 1)) / 2, np.sum(ty * (ty - 1)) / 2
    tau = s / np.sqrt((t0 - t1) * (t0 - t2))
    if len(tx) == 0 and len(ty) == 0:
        q = round((tau + 1) * t0 / 2)  # concordant pairs
        cdf = inversion_cdf(n)
        p = cdf[int(t0) - q] if q > t0 / 2 else cdf[q]  # upper tail by symmetry, no cancellation
        return KendallTest(float(tau), float(min(2 * p, 1.0)), True)
    def ties(t, factor):  # sum over tie groups of t (t - 1) [(2t + 5) | (t - 2) | 1]
        return np.sum(t * (t - 1) * factor(t))

    var_s = ((n * (n - 1) * (2 * n + 5) - ties(tx, lambda t: 2 * t + 5) - ties(ty, lambda t: 2 * t + 5)) / 18
             + ties(tx, np.ones_like) * ties(ty, np.ones_like) / (2 * n * (n - 1))
             + ties(tx, lambda t: t - 2) * ties(ty, lambda t: t - 2) / (9 * n * (n - 1) * (n - 2)))
    z = s / np.sqrt(var_s)
    return KendallTest(float(tau), float(2 * dist.norm_sf(abs(z))), False)
