"""Text renderers for frequentist results, in the spirit of metafor's print methods."""

from __future__ import annotations

import pandas as pd

from .console import console, fmt, print_frame
from ..outcomes import UNITS


def _p(p: float) -> str:
    return "< .0001" if p < 1e-4 else f"= {p:.4f}"


def print_pooled(res, values: str | None = None) -> None:
    head = f"{res.model.capitalize()} model (k = {res.k}"
    head += "" if res.tau2_method == "FE" else f"; tau^2 estimator: {res.tau2_method}"
    head += "; Knapp-Hartung" if res.hksj else ""
    console.print(f"{head})   outcome {res.outcome}, measure {res.measure}"
                  + (f", values: {values}" if values else ""))
    console.print()
    if res.tau2_method != "FE":
        ci = f" [{fmt(res.tau2_ci[0])}, {fmt(res.tau2_ci[1])}]" if res.tau2_ci else ""
        console.print(f"tau^2 (estimated amount of total heterogeneity): {fmt(res.tau2)}{ci}")
    console.print(f"I^2 (total heterogeneity / total variability):   {res.I2:.2f}%")
    console.print(f"H^2 (total variability / sampling variability):  {res.H2:.2f}")
    console.print(f"Test for heterogeneity: Q(df = {res.k - 1}) = {res.Q:.4f}, p-val {_p(res.p_Q)}")
    console.print()
    console.print(f"Pooled estimate (analysis scale): {res.estimate_t:.4f} (se {res.se_t:.4f})")
    console.print(f"Pooled {res.outcome}: {fmt(res.estimate)}  95% CI [{fmt(res.ci_low)}, {fmt(res.ci_high)}]"
                  f"  95% PI [{fmt(res.pi_low)}, {fmt(res.pi_high)}]")
    for note in res.notes:
        console.print(f"note: {note}")


def print_subgroups(sub) -> None:
    frame = pd.DataFrame([{"level": level, "k": r.k, "estimate": r.estimate, "ci_low": r.ci_low,
                           "ci_high": r.ci_high, "tau2": r.tau2, "I2": r.I2} for level, r in sub.levels.items()])
    print_frame(frame, title=f"Subgroups by {sub.by}")
    console.print(f"Test for subgroup differences: Q(df = {sub.df}) = {sub.Q_between:.4f}, p-val {_p(sub.p_between)}")
    for note in sub.notes:
        console.print(f"note: {note}")


def _interval(s: dict) -> str:
    return f"{fmt(s['median'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"


def print_diagnostics(diag, label: str = "") -> None:
    if diag is None:
        console.print(f"Diagnostics{label}: exact quadrature, no MCMC")
        return
    state = "converged" if diag.converged else "NOT CONVERGED: results UNRELIABLE (" + "; ".join(diag.problems()) + ")"
    console.print(f"Diagnostics{label}: R-hat max {diag.rhat_max:.3f}, bulk ESS min {diag.ess_bulk_min:.0f}, "
                  f"tail ESS min {diag.ess_tail_min:.0f}, divergences {diag.divergences}"
                  f"{', refitted' if diag.refitted else ''}: {state}")


