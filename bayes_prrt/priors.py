"""Priors as plain objects, parsed from the syntax shared by the CLI and the specs.

Syntax ``family:P1[,P2]``:

============  ===========  =====================================================
family        parameters   density
============  ===========  =====================================================
normal        M, S         N(M, S^2)
uniform       A, B         U(A, B)
halfnormal    S            |N(0, S^2)|
halfcauchy    S            |Cauchy(0, S)|
halfstudentt  NU, S        |t_NU(0, S)|
exponential   RATE         Exp(RATE)
lognormal     M, S         log(tau^2) ~ N(M, S^2)  (on tau^2, Turner et al. 2015,
                           Stat Med 34:984; the density is transformed to tau)
============  ===========  =====================================================

Parameters must lie in ``RANGES`` (scales, rates and degrees of freedom 1e-6 to 1e6,
locations -1e6 to 1e6; lognormal's M and S, on log(tau^2), within 27.6 = 2 log(1e6)), so that
every density and draw is representable.

``Prior.logpdf`` gives the log density of the *parameter as sampled* (tau, never tau^2)
with scipy, for the quadrature engine; ``Prior.to_pymc`` builds the same distribution in
a PyMC model. Both are tested against each other.
"""

from __future__ import annotations

import functools

import tomllib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

from .errors import BayesPrrtError
from .resources import default_spec_path

FAMILIES = {  # family -> parameter names
    "normal": ("M", "S"),
    "uniform": ("A", "B"),
    "halfnormal": ("S",),
    "halfcauchy": ("S",),
    "halfstudentt": ("NU", "S"),
    "exponential": ("RATE",),
    "lognormal": ("M", "S"),
}
LOCATION_FAMILIES = ("normal", "uniform")  # for mu and beta
SCALE_FAMILIES = ("halfnormal", "halfcauchy", "halfstudentt", "exponential", "uniform", "lognormal")  # for tau
ALLOWED = {"mu": LOCATION_FAMILIES, "beta": LOCATION_FAMILIES, "tau": SCALE_FAMILIES}


# The numbers a prior may take, on the model scale (logit or log-months; tau on the same scale):
# scales, rates and degrees of freedom within 1e-6..1e6, locations within +-1e6; lognormal's M and
# S are on log(tau^2), where tau within 1e-6..1e6 spans +-2 log(1e6) = +-27.6.
POSITIVE = (1e-6, 1e6)
LOCATION = (-1e6, 1e6)
LOG_TAU2 = (-2 * float(np.log(1e6)), 2 * float(np.log(1e6)))
RANGES = {
    "normal": (LOCATION, POSITIVE),
    "uniform": (LOCATION, LOCATION),
    "halfnormal": (POSITIVE,),
    "halfcauchy": (POSITIVE,),
    "halfstudentt": (POSITIVE, POSITIVE),
    "exponential": (POSITIVE,),
    "lognormal": (LOG_TAU2, (POSITIVE[0], LOG_TAU2[1])),
}
MIN_WIDTH = 1e-6  # of a uniform prior


class PriorError(BayesPrrtError):
    pass


@functools.lru_cache(maxsize=256)
def _frozen(f: str, p: tuple):
    """The SciPy distribution of a prior (frozen once per family and parameters: freezing costs about 1 ms)."""
    if f == "normal":
        return stats.norm(p[0], p[1])
    if f == "uniform":
        return stats.uniform(p[0], p[1] - p[0])
    if f == "halfnormal":
        return stats.halfnorm(scale=p[0])
    if f == "halfcauchy":
        return stats.halfcauchy(scale=p[0])
    if f == "halfstudentt":
        return stats.t(p[0], scale=p[1])  # folded below
    if f == "exponential":
        return stats.expon(scale=1 / p[0])
    raise AssertionError(f)


