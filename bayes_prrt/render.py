"""Text renderers for frequentist results, in the spirit of metafor's print methods."""

from __future__ import annotations

import pandas as pd

from .console import console, fmt, print_frame


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
