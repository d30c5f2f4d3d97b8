"""The split-normal marginal Op of the PyMC model (``bayes/split_op.py``): its log Phi and inverse
Mills ratio against SciPy, its value against the NumPy marginal, its gradient against central
differences of the NumPy marginal, and its numba and Python implementations against each other."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import special, stats

from bayes_prrt import median_likelihood as ml
from bayes_prrt.bayes import split_op


Z = np.concatenate([np.linspace(-60, 40, 2001), [-1e6, -1e3, -20.000001, -19.999999, 0.0, -0.0, 1e-300, -1e-300, 1e3]])


def test_log_ndtr_and_mills_ratio_match_scipy():
    got = np.array([split_op.log_ndtr_mills(z) for z in Z])
    # SciPy's erfc (Cephes) is documented to 5.7e-14 relative error on [0, 26.6]: the reference's own precision
    np.testing.assert_allclose(got[:, 0], special.log_ndtr(Z), rtol=1e-13, atol=1e-300)
    # phi/Phi = sqrt(2/pi) / erfcx(-z/sqrt 2) below 0, without cancellation however far out
    below = Z < 0
    mills = np.sqrt(2 / np.pi) / special.erfcx(-np.minimum(Z, 0.0) / np.sqrt(2))
    mills[~below] = stats.norm.pdf(Z[~below]) / stats.norm.cdf(Z[~below])
    np.testing.assert_allclose(got[:, 1], mills, rtol=1e-13, atol=1e-300)


def _case(seed, k=9):
    rng = np.random.default_rng(seed)
    y = rng.normal(3.0, 0.4, k)
    s_lo = rng.uniform(0.05, 0.4, k)
    s_hi = s_lo * rng.uniform(0.3, 3.0, k)
    s_hi[:2] = np.inf  # lower bounds only
    weight = np.ones(k)
    weight[-1] = 0.0  # padding
    eta = y + rng.normal(0.0, 0.5, k)
    eta[2] = y[2]  # d = 0
    return y, s_lo, s_hi, ml.log_scale(s_lo, s_hi), weight, eta


def _numpy(y, s_lo, s_hi, scale, weight, eta, tau):
    return float(np.sum(weight * ml.log_marginal(y, s_lo, s_hi, eta, tau, scale)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tau", [1e-3, 0.02, 0.3, 2.5])
def test_value_and_gradient_match_numpy_and_central_differences(seed, tau):
    y, s_lo, s_hi, scale, weight, eta = _case(seed)
    value, by_eta, by_tau = split_op.log_marginal_and_gradient(y, s_lo, s_hi, scale, weight, eta, tau)
    assert value == pytest.approx(_numpy(y, s_lo, s_hi, scale, weight, eta, tau), rel=1e-12)
    h = 1e-6 * max(tau, 1e-2)
    for i in range(len(y)):
        up, down = eta.copy(), eta.copy()
        up[i] += h
        down[i] -= h
        numeric = (_numpy(y, s_lo, s_hi, scale, weight, up, tau)
                   - _numpy(y, s_lo, s_hi, scale, weight, down, tau)) / (2 * h)
        assert by_eta[i] == pytest.approx(numeric, rel=1e-5, abs=1e-5 * (1 + abs(numeric)))
    h = 1e-6 * tau
    numeric = (_numpy(y, s_lo, s_hi, scale, weight, eta, tau + h)
               - _numpy(y, s_lo, s_hi, scale, weight, eta, tau - h)) / (2 * h)
    assert by_tau == pytest.approx(numeric, rel=1e-5, abs=1e-5 * (1 + abs(numeric)))
    assert by_eta[-1] == 0.0  # weight 0: no gradient


def test_far_tail_gradient_is_finite():
    """tau -> 0 with d != 0: one piece's z -> -inf (the series branch), its weight -> 0."""
    y, s_lo, s_hi, scale, weight, eta = _case(0)
    value, by_eta, by_tau = split_op.log_marginal_and_gradient(y, s_lo, s_hi, scale, weight, eta, 1e-9)
    assert np.isfinite(value) and np.isfinite(by_eta).all() and np.isfinite(by_tau)
    assert value == pytest.approx(_numpy(y, s_lo, s_hi, scale, weight, eta, 1e-9), rel=1e-12)


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_COMPILE"])
def test_op_in_a_graph_gives_the_kernel_values(mode):
    """The Op and its gradient through PyTensor, compiled by numba or run by the Python ``perform``."""
    y, s_lo, s_hi, scale, weight, eta = _case(1)
    data = dict(zip(split_op._DATA, map(pt.as_tensor_variable, (y, s_lo, s_hi, scale, weight)), strict=True))
    eta_v, tau_v = pt.dvector("eta"), pt.dscalar("tau")
    out = split_op.split_log_marginal(data, eta_v, tau_v)
    f = pytensor.function([eta_v, tau_v], [out, *pytensor.grad(out, [eta_v, tau_v])], mode=mode)
    value, by_eta, by_tau = f(eta, 0.3)
    expected = split_op.log_marginal_and_gradient(y, s_lo, s_hi, scale, weight, eta, 0.3)
    assert value == pytest.approx(expected[0], rel=1e-14)
    np.testing.assert_allclose(by_eta, expected[1], rtol=1e-14)
    assert by_tau == pytest.approx(expected[2], rel=1e-14)


def test_second_derivatives_are_refused():
    """NUTS needs only the gradient; a second derivative through the Op is an error, never a wrong number."""
    from pytensor.gradient import NullTypeGradError

    y, s_lo, s_hi, scale, weight, eta = _case(2)
    data = dict(zip(split_op._DATA, map(pt.as_tensor_variable, (y, s_lo, s_hi, scale, weight)), strict=True))
    tau_v = pt.dscalar("tau")
    out = split_op.split_log_marginal(data, pt.as_tensor_variable(eta), tau_v)
    with pytest.raises(NullTypeGradError):
        pytensor.grad(pytensor.grad(out, tau_v), tau_v)
