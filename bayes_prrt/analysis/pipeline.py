"""The main job: every analysis a spec declares, computed (nothing written here; see ``writer.py``).

Per outcome: the frequentist pooled value (the spec's measure and tau2 method), the
Bayesian hierarchical model, one covariate model per spec covariate (subgroups and
contrasts), the spec's probability statements, and the sensitivity analysis. Every Bayesian
model is computed exactly where the exact engine takes it (``bayes/exact.py``), by MCMC
otherwise; the spec's ``mcmc`` key sets which exact posteriors an MCMC fit is also made for and
checked against on every run: ``headline`` (the models without covariates), ``all``, ``none``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..data.audit import Finding, audit
from ..bayes import compiled, sampling
from ..bayes.agreement import agreement
from ..bayes.memo import FitMemo
from ..bayes.result import BayesFit
from ..bayes.sampling import Settings
from ..bayes.small_study import small_study_model
from ..bayes.statements import BETWEEN_STUDY, WITHIN_STUDY
from ..bayes.within import statement_fit
from ..freq.bias import small_study_effects
from ..freq.cumulative import cumulative
from ..data.dataset import Dataset
from ..errors import AnalysisError
from ..freq.pool import pool
from ..freq.result import FreqFit
from .validate import reproduce
from ..priors import resolve_priors
from ..sensitivity.analysis import OutcomeSensitivity, add_mcmc_checks, spec_grid, spec_sensitivity
from .spec import Spec, check_against_data


@dataclass
class OutcomeRun:
    outcome: str
    kind: str
    rows: object  # the pooled rows (one per study)
    freq: FreqFit
    bayes: BayesFit  # exact where the model allows, else MCMC
    subgroups: dict[str, BayesFit] = field(default_factory=dict)  # covariate -> covariate model (as bayes)
    mcmc: dict[str, BayesFit] = field(default_factory=dict)  # "overall" or a covariate -> the MCMC fit beside it
    agreement: list[dict] = field(default_factory=list)  # MCMC against exact (``bayes.agreement``), per model
    refused: dict[str, str] = field(default_factory=dict)  # covariate -> reason
    statements: list[dict] = field(default_factory=list)
    sensitivity: OutcomeSensitivity | None = None
    small_study: object | None = None  # freq.bias.SmallStudyEffects: Egger, rank correlation, trim-and-fill
    pet: object | None = None  # bayes.small_study.SmallStudyModel: the SE proxy as a covariate (exact)
    cumulative: object | None = None  # freq.cumulative.Cumulative, in order of publication year


@dataclass
class AnalysisRun:
    spec: Spec
    data: Dataset
    seed: int
    outcomes: list[OutcomeRun]
    findings: list[Finding]
    validation: object
    timings: dict[str, float]
    settings: Settings | None = None
    engines: list[str] = field(default_factory=list)  # the Bayesian engines the run used
    counts: dict[str, int] = field(default_factory=dict)  # MCMC fits, refits, compilations, fits reused


def _statements(spec: Spec, outcome: str, overall: BayesFit, subgroups: dict[str, BayesFit], data: Dataset,
                seed: int) -> list[dict]:
    out = []
    for st in spec.statements:
        if st["outcome"] != outcome:
            continue
        if st.get("comparison") == WITHIN_STUDY:  # the within-study contrasts, not a fit of the outcome rows
            out.append({**statement_fit(data, st, spec.priors["median"], seed).prob(st["text"]), "note": ""})
            continue
        fit = subgroups.get(st["by"]) if st.get("by") else overall
        if fit is None:
            out.append({"statement": st["text"], "by": st.get("by"), "probability": None, "mcse": None,
                        "comparison": BETWEEN_STUDY, "note": f"no {st['by']} model for {outcome}"})
            continue
        answer = fit.prob(st["text"])
        out.append({**answer, "by": st.get("by"), "note": "" if fit.converged else "UNRELIABLE: not converged"})
    return out


def _small_study(run: OutcomeRun, measure: str, spec: Spec, settings: Settings) -> None:
    """Small-study effects (frequentist and the exact Bayesian PET model) and the cumulative analysis; an
    outcome with too few studies for one of them gets the reason in ``refused``."""
    freq_measure = "PLO" if measure == "GLMM" else measure
    for name, attr, make in (
            ("small-study effects", "small_study", lambda: small_study_effects(run.rows, freq_measure, spec.tau2)),
            ("Bayesian small-study model", "pet",
             lambda: small_study_model(run.rows, spec.priors[run.kind], settings, engine="quadrature")),
            ("cumulative analysis", "cumulative", lambda: cumulative(run.rows, freq_measure, spec.tau2))):
        try:
            setattr(run, attr, make())
        except AnalysisError as err:
            run.refused[name] = str(err)


def _cross_check(run: OutcomeRun, model: str, mcmc: BayesFit) -> None:
    """Keep the MCMC fit beside the exact one and record their agreement (nothing to compare when the
    model itself was fitted by MCMC)."""
    run.mcmc[model] = mcmc
    exact = run.bayes if model == "overall" else run.subgroups[model]
    if exact.exact is not None:
        run.agreement += [{"model": model, **row} for row in agreement(exact, mcmc)]


def _outcomes(spec: Spec, data: Dataset, settings: Settings, memo: FitMemo, step) -> tuple[list, dict]:
    """Every analysis of each outcome of the spec, its fits from ``memo``; and the seconds each took.
    What needs the MCMC fits comes last, for all outcomes at once, so that a background process has had
    longest to make them; the error bounds of the exact posteriors (each a twice-finer refit) are given to
    that process too, after its fits, and taken last."""
    timings, outcomes = {}, []
    for outcome in spec.outcomes:
        start = time.perf_counter()
        rows = data.select(outcome, spec.values)
        kind = rows["kind"].iloc[0]
        step(f"{outcome}: frequentist and Bayesian pooling")
        measure = spec.measure_binary if kind == "binary" else spec.measure_median
        freq = FreqFit(pool(rows, measure, spec.tau2, spec.hksj, median_se=spec.median_se,
                            median_likelihood=spec.median_likelihood),
                       rows, values=spec.values, data_sha256=data.sha256)
        priors = spec.priors[kind]
        run = OutcomeRun(outcome, kind, rows, freq, memo.exact_or_mcmc(rows, priors))
        memo.error_bound_later(run.bayes)
        for covariate in spec.covariates:
            step(f"{outcome}: subgroups by {covariate}")
            try:
                run.subgroups[covariate] = memo.exact_or_mcmc(rows, priors, by=covariate)
                memo.error_bound_later(run.subgroups[covariate])
                if spec.mcmc == "all":
                    _cross_check(run, covariate, memo.fit(rows, priors, by=covariate))
            except AnalysisError as err:
                run.refused[covariate] = str(err)
        run.statements = _statements(spec, outcome, run.bayes, run.subgroups, data, settings.seed)
        step(f"{outcome}: small-study effects and cumulative analysis")
        _small_study(run, measure, spec, settings)
        step(f"{outcome}: sensitivity")
        run.sensitivity, _ = spec_sensitivity(data, spec, outcome, settings, memo=memo,
                                              mcmc="later" if spec.mcmc != "none" else False)
        outcomes.append(run)
        timings[outcome] = time.perf_counter() - start
    memo.prefetched()  # every job is submitted: the worker goes on to its next tasks once it has made them
    if spec.mcmc != "none":
        step("MCMC cross-checks")
        for run in outcomes:
            start = time.perf_counter()
            base = memo.fit(run.rows, spec.priors[run.kind])
            add_mcmc_checks(run.sensitivity, data, base, spec.values)
            _cross_check(run, "overall", base)
            timings[run.outcome] += time.perf_counter() - start
    step("error bounds of the exact posteriors")
    for run in outcomes:
        for fit in (run.bayes, *run.subgroups.values()):
            if fit.exact is not None:
                fit.exact.error_bound  # noqa: B018 - computed now (cached), here or taken from the worker
    return outcomes, timings


def _beyond_exact(spec: Spec, selected: list, memo: FitMemo) -> list:
    """The prior grid's models (each outcome's rows under each grid prior) that the exact engine cannot take,
    as (rows, priors): the sensitivity analysis fits them by MCMC, so they are started early."""
    jobs = []
    for rows in selected:
        kind = rows["kind"].iloc[0]
        base = resolve_priors(kind, spec.priors[kind])
        for entry in spec_grid(spec, kind):
            priors = {**base, **entry.priors}
            try:
                if memo.needs_mcmc(rows, priors):
                    jobs.append((rows, priors))
            except AnalysisError:  # not poolable at all: the analysis says so where it fits this model
                break
    return jobs


def run_analysis(spec: Spec, data: Dataset, settings: Settings, progress=None, reuse: bool = True,
                 background=None) -> AnalysisRun:
    """Run everything with the MCMC ``settings`` (seed, sampler); ``progress(label)`` is called before each step.
    What the spec names is checked against the data first; each model is fitted once (``FitMemo``;
    ``reuse=False`` refits as the pipeline did before it, for the benchmark). The MCMC cross-checks of the
    overall models are started first, in a background process where that helps (``bayes/background.py``).
    ``background``: the MCMC worker, if started already (by the CLI, which stops it); once every fit is
    submitted it is told so (``end_jobs``), and goes on to the tasks it was started with."""
    check_against_data(spec, data)
    memo = FitMemo(settings, reuse, spec.median_se, spec.median_likelihood, background)
    before = {**sampling.STATS, "compiled": compiled.STATS["compiled"]}
    selected = [data.select(outcome, spec.values) for outcome in spec.outcomes]
    try:
        if spec.mcmc != "none":
            memo.prefetch([(rows, spec.priors[rows["kind"].iloc[0]]) for rows in selected])
        memo.prefetch(_beyond_exact(spec, selected, memo))
        outcomes, timings = _outcomes(spec, data, settings, memo, progress or (lambda label: None))
    finally:
        memo.close()
    findings = audit(data)
    validation = reproduce(data) if data.embedded else None
    counts = {"mcmc_fits": sampling.STATS["fits"] - before["fits"], "mcmc_refits": sampling.STATS["refits"] - before["refits"],
              "compilations": compiled.STATS["compiled"] - before["compiled"], "fits_reused": memo.hits}
    return AnalysisRun(spec, data, settings.seed, outcomes, findings, validation, timings, settings,
                       ["mcmc", "quadrature"], counts)
