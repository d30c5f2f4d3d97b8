"""Funnel plot: effect against its standard error, with the pseudo-confidence region."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats


def plot_funnel(points: pd.DataFrame, refline: float, ax=None, show_filled: bool = True, level: float = 0.95,
                xlabel: str = "effect") -> plt.Figure:
    """Studies (``yi``, ``sei``; ``filled`` marks trim-and-fill studies) on an inverted SE axis.

    The region is refline +/- z_{(1+level)/2} SE, where studies would fall without heterogeneity
    and small-study effects (Sterne & Egger 2001, J Clin Epidemiol 54:1046), as metafor's ``funnel``.
    """
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 5))
    shown = points if show_filled else points[~points["filled"]]
    top = 1.1 * float(shown["sei"].max())
    z = stats.norm.ppf((1 + level) / 2)
    se = np.array([0.0, top])
    ax.fill_betweenx(se, refline - z * se, refline + z * se, color="0.92", label=f"{level:.0%} pseudo-CI region")
    ax.plot(refline - z * se, se, color="0.5", lw=0.8, ls=":")
    ax.plot(refline + z * se, se, color="0.5", lw=0.8, ls=":")
    ax.axvline(refline, color="0.3", lw=1, ls="--")
    observed = shown[~shown["filled"]]
    ax.plot(observed["yi"], observed["sei"], "o", color="black", ms=6, label="studies")
    filled = shown[shown["filled"]]
    if len(filled):
        ax.plot(filled["yi"], filled["sei"], "o", mfc="white", mec="black", ms=6, label="filled (trim-and-fill)")
    ax.set_ylim(top, 0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("standard error")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig
