"""Figures a Bayesian reviewer asks for: prior vs posterior, tau with the Bayesian I2,
subgroup levels with their contrast probabilities, contrast densities."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..outcomes import UNITS
from .layout import save

PRIOR, POSTERIOR = "0.55", "tab:blue"
PER_LINE = 3  # contrast probabilities per line beneath the subgroup plot
PARAMETERS = {"mu": {"binary": "\u03bc (logit of the median study's proportion)", "median": "\u03bc (log months)"},
              "tau": {"binary": "\u03c4 (between-study SD, logit scale)",
                      "median": "\u03c4 (between-study SD, log scale)"}}


def _density(ax, values, grid, colour, label, lower=None, upper=None):
    """Kernel density of ``values`` (ArviZ's FFT-based ``kde``) drawn on ``grid``; a bounded support
    (tau >= 0, I2 in 0-100: ``lower`` or ``upper`` given) gets ArviZ's boundary correction. ArviZ's numba
    switch is off meanwhile: the kde's one jitted step, a histogram of a few thousand draws, would be
    compiled in each process that draws (about 4 s with an empty numba cache) for what NumPy bins at once."""
    from arviz.stats.density_utils import kde
    from arviz.utils import Numba

    values = np.asarray(values, float).ravel()
    flag, Numba.numba_flag = Numba.numba_flag, False
    try:
        x, y = kde(values, bound_correction=lower is not None or upper is not None)
    finally:
        Numba.numba_flag = flag
    y = np.interp(grid, x, y, left=0.0, right=0.0)
    ax.plot(grid, y, color=colour, lw=1.6, label=label)
    ax.fill_between(grid, y, color=colour, alpha=0.12)


def _grid(posterior, prior, lower=None) -> np.ndarray:
    """Where the posterior lives, widened to show the prior around it (not its far tails)."""
    lo, hi = np.quantile(posterior, [0.001, 0.999])
    plo, phi = np.quantile(prior, [0.02, 0.98])
    lo, hi = min(lo, plo), max(hi, phi)
    if lower is not None:
        lo = max(lo, lower)
    return np.linspace(lo, hi, 400)


def plot_prior_posterior(fit, path: str) -> None:
    """Densities of mu and tau under the prior (``idata.prior``) and the posterior."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, name in zip(axes, ("mu", "tau"), strict=True):
        post = fit.idata.posterior[name].to_numpy().ravel()
        prior = fit.idata.prior[name].to_numpy().ravel()
        lower = 0.0 if name == "tau" else None
        grid = _grid(post, prior, lower)
        _density(ax, prior, grid, PRIOR, f"prior: {fit.priors[name]}", lower)
        _density(ax, post, grid, POSTERIOR, "posterior", lower)
        ax.set_xlabel(PARAMETERS[name][fit.kind], fontsize=9)
        ax.set_yticks([])
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.25), ncol=2)
    fig.suptitle(f"{fit.outcome}: prior and posterior (k = {fit.k})", fontsize=10, y=1.04)
    save(fig, path)


