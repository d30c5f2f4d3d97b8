"""Sensitivity figure: pooled estimate and 95% interval per prior and per data scenario."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

from ..outcomes import UNITS
from . import literal_text
from .layout import save

PER_ROW = 2  # panels per row, so that each stays readable at the report's width


@literal_text
def plot_sensitivity(results, kinds: dict[str, str], path: str) -> None:
    """One panel per outcome, two panels a row; rows are the priors of the grid, then the data scenarios."""
    ncols = min(PER_ROW, len(results))
    nrows = math.ceil(len(results) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.6 * ncols, 5.2 * nrows), squeeze=False)
    for ax in axes.ravel()[len(results):]:
        ax.set_visible(False)
    for ax, res in zip(axes.ravel(), results, strict=False):
        rows = [(r["prior"], r, "tab:blue") for r in res.priors] + \
               [(f"data: {r['scenario']}", r, "tab:orange") for r in res.scenarios]
        scale, unit = (100.0, "%") if kinds[res.outcome] == "binary" else (1.0, UNITS[kinds[res.outcome]])
        for y, (_, r, colour) in enumerate(rows):
            ax.plot([scale * r["ci_low"], scale * r["ci_high"]], [y, y], color=colour, lw=2)
            ax.plot(scale * r["estimate"], y, "o", color=colour)
        labels = [label + ("" if r["estimate"] == r["estimate"] else " (not poolable)") for label, r, _ in rows]
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(res.outcome)
        ax.set_xlabel(f"pooled {res.outcome} ({unit})\nposterior median and 95% CrI")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save(fig, path)
