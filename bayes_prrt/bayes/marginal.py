"""One-dimensional posterior marginals with exact CDFs, for the exact engine (``exact.py``).

Two representations, both finite mixtures whose CDF is evaluated in closed form:

* ``Lattice``: N nodes n (their weights folded into ``mass``), each a density known by its
  masses on the cells of one uniform lattice x_g = x0 + (g + 1/2) h (midpoint rule: density at
  the cell centre times the cell volume), shifted by ``shift[n]``; F interpolates them smoothly
  (class docstring).
* ``NormalMixture``: F(x) = sum_n w_n Phi((x - m_n) / s_n), a point mass where s_n = 0.

Quantiles invert F to 1e-12 (Brent's method; for a normal mixture, Newton's method with its exact
density, all probabilities at once), so they carry the integration rule's error only, no Monte
Carlo error. The HDI is the shortest interval of the stated mass,
min over p of Q(p + level) - Q(p), which is the highest-density interval of a unimodal density.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.special import ndtr, ndtri, sici

_SCAN = 64  # CDF evaluations that bracket each quantile before Brent's method (once per marginal)
SQRT_2PI = float(np.sqrt(2 * np.pi))
_F_RESOLUTION = 4 * np.finfo(float).eps  # a CDF value in [0, 1] is known no better than this


class Marginal:
    """A univariate distribution known by its CDF; subclasses give ``cdf`` and ``support``.

    ``link`` maps the linear scale to the outcome's scale (expit, exp or the identity); it is
    monotone increasing, so outcome-scale quantiles are link(linear quantiles)."""

    link = staticmethod(lambda x: x)

    def cdf(self, x):
        raise NotImplementedError

    def support(self) -> tuple[float, float]:
        raise NotImplementedError

    def _scan(self) -> tuple[np.ndarray, np.ndarray]:
        """The CDF on ``_SCAN`` points of the support, computed once: every quantile (and each step of the
        HDI search) brackets its root in it."""
        if getattr(self, "_scanned", None) is None:
            grid = np.linspace(*self.support(), _SCAN)
            self._scanned = grid, self.cdf(grid)
        return self._scanned

    def quantile(self, q, outcome: bool = False):
        """Quantile(s) at probabilities ``q``; ``outcome=True`` on the outcome's scale."""
        q = np.atleast_1d(np.asarray(q, float))
        grid, F = self._scan()
        out = np.empty_like(q)
        for i, p in enumerate(q):
            j = int(np.clip(np.searchsorted(F, p), 1, _SCAN - 1))
            a, b = grid[j - 1], grid[j]
            if F[j - 1] >= p or F[j] <= p:  # at or beyond an end of the support
                out[i] = a if F[j - 1] >= p else b
            else:
                out[i] = optimize.brentq(lambda x: float(self.cdf(np.array([x]))[0]) - p, a, b, xtol=1e-12, rtol=1e-12)
        out = self.link(out) if outcome else out
        return out if out.size > 1 else float(out[0])

    def prob_above(self, t: float) -> float:
        """P(X > t) on the linear scale, 1 - F(t)."""
        return float(1.0 - self.cdf(np.array([float(t)]))[0])

    def interval(self, level: float = 0.95, outcome: bool = False):
        """Equal-tailed interval."""
        return tuple(self.quantile([(1 - level) / 2, (1 + level) / 2], outcome))

    def hdi(self, level: float = 0.95):
        """Shortest interval of mass ``level`` (the HDI of a unimodal density), linear scale."""
        def width(p):
            lo, hi = self.quantile([p, p + level])
            return hi - lo

        res = optimize.minimize_scalar(width, bounds=(0.0, 1.0 - level), method="bounded",
                                       options={"xatol": 1e-7})
        p = min((0.0, 1.0 - level, float(res.x)), key=width)
        return tuple(self.quantile([p, p + level]))

    def pdf(self, x, eps: float = 1e-6):
        """Density by a central difference of the CDF (scaled to the support)."""
        lo, hi = self.support()
        d = eps * (hi - lo)
        x = np.asarray(x, float)
        return (self.cdf(x + d) - self.cdf(x - d)) / (2 * d)


class Lattice(Marginal):
    """Mixture of shifted lattice densities (see module docstring).

    The masses are read as samples of a smooth density, f(x_g) = mass_g / h, and the density is
    their Whittaker-Shannon (sinc) interpolant, whose CDF is
    F(x) = sum_g mass_g (1/2 + Si(pi (x - x_g) / h) / pi). For smooth densities that vanish at
    the lattice ends this is spectrally accurate, as the midpoint rule that gave the masses
    (Trefethen & Weideman 2014, SIAM Rev 56:385). ``reflect=True`` (tau, density > 0 at the
    lower bound x0) interpolates the density mirrored about x0, so F(x0) = 0.
    """

    def __init__(self, x0: float, h: float, mass, shift=None, link=None, reflect: bool = False):
        mass = np.atleast_2d(np.asarray(mass, float))
        total = mass.sum()
        keep = mass.sum(1) > total * 1e-300
        self.mass = mass[keep] / total
        self.shift = (np.zeros(len(mass)) if shift is None else np.asarray(shift, float))[keep]
        self.x0, self.h, self.reflect = float(x0), float(h), reflect
        if link is not None:
            self.link = link

    def centres(self) -> np.ndarray:
        return self.x0 + (np.arange(self.mass.shape[1]) + 0.5) * self.h

    def _sinc_cdf(self, x, centres, mass):
        out = np.zeros(x.shape)
        for n in range(len(mass)):
            z = np.pi * (x[:, None] - self.shift[n] - centres[None, :]) / self.h
            out += (0.5 + sici(z)[0] / np.pi) @ mass[n]
        return out

    def cdf(self, x):
        x = np.atleast_1d(np.asarray(x, float))
        if not self.reflect:
            return np.clip(self._sinc_cdf(x, self.centres(), self.mass), 0.0, 1.0)
        c = self.centres()
        mirrored = self._sinc_cdf(x, np.concatenate([2 * self.x0 - c[::-1], c]),
                                  np.concatenate([self.mass[:, ::-1], self.mass], 1) / 2)
        return np.where(x > self.x0, np.clip(2 * mirrored - 1, 0.0, 1.0), 0.0)

    def support(self):
        return (self.x0 + self.shift.min(), self.x0 + self.mass.shape[1] * self.h + self.shift.max())


