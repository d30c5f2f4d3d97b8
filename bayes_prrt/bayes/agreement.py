"""The MCMC fit checked against the exact posterior of the same model, on every run.

For each reported quantity (pooled value, new study, tau, each level of a covariate model) and
each of its 2.5%, 50% and 97.5% quantiles: the exact quantile, the MCMC quantile, the MCMC
quantile's Monte Carlo standard error (ArviZ, ``mcse(method="quantile")``: Vehtari et al. 2021,
Bayesian Anal 16:667) and whether they agree within ``TOLERANCE`` MCSE. A disagreement means
that one of the two engines is wrong for these data: the sampler (a convergence problem the
diagnostics missed) or the exact grid.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 4.0  # MCSE
QUANTILES = (0.025, 0.5, 0.975)


def _quantities(exact_fit, mcmc_fit):
    """(name, exact marginal, MCMC draws on the outcome scale, outcome scale?) of the quantities both report."""
    yield "pooled", exact_fit._marginal("pooled"), mcmc_fit.quantity("pooled"), True
    if exact_fit._marginal("new") is not None and mcmc_fit.overall is None:
        yield "new study", exact_fit._marginal("new"), mcmc_fit.quantity("new"), True
    yield "tau", exact_fit._marginal("tau"), mcmc_fit._post("tau"), False
    for level in exact_fit.level_names:
        yield level, exact_fit._marginal(level), mcmc_fit.quantity(level), True


def agreement(exact_fit, mcmc_fit, tolerance: float = TOLERANCE) -> list[dict]:
    """One row per quantity and quantile: exact, mcmc, mcse, z = |mcmc - exact| / mcse, agrees."""
    import arviz as az

    rows = []
    for name, marginal, draws, outcome in _quantities(exact_fit, mcmc_fit):
        ds = az.convert_to_dataset({"x": np.asarray(draws, float)})
        exact = marginal.quantile(list(QUANTILES), outcome=outcome)
        for q, e in zip(QUANTILES, exact, strict=True):
            m = float(np.quantile(np.asarray(draws, float), q))
            mcse = float(az.mcse(ds, method="quantile", prob=q)["x"])
            z = abs(m - e) / mcse if mcse > 0 else (0.0 if m == e else np.inf)
            rows.append({"quantity": name, "quantile": q, "exact": float(e), "mcmc": m, "mcse": mcse, "z": float(z),
                         "agrees": bool(z <= tolerance)})
    return rows