@dataclass(frozen=True)
class Prior:
    family: str
    params: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.family}:{','.join(f'{p:g}' for p in self.params)}"

    def _scipy(self):
        return _frozen(self.family, tuple(self.params))

    def logpdf(self, x):
        """Log density at x (tau for scale priors)."""
        x = np.asarray(x, float)
        if self.family == "lognormal":  # log(tau^2) ~ N(M, S): p(tau) = N(2 log tau; M, S) * 2 / tau
            with np.errstate(divide="ignore", invalid="ignore"):
                out = _frozen("normal", tuple(self.params)).logpdf(2 * np.log(x)) + np.log(2 / x)
            return np.where(x > 0, out, -np.inf)
        if self.family == "halfstudentt":
            return np.where(x >= 0, np.log(2) + self._scipy().logpdf(x), -np.inf)
        return self._scipy().logpdf(x)

    def _pymc(self, params):
        """The PyMC distribution class of the family and its keyword parameters."""
        import pymc as pm

        p = self.params if params is None else params
        cls, names = {"normal": (pm.Normal, ("mu", "sigma")), "uniform": (pm.Uniform, ("lower", "upper")),
                      "halfnormal": (pm.HalfNormal, ("sigma",)), "halfcauchy": (pm.HalfCauchy, ("beta",)),
                      "halfstudentt": (pm.HalfStudentT, ("nu", "sigma")), "exponential": (pm.Exponential, ("lam",)),
                      "lognormal": (pm.LogNormal, ("mu", "sigma"))}[self.family]
        return cls, {name: p[i] for i, name in enumerate(names)}

    def to_pymc(self, name: str, params=None, **kwargs):
        """The distribution in the current PyMC model context (for tau: a scalar tau >= 0; the log-normal
        is placed on tau^2). ``params``: tensors to use instead of the numbers (a model compiled once for a
        family)."""
        import pymc as pm

        cls, parameters = self._pymc(params)
        if self.family == "lognormal":
            return pm.Deterministic(name, pm.math.sqrt(cls(f"{name}_sq", **parameters, **kwargs)))
        return cls(name, **parameters, **kwargs)

    def to_pymc_dist(self, **kwargs):
        """The same distribution unnamed (``.dist``), e.g. the SD prior of ``pm.LKJCholeskyCov``; not for
        the log-normal on tau^2, which is not a distribution of tau."""
        if self.family == "lognormal":
            raise PriorError(f"{self} is a prior on tau^2; give a prior on tau (half-normal, half-Cauchy, half-t, "
                             f"exponential or uniform)")
        cls, parameters = self._pymc(None)
        return cls.dist(**parameters, **kwargs)

    def rvs(self, rng: np.random.Generator, size) -> np.ndarray:
        """Random draws of the parameter as sampled (tau, never tau^2)."""
        if self.family == "lognormal":
            return np.exp(rng.normal(self.params[0], self.params[1], size) / 2)
        draws = self._scipy().rvs(size=size, random_state=rng)
        return np.abs(draws) if self.family == "halfstudentt" else draws


def parse_prior(text: str, parameter: str) -> Prior:
    """Parse ``family:P1[,P2]`` for ``parameter`` (mu, tau or beta); errors say what to write."""
    syntax = ", ".join(f"{f}:{','.join(FAMILIES[f])}" for f in ALLOWED.get(parameter, FAMILIES))
    if parameter not in ALLOWED:
        raise PriorError(f"prior for unknown parameter '{parameter}'; priors are set for {', '.join(ALLOWED)}")
    family, sep, rest = str(text).strip().partition(":")
    family = family.lower()
    if not sep or family not in FAMILIES:
        raise PriorError(f"prior for {parameter} '{text}' is not understood; write one of {syntax}")
    if family not in ALLOWED[parameter]:
        raise PriorError(f"prior for {parameter}: {family} is not allowed here; use one of {syntax}")
    try:
        params = tuple(float(p) for p in rest.split(","))
    except ValueError:
        raise PriorError(f"prior for {parameter} '{text}': parameters must be numbers ({syntax})") from None
    names = FAMILIES[family]
    if len(params) != len(names) or not all(np.isfinite(params)):
        raise PriorError(f"prior for {parameter} '{text}': {family} takes {len(names)} finite number(s), "
                         f"{family}:{','.join(names)}")
    _check_values(parameter, text, family, params)
    return Prior(family, params)


def _check_values(parameter, text, family, params) -> None:
    """Each parameter within RANGES (and greater than 0 where it is a scale, rate or df)."""
    for name, value, (low, high) in zip(FAMILIES[family], params, RANGES[family]):
        if low > 0 and value <= 0:
            raise PriorError(f"prior for {parameter} '{text}': {name} must be greater than 0")
        if not low <= value <= high:
            scale = "log(tau^2)" if family == "lognormal" else "the model scale (logit or log months)"
            raise PriorError(f"prior for {parameter} '{text}': {name} must be from {low:.3g} to {high:.3g} "
                             f"on {scale}")
    if family == "uniform":
        low, high = params
        if high - low < MIN_WIDTH or (parameter == "tau" and low < 0):
            raise PriorError(f"prior for {parameter} '{text}': uniform needs A < B (B - A at least {MIN_WIDTH:g})"
                             + (" and A >= 0 for tau" if parameter == "tau" else ""))


KINDS = ("binary", "median")


@lru_cache(maxsize=1)
def _defaults() -> dict[str, dict[str, Prior]]:
    """The packaged spec's ``[priors.binary]`` and ``[priors.median]`` tables, parsed once: the one
    source of the default priors (the spec's comments and ``docs/bayes.md`` explain them)."""
    table = tomllib.loads(default_spec_path().read_text(encoding="utf-8"))["priors"]
    return {kind: {name: parse_prior(text, name) for name, text in table[kind].items()} for kind in KINDS}


def default_priors(kind: str) -> dict[str, Prior]:
    """The default priors of an outcome kind (logit scale for proportions, log-months for medians)."""
    return dict(_defaults()[kind])


def resolve_priors(kind: str, overrides: dict | None = None) -> dict[str, Prior]:
    """Default priors for an outcome kind with overrides on top; an override is a ``Prior`` or its
    text (CLI, spec), and None or "" keeps the default."""
    out = default_priors(kind)
    for name, value in (overrides or {}).items():
        if value is None or value == "":
            continue
        out[name] = value if isinstance(value, Prior) else parse_prior(value, name)
    return out
