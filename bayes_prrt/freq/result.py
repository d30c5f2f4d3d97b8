"""``FreqFit``: one frequentist pooled result with its subgroups or meta-regression, as an object.

Like metafor's ``rma`` object: ``print(fit)`` gives the metafor-style block, ``fit.summary()``
one row per quantity, ``fit.leave1out()`` the leave-one-out table, ``fit.plot_forest()`` the
forest plot, ``fit.to_dict()`` the CLI's JSON. Names follow metafor: ``tau2``, ``I2``, ``H2``,
``QE`` (and ``QEp``); the numbers themselves are those of ``pool.py``, ``metareg.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..effects import clopper_pearson
from ..formatting import fit_html
from .metareg import MetaRegression
from .pool import Pooled, SubgroupAnalysis, leave_one_out


@dataclass(eq=False)
class FreqFit:
    result: Pooled  # the pooled result of all studies
    rows: pd.DataFrame  # the rows given, one per study
    subgroups: SubgroupAnalysis | None = None
    regression: MetaRegression | None = None
    values: str | None = None  # the value-source policy the rows were selected with
    data_sha256: str | None = None

    def __getattr__(self, name):  # the pooled result's fields: estimate, ci_low, tau2, I2, k, weights...
        if name in ("result", "__setstate__"):
            raise AttributeError(name)
        return getattr(self.result, name)

    @property
    def QE(self) -> float:
        return self.result.Q

    @property
    def QEp(self) -> float:
        return self.result.p_Q

    def summary(self) -> pd.DataFrame:
        """One row per quantity (pooled value, prediction interval, tau2, I2, H2, QE; subgroup levels or
        coefficients; each study's observed value with its 95% CI and weight)."""
        r = self.result
        rows = [(f"pooled {r.outcome}", r.estimate, r.ci_low, r.ci_high, np.nan),
                (f"prediction interval {r.outcome}", np.nan, r.pi_low, r.pi_high, np.nan),
                ("tau2", r.tau2, *(r.tau2_ci or (np.nan, np.nan)), np.nan),
                ("I2 (%)", r.I2, *(r.I2_ci or (np.nan, np.nan)), np.nan),
                ("H2", r.H2, np.nan, np.nan, np.nan), ("QE", r.Q, np.nan, np.nan, r.p_Q)]
        if self.subgroups is not None:
            rows += [(f"{self.subgroups.by}: {level}", p.estimate, p.ci_low, p.ci_high, np.nan)
                     for level, p in self.subgroups.levels.items()]
            rows.append(("Q between subgroups", self.subgroups.Q_between, np.nan, np.nan, self.subgroups.p_between))
        if self.regression is not None:
            rows += [(f"beta {c.term}", c.estimate, c.ci_low, c.ci_high, c.pval)
                     for c in self.regression.coefficients().itertuples()]
        frame = pd.DataFrame(rows, columns=["quantity", "estimate", "ci_low", "ci_high", "pval"])
        frame["weight_%"] = np.nan
        studies = self.study_table()
        studies = pd.DataFrame({"quantity": "study " + studies["study"], "estimate": studies["observed"],
                                "ci_low": studies["ci_low"], "ci_high": studies["ci_high"], "pval": np.nan,
                                "weight_%": studies["weight_%"]})
        return pd.concat([frame, studies], ignore_index=True).set_index("quantity")

    def study_table(self) -> pd.DataFrame:
        """Each study's observed value, its 95% CI (Clopper-Pearson for proportions, as reported for medians),
        its weight in the pooled result (%, NaN for a study not pooled) and, for medians, the rule that made its
        entry."""
        out = []
        for row in self.rows.itertuples():
            if row.kind == "binary":
                observed, (low, high) = row.events / row.n, clopper_pearson(int(row.events), int(row.n))
            else:
                observed, low, high = row.median, row.ci_low, row.ci_high
            out.append({"study": str(row.study), "observed": float(observed), "ci_low": float(low),
                        "ci_high": float(high), "weight_%": self.result.weights.get(str(row.study), np.nan)}
                       | ({"rule": self.result.rules.get(str(row.study), "left out (no CI)")} if self.result.rules
                          else {}))
        return pd.DataFrame(out)

    def leave1out(self) -> pd.DataFrame:
        """One row per omitted study: the pooled result of the others (metafor's ``leave1out``)."""
        r = self.result
        return leave_one_out(self.rows, r.measure, r.tau2_method, r.hksj)

    def to_dict(self) -> dict:
        """The CLI's JSON (``pool --json``)."""
        out = {"method": "freq", "values": self.values, "data_sha256": self.data_sha256, **self.result.to_dict()}
        if self.subgroups is not None:
            out.update(self.subgroups.to_dict())
        if self.regression is not None:
            out["meta_regression"] = self.regression.to_dict()
        return out

    def __str__(self) -> str:
        from .text import freq_text

        return freq_text(self)

    def __repr__(self) -> str:
        r = self.result
        return f"<FreqFit {r.outcome}: {r.model}, k={r.k}, measure={r.measure}, tau2 method={r.tau2_method}>"

    def _repr_html_(self) -> str:
        return fit_html(str(self), self.summary())

    def plot_forest(self, ax=None):
        """Forest plot drawn from this fit alone: studies with 95% CIs and weights, the pooled value."""
        from ..plots.forest import fit_forest

        return fit_forest(self.rows, self.result.outcome, freq=self, ax=ax)
