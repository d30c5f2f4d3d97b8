"""Exact (deterministic quadrature) posteriors of the hierarchical models, with or without covariates.

Entry point ``exact_posterior(kind, y, scale, X, priors, coef_names, levels)``; the models are
those of ``models.py``: mu, beta_j ~ normal, tau ~ any ``Prior``.

Log-median (``kind="median"``, any design X): given tau everything is Gaussian,
theta = (mu, beta) | tau, y ~ N(m(tau), P(tau)^-1) with P = Lambda0 + X'WX,
W = diag 1/(s_i^2 + tau^2), m = P^-1 (Lambda0 theta0 + X'Wy), and
p(tau | y) ~ p(tau) N(y; X theta0, W^-1 + X Lambda0^-1 X') (Roever 2020, J Stat Softw 93(6),
extended to a regression). tau is integrated by the midpoint rule on 400 cells; every linear
quantity c'theta is a mixture of normals over the cells, its CDF is exact given the tau rule.

Binomial, categorical covariate (treatment coding, level j = 0 the reference; also p = 0):
with a_0 = mu and a_j = mu + beta_j, given tau the likelihood factorises by level and
a_j | mu, tau ~ N(a; mu + b0, sb^2) L_j(a | tau), so
  p(tau, mu | y) ~ p(tau) N(mu; m0, s0^2) L_0(mu | tau) prod_j int N(a; mu + b0, sb^2) L_j(a | tau) da,
L_j the level's marginal likelihood (each study's random effect by adaptive Gauss-Hermite,
``likelihood.loglik_grid``). tau, mu and each a_j are on midpoint lattices (48 tau cells, a
common step giving >= 48 cells to the narrowest location); beta_j = a_j - mu and contrasts
a_j - a_l are lattice differences (exact sums; a_j, a_l are independent given tau, mu).
A level's conditional masses q_j(tau, mu, a) = L_j(a | tau) N(a; mu + b0, sb^2) h / C_j(tau, mu) are kept
as their two factors, so C_j and the sums of W q_j over tau or mu are matrix products; the 3-D table
is formed in blocks only for the contrasts' FFTs (all pairs of levels in one pass), and kept whole
only where underflow in the factors could matter (``_Factored.hold``, on the whole joint; the same
numbers either way, to round-off, tested).
Binomial, one numeric covariate: a 3-D midpoint lattice over (tau, beta, mu), 64 x 48 x 48 cells.
Log-median with the split-normal likelihood (``scale_hi`` given; ``median_likelihood.py``): given
tau the posterior is no longer Gaussian, so it takes the binomial rules (no covariate or one
categorical, or one numeric covariate), each study's term the closed-form marginal instead of
Gauss-Hermite.
Both binomial rules find the region first on a coarse grid (log mass within ``DROP`` of its
maximum, mu and a_j in [-15, 15], widened once to [-40, 40] for the categorical rule when
needed, tau in [0, 10] or the prior's support), each study's term there by Gauss-Hermite with 3
nodes (categorical rule) or 5 (numeric covariate): the grid only places the fine one.

Error bound: ``ExactPosterior.error_bound`` refits on a twice-finer rule (half the steps, 15
instead of 9 Gauss-Hermite nodes) and returns the largest relative difference of the 2.5%, 50%
and 97.5% quantiles over every reported quantity, on the outcome scale (proportion or months;
odds or median ratio for beta and contrasts; tau itself). Measured on the embedded data:
ORR by grade 6e-5, PFS by grade 6e-13, DCR by site (5 levels) 8e-4, ORR on g3_share 3e-4.
References (tests/test_exact.py): R bayesmeta (bayesmeta() and bmr()), REML, long MCMC, SBC.
Not covered (use MCMC): a uniform prior on mu or beta, more than one numeric covariate or a
mix of covariates in the binomial model, a posterior the coarse box does not hold.
"""

from __future__ import annotations

import itertools
from functools import cached_property

import numpy as np
from scipy import stats
from scipy.fft import irfft, next_fast_len, rfft
from scipy.special import expit

from ..errors import AnalysisError, ExactUnavailable
from .. import median_likelihood
from ..likelihood import loglik_grid
from ..priors import Prior
from .marginal import Mapped, Lattice, Marginal, NormalMixture

DROP = 20.0  # log mass below the maximum that the fine grids need not cover
BOXES, COARSE_H, COARSE_TAU, TAU_MAX = (15.0, 40.0), 0.5, 20, 10.0
LEVEL_CELLS, LEVEL_CELLS_MAX, TAU_CELLS, NODES = 48, 240, 48, 9
COARSE_NODES = 3  # the categorical rule's coarse grid: it only places the fine one (the same spans on the embedded data as 5)
SLOPE_CELLS = (64, 48, 48)  # tau, beta, mu
NORMAL_TAU_CELLS, NORMAL_TAU_COARSE = 400, 200
SPLIT_CELLS = {1: (128, 128, 128), "levels": (96, 160, 320)}  # split likelihood: tau, fewest and most location cells
TAU_DOUBLINGS = 2  # the split likelihood's uniform tau grid (numeric covariate) may reach TAU_MAX x 2^2 ...
TAU_DOUBLINGS_ASINH, ASINH_SCALE = 12, 0.25  # ... its lattice grid, uniform in asinh(tau / 0.25), TAU_MAX x 2^12
QUANTILES = (0.025, 0.5, 0.975)
LINKS = {"binary": expit, "median": np.exp}


