"""Closed-form checks of the engine that need no reference file."""

import numpy as np
import pytest

from bayes_prrt.effects import ipft, median_effects, pft
from bayes_prrt.freq.rma import rma


@pytest.mark.parametrize("n", [5, 31, 261])
def test_ipft_inverts_pft(n):
    x = np.arange(1, n)  # interior counts: Miller's inverse at the study's own n recovers x/n closely
    p = ipft(pft(x, n), n)
    assert np.max(np.abs(p - x / n)) < 0.5 / n


def test_dl_equals_textbook_formula():
    y, v = np.array([0.1, 0.5, 0.9, 0.3]), np.array([0.01, 0.02, 0.04, 0.03])
    w = 1 / v
    mu = (w * y).sum() / w.sum()
    Q = (w * (y - mu) ** 2).sum()
    tau2 = max(0, (Q - 3) / (w.sum() - (w**2).sum() / w.sum()))
    fit = rma(y, v, method="DL")
    assert fit.tau2 == pytest.approx(tau2, rel=1e-12) and fit.QE == pytest.approx(Q, rel=1e-12)
    assert fit.I2 == pytest.approx(100 * (Q - 3) / Q, rel=1e-10)  # I2 = (Q - df)/Q for DL


def test_log_median_se_two_sided_and_one_sided():
    eff, used = median_effects([20.0, 22.8, 30.0], [15.0, 19.4, np.nan], [26.0, np.nan, np.nan],
                               "LOGMEDIAN", ["a", "b", "c"])
    assert used.tolist() == [True, True, False]
    se = np.sqrt(eff.vi)
    assert se[0] == pytest.approx((np.log(26) - np.log(15)) / (2 * 1.96))
    assert se[1] == pytest.approx((np.log(22.8) - np.log(19.4)) / 1.96)
    assert any("c" in n for n in eff.notes) and any("b" in n for n in eff.notes)


def test_homogeneous_studies_give_zero_tau2_for_every_estimator():
    y, v = np.full(5, 0.4), np.full(5, 0.01)
    for method in ("DL", "REML", "PM", "ML"):
        assert rma(y, v, method=method).tau2 == 0.0


def _q_profile(t):  # the generalised Q of four studies minus a chi2 quantile: what the Q-profile CI solves
    from bayes_prrt.freq.tau2 import q_generalised

    y, v = np.array([0.1, 0.5, 0.9, 0.3]), np.array([0.01, 0.02, 0.04, 0.03])
    return q_generalised(y, v, np.ones((4, 1)), t) - 0.2158


@pytest.mark.parametrize("f,a,b", [
    (lambda x: np.cos(x) - x, 0.0, 2.0), (lambda x: x**3 - 2 * x - 5, 2.0, 3.0),
    (lambda x: np.exp(x) - 1e-8, -30.0, 5.0), (lambda x: np.tanh(50 * (x - 0.3)), -1.0, 1.0),
    (lambda x: (x - 1e-3) ** 3, 0.0, 1e4), (lambda x: 0.5 - x, 0.0, 0.5), (_q_profile, 0.0, 10.0),
])
def test_illinois_finds_scipys_root(f, a, b):
    """tau2.illinois (so that the frequentist commands need not import scipy.optimize) against
    scipy.optimize.brentq: the same root within the stopping tolerance, at the tolerances the tau2
    solvers use and looser, in a bounded number of evaluations (superlinear, not bisection-slow)."""
    from scipy import optimize

    from bayes_prrt.freq.tau2 import illinois

    for xtol, rtol in [(1e-12, 4 * np.finfo(float).eps), (1e-4, 1e-6)]:
        calls = []
        root = illinois(lambda x: calls.append(x) or f(x), a, b, xtol, rtol, 1000)
        reference = optimize.brentq(f, a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=1000)
        assert abs(root - reference) <= 2 * (xtol + rtol * abs(reference)) + 1e-15
        assert len(calls) < 120


@pytest.mark.parametrize("f,a,b,maxiter,error", [
    (lambda x: np.tanh(50 * (x - 0.3)), -1.0, 1e6, 3, RuntimeError),  # not converged in 3 iterations
    (lambda x: x**2 + 1, 0.0, 1.0, 100, ValueError),  # no sign change
])
def test_illinois_fails_where_scipys_does(f, a, b, maxiter, error):
    from scipy import optimize

    from bayes_prrt.freq.tau2 import illinois

    with pytest.raises(error):
        optimize.brentq(f, a, b, xtol=1e-12, maxiter=maxiter)
    with pytest.raises(error):
        illinois(f, a, b, 1e-12, 4 * np.finfo(float).eps, maxiter)


def test_pool_without_q_profile_differs_only_in_the_intervals(dataset):
    """q_profile=False (leave-one-out's refits) drops the tau2 and I2 CIs and changes nothing else."""
    from dataclasses import asdict

    from bayes_prrt.freq.pool import pool

    rows = dataset.select("DCR", "table2")
    full, fast = asdict(pool(rows, "PFT", "REML")), asdict(pool(rows, "PFT", "REML", q_profile=False))
    assert full["tau2_ci"] is not None and full["I2_ci"] is not None
    assert fast["tau2_ci"] is None and fast["I2_ci"] is None
    assert {k: v for k, v in fast.items() if not k.endswith("_ci")} == {k: v for k, v in full.items()
                                                                         if not k.endswith("_ci")}
