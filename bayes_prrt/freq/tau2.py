"""Between-study variance estimators for the (mixed-effects) normal-normal model.

Model: y = X b + u + e, u ~ N(0, tau2 I), e ~ N(0, diag(v)). With W = (V + tau2 I)^-1,
P = W - W X (X'WX)^-1 X'W (Viechtbauer 2005, J Educ Behav Stat 30:261):
  DL   (DerSimonian & Laird 1986): tau2 = (QE - (k-p)) / tr(P0), P0 = P at tau2 = 0, truncated at 0
  PM   (Paule & Mandel 1982): root of y'P y = k - p (0 when y'P0 y < k - p)
  ML   maximiser of -1/2 [sum log(v + tau2) + y'Py]
  REML maximiser of -1/2 [sum log(v + tau2) + log|X'WX| + y'Py]
ML and REML: every local maximum (the boundary 0 and each root of the score y'PPy - tr(W),
resp. y'PPy - tr(P), found by Brent's method to ``TOL``) is a candidate and the one with
the highest likelihood wins. Nothing forms the k x k matrix P, so cost is O(k p^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..names import TAU2_METHODS as METHODS

TOL = 1e-12
_GRID = 60  # log-spaced points scanned for sign changes of the score


@dataclass
class Forms:
    """Weights and the quadratic forms of P at one tau2."""

    w: np.ndarray
    b: np.ndarray
    XtWX: np.ndarray
    yPy: float
    yPPy: float
    trP: float


def forms(y, v, X, tau2) -> Forms:
    w = 1.0 / (v + tau2)
    XtW = X.T * w
    XtWX = XtW @ X
    b = np.linalg.solve(XtWX, XtW @ y)
    Py = w * (y - X @ b)
    trP = w.sum() - np.trace(np.linalg.solve(XtWX, (X.T * w**2) @ X))
    return Forms(w, b, XtWX, float(y @ Py), float(Py @ Py), float(trP))


def q_generalised(y, v, X, tau2) -> float:
    return forms(y, v, X, tau2).yPy


def _brent(f, lo, hi):
    return brentq(f, lo, hi, xtol=TOL, rtol=4 * np.finfo(float).eps, maxiter=1000)


def brentq(f, a: float, b: float, xtol: float, rtol: float, maxiter: int) -> float:
    """Root of ``f`` in [a, b] by Brent's method: a line-by-line port of ``scipy.optimize.brentq``
    (``scipy/optimize/Zeros/brentq.c``), so the same iterates and root to the last bit (tested against
    it), without importing scipy.optimize, which alone would take more than the start-up budget of the
    frequentist commands."""
    xpre, xcur = float(a), float(b)
    xblk = fblk = spre = scur = 0.0
    fpre, fcur = float(f(xpre)), float(f(xcur))
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if math.copysign(1, fpre) == math.copysign(1, fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    for _ in range(maxiter):
        if fpre != 0 and fcur != 0 and math.copysign(1, fpre) != math.copysign(1, fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            spre, scur = (scur, stry) if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta) else (sbis, sbis)
        else:  # bisect
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = float(f(xcur))
    raise RuntimeError(f"Failed to converge after {maxiter} iterations, value is {xcur}")


def root_decreasing(f, upper_start: float) -> float:
    """Root of a decreasing function on [0, inf); 0 when it is not positive at 0."""
    if f(0.0) <= 0:
        return 0.0
    upper = max(upper_start, 1e-4)
    while f(upper) > 0:
        upper *= 4
        if upper > 1e10:
            raise ArithmeticError("tau2 estimating equation has no root below 1e10")
    return _brent(f, 0.0, upper)


def _loglik(method, y, v, X, tau2) -> float:
    f = forms(y, v, X, tau2)
    ll = -0.5 * (np.log(v + tau2).sum() + f.yPy)
    if method == "REML":
        ll -= 0.5 * np.linalg.slogdet(f.XtWX)[1]
    return float(ll)


def _max_likelihood(method, y, v, X, scale: float) -> float:
    def score(t):
        f = forms(y, v, X, t)
        return f.yPPy - (f.trP if method == "REML" else f.w.sum())

    upper = 100 * scale
    while score(upper) > 0:
        upper *= 4
    grid = np.concatenate([[0.0], np.geomspace(1e-8 * scale, upper, _GRID)])
    s = np.array([score(t) for t in grid])
    candidates = [0.0] + [_brent(score, grid[i], grid[i + 1])
                          for i in range(len(grid) - 1) if s[i] > 0 >= s[i + 1]]
    return max(candidates, key=lambda t: _loglik(method, y, v, X, t))


def estimate_tau2(y, v, X, method: str) -> float:
    y, v = np.asarray(y, float), np.asarray(v, float)
    k, p = X.shape
    if k - p < 1:
        return 0.0
    f0 = forms(y, v, X, 0.0)
    dl = max(0.0, (f0.yPy - (k - p)) / f0.trP)
    if method == "DL":
        return dl
    scale = max(dl, float(np.var(y)), float(np.max(v)), 1e-8)
    if method == "PM":
        return root_decreasing(lambda t: q_generalised(y, v, X, t) - (k - p), scale)
    if method in ("REML", "ML"):
        return _max_likelihood(method, y, v, X, scale)
    raise ValueError(f"unknown tau2 method {method}")
