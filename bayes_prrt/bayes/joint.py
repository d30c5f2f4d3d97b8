"""Joint model of ORR and DCR from the same patients (``models.joint_response_model``).

Responders r_i (CR + PR) and stable s_i (SD) come from one study's n_i patients:
r_i = ORR events, s_i = DCR events - ORR events, which needs DCR and ORR over the same n.
The pooled values are those of the median study: ORR = expit(muR),
DCR = expit(muR) + (1 - expit(muR)) expit(muS), so ORR <= DCR in every draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from scipy.special import expit

from ..data.dataset import Dataset
from ..errors import AnalysisError
from ..priors import resolve_priors
from .fit import bayes_pool
from .models import joint_response_model
from .sampling import DEFAULT_SETTINGS, Diagnostics, Settings, sample_model
from .summaries import summary


@dataclass
class JointResult:
    k: int
    orr: dict
    dcr: dict
    rho: dict
    tau_responders: dict
    tau_stable: dict
    diagnostics: Diagnostics
    comparison: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    idata: object | None = None

    @property
    def converged(self) -> bool:
        return self.diagnostics.converged

    def to_dict(self) -> dict:
        return {"k": self.k, "ORR": self.orr, "DCR": self.dcr, "rho": self.rho,
                "tau": {"responders": self.tau_responders, "stable": self.tau_stable},
                "diagnostics": self.diagnostics.to_dict(), "converged": self.converged,
                "comparison": self.comparison.to_dict(orient="records"), "notes": self.notes}


def response_counts(data: Dataset, values: str) -> tuple[pd.DataFrame, list[str]]:
    """Studies with DCR and ORR over the same n: responders, stable, n."""
    dcr, orr = data.select("DCR", values), data.select("ORR", values)
    both = dcr.merge(orr, on="study", suffixes=("_dcr", "_orr"))
    same_n = both["n_dcr"] == both["n_orr"]
    notes = []
    if (~same_n).any():
        notes.append("left out, DCR and ORR over different n: " + ", ".join(both.loc[~same_n, "study"]))
    only_one = sorted(set(dcr["study"]) ^ set(orr["study"]))
    if only_one:
        notes.append("left out, only one of DCR and ORR: " + ", ".join(only_one))
    both = both[same_n]
    counts = pd.DataFrame({"study": both["study"], "responders": both["events_orr"].astype(int),
                           "stable": (both["events_dcr"] - both["events_orr"]).astype(int),
                           "n": both["n_dcr"].astype(int)}).reset_index(drop=True)
    bad = counts["stable"] < 0
    if bad.any():
        raise AnalysisError("ORR events exceed DCR events for " + ", ".join(counts.loc[bad, "study"]))
    return counts, notes


def joint_response(data: Dataset, values: str = "published", priors: dict[str, str] | None = None,
                   settings: Settings = DEFAULT_SETTINGS) -> JointResult:
    counts, notes = response_counts(data, values)
    if len(counts) < 3:
        raise AnalysisError(f"the joint model needs at least 3 studies with DCR and ORR; found {len(counts)}")
    resolved = resolve_priors("binary", priors)
    model = joint_response_model(counts["responders"], counts["stable"], counts["n"], resolved, counts["study"])
    idata, diag = sample_model(model, ["mu", "tau", "rho"], settings)
    mu = idata.posterior["mu"].to_numpy()
    p_r, p_s = expit(mu[..., 0]), expit(mu[..., 1])
    orr, dcr = p_r, p_r + (1 - p_r) * p_s
    tau = idata.posterior["tau"].to_numpy()
    comparison = _compare(data, values, counts, settings, summary(orr), summary(dcr))
    return JointResult(k=len(counts), orr=summary(orr), dcr=summary(dcr),
                       rho=summary(idata.posterior["rho"].to_numpy()),
                       tau_responders=summary(tau[..., 0]), tau_stable=summary(tau[..., 1]),
                       diagnostics=diag, comparison=comparison, notes=notes, idata=idata)


def _compare(data, values, counts, settings, orr, dcr) -> pd.DataFrame:
    """The joint model's pooled ORR and DCR beside the two separate binomial models on the same studies."""
    rows = []
    for outcome, joint in (("ORR", orr), ("DCR", dcr)):
        selected = data.select(outcome, values)
        separate = bayes_pool(selected[selected["study"].isin(counts["study"])].reset_index(drop=True),
                              settings=settings)
        rows.append({"outcome": outcome, "joint_median": joint["median"], "joint_ci_low": joint["ci_low"],
                     "joint_ci_high": joint["ci_high"], "separate_median": separate.pooled["median"],
                     "separate_ci_low": separate.pooled["ci_low"], "separate_ci_high": separate.pooled["ci_high"],
                     "separate_converged": separate.converged})
    return pd.DataFrame(rows)
