"""Sampling with PyMC's NUTS, the convergence gate and one automatic refit.

Every fit is checked: R-hat <= 1.01, bulk and tail ESS >= 400 for every monitored
parameter, and no divergent transition (Vehtari et al. 2021, Bayesian Anal 16:667).
A fit that fails is refitted once with target_accept 0.99 and three times the tuning;
if that fails too, the result carries ``converged = False`` and is shown as unreliable.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, dataclass

import arviz as az
import numpy as np
import pymc as pm

RHAT_MAX, ESS_MIN = 1.01, 400


@dataclass(frozen=True)
class Settings:
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.95
    seed: int = 20261123


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
    summary = az.summary(idata, var_names=var_names, kind="diagnostics", round_to="none")
    divergences = int(idata.sample_stats["diverging"].sum())
    rhat, bulk, tail = (float(summary[c].max() if c == "r_hat" else summary[c].min())
                        for c in ("r_hat", "ess_bulk", "ess_tail"))
    converged = rhat <= RHAT_MAX and bulk >= ESS_MIN and tail >= ESS_MIN and divergences == 0
    return Diagnostics(rhat, bulk, tail, divergences, bool(converged), refitted, settings.draws,
                       settings.chains, settings.target_accept)


def _quiet():
    logging.getLogger("pymc").setLevel(logging.ERROR)


def _run(model, settings: Settings):
    _quiet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the gate below reports what matters, in words
        return pm.sample(model=model, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                         cores=min(settings.chains, os.cpu_count() or 1), target_accept=settings.target_accept,
                         random_seed=settings.seed, progressbar=False,
                         idata_kwargs={"log_likelihood": True}, compute_convergence_checks=False)


def sample(model, var_names, settings: Settings = DEFAULT_SETTINGS):
    """Sample, check, refit once if needed; returns (InferenceData, Diagnostics)."""
    idata = _run(model, settings)
    diag = diagnose(idata, var_names, settings, refitted=False)
    if diag.converged:
        return idata, diag
    retry = Settings(draws=max(settings.draws, 2000), tune=3 * settings.tune, chains=settings.chains,
                     target_accept=0.99, seed=settings.seed + 1)
    idata = _run(model, retry)
    return idata, diagnose(idata, var_names, retry, refitted=True)


def add_prior(idata, model, settings: Settings, draws: int = 1000):
    """Prior draws (the ``prior`` group), for prior-vs-posterior checks and power-scaling."""
    _quiet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata.extend(pm.sample_prior_predictive(draws=draws, model=model, random_seed=settings.seed))
    return idata


def indicator_mcse(values: np.ndarray) -> float:
    """Monte Carlo standard error of a posterior mean (e.g. of an indicator) from (chain, draw) values."""
    dataset = az.convert_to_dataset({"x": np.asarray(values, float)})  # dims (chain, draw)
    return float(az.mcse(dataset, method="mean")["x"])
