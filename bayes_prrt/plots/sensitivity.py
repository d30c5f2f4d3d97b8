"""Sensitivity figure: pooled estimate and 95% interval per prior and per data scenario."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..outcomes import UNITS
from . import literal_text


@literal_text
def plot_sensitivity(results, kinds: dict[str, str], path: str) -> None:
    """One panel per outcome; rows are the priors of the grid, then the data scenarios."""
    fig, axes = plt.subplots(1, len(results), figsize=(4.8 * len(results), 6.5), squeeze=False)
    for ax, res in zip(axes[0], results, strict=True):
        rows = [(r["prior"], r, "tab:blue") for r in res.priors] + \
               [(f"data: {r['scenario']}", r, "tab:orange") for r in res.scenarios]
        for y, (_, r, colour) in enumerate(rows):
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=colour, lw=2)
            ax.plot(r["estimate"], y, "o", color=colour)
        labels = [label + ("" if r["estimate"] == r["estimate"] else " (not poolable)") for label, r, _ in rows]
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(res.outcome)
        ax.set_xlabel(f"pooled {res.outcome} ({UNITS[kinds[res.outcome]]})\nposterior median and 95% CrI")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)
