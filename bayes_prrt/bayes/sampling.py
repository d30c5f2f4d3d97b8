"""Sampling with NUTS (nutpie by default, or PyMC's own), the convergence gate and one refit.

Samplers: ``nutpie`` (Rust NUTS on a numba-compiled density; the hierarchical models are
compiled once per structure and reused, ``compiled.py``) and ``pymc`` (``pm.sample``: a
fresh model and compilation per fit, PyMC's default sampler).
Every fit is checked: R-hat <= 1.01, bulk and tail ESS >= 400 for every monitored
parameter, and no divergent transition (Vehtari et al. 2021, Bayesian Anal 16:667).
A fit that fails is refitted once with target_accept 0.99 and three times the tuning;
if that fails too, the result carries ``converged = False`` and is shown as unreliable.
A log-median model with a one-sided (censored) term is sampled with target_accept 0.99 from the
start: as tau -> 0 that term, log Phi((y - eta) / tau), becomes a wall in eta, and at 0.95 a few
transitions near it diverge (1 in 4,000 on the embedded PFS data), which would cost a refit.
nutpie runs its chains one after another in one thread: it calls the compiled density through
Python, which holds the interpreter lock in every gradient, so chains in parallel threads only
contend for it (on 2 cores a fit took 2.2 times as long with 2 threads as with 1).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, dataclass, replace

import arviz as az
import numpy as np
import xarray as xr

from .. import seeds
from ..errors import AnalysisError
from ..names import DEFAULT_SEED, SAMPLERS
from . import compiled
from .models import ModelData, hierarchical_model, log_likelihood

RHAT_MAX, ESS_MIN = 1.01, 400
_STATS = ("diverging", "n_steps", "step_size")
STATS = {"fits": 0, "refits": 0}  # MCMC runs in this process (run.json records them)


@dataclass(frozen=True)
class Settings:
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.95
    seed: int = DEFAULT_SEED
    sampler: str = "nutpie"

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise AnalysisError(f"unknown sampler '{self.sampler}'; choose one of {', '.join(SAMPLERS)}")
        if not 0 <= self.seed <= seeds.SEED_MAX:
            raise AnalysisError(f"seed {self.seed} is out of range; give a whole number from 0 to {seeds.SEED_MAX}")


DEFAULT_SETTINGS = Settings()


@dataclass(frozen=True)
class Diagnostics:
    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    converged: bool
    refitted: bool
    draws: int
    chains: int
    target_accept: float
    sampler: str = "nutpie"

    def to_dict(self) -> dict:
        return asdict(self)

    def problems(self) -> list[str]:
        out = []
        if not self.rhat_max <= RHAT_MAX:
            out.append(f"R-hat {self.rhat_max:.3f} > {RHAT_MAX}")
        if not self.ess_bulk_min >= ESS_MIN:
            out.append(f"bulk ESS {self.ess_bulk_min:.0f} < {ESS_MIN}")
        if not self.ess_tail_min >= ESS_MIN:
            out.append(f"tail ESS {self.ess_tail_min:.0f} < {ESS_MIN}")
        if self.divergences:
            out.append(f"{self.divergences} divergent transitions")
        return out


def diagnose(idata, var_names, settings: Settings, refitted: bool) -> Diagnostics:
    var_names = [v for v in var_names if v in idata.posterior]
    summary = az.summary(idata, var_names=var_names, kind="diagnostics", round_to="none")
    divergences = int(idata.sample_stats["diverging"].sum())
    rhat, bulk, tail = (float(summary[c].max() if c == "r_hat" else summary[c].min())
                        for c in ("r_hat", "ess_bulk", "ess_tail"))
    converged = rhat <= RHAT_MAX and bulk >= ESS_MIN and tail >= ESS_MIN and divergences == 0
    return Diagnostics(rhat, bulk, tail, divergences, bool(converged), refitted, settings.draws,
                       settings.chains, settings.target_accept, settings.sampler)


def _cores(settings: Settings) -> int:
    """Parallel chains: one thread for nutpie (see the module docstring), a process per core for PyMC, except
    in a run's background worker (a daemonic process, which may not start processes of its own)."""
    import multiprocessing

    if settings.sampler == "nutpie" or multiprocessing.current_process().daemon:
        return 1
    return min(settings.chains, os.cpu_count() or 1)


def _for_model(data: ModelData, settings: Settings) -> Settings:
    """``settings`` with target_accept at least 0.99 for a log-median model with a one-sided term."""
    if data.split and np.isinf(data.scale_hi).any():
        return replace(settings, target_accept=max(settings.target_accept, 0.99))
    return settings


def _nutpie(model, settings: Settings, stream: str):
    import nutpie

    return nutpie.sample(model, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                         cores=_cores(settings), seed=seeds.int_seed(settings.seed, stream),
                         target_accept=settings.target_accept, progress_bar=False)


