"""Plain-text blocks of frequentist results, in the spirit of metafor's print methods."""

from __future__ import annotations

import pandas as pd

from ..formatting import fmt, frame_text, p_value


def pooled_text(res, values: str | None = None) -> str:
    """A ``Pooled`` result: model, heterogeneity, the pooled value with CI and PI, notes."""
    if res.single_study:
        lines = [f"Single study (k = 1)   outcome {res.outcome}, measure {res.measure}"
                 + (f", values: {values}" if values else ""), "",
                 f"{res.outcome}: {fmt(res.estimate)}  95% CI [{fmt(res.ci_low)}, {fmt(res.ci_high)}]"]
        return "\n".join(lines + [f"note: {note}" for note in res.notes])
    head = f"{res.model.capitalize()} model (k = {res.k}"
    head += "" if res.tau2_method == "FE" else f"; tau^2 estimator: {res.tau2_method}"
    head += "; Knapp-Hartung" if res.hksj else ""
    lines = [f"{head})   outcome {res.outcome}, measure {res.measure}" + (f", values: {values}" if values else ""), ""]
    if res.tau2_method != "FE":
        ci = f" [{fmt(res.tau2_ci[0])}, {fmt(res.tau2_ci[1])}]" if res.tau2_ci else ""
        lines.append(f"tau^2 (estimated amount of total heterogeneity): {fmt(res.tau2)}{ci}")
    lines += [f"I^2 (total heterogeneity / total variability):   {res.I2:.2f}%",
              f"H^2 (total variability / sampling variability):  {res.H2:.2f}",
              f"Test for heterogeneity: Q(df = {res.k - 1}) = {res.Q:.4f}, p-val {p_value(res.p_Q)}", "",
              f"Pooled estimate (analysis scale): {res.estimate_t:.4f} (se {res.se_t:.4f})",
              f"Pooled {res.outcome}: {fmt(res.estimate)}  95% CI [{fmt(res.ci_low)}, {fmt(res.ci_high)}]"
              f"  95% PI [{fmt(res.pi_low)}, {fmt(res.pi_high)}]"]
    return "\n".join(lines + [f"note: {note}" for note in res.notes])


def subgroup_frame(sub) -> pd.DataFrame:
    return pd.DataFrame([{"level": level, "k": r.k, "estimate": r.estimate, "ci_low": r.ci_low,
                          "ci_high": r.ci_high, "tau2": r.tau2, "I2": r.I2} for level, r in sub.levels.items()])


def subgroup_test_text(sub) -> str:
    lines = [f"Test for subgroup differences: Q(df = {sub.df}) = {sub.Q_between:.4f}, p-val {p_value(sub.p_between)}"]
    return "\n".join(lines + [f"note: {note}" for note in sub.notes])


def freq_text(fit) -> str:
    """A ``FreqFit``: the pooled block, then its subgroups or meta-regression coefficients."""
    parts = [pooled_text(fit.result, fit.values)]
    if fit.subgroups is not None:
        parts += [f"Subgroups by {fit.subgroups.by}", frame_text(subgroup_frame(fit.subgroups)),
                  subgroup_test_text(fit.subgroups)]
    if fit.regression is not None:
        reg = fit.regression
        parts += [f"Meta-regression on {', '.join(reg.covariates)} (k = {reg.fit.k})", frame_text(reg.coefficients()),
                  f"Test of moderators: QM = {fmt(reg.fit.QM)}, p-val {p_value(reg.fit.p_QM)}"]
    return "\n\n".join(parts)