def _logsumexp(a, axis=None):
    """log sum exp(a) over ``axis`` (an int, a tuple or None), shifted by the maximum; a slice of -inf gives
    -inf. SciPy's ``logsumexp`` without its generality: a third of its time on these tables."""
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(a - top), axis=axis)) + np.squeeze(top, axis=axis)


def exact_posterior(kind: str, y, scale, X, priors: dict[str, Prior], coef_names=None, levels=None,
                    refine: int = 1, scale_hi=None) -> "ExactPosterior":
    """Exact posterior of the binomial (``kind="binary"``: y = events, scale = n) or log-median
    (``kind="median"``: y = log medians, scale = their SEs) model.

    X: (k, p) covariates without the intercept (p = 0 allowed); coef_names: the p column names;
    levels: for one categorical covariate, its level names with the reference first (X then
    holds the p = len(levels) - 1 treatment dummies). ``refine`` = 2 halves every step.
    ``scale_hi``: log medians under the split-normal likelihood, scale the lower and scale_hi the
    upper half's SE (infinite: a lower bound only).
    """
    y, scale = np.asarray(y, float), np.asarray(scale, float)
    X = np.asarray(X, float).reshape(len(y), -1)
    p = X.shape[1]
    coef_names = list(coef_names) if coef_names is not None else [f"beta{j + 1}" for j in range(p)]
    _check(kind, y, scale, X, priors, coef_names, levels)
    loglik, data = loglik_grid, scale
    if scale_hi is not None:
        scale_hi = np.asarray(scale_hi, float)
        if kind != "median" or scale_hi.shape != scale.shape or not (scale_hi > 0).all():
            raise AnalysisError("the split likelihood needs log medians with an upper-half SE > 0 (or inf) per study")
        loglik, data = _split_loglik, np.column_stack([scale, scale_hi])
    asinh = scale_hi is not None and (levels is not None or p == 0)  # split, the lattice rules: an asinh tau grid
    tau_max = TAU_MAX if scale_hi is None else _tau_reach(y, data, priors, asinh)
    if kind == "median" and scale_hi is None:
        engine = _Normal(y, scale, X, priors, refine)
    elif levels is not None or p == 0:
        cells = ((TAU_CELLS, LEVEL_CELLS, LEVEL_CELLS_MAX) if scale_hi is None
                 else SPLIT_CELLS[1 if p == 0 else "levels"])
        engine = _Levels(y, data, _level_index(X), p + 1, priors, refine, loglik, tau_max, cells,
                         ASINH_SCALE if asinh else None)
    elif p == 1:
        engine = _Slope(y, data, X[:, 0], priors, refine, loglik, tau_max)
    else:
        raise ExactUnavailable(f"the exact {'binomial' if kind == 'binary' else 'split-likelihood'} engine takes one "
                               f"categorical or one numeric covariate, not {p} columns; use MCMC")
    return ExactPosterior(kind, engine, coef_names, list(levels) if levels is not None else None,
                          (kind, y, scale, X, priors, coef_names, levels, refine, scale_hi))


def _split_loglik(y, halves, mu, tau, nodes):
    """The split-normal marginal log-likelihood on a (mu, tau) grid, halves = (lower SE, upper SE) columns
    (closed form: ``nodes`` unused)."""
    return median_likelihood.loglik_grid(y, halves[:, 0], halves[:, 1], mu, tau)


def _tau_reach(y, halves, priors, asinh: bool) -> float:
    """The upper end of tau's grid for the split likelihood: TAU_MAX, doubled until tau's log posterior there
    (mu on the coarse box, covariates left aside) is DROP below its peak on [0, TAU_MAX]. A lower bound only
    leaves the likelihood flat in tau's tail, so a heavy-tailed prior (half-Cauchy) reaches far: on a grid
    uniform in asinh(tau / ASINH_SCALE) (``asinh``, ``_TauAxis``), ~log tau, the density per unit log tau must
    drop, up to TAU_DOUBLINGS_ASINH doublings; on a uniform grid the density, up to TAU_DOUBLINGS. A tail
    heavier still is left to MCMC."""
    if priors["tau"].family == "uniform":
        return TAU_MAX
    box = np.arange(-BOXES[0], BOXES[0], COARSE_H) + COARSE_H / 2

    def logpost(tc):
        mu, tau = np.meshgrid(box, tc)
        lp = _logsumexp(_split_loglik(y, halves, mu, tau, 0) + priors["mu"].logpdf(mu), 1) + priors["tau"].logpdf(tc)
        return lp + np.log(np.maximum(tc, ASINH_SCALE)) if asinh else lp  # per unit log tau (asinh grid)

    peak = logpost(_midpoints(0.0, TAU_MAX, COARSE_TAU)[0]).max()
    margin = 4.0 if asinh else 0.0  # the last coarse cell's centre lies below the end of the grid
    for doubling in range((TAU_DOUBLINGS_ASINH if asinh else TAU_DOUBLINGS) + 1):
        if logpost(np.array([TAU_MAX * 2.0**doubling]))[0] < peak - DROP - margin:
            return TAU_MAX * 2.0**doubling
    raise ExactUnavailable("the posterior of tau has too heavy a tail for the exact engine; use MCMC")


