"""Printing results on the terminal: the fits' own text blocks, and tables with rich."""

from __future__ import annotations

import pandas as pd

from ..bayes.text import UNRELIABLE, bayes_text, diagnostics_text
from ..formatting import interval
from .console import TABLE_WIDTH, print_cells, print_frame, print_text


def print_dataset_summary(data, frame: pd.DataFrame) -> None:
    studies = len(data.studies) if data.embedded else data.outcomes["study"].nunique()
    print_text(f"Dataset: {data.source}  (sha256 {data.sha256[:16]}, {studies} studies, "
               f"{len(data.outcomes)} outcome rows)")
    print_frame(frame, title="Outcomes by value source")


def print_audit(result) -> None:
    """An ``AuditResult``: the findings with their rule and severity, then the rules skipped."""
    if result.findings:
        frame = pd.DataFrame([f.to_dict() for f in result.findings])
        print_frame(frame[["rule", "severity", "study", "outcome", "message", "corrected_value"]],
                    title=f"Audit: {len(result.findings)} findings")
    else:
        print_text("Audit: no findings.")
    for s in result.skipped:
        print_text(f"skipped {s['rule']}: {s['reason']}")


def print_freq(fit) -> None:
    """A frequentist fit as metafor prints it, then the study weights (for medians with the rule of each entry)."""
    print_text(str(fit))
    if not fit.single_study:
        weights, rules = fit.result.weights, fit.result.rules
        table = pd.DataFrame({"study": list(weights), "weight_%": list(weights.values())})
        if rules:
            table["rule"] = [rules.get(study, "") for study in weights]
        print_frame(table, title="Study weights")


def print_bayes(fit, values: str | None = None) -> None:
    """Posterior medians with 95% equal-tailed intervals."""
    print_text(bayes_text(fit, values))


def print_probabilities(fit, answers) -> None:
    lines = [UNRELIABLE] if not fit.converged else []
    lines += [f"P({fit.outcome}: {a['statement']}) = {a['probability']:.3f}  (MCSE {a['mcse']:.3f})" for a in answers]
    base = fit.overall if fit.overall is not None else fit
    lines.append(diagnostics_text(base.diagnostics))
    if fit.overall is not None:
        lines.append(diagnostics_text(fit.diagnostics, " (covariate model)"))
    print_text("\n".join(lines))


def print_joint(res) -> None:
    lines = [UNRELIABLE] if not res.converged else []
    print_text("\n".join(lines + [
        f"Joint ORR/DCR model (k = {res.k}): responders and stable disease from the same patients",
        f"ORR: {interval(res.orr)}   DCR: {interval(res.dcr)}   rho: {interval(res.rho)}"]))
    print_frame(res.comparison, title="Joint vs separate models (posterior median, 95% interval)")
    print_text("\n".join([diagnostics_text(res.diagnostics), *(f"note: {note}" for note in res.notes)]))


def _table(rows: list[dict], key: str) -> pd.DataFrame:
    frame = pd.DataFrame([{key: r[key], "k": r["k"], "estimate": r["estimate"], "ci_low": r["ci_low"],
                           "ci_high": r["ci_high"], "tau": r["tau_median"], **r["statements"]} for r in rows])
    return frame


def print_sensitivity(res) -> None:
    print_text(f"Sensitivity: {res.outcome}")
    print_frame(_table(res.priors, "prior"), title=f"{res.outcome}: prior grid (statements as probabilities)")
    if res.scenarios:
        print_frame(_table(res.scenarios, "scenario"), title=f"{res.outcome}: data scenarios")
    loo = pd.DataFrame([{"omitted": s, **v} for s, v in res.loo.items()])
    print_frame(loo, title=f"{res.outcome}: leave-one-out (shift of the pooled median; frequentist beside)")
    ranges = "; ".join(f"{name} {r[0]:.4g}-{r[1]:.4g}" for name, r in res.loo_range.items() if r)
    print_text(f"Leave-one-out range of the pooled {res.outcome}: {ranges}")
    psens = pd.DataFrame([{"parameter": p, **v} for p, v in res.psens.items()])
    print_frame(psens, title=f"{res.outcome}: power-scaling sensitivity (> 0.05 is influential)")
    for text, v in res.verdicts.items():
        parts = [f"{name}: {v[key]['verdict']}" + (f", P {v[key]['range'][0]:.3f}-{v[key]['range'][1]:.3f}"
                                                    if v[key]["range"] else "")
                 for key, name in (("priors", "priors"), ("scenarios", "data"))]
        print_text(f"Verdict for '{text}': {v['wording']} ({v['overall']}; {'; '.join(parts)})", width=TABLE_WIDTH)
    for note in res.notes:
        print_text(f"note: {note}")


SUMMARY_HEADERS = ("outcome", "pooled", "new study", "tau", "frequentist", "published")


def print_summary(summary: list[dict]) -> None:
    """The report's summary (``report.summary.run_summary``) as a table, then each statement with
    its verdict, the notes on studies left out and the warnings."""
    rows = [[f"{s['outcome']} {'mo' if s['unit'] == 'months' else s['unit']}\nk = {s['k']}", s["pooled"],
             s["predictive"], s["tau"], s["frequentist"],
             s["published"]] for s in summary]
    print_cells(list(SUMMARY_HEADERS), rows, "Summary: median [95% interval], in % or months (mo)",
                [True] * len(SUMMARY_HEADERS))
    for s in summary:
        for st in s["statements"]:
            print_text(f"{st['statement']} = {st['probability']} (MCSE {st['mcse']}; {st['rests_on']}): "
                       f"{st['verdict']}", width=TABLE_WIDTH)
    for s in summary:
        for note in s["notes"]:
            print_text(f"{s['outcome']}: {note}", width=TABLE_WIDTH)
    for s in summary:
        for warning in s["warnings"]:
            print_text(f"warning: {warning}", width=TABLE_WIDTH)