def _pymc(model, settings: Settings, stream: str):
    import pymc as pm

    logging.getLogger("pymc").setLevel(logging.ERROR)
    return pm.sample(model=model, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                     cores=_cores(settings), target_accept=settings.target_accept,
                     random_seed=seeds.int_seed(settings.seed, stream), progressbar=False,
                     compute_convergence_checks=False)


def _with_retry(draw, var_names, settings: Settings):
    """``draw(settings, stream)`` once and, when it fails the gate, once more with the refit settings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the gate below reports what matters, in words
        STATS["fits"] += 1
        idata = draw(settings, "sampler")
        diag = diagnose(idata, var_names, settings, refitted=False)
        if diag.converged:
            return idata, diag
        retry = replace(settings, draws=max(settings.draws, 2000), tune=3 * settings.tune, target_accept=0.99)
        STATS["refits"] += 1
        idata = draw(retry, "refit")
        return idata, diagnose(idata, var_names, retry, refitted=True)


def sample(data: ModelData, settings: Settings = DEFAULT_SETTINGS):
    """Sample the hierarchical model of ``data``; checks mu, tau and beta, refits once if needed.

    Returns (InferenceData, Diagnostics). The InferenceData holds the posterior of mu, tau,
    beta (coef) and theta (binomial) or eta (log-median) by study, sample_stats, the pointwise
    log_likelihood ``y`` and the log_prior of mu and tau (for power-scaling).
    """
    if settings.sampler == "nutpie":
        def draw(s, stream):
            return _tidy(_nutpie(compiled.compiled(data), s, stream), data)
    else:
        def draw(s, stream):
            return _tidy(_pymc(hierarchical_model(data), s, stream), data)
    return _with_retry(draw, ["mu", "tau", "beta"], _for_model(data, settings))


def sample_model(model, var_names, settings: Settings = DEFAULT_SETTINGS):
    """Sample any PyMC model (compiled for this call only), with the same gate and refit."""
    if settings.sampler == "nutpie":
        traced = [v.name for v in (*model.free_RVs, *model.deterministics)]
        compiled_model = compiled.compile_functions(model, traced)[0].bind({})
        return _with_retry(lambda s, stream: _nutpie(compiled_model, s, stream), var_names, settings)
    return _with_retry(lambda s, stream: _pymc(model, s, stream), var_names, settings)


def _tidy(raw, data: ModelData):
    """The sampler's output without padding, labelled by study and coefficient, with log-likelihood
    and log-prior added."""
    post = raw.posterior
    k, p = data.k, data.p
    chain, draw = np.arange(post.sizes["chain"]), np.arange(post.sizes["draw"])
    effect = "theta" if data.kind == "binary" else "eta"
    mu, tau = post["mu"].to_numpy(), post["tau"].to_numpy()
    eta = post[effect].to_numpy()[..., :k]
    variables = {"mu": (("chain", "draw"), mu), "tau": (("chain", "draw"), tau),
                 effect: (("chain", "draw", "study"), eta)}
    if p:
        variables["beta"] = (("chain", "draw", "coef"), post["beta"].to_numpy()[..., :p])
    coords = {"chain": chain, "draw": draw, "study": list(data.studies) or list(range(k))}
    if p:
        coords["coef"] = list(data.coef_names) or list(range(p))
    posterior = xr.Dataset(variables, coords=coords)
    stats = xr.Dataset({name: (("chain", "draw"), raw.sample_stats[name].to_numpy()) for name in _STATS
                        if name in raw.sample_stats}, coords={"chain": chain, "draw": draw})
    loglik = xr.Dataset({"y": (("chain", "draw", "study"), log_likelihood(data, eta, tau))},
                        coords={k_: coords[k_] for k_ in ("chain", "draw", "study")})
    log_prior = xr.Dataset({name: (("chain", "draw"), data.priors[name].logpdf(value))
                            for name, value in (("mu", mu), ("tau", tau))}, coords={"chain": chain, "draw": draw})
    return az.InferenceData(posterior=posterior, sample_stats=stats, log_likelihood=loglik, log_prior=log_prior)


def prior_draws(data: ModelData, settings: Settings, draws: int = 1000) -> xr.Dataset:
    """Draws of mu and tau from their priors (the ``prior`` group, for prior-vs-posterior checks)."""
    rng = seeds.rng(settings.seed, "prior")
    return xr.Dataset({name: (("chain", "draw"), data.priors[name].rvs(rng, (1, draws))) for name in ("mu", "tau")},
                      coords={"chain": [0], "draw": np.arange(draws)})


def indicator_mcse(values: np.ndarray) -> float:
    """Monte Carlo standard error of a posterior mean (e.g. of an indicator) from (chain, draw) values."""
    dataset = az.convert_to_dataset({"x": np.asarray(values, float)})  # dims (chain, draw)
    return float(az.mcse(dataset, method="mean")["x"])
