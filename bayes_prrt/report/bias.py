"""Text renderers for small-study effects and cumulative meta-analysis, like metafor's print methods."""

from __future__ import annotations

import pandas as pd

from ..bayes.text import UNRELIABLE, diagnostics_text
from ..formatting import fmt
from ..formatting import p_value as _p
from .console import console, print_frame


def _ci(est: float, low: float, high: float) -> str:
    return f"{fmt(est)}  95% CI [{fmt(low)}, {fmt(high)}]"


def print_small_study(res, values: str | None = None) -> None:
    """Egger's test, the rank correlation test and trim-and-fill of one outcome."""
    console.print(f"Small-study effects (k = {res.k}; tau^2 estimator: {res.tau2_method})   outcome {res.outcome}, "
                  f"measure {res.measure}" + (f", values: {values}" if values else ""))
    console.print()
    e, r, tf = res.egger, res.rank, res.trimfill
    stat = f"t(df = {e.df})" if e.df is not None else "z"
    console.print("Regression test for funnel plot asymmetry (Egger; mixed-effects model, predictor: standard error)")
    console.print(f"  test for funnel plot asymmetry: {stat} = {e.z:.4f}, p {_p(e.p)}")
    console.print(f"  limit estimate (as sei -> 0): {_ci(*res.limit)}")
    console.print("Rank correlation test for funnel plot asymmetry (Begg-Mazumdar)")
    console.print(f"  Kendall's tau = {r.tau:.4f}, p {_p(r.p)}" + ("" if r.exact else " (normal approximation: ties)"))
    console.print("Trim-and-fill (L0 estimator)")
    console.print(f"  estimated number of missing studies on the {tf.side} side: {tf.k0} (SE = {fmt(tf.se_k0)})")
    console.print(f"  estimate with the filled studies (k = {res.k + tf.k0}): {_ci(*res.filled)}")
    console.print(f"  estimate without them (k = {res.k}): {_ci(*res.unadjusted)}")
    for note in res.notes:
        console.print(f"note: {note}")


def print_small_study_model(model) -> None:
    """The Bayesian PET-style model: slope, P(inflation), limit beside the unadjusted value."""
    if not model.converged:
        console.print(UNRELIABLE, markup=False)
    s = model.slope
    console.print()
    console.print(f"Bayesian small-study model (k = {model.k}; covariate: SE proxy, priors "
                  + ", ".join(f"{k} ~ {v}" for k, v in model.priors.items()) + ")")
    console.print(f"  slope (model scale per unit of the proxy): {_ci(s['median'], s['ci_low'], s['ci_high'])}")
    console.print(f"  P(smaller studies report larger values) = {model.p_inflation:.3f}")
    for label, post in (("at infinite precision", model.limit), ("unadjusted", model.unadjusted)):
        console.print(f"  pooled {model.outcome} {label}: {_ci(post['median'], post['ci_low'], post['ci_high'])}")
    console.print(diagnostics_text(model.diagnostics, " (with the proxy)"), markup=False)
    console.print(diagnostics_text(model.unadjusted_diagnostics, " (unadjusted)"), markup=False)
    for note in model.notes:
        console.print(f"note: {note}")


def print_cumulative(res, values: str | None = None) -> None:
    """One row per step: the study added and the pooled result of the studies so far."""
    what = "frequentist" if res.method == "freq" else "Bayesian (posterior median, 95% CrI)"
    console.print(f"Cumulative meta-analysis, {what}, ordered by {res.order}   outcome {res.outcome}"
                  + (f", measure {res.measure}" if res.method == "freq" else "")
                  + (f", values: {values}" if values else ""))
    columns = ["study", "order_value", "k", "estimate", "ci_low", "ci_high"]
    columns += ["tau2", "I2"] if res.method == "freq" else ["tau"]
    frame = pd.DataFrame(res.steps)[columns].rename(columns={"order_value": res.order})
    print_frame(frame.assign(study=["+ " + s for s in frame["study"]]))
    for note in res.notes:
        console.print(f"note: {note}")
