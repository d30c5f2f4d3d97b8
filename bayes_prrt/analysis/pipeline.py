"""The main job: every analysis a spec declares, computed (nothing written here; see ``writer.py``).

Per outcome: the frequentist pooled value (the spec's measure and tau2 method), the
Bayesian hierarchical model, one covariate model per spec covariate (subgroups and
contrasts), the spec's probability statements, and the sensitivity analysis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..data.audit import Finding, audit
from ..bayes.fit import BayesPooled, bayes_pool
from ..bayes.sampling import Settings
from ..bayes.statements import probability
from ..data.dataset import Dataset
from ..errors import AnalysisError
from ..freq.pool import Pooled, pool
from .validate import reproduce
from ..sensitivity.analysis import OutcomeSensitivity, spec_sensitivity
from .spec import Spec


@dataclass
class OutcomeRun:
    outcome: str
    kind: str
    rows: object  # the pooled rows (one per study)
    freq: Pooled
    bayes: BayesPooled
    subgroups: dict[str, BayesPooled] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # covariate -> reason
    statements: list[dict] = field(default_factory=list)
    sensitivity: OutcomeSensitivity | None = None


@dataclass
class AnalysisRun:
    spec: Spec
    data: Dataset
    seed: int
    outcomes: list[OutcomeRun]
    findings: list[Finding]
    validation: object
    timings: dict[str, float]


def _statements(spec: Spec, outcome: str, overall: BayesPooled, subgroups: dict[str, BayesPooled]) -> list[dict]:
    out = []
    for st in spec.statements:
        if st["outcome"] != outcome:
            continue
        fit = subgroups.get(st["by"]) if st.get("by") else overall
        if fit is None:
            out.append({"statement": st["text"], "by": st.get("by"), "probability": None, "mcse": None,
                        "note": f"no {st['by']} model for {outcome}"})
            continue
        answer = probability(fit, st["text"])
        out.append({**answer, "by": st.get("by"), "note": "" if fit.converged else "UNRELIABLE: not converged"})
    return out


def run_analysis(spec: Spec, data: Dataset, settings: Settings, progress=None) -> AnalysisRun:
    """Run everything with the MCMC ``settings`` (seed, sampler); ``progress(label)`` is called before each step."""
    step = progress or (lambda label: None)
    timings, outcomes = {}, []
    for outcome in spec.outcomes:
        start = time.perf_counter()
        rows = data.select(outcome, spec.values)
        kind = rows["kind"].iloc[0]
        step(f"{outcome}: frequentist and Bayesian pooling")
        freq = pool(rows, spec.measure_binary if kind == "binary" else spec.measure_median, spec.tau2, spec.hksj)
        priors = spec.priors.get(kind)
        bayes = bayes_pool(rows, priors=priors, settings=settings)
        run = OutcomeRun(outcome, kind, rows, freq, bayes)
        for covariate in spec.covariates:
            step(f"{outcome}: subgroups by {covariate}")
            try:
                run.subgroups[covariate] = bayes_pool(rows, priors=priors, by=covariate, settings=settings)
            except AnalysisError as err:
                run.refused[covariate] = str(err)
        run.statements = _statements(spec, outcome, bayes, run.subgroups)
        step(f"{outcome}: sensitivity")
        run.sensitivity, _ = spec_sensitivity(data, spec, outcome, settings,
                                              fits={"overall": bayes, "by": run.subgroups})
        outcomes.append(run)
        timings[outcome] = time.perf_counter() - start
    findings = audit(data)
    validation = reproduce(data) if data.embedded else None
    return AnalysisRun(spec, data, settings.seed, outcomes, findings, validation, timings)
