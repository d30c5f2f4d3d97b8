"""Design matrices of study covariates, shared by the frequentist and Bayesian meta-regressions.

Categorical covariates use treatment coding against a reference level (default: the first
level in sorted order, as R's ``factor``); numeric ones enter as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import AnalysisError


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
