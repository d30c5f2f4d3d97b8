"""The binomial-normal marginal likelihood by adaptive Gauss-Hermite (``likelihood.py``) against numerical
integration, and its bookkeeping (tau = 0, repeated studies, blocks)."""

import numpy as np
import pytest
from scipy import integrate, optimize, stats
from scipy.special import expit

from bayes_prrt import likelihood

X = np.array([0, 3, 17, 40, 99, 5.0])
N = np.array([8, 20, 25, 60, 100, 300.0])


def _integral(x, n, mu, tau) -> float:
    """log of int Binom(x | n, expit(mu + tau u)) N(u) du by adaptive quadrature (SciPy's QUADPACK) of the
    integrand over its peak's value, on +-60 curvature-widths around the peak (found by SciPy's optimizer)."""
    def h(u):
        return stats.binom.logpmf(x, n, expit(mu + tau * u)) + stats.norm.logpdf(u)

    peak = optimize.minimize_scalar(lambda u: -h(u), bracket=(-5, 5), tol=1e-12).x
    p = expit(mu + tau * peak)
    width = 1 / np.sqrt(tau**2 * n * p * (1 - p) + 1)
    value, _ = integrate.quad(lambda u: np.exp(h(u) - h(peak)), peak - 60 * width, peak + 60 * width,
                              points=[peak], epsabs=0, epsrel=1e-13, limit=400)
    return float(np.log(value) + h(peak))


@pytest.mark.parametrize("mu, tau, tol25, tol9", [(-1.0, 0.3, 1e-12, 1e-7), (0.5, 1.2, 1e-9, 3e-5),
                                                   (2.0, 0.05, 1e-12, 1e-7), (-3.0, 2.5, 3e-5, 3e-3)])
def test_each_study_integral_matches_numerical_integration(mu, tau, tol25, tol9):
    """Absolute error of the six studies' summed log-likelihood with 25 and with 9 nodes (the exact engine's
    fine rule; its error bound refits with 15). The error grows with tau: at tau = 2.5 the zero-event study's
    integrand is far from the Gaussian shape the rule is centred on (1.4e-5 with 25 nodes, 1.9e-3 with 9)."""
    expected = sum(_integral(x, n, mu, tau) for x, n in zip(X, N, strict=True))
    assert likelihood.loglik(X, N, mu, tau) == pytest.approx(expected, abs=tol25)
    assert likelihood.loglik(X, N, mu, tau, nodes=9) == pytest.approx(expected, abs=tol9)


def test_tau_zero_is_the_binomial_likelihood():
    assert likelihood.loglik(X, N, -0.7, 0.0) == pytest.approx(stats.binom.logpmf(X, N, expit(-0.7)).sum(), rel=1e-13)


def test_repeated_studies_are_counted_once_each_and_blocks_add_up(monkeypatch):
    mu, tau = np.meshgrid(np.linspace(-3, 1, 7), np.linspace(0, 2, 5))
    single = likelihood.loglik_grid(X, N, mu, tau, 9)
    order = np.random.default_rng(0).permutation(3 * len(X))
    repeated = likelihood.loglik_grid(np.tile(X, 3)[order], np.tile(N, 3)[order], mu, tau, 9)
    np.testing.assert_allclose(repeated, 3 * single, rtol=1e-13)
    monkeypatch.setattr(likelihood, "_BLOCK", 1)  # one study per block
    np.testing.assert_allclose(likelihood.loglik_grid(X, N, mu, tau, 9), single, rtol=1e-13)


def test_modes_solve_the_score_equation():
    mu, tau = np.array([[-2.0], [0.3], [1.5]]), np.array([[0.4], [1.0], [3.0]])
    u, scale = likelihood._modes(X, N, mu, tau)
    p = expit(mu + tau * u)
    np.testing.assert_allclose(tau * (X - N * p) - u, 0.0, atol=1e-9)
    np.testing.assert_allclose(scale, 1 / np.sqrt(tau**2 * N * p * (1 - p) + 1), rtol=1e-14)
