"""External validation: cohorts that are not in the synthesis against its posterior predictive.

For each row of a long outcome file (one cohort and outcome: events/n, or a median with its 95%
CI) the model of that outcome, fitted to the synthesis, gives the predictive distribution of what
a *new* study of that size or precision would observe (``BayesFit.predict``); the cohort's value
and its two-sided predictive p-value say whether the synthesis predicts it. A small p-value for
several cohorts means the synthesis (or its heterogeneity) does not describe studies outside it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data.loader import read_outcomes
from ..errors import DataError


def check_external(path, fit_of: Callable[[str], object]) -> list[dict]:
    """One result per row of ``path``: study, outcome, observed, pi_low, pi_high, p_two_sided (and
    the true-value interval, n or se); ``fit_of(outcome)`` gives the synthesis' ``BayesFit``."""
    rows = read_outcomes(path)
    fits, results = {}, []
    for index, row in rows.iterrows():
        outcome, study, line = str(row["outcome"]), str(row["study"]), int(index) + 2
        if outcome not in fits:
            fits[outcome] = fit_of(outcome)
        fit = fits[outcome]
        if study in fit.studies_fitted:
            raise DataError(str(path), f"{study} is in the synthesis of {outcome}; an external check needs a cohort "
                                       f"the synthesis did not use", row=line, study=study, column="study")
        if row["kind"] == "binary":
            observed = float(row["events"]) / float(row["n"])
            pred = fit.predict(n=int(row["n"]), observed=observed)
        else:
            if np.isnan(row["ci_low"]):
                raise DataError(str(path), "a median needs its 95% CI (at least ci_low) for its SE",
                                row=line, study=study, column="ci_low")
            observed = float(row["median"])
            pred = fit.predict(ci_low=float(row["ci_low"]), observed=observed,
                               ci_high=None if np.isnan(row["ci_high"]) else float(row["ci_high"]))
        results.append({"study": study, "outcome": outcome, "observed": observed,
                        "pi_low": pred["observed"]["pi_low"], "pi_high": pred["observed"]["pi_high"],
                        "p_two_sided": pred["p_two_sided"], "p_two_sided_mid": pred.get("p_two_sided_mid"),
                        "true": pred["true"], "k": pred["k"], "engine": pred["engine"], "converged": pred["converged"],
                        **({"n": pred["n"]} if "n" in pred else {"se": pred["se"]})})
    return results