def _check(kind, y, scale, X, priors, coef_names, levels) -> None:
    k, p = X.shape
    if kind not in LINKS:
        raise AnalysisError(f"unknown model kind '{kind}'; use binary or median")
    if k == 0 or len(scale) != k or not (np.isfinite(y).all() and np.isfinite(scale).all() and np.isfinite(X).all()):
        raise AnalysisError("the exact engine needs finite y, scale and X of one length per study")
    if kind == "binary" and ((y < 0).any() or (y > scale).any() or (y != np.round(y)).any() or (scale < 1).any()):
        raise AnalysisError("binomial data need whole event counts 0 <= events <= n and n >= 1")
    if kind == "median" and (scale <= 0).any():
        raise AnalysisError("every log-median needs a standard error > 0")
    for name in ("mu",) + (("beta",) if p else ()):
        if priors[name].family != "normal":
            raise ExactUnavailable(f"the exact engine needs a normal prior on {name}, not {priors[name]}; use MCMC")
    if len(coef_names) != p:
        raise AnalysisError(f"{len(coef_names)} coefficient names for {p} covariate columns")
    if levels is not None:
        dummies = set(np.unique(X)) <= {0.0, 1.0} and (X.sum(1) <= 1).all()
        if len(levels) != p + 1 or not dummies:
            raise AnalysisError("levels need X to be the treatment dummies of the non-reference levels")


def _level_index(X) -> np.ndarray:
    """Level of each study from treatment dummies: 0 = reference, j = column j - 1 set."""
    return np.where(X.sum(1) > 0, X.argmax(1) + 1, 0) if X.shape[1] else np.zeros(len(X), int)


