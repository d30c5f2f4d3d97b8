"""Before/after plot of an update: pooled intervals of the earlier and of all studies, per outcome."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..outcomes import UNITS


def plot_update(result) -> plt.Figure:
    """One panel per outcome: frequentist CI and Bayesian CrI before and after, the earlier 95% prediction
    interval (dotted), and each new study's own value (x)."""
    fig, axes = plt.subplots(len(result.outcomes), 1, figsize=(7, 2.3 * len(result.outcomes) + 0.5), squeeze=False)
    for ax, u in zip(axes[:, 0], result.outcomes, strict=True):
        rows = [(f"frequentist, before (k = {u.before['k']})", u.before["freq"], "estimate", "tab:green"),
                (f"frequentist, after (k = {u.after['k']})", u.after["freq"], "estimate", "tab:green"),
                (f"Bayesian, before (k = {u.before['k']})", u.before["bayes"], "median", "tab:blue"),
                (f"Bayesian, after (k = {u.after['k']})", u.after["bayes"], "median", "tab:blue")]
        for y, (_, s, centre, colour) in enumerate(rows):
            ax.plot([s["ci_low"], s["ci_high"]], [y, y], color=colour, lw=2.2, alpha=1.0 if y % 2 else 0.55)
            ax.plot(s[centre], y, "D", color=colour, ms=6, alpha=1.0 if y % 2 else 0.55)
        b = u.before["bayes"]
        ax.plot([b["pi_low"], b["pi_high"]], [2.35, 2.35], color="tab:blue", lw=1, ls=":",
                label="95% prediction interval, before")
        for study, value in u.observed.items():
            ax.plot(value, 3.45, "x", color="black", ms=8, mew=2)
            ax.annotate(study, (value, 3.45), textcoords="offset points", xytext=(6, -3), fontsize=8)
        ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
        ax.set_ylim(3.8, -0.5)
        ax.set_xlabel(f"{u.outcome} ({UNITS[u.kind]})")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, frameon=False, loc="upper right")
    fig.tight_layout()
    return fig