def plot_tau_i2(run, path: str) -> None:
    """Posterior of tau; posterior of the Bayesian I2 with the frequentist I2 beside it."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    tau = run.bayes.draws["tau"].ravel()
    _density(left, tau, np.linspace(0, np.quantile(tau, 0.999), 400), POSTERIOR, "posterior", 0.0)
    t = run.bayes.tau
    left.axvline(t["median"], color=POSTERIOR, lw=1, ls="--")
    left.set_title(f"\u03c4 = {t['median']:.2f} [{t['ci_low']:.2f}, {t['ci_high']:.2f}]", fontsize=9)
    left.set_xlabel(PARAMETERS["tau"][run.kind], fontsize=9)
    i2 = run.bayes.i2_draws().ravel()
    _density(right, np.clip(i2, 0, 100), np.linspace(0, 100, 400), POSTERIOR, "Bayesian I\u00b2 (posterior)",
             0.0, 100.0)
    low, med, high = np.quantile(i2, [0.025, 0.5, 0.975])
    right.axvline(run.freq.I2, color="tab:green", lw=1.6,
                  label=f"frequentist I\u00b2 = {run.freq.I2:.1f}% ({run.freq.tau2_method}, {run.freq.measure})")
    right.set_title(f"Bayesian I\u00b2 = {med:.1f}% [{low:.1f}, {high:.1f}]", fontsize=9)
    right.set_xlabel("I\u00b2 = \u03c4\u00b2 / (\u03c4\u00b2 + typical within-study variance), %", fontsize=9)
    for ax in (left, right):
        ax.set_yticks([])
    right.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.25))
    fig.suptitle(f"{run.outcome}: between-study heterogeneity (k = {run.bayes.k})", fontsize=10, y=1.04)
    save(fig, path)


def _percent(kind: str) -> float:
    return 100.0 if kind == "binary" else 1.0


def _unit(kind: str) -> str:
    return "%" if kind == "binary" else UNITS[kind]


def plot_subgroups(run, covariate: str, path: str) -> None:
    """One row per level (posterior median, 95% CrI, k), the contrast probabilities beneath."""
    fit = run.subgroups[covariate]
    scale = _percent(run.kind)
    levels = list(fit.levels.items())
    contrasts = list(fit.contrasts.items())
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(levels) + 1.6))
    for y, (_, s) in enumerate(levels):
        ax.plot([scale * s["ci_low"], scale * s["ci_high"]], [y, y], color=POSTERIOR, lw=2)
        ax.plot(scale * s["median"], y, "o", color=POSTERIOR)
        ax.annotate(f"{scale * s['median']:.1f} [{scale * s['ci_low']:.1f}, {scale * s['ci_high']:.1f}]",
                    xy=(1, y), xycoords=("axes fraction", "data"), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8, annotation_clip=False)
    ax.set_yticks(range(len(levels)), [f"{lv} (k = {s['k']})" for lv, s in levels], fontsize=9)
    ax.set_ylim(len(levels) - 0.5, -0.6)
    ax.set_xlabel(f"{run.outcome} ({_unit(run.kind)}), posterior median and 95% CrI", fontsize=9)
    ax.set_title(f"{run.outcome} by {covariate} (one \u03c4 shared by the levels)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    lines = [f"P({name.replace(' - ', ' > ')}) = {s['p_gt_0']:.3f}" for name, s in contrasts]
    text = "\n".join("    ".join(lines[i:i + PER_LINE]) for i in range(0, len(lines), PER_LINE))
    ax.annotate(text, xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
                va="top", fontsize=8, annotation_clip=False)
    save(fig, path)


def plot_contrasts(run, covariate: str, path: str) -> None:
    """Posterior densities of the pairwise level differences; the legend sits beside the axes."""
    fit = run.subgroups[covariate]
    scale = _percent(run.kind)
    fig, ax = plt.subplots(figsize=(9, 3.4))
    diffs = {}
    for name in fit.contrasts:
        a, b = name.split(" - ")
        diffs[name] = scale * (fit.draws[f"{covariate}={a}"] - fit.draws[f"{covariate}={b}"]).ravel()
    every = np.concatenate(list(diffs.values()))
    grid = np.linspace(*np.quantile(every, [0.002, 0.998]), 400)
    for (name, d), colour in zip(diffs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 3, strict=False):
        _density(ax, d, grid, colour, f"{name}: P(> 0) = {fit.contrasts[name]['p_gt_0']:.3f}")
    ax.axvline(0, color="0.3", lw=1)
    ax.set_xlabel(f"difference in {run.outcome} ({'percentage points' if run.kind == 'binary' else UNITS[run.kind]})",
                  fontsize=9)
    ax.set_yticks([])
    ax.set_title(f"{run.outcome}: contrasts between {covariate} levels", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    save(fig, path)
