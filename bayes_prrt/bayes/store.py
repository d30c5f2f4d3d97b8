"""Saving a ``BayesFit`` to one netCDF file and loading it back as the same object.

The file is the fit's InferenceData (posterior, posterior_predictive, prior, sample_stats,
log_likelihood, log_prior), with the rest of the fit (outcome, priors, settings, diagnostics,
notes, covariates and the data rows) as JSON in the posterior's attribute ``bayes_prrt_fit``.
A covariate model's ``overall`` fit is stored in the same file, its groups prefixed ``overall_``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import BayesPrrtError
from ..files import write_netcdf
from ..priors import parse_prior
from .result import BayesFit, fit_metadata
from .sampling import Diagnostics, Settings

ATTR, PREFIX = "bayes_prrt_fit", "overall_"


def _groups(fit: BayesFit, prefix: str = "") -> dict:
    fit._study_effects()  # drawn on first use: the file holds them whether or not they were asked for
    out = {prefix + name: fit.idata[name].copy() for name in fit.idata.groups()}
    out[prefix + "posterior"].attrs[ATTR] = fit_metadata(fit)
    return out


def fit_inference_data(fit: BayesFit):
    """The InferenceData that ``save_fit`` writes: the fit's groups, its record, its ``overall``."""
    import arviz as az

    groups = _groups(fit)
    if fit.overall is not None:
        groups |= _groups(fit.overall, PREFIX)
    return az.InferenceData(**groups, warn_on_custom_groups=False)


def save_fit(fit: BayesFit, path) -> None:
    """Write the fit to ``path`` atomically (``files.write_netcdf``: a full disk is a one-line error)."""
    write_netcdf(fit_inference_data(fit), Path(path))


def _rebuild(idata, meta: dict, overall: BayesFit | None) -> BayesFit:
    rows = pd.DataFrame(meta["rows"])
    for col, dtype in meta["dtypes"].items():
        rows[col] = rows[col].astype(dtype) if dtype != "object" else rows[col]
    priors = {name: parse_prior(text, name) for name, text in meta["priors"].items()}
    diag = None if meta["diagnostics"] is None else Diagnostics(**meta["diagnostics"])
    return BayesFit(outcome=meta["outcome"], kind=meta["kind"], engine=meta["engine"], rows=rows, priors=priors,
                    settings=Settings(**meta["settings"]), idata=idata, diagnostics=diag, notes=meta["notes"],
                    by=meta["by"], covariates=meta["covariates"], reference=meta["reference"], overall=overall,
                    values=meta["values"], data_sha256=meta["data_sha256"], median_se=meta.get("median_se", "ci"),
                    median_likelihood=meta.get("median_likelihood", "normal"))


def load_fit(path) -> BayesFit:
    """The fit saved by ``BayesFit.to_netcdf`` (or ``pool --method bayes --idata``) at ``path``."""
    import arviz as az

    file = str(path)
    if not Path(file).is_file():
        raise BayesPrrtError(f"{file}: file not found")
    try:
        idata = az.from_netcdf(file)
        meta = json.loads(idata.posterior.attrs[ATTR])
    except (OSError, ValueError, KeyError, AttributeError):
        raise BayesPrrtError(f"{file}: not a fit saved by bayes-prrt (no {ATTR} record in its posterior)") from None
    names = idata.groups()
    own = az.InferenceData(**{g: idata[g] for g in names if not g.startswith(PREFIX)})
    overall = None
    if PREFIX + "posterior" in names:
        inner = az.InferenceData(**{g[len(PREFIX):]: idata[g] for g in names if g.startswith(PREFIX)},
                                 warn_on_custom_groups=False)
        overall = _rebuild(inner, json.loads(inner.posterior.attrs[ATTR]), None)
    fit = _rebuild(own, meta, overall)
    for part in (fit, overall):
        if part is not None and part.engine == "quadrature":
            from .fit import attach_exact

            attach_exact(part)
    return fit