class NormalMixture(Marginal):
    """F(x) = sum_n w_n Phi((x - m_n)/s_n); components with s_n = 0 are point masses."""

    def __init__(self, weight, mean, sd, link=None):
        w = np.asarray(weight, float).ravel()
        keep = w > w.sum() * 1e-300
        self.w = w[keep] / w[keep].sum()
        self.m = np.broadcast_to(np.asarray(mean, float), np.shape(weight)).ravel()[keep]
        self.s = np.broadcast_to(np.asarray(sd, float), np.shape(weight)).ravel()[keep]
        if link is not None:
            self.link = link

    def cdf(self, x):
        return self._cdf_pdf(x)[0]

    def _cdf_pdf(self, x, density: bool = False):
        """F(x) and, with ``density``, f(x) (point masses add nothing to f), in one pass over the components."""
        x = np.atleast_1d(np.asarray(x, float))
        F, f = np.empty(x.shape), np.zeros(x.shape)
        for i in range(0, len(x), 64):  # bounded memory for large mixtures
            z = x[None, i:i + 64] - self.m[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                u = z / self.s[:, None]
                F[i:i + 64] = self.w @ np.where(self.s[:, None] > 0, ndtr(u), (z >= 0).astype(float))
                if density:
                    f[i:i + 64] = self.w @ np.where(self.s[:, None] > 0, np.exp(-0.5 * u**2) / (SQRT_2PI * self.s[:, None]),
                                                   0.0)
        return F, f

    def quantile(self, q, outcome: bool = False):
        """Quantiles by Newton's method on F with the exact density f, every q at once (one pass over the
        components per step), from the quantile of the normal with the mixture's mean and variance and
        safeguarded by bisection of a bracket, at first the support (a step leaving it, or f = 0, bisects);
        to 1e-12 absolute + 1e-12 relative in x, as ``Marginal.quantile``."""
        q = np.atleast_1d(np.asarray(q, float))
        ends = np.array(self.support())
        if getattr(self, "_ends", None) is None:
            self._ends = self.cdf(ends)
        a, b = np.full(q.shape, ends[0]), np.full(q.shape, ends[1])
        active = (self._ends[0] < q) & (self._ends[1] > q)  # else at or beyond an end of the support
        out = np.where(self._ends[0] >= q, a, b)
        mean = self.w @ self.m  # the start: the normal with the mixture's mean and variance
        sd = np.sqrt(self.w @ (self.s**2 + (self.m - mean) ** 2))
        x = np.clip(mean + sd * ndtri(np.clip(q, 1e-300, 1 - 1e-16)), a, b)
        for _ in range(200):
            if not active.any():
                break
            xi, ai, bi, qi = x[active], a[active], b[active], q[active]
            F, f = self._cdf_pdf(xi, density=True)
            below = F < qi
            ai, bi = np.where(below, xi, ai), np.where(below, bi, xi)
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = xi - (F - qi) / f
            step = np.where((f > 0) & (newton >= ai) & (newton <= bi), newton, (ai + bi) / 2)
            step = np.where(np.abs(F - qi) <= _F_RESOLUTION, xi, step)  # the root, as far as F can tell
            converged = (np.abs(step - xi) <= 1e-12 + 1e-12 * np.abs(xi)) | (bi - ai <= 1e-12)
            idx = np.flatnonzero(active)
            x[idx], a[idx], b[idx] = step, ai, bi
            out[idx[converged]] = step[converged]
            active[idx[converged]] = False
        out[active] = (a[active] + b[active]) / 2  # none is left in practice: bisection alone ends in 200 steps
        out = self.link(out) if outcome else out
        return out if out.size > 1 else float(out[0])

    def support(self):
        return (float((self.m - 9 * self.s).min()), float((self.m + 9 * self.s).max()))


class Mapped(Marginal):
    """The distribution of forward(S) for a Marginal S and an increasing ``forward`` with its ``inverse``:
    F(x) = F_S(inverse(x)), and the quantiles are forward(S's quantiles), exactly."""

    def __init__(self, inner: Marginal, forward, inverse):
        self.inner, self.forward, self.inverse = inner, forward, inverse

    def cdf(self, x):
        return self.inner.cdf(self.inverse(np.atleast_1d(np.asarray(x, float))))

    def support(self):
        lo, hi = self.inner.support()
        return float(self.forward(lo)), float(self.forward(hi))

    def quantile(self, q, outcome: bool = False):
        out = np.atleast_1d(self.forward(np.asarray(self.inner.quantile(q), float)))
        out = self.link(out) if outcome else out
        return out if out.size > 1 else float(out[0])
