"""Mixed-effects meta-regression on study covariates (categorical and numeric).

Categorical covariates use treatment coding against a reference level (default: the
first level in sorted order, as R's ``factor``); numeric ones enter as they are. Rows
whose covariate is missing are left out with a note. The model and the omnibus QM test
are those of ``rma.py`` (Wald chi2, or F under Knapp-Hartung).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ..design import design_matrix, known_covariates
from ..effects import study_effects
from .rma import RmaFit, rma


@dataclass
class MetaRegression:
    fit: RmaFit
    covariates: list[str]
    reference: dict[str, str]
    notes: list[str]

    def coefficients(self) -> pd.DataFrame:
        f = self.fit
        return pd.DataFrame({"term": f.coef_names, "estimate": f.b, "se": f.se, "stat": f.stat,
                             "pval": f.pval, "ci_low": f.ci_low, "ci_high": f.ci_high})

    def to_dict(self) -> dict:
        f = self.fit
        return {"covariates": self.covariates, "reference": self.reference, "k": f.k,
                "coefficients": self.coefficients().to_dict(orient="records"),
                "QM": f.QM, "p_QM": f.p_QM, "QE": f.QE, "p_QE": f.p_QE, "tau2": f.tau2,
                "I2": f.I2, "H2": f.H2, "test": "F" if f.hksj else "chi2", "notes": self.notes}


def meta_regression(rows: pd.DataFrame, covariates: list[str], measure: str, tau2_method: str = "REML",
                    hksj: bool = False, reference: dict[str, str] | None = None,
                    median_se: str = "ci") -> MetaRegression:
    for cov in covariates:
        if cov not in rows.columns:
            raise AnalysisError(f"covariate column '{cov}' does not exist")
    eff, used = study_effects(rows, measure, median_se)
    keep, missing_note = known_covariates(used, covariates)
    notes = [*eff.notes, *missing_note]
    used = used[keep].reset_index(drop=True)
    X, names, ref = design_matrix(used, covariates, reference)
    if X.shape[0] - X.shape[1] < 1 or np.linalg.matrix_rank(X) < X.shape[1]:
        raise AnalysisError(f"too few studies ({X.shape[0]}) for {X.shape[1]} coefficients, or a level "
                            f"without studies")
    fit = rma(eff.yi[keep], eff.vi[keep], X, method=tau2_method, hksj=hksj, coef_names=names)
    return MetaRegression(fit, covariates, ref, notes)
