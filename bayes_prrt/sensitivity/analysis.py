"""The sensitivity analysis of one spec: prior grid, data scenarios, influence, power-scaling.

Prior grid: every model is computed exactly (``bayes/exact.py``) under each prior of the grid,
the covariate model of subgroup statements too. Where the exact engine cannot take a prior
(a heavy-tailed tau prior whose posterior its grid does not hold), the draws of the model under
the spec's priors (exact i.i.d. draws, or MCMC) are moved to that prior by PSIS reweighting
(``reweight.py``); a prior they cannot represent (Pareto k > 0.7) is refitted by MCMC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..bayes.memo import FitMemo
from ..bayes.sampling import DEFAULT_SETTINGS, Settings
from ..bayes.statements import WITHIN_STUDY, probability
from ..bayes.within import statement_fit
from ..data.dataset import Dataset
from ..errors import AnalysisError, ExactUnavailable
from ..priors import resolve_priors
from .influence import influence
from .power import power_scaling
from .reweight import K_MAX, prior_weights
from .scenarios import RULE_SCENARIOS, SCENARIOS, scenario_rows
from .verdict import verdict, wording


@dataclass
class GridEntry:
    label: str
    priors: dict[str, str]


@dataclass
class OutcomeSensitivity:
    outcome: str
    priors: list[dict]
    scenarios: list[dict]
    loo: dict
    loo_range: dict
    psens: dict
    verdicts: dict
    timing: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "priors": self.priors, "scenarios": self.scenarios, "loo": self.loo,
                "loo_range": self.loo_range, "psens": self.psens, "verdicts": self.verdicts, "timing": self.timing, "notes": self.notes}


def prior_grid(kind: str, tau_priors: list[str], mu_priors: list[str]) -> list[GridEntry]:
    """Each tau prior with the default mu prior, then each mu prior with the default tau prior."""
    defaults = resolve_priors(kind)
    entries = [GridEntry(f"tau ~ {t}", {"tau": t}) for t in tau_priors]
    entries += [GridEntry(f"mu ~ {m}", {"mu": m}) for m in mu_priors if str(m) != str(defaults["mu"])]
    return entries


def spec_grid(spec, kind: str) -> list[GridEntry]:
    """The prior grid the spec's [sensitivity] table declares for one outcome kind."""
    return prior_grid(kind, spec.sensitivity[f"tau_{kind}"], spec.sensitivity[f"mu_{kind}"])


def _row(label, res, answers, extra=None) -> dict:
    return {"prior" if extra is None else "scenario": label, "estimate": res.pooled["median"],
            "ci_low": res.pooled["ci_low"], "ci_high": res.pooled["ci_high"], "tau_median": res.tau["median"],
            "pi_low": res.predictive["ci_low"], "pi_high": res.predictive["ci_high"], "k": res.k,
            "statements": answers, **(extra or {})}


def _answers(statements, plain, by_fit, weights=None) -> dict:
    out = {}
    for st in statements:
        source = by_fit if st.get("by") else plain
        out[st["text"]] = probability(source, st["text"], weights if st.get("by") else None)["probability"]
    return out


def _statement_covariate(statements) -> str | None:
    """The covariate whose levels an outcome's statements compare (at most one), or None."""
    bys = {st["by"] for st in statements if st.get("by")}
    if len(bys) > 1:
        raise AnalysisError("statements of one outcome compare levels of one covariate")
    return bys.pop() if bys else None


