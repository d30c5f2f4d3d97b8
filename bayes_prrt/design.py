"""Design matrices of study covariates, shared by the frequentist and Bayesian meta-regressions.

Categorical covariates use treatment coding against a reference level (default: the first
level in sorted order, as R's ``factor``); numeric ones enter as they are.

Missing covariates (one rule for every engine, ``known_covariates``): a value that is empty or
``unknown`` (any case; e.g. grade not reported) is missing, not a level. Such a study is left out
of that covariate model with a note naming it; imputing a study-level category would need a model
of which studies report it and, with most studies missing it, would be driven by the prior.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import AnalysisError


MISSING_VALUES = ("", "unknown")


def known_covariates(rows: pd.DataFrame, covariates: list[str]) -> tuple[np.ndarray, list[str]]:
    """Mask of the rows whose every covariate is known, and a note naming the others and saying how
    many studies the covariate model keeps."""
    missing = np.zeros(len(rows), bool)
    for cov in covariates:
        text = rows[cov].astype("string").str.strip().str.lower()
        missing |= (rows[cov].isna() | text.isin(MISSING_VALUES).fillna(True)).to_numpy()
    if not missing.any():
        return ~missing, []
    studies = ", ".join(rows.loc[missing, "study"].astype(str))
    return ~missing, [f"{', '.join(covariates)} unknown or not reported, left out of the covariate model: {studies}; "
                      f"it uses the {int((~missing).sum())} of {len(rows)} studies with a known value"]


def design_matrix(rows: pd.DataFrame, covariates: list[str], reference: dict[str, str] | None = None):
    """Intercept plus treatment-coded factors and numeric columns; returns X, names, references."""
    reference = dict(reference or {})
    columns, names = [np.ones(len(rows))], ["intrcpt"]
    for cov in covariates:
        values = rows[cov]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all():
            columns.append(numeric.to_numpy(float))
            names.append(cov)
            continue
        levels = sorted(values.astype(str).unique())
        ref = reference.setdefault(cov, levels[0])
        if ref not in levels:
            raise AnalysisError(f"reference level '{ref}' is not a level of '{cov}' ({', '.join(levels)})")
        for level in levels:
            if level != ref:
                columns.append((values.astype(str) == level).to_numpy(float))
                names.append(f"{cov}[{level}]")
    return np.column_stack(columns), names, reference
