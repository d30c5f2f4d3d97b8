"""Leave-one-out influence: the shift of the pooled value when each study is left out."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..outcomes import UNITS
from .layout import save


def plot_influence(run, path: str) -> None:
    """Bayesian (PSIS or exact refit) and frequentist shifts per omitted study, with its Pareto k."""
    loo = run.sensitivity.loo
    studies = list(loo)
    scale, unit = (100.0, "percentage points") if run.kind == "binary" else (1.0, UNITS[run.kind])
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(studies) + 1.6))
    y = np.arange(len(studies))
    ax.plot([scale * loo[s]["shift"] for s in studies], y - 0.1, "o", color="tab:blue",
            label="Bayesian (PSIS or exact)")
    ax.plot([scale * loo[s]["freq_shift"] for s in studies], y + 0.1, "s", color="tab:green",
            label="frequentist")
    ax.axvline(0, color="0.3", lw=1)
    ax.set_yticks(y, [f"{s} (Pareto k = {loo[s]['pareto_k']:.2f})" for s in studies], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"shift of the pooled {run.outcome} ({unit}) when the study is left out", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="x", alpha=0.3)
    save(fig, path)