def outcome_sensitivity(data: Dataset, outcome: str, statements: list[dict], grid: list[GridEntry],
                        scenarios: list[str], thresholds, values: str = "published",
                        settings: Settings = DEFAULT_SETTINGS, base_priors: dict | None = None,
                        memo: FitMemo | None = None, mcmc: bool | str = True) -> OutcomeSensitivity:
    """``base_priors``: the priors each grid entry departs from (default: the package defaults).
    ``memo``: where the fits come from (the pipeline's, so that none is made twice). ``mcmc``: make
    the MCMC fit that PSIS leave-one-out and power-scaling need (False: they are not run; "later":
    the caller adds them with ``add_mcmc_checks``)."""
    rows = data.select(outcome, values)
    kind = rows["kind"].iloc[0]
    within = [st for st in statements if st["outcome"] == outcome and st.get("comparison") == WITHIN_STUDY]
    statements = [st for st in statements if st["outcome"] == outcome and st.get("comparison") != WITHIN_STUDY]
    timing, notes = {}, []
    base_priors = resolve_priors(kind, base_priors)
    memo = memo or FitMemo(settings)

    by = _statement_covariate(statements)
    base_by = memo.exact_or_mcmc(rows, base_priors, by=by) if by else None

    prior_rows = []
    for entry in grid:
        t0 = time.perf_counter()
        entry_priors = {**base_priors, **entry.priors}
        res = memo.exact_or_mcmc(rows, entry_priors)
        weights, k = (None, None)
        by_source = base_by
        exact = None
        if base_by is not None and base_by.exact is not None:  # exact under every prior: no reweighting
            try:
                exact = by_source = memo.fit(rows, entry_priors, by=by, engine="quadrature")
            except ExactUnavailable as err:
                notes.append(f"{entry.label}: subgroup statements by PSIS from the exact draws ({err})")
        if base_by is not None and exact is None:  # reweight the base draws (MCMC, or i.i.d. exact) to this prior
            post = base_by.idata.posterior
            weights, k = prior_weights(post["mu"].to_numpy(), post["tau"].to_numpy(), base_priors,
                                       resolve_priors(kind, entry_priors))
            if k > K_MAX:
                by_source, weights = memo.fit(rows, entry_priors, by=by), None
                notes.append(f"{entry.label}: Pareto k {k:.2f} > {K_MAX}, subgroup model refitted by MCMC")
        prior_rows.append(_row(entry.label, res, _answers(statements, res, by_source, weights))
                          | {"pareto_k": k, "seconds": time.perf_counter() - t0})
    timing["first_prior_s"] = prior_rows[0]["seconds"]  # builds the likelihood grid
    if len(prior_rows) > 1:  # a one-entry grid has no further entries to time
        timing["extra_prior_median_s"] = float(np.median([r["seconds"] for r in prior_rows[1:]]))

    scenario_rows_out = []
    for name in scenarios:
        srows, snotes = scenario_rows(data, outcome, name)
        notes += snotes
        try:
            rules = RULE_SCENARIOS.get(name)
            res = memo.exact_or_mcmc(srows, base_priors, rules=rules)
            sby = memo.exact_or_mcmc(srows, base_priors, by=by, rules=rules) if by else None
        except AnalysisError as err:
            notes.append(f"{name}: not poolable ({err})")
            scenario_rows_out.append({"scenario": name, "description": SCENARIOS[name], "k": len(srows),
                                      "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "tau_median": np.nan,
                                      "pi_low": np.nan, "pi_high": np.nan, "statements": {}, "converged": None})
            continue
        scenario_rows_out.append(_row(name, res, _answers(statements, res, sby),
                                      {"description": SCENARIOS[name], "converged": sby.converged if sby else True}))

    verdicts = {}
    for st in statements:
        text = st["text"]
        by_prior = {r["prior"]: r["statements"][text] for r in prior_rows}
        by_scenario = {r["scenario"]: r["statements"][text] for r in scenario_rows_out if text in r["statements"]}
        verdicts[text] = {"priors": verdict(by_prior, thresholds), "scenarios": verdict(by_scenario, thresholds),
                          "wording": wording(by_prior, by_scenario, thresholds)}
        both = {**verdicts[text]["priors"]["regions"], **verdicts[text]["scenarios"]["regions"]}
        verdicts[text]["overall"] = "robust" if len(set(both.values())) == 1 else "conclusion changes"
    verdicts |= {st["text"]: _within_verdict(data, st, grid, base_priors, thresholds, settings.seed, notes)
                 for st in within}
    result = OutcomeSensitivity(outcome=outcome, priors=prior_rows, scenarios=scenario_rows_out, loo={},
                                loo_range={}, psens={}, verdicts=verdicts, timing=timing, notes=notes)
    if mcmc == "later":
        return result
    if mcmc:
        add_mcmc_checks(result, data, memo.fit(rows, base_priors), values)
    else:
        notes.append("PSIS leave-one-out and power-scaling need an MCMC fit: not run (mcmc = 'none')")
    return result


