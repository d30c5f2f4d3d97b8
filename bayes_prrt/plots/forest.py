"""Forest plots: studies (observed and shrunken), pooled values, and subgroup levels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..effects import clopper_pearson
from ..outcomes import UNITS
from . import literal_text


def observed_intervals(run) -> list[tuple[str, float, float, float]]:
    """Each study's reported value with its 95% CI (Clopper-Pearson for proportions, as reported for medians)."""
    out = []
    table = run.bayes.studies
    source = {str(r.study): r for r in run.rows.itertuples()}
    for r in table.itertuples():
        row = source[r.study]
        if run.kind == "binary":
            out.append((r.study, row.events / row.n, *clopper_pearson(int(row.events), int(row.n))))
        else:
            high = row.ci_high if row.ci_high == row.ci_high else np.nan
            out.append((r.study, row.median, row.ci_low, high))
    return out


@literal_text
def plot_forest(run, path: str) -> None:
    """Studies: observed (square, reported CI) and shrunken (dot, 95% CrI); then pooled rows."""
    studies = observed_intervals(run)
    shrunk = run.bayes.studies.set_index("study")
    n = len(studies)
    fig, ax = plt.subplots(figsize=(8, 0.42 * (n + 5) + 1.2))
    for y, (study, value, low, high) in enumerate(studies):
        ax.plot([low, high if high == high else value], [y - 0.15] * 2, color="0.45", lw=1.5)
        ax.plot(value, y - 0.15, "s", color="0.3", ms=5, label="observed (95% CI)" if y == 0 else None)
        s = shrunk.loc[study]
        ax.plot([s.ci_low, s.ci_high], [y + 0.15] * 2, color="tab:blue", lw=1.5)
        ax.plot(s.shrunken, y + 0.15, "o", color="tab:blue", ms=5, label="shrunken (95% CrI)" if y == 0 else None)
    b, f = run.bayes, run.freq
    pooled = [("Bayesian pooled", b.pooled["median"], b.pooled["ci_low"], b.pooled["ci_high"], "tab:red"),
              (f"frequentist ({f.measure}, {f.tau2_method})", f.estimate, f.ci_low, f.ci_high, "tab:green"),
              ("Bayesian predictive (new study)", b.predictive["median"], b.predictive["ci_low"],
               b.predictive["ci_high"], "tab:purple")]
    for i, (_, est, low, high, colour) in enumerate(pooled):
        y = n + 0.8 + i
        ax.plot([low, high], [y, y], color=colour, lw=2.5)
        ax.plot(est, y, "D", color=colour, ms=7)
    labels = [s[0] for s in studies] + [p[0] for p in pooled]
    ax.set_yticks(list(range(n)) + [n + 0.8 + i for i in range(3)], labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(f"{run.outcome} ({UNITS[run.kind]})")
    ax.set_title(f"{run.outcome}: studies and pooled estimates")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@literal_text
def plot_subgroups(run, covariate: str, path: str) -> None:
    fit = run.subgroups[covariate]
    levels = list(fit.levels.items())
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(levels) + 1.8))
    for y, (_, s) in enumerate(levels):
        ax.plot([s["ci_low"], s["ci_high"]], [y, y], color="tab:blue", lw=2)
        ax.plot(s["median"], y, "o", color="tab:blue")
    ax.set_yticks(range(len(levels)), [f"{lv} (k = {s['k']})" for lv, s in levels], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(f"{run.outcome} ({UNITS[run.kind]}), posterior median and 95% CrI")
    ax.set_title(f"{run.outcome} by {covariate} (one tau shared by the levels)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@literal_text
def plot_contrasts(run, covariate: str, path: str) -> None:
    fit = run.subgroups[covariate]
    names = list(fit.contrasts)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name in names:
        a, b = name.split(" - ")
        diff = (fit.draws[f"{covariate}={a}"] - fit.draws[f"{covariate}={b}"]).ravel()
        ax.hist(diff, bins=80, density=True, histtype="step", lw=1.5,
                label=f"{name}: P(>0) = {fit.contrasts[name]['p_gt_0']:.2f}")
    ax.axvline(0, color="0.3", lw=1)
    ax.set_xlabel(f"difference in {run.outcome} ({UNITS[run.kind]})")
    ax.set_ylabel("posterior density")
    ax.set_title(f"{run.outcome}: contrasts between {covariate} levels")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@literal_text
def plot_influence(run, path: str) -> None:
    loo = run.sensitivity.loo
    studies = list(loo)
    fig, ax = plt.subplots(figsize=(7, 0.38 * len(studies) + 1.6))
    y = np.arange(len(studies))
    ax.plot([loo[s]["shift"] for s in studies], y - 0.1, "o", color="tab:blue", label="Bayesian (PSIS or exact)")
    ax.plot([loo[s]["freq_shift"] for s in studies], y + 0.1, "s", color="tab:green", label="frequentist (DL)")
    ax.axvline(0, color="0.3", lw=1)
    ax.set_yticks(y, [f"{s} (k = {loo[s]['pareto_k']:.2f})" for s in studies], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"shift of the pooled {run.outcome} ({UNITS[run.kind]}) when the study is left out")
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
