"""The split-normal marginal log-likelihood of log medians as one PyTensor Op, with its gradient.

The PyMC log-median model with the split likelihood (``models.py``) needs
    sum_i w_i log M_i(eta_i, tau),   log M_i = log C_i sqrt(2 pi) + logaddexp(P(d_i; a_i), P(-d_i; b_i)),
    P(d; s) = -log sqrt(2 pi) - log(1 + tau^2/s^2)/2 - d^2 / (2 (s^2 + tau^2)) + log Phi(z),
    z = d / (tau sqrt(1 + tau^2/s^2)),  d_i = y_i - eta_i
(``median_likelihood.py`` derives it), and its gradient in eta and tau:
    dP/dd   = -d / (s^2 + tau^2) + lambda(z) / (tau sqrt(1 + tau^2/s^2)),
    dP/dtau = -tau / (s^2 + tau^2) + d^2 tau / (s^2 + tau^2)^2 - lambda(z) (z / tau) (1 + tau^2 / (s^2 + tau^2)),
with lambda = phi / Phi the inverse Mills ratio; d log M/d eta = -(w_a P'(d; a) - w_b P'(-d; b)) and
d log M/d tau = w_a dP(d; a)/dtau + w_b dP(-d; b)/dtau, w the two pieces' shares of M. s = b = inf
(a lower bound only) is the limit: tau^2/s^2 = 1/(s^2 + tau^2) = 0.

Written as PyTensor's elementwise graph, this expression and its derivative take PyTensor 3-4 s
to rewrite and its numba backend about 260 cached scalar functions to load, in every process
that builds the model. Here it is one Op, value and gradient from one loop over the studies,
cached on disk like any other (``numba_funcify`` registration below), so the model's
preparation is dominated by its priors. The NumPy version in ``median_likelihood.py`` serves the
exact engines; the two implementations are tested against each other and against numerical
derivatives (``tests/test_split_op.py``), and every run's MCMC cross-check compares posteriors
computed with one against posteriors computed with the other.

log Phi(z): log(erfc(-z/sqrt 2)/2) for z < 0, log1p(-erfc(z/sqrt 2)/2) for z >= 0, and for
z < -20 the asymptotic series Phi(z) = phi(z)/(-z) sum_n (-1)^n (2n-1)!! / z^(2n) (Abramowitz &
Stegun 26.2.12) to 12 terms, whose truncation error there is below 1e-20 relative.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
SQRT_HALF = math.sqrt(0.5)
ASYMPTOTIC_BELOW, ASYMPTOTIC_TERMS = -20.0, 12


@numba.njit(cache=True)
def log_ndtr_mills(z):
    """(log Phi(z), phi(z) / Phi(z)) for a float z (the module docstring gives the rule)."""
    if z < ASYMPTOTIC_BELOW:
        inv, term, total = 1.0 / (z * z), 1.0, 1.0
        for n in range(1, ASYMPTOTIC_TERMS + 1):
            term *= -(2 * n - 1) * inv
            total += term
        return -0.5 * z * z - math.log(-z) - LOG_SQRT_2PI + math.log(total), -z / total
    if z < 0.0:
        log_cdf = math.log(0.5 * math.erfc(-z * SQRT_HALF))
    else:
        log_cdf = math.log1p(-0.5 * math.erfc(z * SQRT_HALF))
    return log_cdf, math.exp(-0.5 * z * z - LOG_SQRT_2PI - log_cdf)


@numba.njit(cache=True)
def _piece(d, s, tau):
    """P(d; s) and its derivatives in d and tau (the module docstring)."""
    ratio = tau * tau / (s * s)  # 0 for s = inf
    inv = 1.0 / (s * s + tau * tau)
    root_q = math.sqrt(1.0 + ratio)
    z = d / (tau * root_q) if d != 0.0 else 0.0
    log_cdf, mills = log_ndtr_mills(z)
    value = -LOG_SQRT_2PI - 0.5 * math.log1p(ratio) - 0.5 * d * d * inv + log_cdf
    by_d = -d * inv + mills / (tau * root_q)
    by_tau = -tau * inv + d * d * tau * inv * inv - mills * (z / tau) * (1.0 + tau * tau * inv)
    return value, by_d, by_tau


@numba.njit(cache=True)
def log_marginal_and_gradient(y, s_lo, s_hi, log_scale, weight, eta, tau):
    """(sum_i w_i log M_i, d/d eta (per study), d/d tau) at eta (one per study) and tau > 0."""
    total, by_tau = 0.0, 0.0
    by_eta = np.zeros(len(y))
    for i in range(len(y)):
        if weight[i] == 0.0:
            continue
        d = y[i] - eta[i]
        lo, lo_d, lo_tau = _piece(d, s_lo[i], tau)
        hi, hi_d, hi_tau = _piece(-d, s_hi[i], tau)
        top = max(lo, hi)
        w_lo, w_hi = math.exp(lo - top), math.exp(hi - top)
        norm = w_lo + w_hi
        w_lo, w_hi = w_lo / norm, w_hi / norm
        total += weight[i] * (log_scale[i] + top + math.log(norm))
        by_eta[i] = -weight[i] * ((w_lo * lo_d if w_lo > 0.0 else 0.0) - (w_hi * hi_d if w_hi > 0.0 else 0.0))
        by_tau += weight[i] * ((w_lo * lo_tau if w_lo > 0.0 else 0.0) + (w_hi * hi_tau if w_hi > 0.0 else 0.0))
    return total, by_eta, by_tau


_DATA = ("log_median", "se", "se_hi", "log_scale", "weight")  # the Op's first inputs, then eta and tau
_CACHE_KEY = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # a changed kernel is compiled afresh


class SplitLogMarginal(Op):
    """sum_i w_i log M_i(eta_i, tau) of the split-normal likelihood and its gradient, from one pass of the
    kernel: inputs the ``_DATA`` vectors, eta (vector) and tau (scalar); outputs the value (scalar), d/d eta
    (vector) and d/d tau (scalar). Its gradient (``L_op``) is the last two outputs scaled; second
    derivatives are not implemented (NUTS needs none)."""

    __props__ = ()

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(v, dtype="float64") for v in inputs]
        return Apply(self, inputs, [pt.dscalar(), pt.dvector(), pt.dscalar()])

    def perform(self, node, inputs, outputs):
        value, by_eta, by_tau = log_marginal_and_gradient(*inputs[:-1], float(inputs[-1]))
        outputs[0][0], outputs[1][0], outputs[2][0] = np.asarray(value), by_eta, np.asarray(by_tau)

    def connection_pattern(self, node):
        return [[False] * 3] * len(_DATA) + [[True] * 3] * 2

    def L_op(self, inputs, outputs, output_grads):
        data = [disconnected_type() for _ in _DATA]
        if not all(isinstance(g.type, DisconnectedType) for g in output_grads[1:]):
            return data + [grad_not_implemented(self, i, inputs[i], "second derivatives of the split marginal")
                           for i in (len(_DATA), len(_DATA) + 1)]
        g = output_grads[0]
        return data + [g * outputs[1], g * outputs[2]]


@register_funcify_and_cache_key(SplitLogMarginal)
def _numba_split(op, node=None, **kwargs):
    @numba.njit
    def split_log_marginal(y, s_lo, s_hi, log_scale, weight, eta, tau):
        value, by_eta, by_tau = log_marginal_and_gradient(y, s_lo, s_hi, log_scale, weight, eta, tau.item())
        return np.asarray(value), by_eta, np.asarray(by_tau)

    return split_log_marginal, f"split_log_marginal_{_CACHE_KEY}"


def split_log_marginal(data: dict, eta, tau):
    """The model's log-likelihood term from its ``pm.Data`` (``ModelData.arrays`` names), eta and tau."""
    return SplitLogMarginal()(*(data[name] for name in _DATA), eta, tau)[0]
