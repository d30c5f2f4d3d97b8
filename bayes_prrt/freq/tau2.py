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
    return illinois(f, lo, hi, xtol=TOL, rtol=4 * np.finfo(float).eps, maxiter=1000)


def illinois(f, a: float, b: float, xtol: float, rtol: float, maxiter: int) -> float:
    """Root of ``f`` in [a, b] (f(a), f(b) of opposite signs) by the Illinois method (Dowell & Jarratt
    1971, BIT 11:168): regula falsi on the bracket, halving the function value kept at an end that
    survives two steps in a row, which makes the convergence superlinear (order about 1.44), and a
    bisection step after any step that did not halve the bracket, so that a flat function (a multiple
    root) costs at most twice bisection's evaluations. Stops when
    the bracket is narrower than 2 (xtol + rtol |x|). Written here so that the frequentist commands need
    not import scipy.optimize (more than their start-up budget); tested against scipy's brentq."""
    a, b = float(a), float(b)
    fa, fb = float(f(a)), float(f(b))
    if fa == 0 or fb == 0:
        return a if fa == 0 else b
    if math.copysign(1, fa) == math.copysign(1, fb):
        raise ValueError("f(a) and f(b) must have different signs")
    kept, width = 0, abs(b - a)  # kept: +1 a was kept last step, -1 b was
    for _ in range(maxiter):
        slow = abs(b - a) > width / 2  # the last step did not halve the bracket: bisect this one
        width = abs(b - a)
        c = (a + b) / 2 if slow else (a * fb - b * fa) / (fb - fa)
        fc = float(f(c))
        if fc == 0:
            return c
        if math.copysign(1, fc) == math.copysign(1, fb):
            b, fb = c, fc
            fa, kept = (fa / 2 if kept == 1 else fa), 1
        else:
            a, fa = c, fc
            fb, kept = (fb / 2 if kept == -1 else fb), -1
        if abs(b - a) <= 2 * (xtol + rtol * abs(c)):
            return c
    raise RuntimeError(f"no root to the tolerance after {maxiter} iterations (last {c})")


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
