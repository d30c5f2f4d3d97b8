"""Forest plots drawn from one fit alone (``FreqFit.plot_forest``, ``BayesFit.plot_forest``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..outcomes import UNITS


def _draw(ax, labels, rows, pooled, title, xlabel):
    """rows: (value, low, high, marker size, colour, offset) per study; pooled: (label, est, low, high, colour)."""
    n = len(labels)
    for y, series in enumerate(rows):
        for value, low, high, size, colour, offset in series:
            ax.plot([low, high if np.isfinite(high) else value], [y + offset] * 2, color=colour, lw=1.4)
            ax.plot(value, y + offset, "s" if offset <= 0 else "o", color=colour, ms=size)
    for i, (_, est, low, high, colour) in enumerate(pooled):
        y = n + 0.8 + i
        ax.fill([low, est, high, est], [y, y - 0.3, y, y + 0.3], color=colour)
    ax.set_yticks(list(range(n)) + [n + 0.8 + i for i in range(len(pooled))], list(labels) + [p[0] for p in pooled],
                  fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)


def _axes(ax, n):
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 0.42 * (n + 4) + 1.2))
        return fig, ax
    return ax.figure, ax


def plot_freq_forest(fit, ax=None):
    table = fit.study_table()
    fig, ax = _axes(ax, len(table))
    w = table["weight_%"].fillna(0).to_numpy()
    sizes = 3 + 9 * np.sqrt(w / max(w.max(), 1e-12))
    rows = [[(r.observed, r.ci_low, r.ci_high, s, "0.3", 0.0)] for r, s in zip(table.itertuples(), sizes, strict=True)]
    r = fit.result
    _draw(ax, table["study"], rows, [(f"pooled ({r.measure}, {r.tau2_method})", r.estimate, r.ci_low, r.ci_high,
                                      "tab:green")],
          f"{r.outcome}: studies and pooled estimate", f"{r.outcome} ({UNITS[fit.rows['kind'].iloc[0]]})")
    return fig


def plot_bayes_forest(fit, ax=None):
    studies = fit.studies
    fig, ax = _axes(ax, len(studies))
    rows = [[(r.observed, np.nan, np.nan, 5, "0.3", -0.15), (r.shrunken, r.ci_low, r.ci_high, 5, "tab:blue", 0.15)]
            for r in studies.itertuples()]
    p, q = fit.pooled, fit.predictive
    _draw(ax, studies["study"], rows, [("Bayesian pooled", p["median"], p["ci_low"], p["ci_high"], "tab:red"),
                                       ("predictive (new study)", q["median"], q["ci_low"], q["ci_high"], "tab:purple")],
          f"{fit.outcome}: observed (square) and shrunken (dot, 95% CrI)", f"{fit.outcome} ({UNITS[fit.kind]})")
    return fig