def print_bayes(res, values: str | None = None) -> None:
    """Posterior medians with 95% equal-tailed intervals."""
    if not res.converged:
        console.print("UNRELIABLE: the sampler did not converge; do not use these numbers.", style="bold")
    console.print(f"Bayesian hierarchical model (k = {res.k}; engine {res.engine})   outcome {res.outcome}"
                  + (f", values: {values}" if values else ""))
    console.print("Priors: " + ", ".join(f"{k} ~ {v}" for k, v in res.priors.items()))
    console.print()
    scale = UNITS[res.kind]
    console.print(f"Pooled {res.outcome} (median study, {scale}): {_interval(res.pooled)}")
    if res.pop_average is not None:
        console.print(f"Population-average {res.outcome}:          {_interval(res.pop_average)}")
    console.print(f"Predictive (new study):                 {_interval(res.predictive)}")
    console.print(f"tau:                                    {_interval(res.tau)}")
    print_diagnostics(res.diagnostics)
    print_frame(res.studies, title="Studies: observed and shrunken (posterior median, 95% interval)")
    if res.by:
        frame = pd.DataFrame([{"level": lv, "k": s["k"], "median": s["median"], "ci_low": s["ci_low"],
                               "ci_high": s["ci_high"]} for lv, s in res.levels.items()])
        print_frame(frame, title=f"Subgroups by {res.by} (shared tau)")
        contrasts = pd.DataFrame([{"contrast": c, "median": s["median"], "ci_low": s["ci_low"],
                                   "ci_high": s["ci_high"], "P(>0)": s["p_gt_0"]} for c, s in res.contrasts.items()])
        print_frame(contrasts, title="Contrasts")
    if res.beta:
        frame = pd.DataFrame([{"coefficient": name, **{k: s[k] for k in ("median", "ci_low", "ci_high")}}
                              for name, s in res.beta.items()])
        print_frame(frame, title="Covariate effects (analysis scale: logit or log-months)")
        print_diagnostics(res.covariate_diagnostics, " (covariate model)")
    for note in res.notes:
        console.print(f"note: {note}")


def print_probabilities(res, answers) -> None:
    if not res.converged:
        console.print("UNRELIABLE: the sampler did not converge; do not use these numbers.", style="bold")
    for a in answers:
        console.print(f"P({res.outcome}: {a['statement']}) = {a['probability']:.3f}  (MCSE {a['mcse']:.3f})")
    print_diagnostics(res.diagnostics)
    if res.covariate_diagnostics is not None:
        print_diagnostics(res.covariate_diagnostics, " (covariate model)")


def print_joint(res) -> None:
    if not res.converged:
        console.print("UNRELIABLE: the sampler did not converge; do not use these numbers.", style="bold")
    console.print(f"Joint ORR/DCR model (k = {res.k}): responders and stable disease from the same patients")
    console.print(f"ORR: {_interval(res.orr)}   DCR: {_interval(res.dcr)}   rho: {_interval(res.rho)}")
    print_frame(res.comparison, title="Joint vs separate models (posterior median, 95% interval)")
    print_diagnostics(res.diagnostics)
    for note in res.notes:
        console.print(f"note: {note}")


def _table(rows: list[dict], key: str) -> pd.DataFrame:
    frame = pd.DataFrame([{key: r[key], "k": r["k"], "estimate": r["estimate"], "ci_low": r["ci_low"],
                           "ci_high": r["ci_high"], "tau": r["tau_median"], **r["statements"]} for r in rows])
    return frame


def print_sensitivity(res) -> None:
    console.print(f"Sensitivity: {res.outcome}", style="bold")
    print_frame(_table(res.priors, "prior"), title=f"{res.outcome}: prior grid (statements as probabilities)")
    if res.scenarios:
        print_frame(_table(res.scenarios, "scenario"), title=f"{res.outcome}: data scenarios")
    loo = pd.DataFrame([{"omitted": s, **v} for s, v in res.loo.items()])
    print_frame(loo, title=f"{res.outcome}: leave-one-out (shift of the pooled median; frequentist beside)")
    ranges = "; ".join(f"{name} {r[0]:.4g}-{r[1]:.4g}" for name, r in res.loo_range.items() if r)
    console.print(f"Leave-one-out range of the pooled {res.outcome}: {ranges}")
    psens = pd.DataFrame([{"parameter": p, **v} for p, v in res.psens.items()])
    print_frame(psens, title=f"{res.outcome}: power-scaling sensitivity (> 0.05 is influential)")
    for text, v in res.verdicts.items():
        parts = [f"{name}: {v[key]['verdict']}" + (f", P {v[key]['range'][0]:.3f}-{v[key]['range'][1]:.3f}"
                                                    if v[key]["range"] else "")
                 for key, name in (("priors", "priors"), ("scenarios", "data"))]
        console.print(f"Verdict for '{text}': {v['overall']} ({'; '.join(parts)})")
    for note in res.notes:
        console.print(f"note: {note}")
