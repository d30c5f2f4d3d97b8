"""Cumulative forest plot: the pooled estimate and its interval after each added study."""

from __future__ import annotations

import matplotlib.pyplot as plt


def plot_cumulative(steps: list[dict], ax=None, xlabel: str = "pooled estimate", title: str | None = None
                    ) -> plt.Figure:
    """One row per step, top to bottom in the order used, labelled '+ study (k = ...)'."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 0.4 * len(steps) + 1.5))
    for y, s in enumerate(steps):
        ax.plot([s["ci_low"], s["ci_high"]], [y, y], color="tab:blue", lw=1.8)
        ax.plot(s["estimate"], y, "D", color="tab:blue", ms=5)
    ax.set_yticks(range(len(steps)), [f"+ {s['study']} (k = {s['k']})" for s in steps], fontsize=9)
    ax.set_ylim(len(steps) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
