"""Plain-text block of a ``BayesFit``: model, priors, pooled values, subgroups, diagnostics."""

from __future__ import annotations

import pandas as pd

from ..formatting import frame_text, interval
from ..outcomes import UNITS

UNRELIABLE = "UNRELIABLE: the sampler did not converge; do not use these numbers."


def diagnostics_text(diag, label: str = "") -> str:
    if diag is None:
        return f"Diagnostics{label}: exact quadrature, no MCMC"
    state = "converged" if diag.converged else "NOT CONVERGED: results UNRELIABLE (" + "; ".join(diag.problems()) + ")"
    return (f"Diagnostics{label}: R-hat max {diag.rhat_max:.3f}, bulk ESS min {diag.ess_bulk_min:.0f}, "
            f"tail ESS min {diag.ess_tail_min:.0f}, divergences {diag.divergences}"
            f"{', refitted' if diag.refitted else ''}: {state}")


def overall_text(fit, values: str | None = None) -> str:
    base = fit.overall if fit.overall is not None else fit
    lines = [UNRELIABLE] if not fit.converged else []
    lines += [f"Bayesian hierarchical model (k = {base.k}; engine {base.engine})   outcome {fit.outcome}"
              + (f", values: {values}" if values else ""),
              "Priors: " + ", ".join(f"{k} ~ {v}" for k, v in fit.priors.items()), "",
              f"Pooled {fit.outcome} (median study, {UNITS[fit.kind]}): {interval(fit.pooled)}"]
    if fit.pop_average is not None:
        lines.append(f"Population-average {fit.outcome}:          {interval(fit.pop_average)}")
    lines += [f"Predictive (new study):                 {interval(fit.predictive)}",
              f"tau:                                    {interval(base.tau)}",
              diagnostics_text(base.diagnostics)]
    return "\n".join(lines)


def covariate_text(fit) -> str:
    parts = []
    if fit.by:
        levels = pd.DataFrame([{"level": lv, "k": s["k"], "median": s["median"], "ci_low": s["ci_low"],
                                "ci_high": s["ci_high"]} for lv, s in fit.levels.items()])
        contrasts = pd.DataFrame([{"contrast": c, "median": s["median"], "ci_low": s["ci_low"],
                                   "ci_high": s["ci_high"], "P(>0)": s["p_gt_0"]} for c, s in fit.contrasts.items()])
        parts += [f"Subgroups by {fit.by} (shared tau {interval(fit.tau)})", frame_text(levels), "Contrasts",
                  frame_text(contrasts)]
    beta = pd.DataFrame([{"coefficient": name, **{k: s[k] for k in ("median", "ci_low", "ci_high")}}
                         for name, s in fit.beta.items()])
    parts += ["Covariate effects (analysis scale: logit or log-months)", frame_text(beta),
              diagnostics_text(fit.diagnostics, " (covariate model)")]
    return "\n\n".join(parts)


def bayes_text(fit, values: str | None = None) -> str:
    base = fit.overall if fit.overall is not None else fit
    parts = [overall_text(fit, values), "Studies: observed and shrunken (posterior median, 95% interval)",
             frame_text(fit.studies)]
    if fit.overall is not None:
        parts.append(covariate_text(fit))
    notes = [*base.notes, *(fit.notes if fit.overall is not None else [])]
    if notes:
        parts.append("\n".join(f"note: {n}" for n in notes))
    return "\n\n".join(parts)