def add_mcmc_checks(result: OutcomeSensitivity, data: Dataset, base, values: str = "published") -> None:
    """Add to ``result`` what needs the outcome's MCMC fit ``base`` (under the base priors): PSIS
    leave-one-out influence, its range, and power-scaling."""
    start = time.perf_counter()
    rows = data.select(result.outcome, values)
    loo_table = influence(base, rows, base.priors)
    result.loo = {r.study: {"pareto_k": r.pareto_k, "shift": r.shift, "method": r.method,
                            "freq_shift": getattr(r, "freq_shift", np.nan)} for r in loo_table.itertuples()}
    result.loo_range, result.psens = _loo_range(data, result.outcome, base, loo_table), power_scaling(base)
    result.notes.append(f"base MCMC fit: {'converged' if base.converged else 'NOT CONVERGED'}")
    result.timing["mcmc_checks_s"] = time.perf_counter() - start


def _within_verdict(data: Dataset, statement: dict, grid: list[GridEntry], base_priors, thresholds, seed,
                    notes: list[str]) -> dict:
    """A within-study statement under each tau prior of the grid (the data scenarios and the mu priors of the
    grid do not touch the within-study model, whose mean contrast has the beta prior); a prior the exact
    engine cannot take is left out with a note."""
    by_prior = {}
    for entry in (e for e in grid if "tau" in e.priors):
        try:
            fit = statement_fit(data, statement, resolve_priors("median", {**base_priors, **entry.priors}), seed)
        except AnalysisError as err:
            notes.append(f"{entry.label}: within-study '{statement['text']}' not computed ({err})")
            continue
        by_prior[entry.label] = fit.prob(statement["text"])["probability"]
    out = {"priors": verdict(by_prior, thresholds), "scenarios": verdict({}, thresholds),
           "wording": wording(by_prior, {}, thresholds)}
    return out | {"overall": out["priors"]["verdict"] if by_prior else "not run"}


def spec_sensitivity(data: Dataset, spec, outcome: str, settings: Settings,
                     memo: FitMemo | None = None, mcmc: bool | str | None = None) -> tuple[OutcomeSensitivity, str]:
    """The sensitivity analysis the spec declares for one outcome (grid entries depart from the spec's
    priors); ``memo``: the fits already made (see ``bayes.memo``); ``mcmc``: as in ``outcome_sensitivity``
    (default: unless the spec says mcmc = "none"). Returns it and the kind."""
    kind = data.select(outcome, spec.values)["kind"].iloc[0]
    memo = memo or FitMemo(settings, median_se=spec.median_se, median_likelihood=spec.median_likelihood)
    table = spec.sensitivity
    grid = spec_grid(spec, kind)
    scenarios = table["scenarios"] if data.embedded else []
    result = outcome_sensitivity(data, outcome, spec.statements, grid, scenarios, tuple(table["thresholds"]),
                                 spec.values, settings, base_priors=spec.priors[kind], memo=memo,
                                 mcmc=spec.mcmc != "none" if mcmc is None else mcmc)
    if not data.embedded:
        result.notes.append("data scenarios need the embedded dataset's study table; none run")
    return result, kind


def spec_sensitivities(data: Dataset, spec, outcomes: list[str], settings: Settings):
    """``spec_sensitivity`` for each outcome, sharing one memo of fits; returns the results and
    the outcome kinds."""
    memo = FitMemo(settings, median_se=spec.median_se, median_likelihood=spec.median_likelihood)
    results, kinds = [], {}
    for outcome in outcomes:
        result, kinds[outcome] = spec_sensitivity(data, spec, outcome, settings, memo)
        results.append(result)
    return results, kinds


def _loo_range(data: Dataset, outcome: str, base, loo_table) -> dict:
    """Range of the pooled estimate with one study left out: Bayesian, frequentist, published."""
    full = base.pooled["median"]
    out = {"bayes": [full + loo_table["shift"].min(), full + loo_table["shift"].max()]}
    if "freq_without" in loo_table:
        out["freq"] = [loo_table["freq_without"].min(), loo_table["freq_without"].max()]
    published = None
    if data.published is not None:
        rows = data.published[(data.published["outcome"] == outcome)
                              & data.published["statistic"].isin(["leave_one_out_min", "leave_one_out_max"])]
        if len(rows) == 2:
            published = sorted(rows["estimate"].tolist())
    out["published"] = published
    return out