def _blocks(n: int, row_size: int, budget: int = 2_000_000):
    """Slices of ``n`` rows, each holding at most ``budget`` numbers (at least one row)."""
    step = max(1, budget // max(row_size, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _midpoints(lo: float, hi: float, cells: int) -> tuple[np.ndarray, float]:
    h = (hi - lo) / cells
    return lo + (np.arange(cells) + 0.5) * h, h


def _tau_support(prior: Prior, default_hi: float) -> tuple[float, float, bool]:
    """The tau interval to grid and whether its upper end is the prior's own bound."""
    if prior.family == "uniform":
        return prior.params[0], prior.params[1], True
    return 0.0, default_hi, False


def _span(centres, h, logmass, what: str, check=(True, True)):
    """[lo, hi] holding the cells within DROP of the maximum, one cell either side; an error
    when that reaches a ``check``-ed end of the coarse grid (the posterior is not held)."""
    idx = np.flatnonzero(logmass > logmass.max() - DROP)
    if (check[0] and idx[0] == 0) or (check[1] and idx[-1] == len(centres) - 1):
        raise ExactUnavailable(f"the exact engine's grid does not hold the posterior of {what}; use MCMC")
    return centres[idx[0]] - 1.5 * h, centres[idx[-1]] + 1.5 * h


class _TauAxis:
    """tau's midpoint cells, uniform in s = asinh(tau / scale), or in tau itself when ``scale`` is None.
    A cell's weight is its width in tau, scale cosh(s) h_s at its centre (the midpoint rule in s of
    f(tau(s)) tau'(s) ds), so a heavy tail costs cells in proportion to log tau, not tau."""

    def __init__(self, lo: float, hi: float, cells: int, scale: float | None) -> None:
        self.scale = scale
        self.s, self.hs = _midpoints(self._s(lo), self._s(hi), cells)
        self.tc = self._tau(self.s)
        self.ht = self.hs if scale is None else scale * np.cosh(self.s) * self.hs

    def _s(self, tau):
        return tau if self.scale is None else np.arcsinh(np.asarray(tau, float) / self.scale)

    def _tau(self, s):
        return s if self.scale is None else self.scale * np.sinh(s)

    def span(self, logmass, check) -> tuple[float, float]:
        """``_span`` on this axis, as a tau interval."""
        lo, hi = _span(self.s, self.hs, logmass, "tau", check)
        return float(self._tau(lo)), float(self._tau(hi))

    def marginal(self, mass, t_lo) -> Marginal:
        inner = _tau_marginal(self.s, self.hs, mass, self._s(t_lo))
        return inner if self.scale is None else Mapped(inner, self._tau, self._s)

    def jitter(self, cell, rng) -> np.ndarray:
        """tau drawn uniformly in s within each ``cell``."""
        return self._tau(self.s[cell] + (rng.random(len(cell)) - 0.5) * self.hs)


def _tau_marginal(tc, ht, mass, t_lo) -> Marginal:
    """tau's lattice marginal; mirrored at the lower end when that is the prior's bound (density > 0 there)."""
    lower = tc[0] - ht / 2
    return Lattice(lower, ht, mass, reflect=bool(np.isclose(lower, t_lo)))


class _Factored:
    """A level's conditional masses q(tau, mu, a) = L(tau, a) P(mu, a) / C(tau, mu), kept as the factors: L the
    level's likelihood over its maximum per tau, P the prior of a given mu (times the step) over its maximum per
    mu, C = L P' (a matrix product). The normaliser and both sums of W q are then matrix products; the 3-D
    table is formed only in blocks, for a contrast's convolution, and row by row for draws."""

    SAFE = 1e-280  # a C below this may have lost terms to underflow (each below 2.3e-308) beyond rel 1e-27

    def __init__(self, L, P, C, shift):
        self.L, self.P, self.C, self.shift = L, P, C, shift
        self.kept = C >= self.SAFE  # the cells whose C is exact (``hold``: the others carry no mass)
        self.inv = np.where(self.kept, 1.0 / np.where(self.kept, C, 1.0), 0.0)

    @classmethod
    def make(cls, logL, logprior):
        """The factors and log C (the level's term of log W, -inf where C is not kept); (None, None) where a row
        of ``logL`` is all -inf."""
        top_l, top_p = logL.max(1, keepdims=True), logprior.max(1, keepdims=True)
        if not (np.isfinite(top_l).all() and np.isfinite(top_p).all()):
            return None, None
        L, P = np.exp(logL - top_l), np.exp(logprior - top_p)
        table = cls(L, P, L @ P.T, top_l + top_p.T)
        return table, np.where(table.kept, np.log(np.where(table.kept, table.C, 1.0)) + table.shift, -np.inf)

    def upper(self, logC) -> np.ndarray:
        """The largest log C each cell can have: log C where kept, else its C plus every term lost to underflow
        (each below 2.3e-308)."""
        return np.where(self.kept, logC, self.shift + np.log(self.C + self.L.shape[1] * 2.3e-308))

    @staticmethod
    def hold(base, tables, logCs) -> bool:
        """True unless a cell some level left out (its C below ``SAFE``) might carry mass: with every level's
        largest possible log C (``upper``), such a cell's log mass must lie 2 x DROP below the largest cell
        every level kept. Checked on the whole joint, as a later level can move the mass onto a cell an
        earlier one left out."""
        factored = [t for t in tables if isinstance(t, _Factored)]
        out = np.zeros(base.shape, bool)
        for table in factored:
            out |= ~table.kept
        if not out.any():
            return True
        if out.all():
            return False
        bound = base + sum(t.upper(c) if isinstance(t, _Factored) else c for t, c in zip(tables, logCs, strict=True))
        return bool(np.max(bound[out]) < np.max(bound[~out]) - 2 * DROP)

    def block(self, rows) -> np.ndarray:
        """q for the tau ``rows`` (a slice), (rows, mu, a)."""
        return self.L[rows, None, :] * self.P[None, :, :] * self.inv[rows, :, None]

    def at(self, t, m) -> np.ndarray:
        """q at the cells (t_i, m_i), (cells, a)."""
        return self.L[t] * self.P[m] * self.inv[t, m][:, None]

    def sums(self, W):
        """W q summed over mu, (tau, a), and over tau, (mu, a)."""
        R = W * self.inv
        return self.L * (R @ self.P), self.P * (R.T @ self.L)


class _Dense:
    """A level's conditional masses q(tau, mu, a) as one 3-D table, each (tau, mu) row shifted by its own maximum
    before it is exponentiated: for a level whose likelihood and prior are too far apart for ``_Factored``
    (the same interface: ``block``, ``at``, ``sums``)."""

    def __init__(self, q):
        self.q = q

    @classmethod
    def make(cls, logL, logprior):
        q = np.empty((logL.shape[0], logprior.shape[0], logL.shape[1]))
        logC = np.empty(q.shape[:2])
        for rows in _blocks(len(q), q[0].size):  # tau rows in blocks: temporaries stay small
            block = q[rows]  # a view: filled in place
            np.add(logprior[None], logL[rows, None, :], out=block)
            top = block.max(2, keepdims=True)
            top[~np.isfinite(top)] = 0.0
            np.exp(np.subtract(block, top, out=block), out=block)
            C = block.sum(2, keepdims=True)
            np.divide(block, C, out=block, where=C > 0)
            with np.errstate(divide="ignore"):
                logC[rows] = np.log(C[..., 0]) + top[..., 0]
        return cls(q), logC

    def block(self, rows) -> np.ndarray:
        return self.q[rows]

    def at(self, t, m) -> np.ndarray:
        return self.q[t, m]

    def sums(self, W):
        by_tau, by_mu = np.zeros((self.q.shape[0], self.q.shape[2])), np.zeros(self.q.shape[1:])
        for rows in _blocks(len(self.q), self.q[0].size):
            block = W[rows, :, None] * self.q[rows]
            by_tau[rows] = block.sum(1)
            by_mu += block.sum(0)
        return by_tau, by_mu


class _Levels:
    """Binomial model with a_0 = mu and a_j = mu + beta_j (see module docstring)."""

    def __init__(self, events, n, level, L, priors, refine, loglik=loglik_grid, tau_max=TAU_MAX,
                 cells=(TAU_CELLS, LEVEL_CELLS, LEVEL_CELLS_MAX), tau_scale: float | None = None):
        self.priors, self.L, self.loglik = priors, L, loglik
        self.studies = [(events[level == j], n[level == j]) for j in range(L)]
        t_lo, t_hi, self.tau_bounded = _tau_support(priors["tau"], tau_max)
        self.t_lo = t_lo
        coarse = _TauAxis(t_lo, t_hi, COARSE_TAU, tau_scale)
        tc, ht = coarse.tc, coarse.ht
        for half in BOXES:  # a wider box only when the first does not hold the posterior
            box = np.arange(-half, half, COARSE_H) + COARSE_H / 2
            logW, q = self._tables(tc, ht, [box] * L, COARSE_H, COARSE_NODES)
            try:
                tspan = coarse.span(_logsumexp(logW, 1), (False, not self.tau_bounded))
                spans = [_span(box, COARSE_H, _logsumexp(logW, 0), "mu")]
                top = logW.max()
                with np.errstate(divide="ignore"):
                    spans += [_span(box, COARSE_H, np.log(q[j].sums(np.exp(logW - top))[0].sum(0)) + top,
                                    f"level {j}") for j in range(1, L)]
                break
            except AnalysisError:
                if half == BOXES[-1]:
                    raise
        widths = [hi - lo for lo, hi in spans]
        tau_cells, level_cells, level_cells_max = cells
        h = max(min(widths) / level_cells, max(widths) / level_cells_max) / refine
        self.grids = [lo + (np.arange(int(np.ceil(w / h))) + 0.5) * h for (lo, _), w in zip(spans, widths)]
        self.h = h
        self.axis = _TauAxis(max(t_lo, tspan[0]), t_hi if self.tau_bounded else tspan[1], tau_cells * refine,
                             tau_scale)
        self.tc, self.ht = self.axis.tc, self.axis.ht
        logW, self.q = self._tables(self.tc, self.ht, self.grids, h, NODES if refine == 1 else 15)
        self.W = np.exp(logW - _logsumexp(logW))
        self._sums: dict[tuple[int, int], np.ndarray] = {}

    def _tables(self, tc, ht, grids, h, nodes):
        """log W (tau, mu) joint masses and, per level j >= 1, its conditional masses q_j (tau, mu, a), each
        (tau, mu) row summing to 1 (``_Factored``, or ``_Dense`` where the factors lose precision)."""
        m0, s0 = self.priors["mu"].params
        b0, sb = self.priors["beta"].params if self.L > 1 else (0.0, 1.0)
        mu = grids[0]
        logL = [self.loglik(x, n, *np.meshgrid(g, tc), nodes) if len(x) else np.zeros((len(tc), len(g)))
                for (x, n), g in zip(self.studies, grids)]  # (tau, a)
        logW = (self.priors["tau"].logpdf(tc)[:, None] + np.log(np.broadcast_to(ht, tc.shape))[:, None]
                + stats.norm.logpdf(mu, m0, s0)[None, :]
                + np.log(h) + logL[0])
        priors = [stats.norm.logpdf(g[None, :] - mu[:, None], b0, sb) + np.log(h) for g in grids[1:]]  # (mu, a)
        made = [_Factored.make(l, prior) for l, prior in zip(logL[1:], priors, strict=True)]
        made = [(t, c) if t is not None else _Dense.make(l, prior) for (t, c), l, prior in zip(made, logL[1:], priors)]
        if made and not _Factored.hold(logW, *zip(*made)):
            made = [_Dense.make(l, prior) for l, prior in zip(logL[1:], priors, strict=True)]
        for _, logC in made:
            logW = logW + logC
        return logW, [None] + [table for table, _ in made]

    # quantities --------------------------------------------------------------------------------
    def tau(self) -> Marginal:
        return self.axis.marginal(self.W.sum(1), self.t_lo)

    def _joint(self, j, axis: int):
        """Masses of (tau, mu, a_j) summed over ``axis`` (0: tau, 1: mu); both sums are made at once and kept."""
        if (j, axis) not in self._sums:
            by_tau, by_mu = self.q[j].sums(self.W)
            self._sums |= {(j, 1): by_tau, (j, 0): by_mu}
        return self._sums[(j, axis)]

    def _a_tau(self, j):
        """Masses of (tau, a_j) and the a_j grid."""
        return (self.W, self.grids[0]) if j == 0 else (self._joint(j, 1), self.grids[j])

    def level(self, j) -> Marginal:
        mass, grid = self._a_tau(j)
        return Lattice(grid[0] - self.h / 2, self.h, mass.sum(0))

    def difference(self, j, l) -> Marginal:
        """a_j - a_l on the lattice of differences (a_j, a_l independent given tau, mu)."""
        if j == l:
            raise AnalysisError("a contrast needs two different levels")
        if l == 0 or j == 0:
            sign, j = (1, j) if l == 0 else (-1, l)
            mass = self._joint(j, 0)  # (mu, a_j)
            M, G = mass.shape
            idx = (np.arange(G)[None, :] - np.arange(M)[:, None] + M - 1).ravel()
            d = np.bincount(idx, weights=mass.ravel(), minlength=M + G - 1)
            x0 = self.grids[j][0] - self.grids[0][0] - (M - 0.5) * self.h
        else:
            sign = 1 if j < l else -1
            d, x0 = self._differences[(min(j, l), max(j, l))]
        if sign < 0:
            d, x0 = d[::-1], -(x0 + len(d) * self.h)
        return Lattice(x0, self.h, d)

    @cached_property
    def _differences(self) -> dict[tuple[int, int], tuple[np.ndarray, float]]:
        """Lattice masses of a_j - a_l and the lattice's start, for every pair 0 < j < l: sum over (tau, mu) of W
        times the convolution of q_j with q_l reversed along a. By linearity one inverse FFT per pair of the
        W-weighted sum of the forward transforms' products, taken in one pass over tau in which each level's
        block is transformed once (its reversal is conjugation times a phase: FFT(rev y)_k =
        exp(-2 pi i k (G - 1) / n) conj(FFT(y)_k) for a real y of length G)."""
        levels = range(1, self.L)
        pairs = list(itertools.combinations(levels, 2))
        if not pairs:
            return {}
        G = {j: len(self.grids[j]) for j in levels}
        n = next_fast_len(2 * max(G.values()) - 1, real=True)  # no wrap-around for any pair
        spectra = {pair: np.zeros(n // 2 + 1, complex) for pair in pairs}
        for rows in _blocks(len(self.tc), 2 * len(levels) * len(self.grids[0]) * (n // 2 + 1)):  # bounded memory
            F = {j: rfft(self.q[j].block(rows), n, axis=2) for j in levels}
            for j in levels[:-1]:
                weighted = self.W[rows, :, None] * F[j]
                for l in range(j + 1, self.L):
                    spectra[(j, l)] += np.einsum("tmk,tmk->k", weighted, np.conj(F[l]))
        k = np.arange(n // 2 + 1)
        out = {}
        for (j, l), spectrum in spectra.items():
            size = G[j] + G[l] - 1
            d = irfft(spectrum * np.exp(-2j * np.pi * k * (G[l] - 1) / n), n)[:size]
            out[(j, l)] = (np.clip(d, 0.0, None),  # FFT round-off can go below 0
                           self.grids[j][0] - self.grids[l][0] - (G[l] - 0.5) * self.h)
        return out

    def predictive(self, j) -> Marginal:
        mass, grid = self._a_tau(j)
        return NormalMixture(mass, grid[None, :], self.tc[:, None])

    def draws(self, size, rng):
        T, M = self.W.shape
        cell = rng.choice(T * M, size=size, p=self.W.ravel())
        t, m = np.unravel_index(cell, (T, M))
        tau = self.axis.jitter(t, rng)
        mu = self.grids[0][m] + (rng.random(size) - 0.5) * self.h
        beta = np.empty((size, self.L - 1))
        for j in range(1, self.L):
            cum = np.cumsum(self.q[j].at(t, m), 1)
            g = np.minimum((cum < rng.random(size)[:, None] * cum[:, -1:]).sum(1), cum.shape[1] - 1)
            beta[:, j - 1] = self.grids[j][g] + (rng.random(size) - 0.5) * self.h - mu
        return mu, beta, tau

    def _v(self, j) -> np.ndarray:
        """Coefficients of a_j: e0 for the reference, e0 + e_j otherwise."""
        v = np.zeros(self.L)
        v[0] = 1.0
        v[j] += j > 0
        return v

    def linear(self, c) -> Marginal:
        """c'theta for c = a_j (level value), beta_j = a_j - a_0 or a_j - a_l (contrast)."""
        c = np.asarray(c, float)
        for j in range(self.L):
            if np.array_equal(c, self._v(j)):
                return self.level(j)
        for j, l in itertools.permutations(range(self.L), 2):
            if np.array_equal(c, self._v(j) - self._v(l)):
                return self.difference(j, l)
        raise AnalysisError(f"the exact binomial engine has no marginal for the combination {c.tolist()}")

    def predictive_of(self, c) -> Marginal:
        for j in range(self.L):
            if np.array_equal(np.asarray(c, float), self._v(j)):
                return self.predictive(j)
        raise AnalysisError("a new study's value is defined for one level")


class _Slope:
    """Binomial model with one numeric covariate: a 3-D midpoint lattice over (tau, beta, mu)."""

    def __init__(self, events, n, x, priors, refine, loglik=loglik_grid, tau_max=TAU_MAX):
        self.events, self.n, self.x, self.priors, self.loglik = events, n, x, priors, loglik
        t_lo, t_hi, bounded = _tau_support(priors["tau"], tau_max)
        self.t_lo = t_lo
        b0, sb = priors["beta"].params
        reach = 30.0 / max(float(np.ptp(x)), 1e-12)
        b_lo, b_hi = max(b0 - 8 * sb, -reach), min(b0 + 8 * sb, reach)
        tc, ht = _midpoints(t_lo, t_hi, COARSE_TAU)
        bc, hb = _midpoints(b_lo, b_hi, 40)
        mc, hm = _midpoints(-BOXES[0], BOXES[0], 60)
        lp = self._logmass(tc, ht, bc, hb, mc, hm, 5)
        tspan = _span(tc, ht, _logsumexp(lp, (1, 2)), "tau", (False, not bounded))
        bspan = _span(bc, hb, _logsumexp(lp, (0, 2)), "beta")
        mspan = _span(mc, hm, _logsumexp(lp, (0, 1)), "mu")
        T, B, M = (c * refine for c in SLOPE_CELLS)
        self.tc, self.ht = _midpoints(max(t_lo, tspan[0]), t_hi if bounded else tspan[1], T)
        self.bc, self.hb = _midpoints(*bspan, B)
        self.mc, self.hm = _midpoints(*mspan, M)
        lp = self._logmass(self.tc, self.ht, self.bc, self.hb, self.mc, self.hm, NODES if refine == 1 else 15)
        self.P = np.exp(lp - _logsumexp(lp))

    def _logmass(self, tc, ht, bc, hb, mc, hm, nodes):
        T, B, M = np.meshgrid(tc, bc, mc, indexing="ij")
        m0, s0 = self.priors["mu"].params
        b0, sb = self.priors["beta"].params
        lp = (self.priors["tau"].logpdf(T) + stats.norm.logpdf(M, m0, s0) + stats.norm.logpdf(B, b0, sb)
              + np.log(ht * hb * hm))
        for value in np.unique(self.x):
            at = self.x == value
            lp = lp + self.loglik(self.events[at], self.n[at], M + B * value, T, nodes)
        return lp

    def tau(self) -> Marginal:
        return _tau_marginal(self.tc, self.ht, self.P.sum((1, 2)), self.t_lo)

    def linear(self, c) -> Marginal:
        c0, c1 = (float(v) for v in np.asarray(c, float))
        if (c0, c1) == (0.0, 1.0):
            return Lattice(self.bc[0] - self.hb / 2, self.hb, self.P.sum((0, 2)))
        if c0 != 1.0:
            raise AnalysisError("the exact binomial engine gives mu + beta x, or beta")
        return Lattice(self.mc[0] - self.hm / 2, self.hm, self.P.sum(0), shift=self.bc * c1)

    def predictive_of(self, c) -> Marginal:
        c1 = float(np.asarray(c, float)[1])  # c = (1, x)
        return NormalMixture(self.P, self.mc[None, None, :] + c1 * self.bc[None, :, None], self.tc[:, None, None])

    def draws(self, size, rng):
        cell = rng.choice(self.P.size, size=size, p=self.P.ravel())
        t, b, m = np.unravel_index(cell, self.P.shape)
        jitter = rng.random((3, size)) - 0.5
        return (self.mc[m] + jitter[2] * self.hm, (self.bc[b] + jitter[1] * self.hb)[:, None],
                self.tc[t] + jitter[0] * self.ht)


class _Normal:
    """Log-median model, any design: theta | tau Gaussian, tau on a midpoint lattice."""

    def __init__(self, y, se, X, priors, refine):
        self.y, self.v = y, se**2
        self.X = np.column_stack([np.ones(len(y)), X])
        P = self.X.shape[1]
        (m0, s0), (b0, sb) = priors["mu"].params, priors["beta"].params if P > 1 else (0.0, 1.0)
        self.theta0 = np.array([m0] + [b0] * (P - 1))
        self.lam0 = 1.0 / np.array([s0] + [sb] * (P - 1)) ** 2
        self.tau_prior = priors["tau"]
        t_lo, t_hi, bounded = _tau_support(priors["tau"], 2.0 * (float(np.std(y)) + float(np.sqrt(self.v.max()))))
        self.t_lo = t_lo
        peak = -np.inf  # the highest density seen: a coarse grid over a doubled range can step over the mode
        for _ in range(12):
            tc, ht = _midpoints(t_lo, t_hi, NORMAL_TAU_COARSE)
            lp = self._logpost(tc)
            peak = max(peak, float(lp.max()))
            if bounded or lp[-1] < peak - DROP:
                break
            t_hi *= 2
        else:
            raise AnalysisError("the posterior of tau has too heavy a tail for the exact engine; use MCMC")
        hi = t_hi if bounded else _span(tc, ht, lp, "tau", (False, True))[1]
        self.tc, self.ht = _midpoints(t_lo, min(hi, t_hi), NORMAL_TAU_CELLS * refine)
        lp = self._logpost(self.tc) + np.log(self.ht)
        self.w = np.exp(lp - _logsumexp(lp))
        self.mean, self.cov = self._conditional(self.tc)

    def _moments(self, tau):
        w = 1.0 / (self.v[None, :] + np.asarray(tau, float)[:, None] ** 2)
        prec = np.einsum("ti,ij,il->tjl", w, self.X, self.X) + np.diag(self.lam0)
        rhs = self.lam0 * self.theta0 + (w * self.y) @ self.X
        return w, prec, np.linalg.solve(prec, rhs[..., None])[..., 0]

    def _logpost(self, tau):
        w, prec, mean = self._moments(tau)
        quad = (w * self.y**2).sum(1) + self.lam0 @ self.theta0**2 - np.einsum("tj,tjl,tl->t", mean, prec, mean)
        logdet = np.linalg.slogdet(prec)[1]
        loglik = 0.5 * (np.log(w / (2 * np.pi)).sum(1) + np.log(self.lam0).sum() - logdet - quad)
        return loglik + self.tau_prior.logpdf(tau)

    def _conditional(self, tau):
        _, prec, mean = self._moments(tau)
        return mean, np.linalg.inv(prec)

    def tau(self) -> Marginal:
        return _tau_marginal(self.tc, self.ht, self.w, self.t_lo)

    def _normal(self, c, extra):
        c = np.asarray(c, float)
        return NormalMixture(self.w, self.mean @ c, np.sqrt(np.einsum("j,tjl,l->t", c, self.cov, c) + extra))

    def linear(self, c) -> Marginal:
        return self._normal(c, 0.0)

    def predictive_of(self, c) -> Marginal:
        return self._normal(c, self.tc**2)

    def draws(self, size, rng):
        tau = self.tc[rng.choice(len(self.w), size=size, p=self.w)] + (rng.random(size) - 0.5) * self.ht
        mean, cov = self._conditional(tau)
        theta = mean + np.einsum("njl,nl->nj", np.linalg.cholesky(cov), rng.standard_normal(mean.shape))
        return theta[:, 0], theta[:, 1:], tau


class ExactPosterior:
    """Exact marginals of one fitted model; each is a ``marginal.Marginal`` with ``cdf``,
    ``quantile(q, outcome=)``, ``interval``, ``hdi``, ``prob_above`` and ``pdf``.

    ``mu``, ``tau``, ``beta[name]``; ``level(name)`` (a_j = mu + beta_j, categorical), ``at(x)``
    (mu + beta x, numeric), ``contrast(a, b)`` (a_a - a_b), ``linear(c)`` (c'(mu, beta)),
    ``predictive(level=None, x=None, c=None)`` (the true value in a new study, eta + tau u). Outcome scale: expit or exp for mu, levels and
    predictions, exp (odds or median ratio) for beta and contrasts.
    """

    def __init__(self, kind, engine, coef_names, levels, args):
        self.kind, self.coef_names, self.levels = kind, coef_names, levels
        self._engine, self._args, self._finer = engine, args, None
        self.p = len(coef_names)
        self._memo: dict[tuple, Marginal] = {}  # one marginal per (rule, c): its CDF scan is then computed once
        self.mu = self.linear(self._e(0))
        self.tau = engine.tau()
        self.beta = {name: self.linear(self._e(j + 1)) for j, name in enumerate(coef_names)}

    def _marginal(self, rule: str, c) -> Marginal:
        """The engine's marginal of c'(mu, beta) (``rule`` "linear") or of a new study's value ("predictive"),
        on the outcome's scale by expit/exp where c[0] = 1 and by exp (a ratio) otherwise."""
        key = (rule, *np.asarray(c, float).tolist())
        if key not in self._memo:
            make = self._engine.linear if rule == "linear" else self._engine.predictive_of
            marginal = make(np.asarray(c, float))
            marginal.link = LINKS[self.kind] if key[1] == 1 else np.exp
            self._memo[key] = marginal
        return self._memo[key]

    def _e(self, j) -> np.ndarray:
        out = np.zeros(self.p + 1)
        out[j] = 1.0
        return out

    def _level_c(self, name) -> np.ndarray:
        if self.levels is None or name not in self.levels:
            raise AnalysisError(f"'{name}' is not a level of the covariate ({', '.join(self.levels or [])})")
        j = self.levels.index(name)
        return self._e(0) + (self._e(j) if j else 0)

    def level(self, name) -> Marginal:
        return self.linear(self._level_c(name))

    def at(self, x: float) -> Marginal:
        if self.levels is not None or self.p != 1:
            raise AnalysisError("at(x) is for one numeric covariate")
        return self.linear(np.array([1.0, float(x)]))

    def contrast(self, a, b) -> Marginal:
        return self.linear(self._level_c(a) - self._level_c(b))

    def linear(self, c) -> Marginal:
        """c'(mu, beta) for a coefficient vector c of length p + 1 (any c in the log-median model;
        the binomial rules give the levels, contrasts, mu + beta x and beta)."""
        return self._marginal("linear", c)

    def predictive(self, level=None, x=None, c=None) -> Marginal:
        """A new study's true value c'(mu, beta) + tau u, c from a level, x (numeric) or given."""
        if level is not None:
            c = self._level_c(level)
        elif x is not None:
            c = np.array([1.0, float(x)])
        elif c is None and self.p == 0:
            c = self._e(0)
        elif c is None:
            raise AnalysisError("a new study's value needs a level (or x) in a covariate model")
        return self._marginal("predictive", c)

    def draws(self, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """i.i.d. posterior draws: mu (size,), beta (size, p), tau (size,)."""
        mu, beta, tau = self._engine.draws(size, rng)
        return {"mu": mu, "beta": beta.reshape(size, self.p), "tau": tau}

    def quantities(self) -> dict[str, Marginal]:
        """Every reported marginal by name: mu, tau, beta names, levels, contrasts, predictions."""
        out = {"mu": self.mu, "tau": self.tau, **{f"beta:{k}": v for k, v in self.beta.items()}}
        if self.levels is not None:
            out |= {f"level:{name}": self.level(name) for name in self.levels}
            out |= {f"contrast:{a}-{b}": self.contrast(a, b) for a, b in itertools.combinations(self.levels, 2)}
            out |= {f"new:{name}": self.predictive(name) for name in self.levels}
        elif self.p == 0:
            out["new"] = self.predictive()
        return out

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_finer": None}  # a source in this process (a worker's queue) stays here

    def finer_later(self, source) -> None:
        """Take the twice-finer rule's quantiles from ``source()`` (``finer_quantiles(self.args)`` computed
        elsewhere, another process, say) when the error bound is first asked for; if that fails, they are
        computed here."""
        self._finer = source

    @property
    def error_detail_pending(self) -> bool:
        """True until the error bound is computed or its source given (``finer_later``)."""
        return "error_detail" not in self.__dict__ and self._finer is None

    @property
    def args(self) -> tuple:
        """What ``exact_posterior`` was given (``finer_quantiles`` takes it)."""
        return self._args

    @cached_property
    def error_detail(self) -> dict[str, float]:
        """Largest relative difference of the 2.5/50/97.5% quantiles from a twice-finer rule, by quantity."""
        finer = None
        if self._finer is not None:
            try:
                finer = self._finer()
            except Exception:  # noqa: BLE001 - the source failed (its process ended, say): computed here instead
                finer = None
            self._finer = None
        if finer is None:
            finer = finer_quantiles(self._args)
        out = {}
        for name, marginal in self.quantities().items():
            scale_fn = (lambda q: q) if name == "tau" else marginal.link
            a, b = scale_fn(marginal.quantile(QUANTILES)), scale_fn(finer[name])
            out[name] = float(np.max(np.abs(a - b) / np.abs(b)))
        return out

    @property
    def error_bound(self) -> float:
        return max(self.error_detail.values())


def finer_quantiles(args: tuple) -> dict[str, np.ndarray]:
    """The 2.5, 50 and 97.5% quantiles (model scale) of every reported quantity under the twice-finer rule of
    the fit ``exact_posterior(*args)`` (its ``ExactPosterior.args``): what its error bound is measured against."""
    kind, y, scale, X, priors, names, levels, refine, scale_hi = args
    finer = exact_posterior(kind, y, scale, X, priors, names, levels, refine=2 * refine, scale_hi=scale_hi)
    return {name: marginal.quantile(QUANTILES) for name, marginal in finer.quantities().items()}
