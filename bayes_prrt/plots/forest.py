"""Forest plots in the layout of metafor's ``forest()`` (Viechtbauer 2010, J Stat Softw 36(3)).

Left of the plot: study label and a text column (events/n, or patients); right: weight and
"estimate [95% CI]". Per study a square whose area is proportional to its frequentist
weight with the reported 95% CI, and beneath it the Bayesian shrunken estimate with its
95% CrI; per pooled model a diamond spanning its 95% interval with the 95% predictive
interval as a bar beneath; a heterogeneity line at the bottom. An interval bound that is
not estimable (NaN) or lies outside the axis is drawn as an arrow at the axis edge.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Polygon
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..effects import clopper_pearson
from ..outcomes import UNITS
from . import literal_text
from .layout import save

TABLE_COLUMNS = ("label", "text", "estimate", "ci_low", "ci_high", "weight", "shrunken", "shrunken_low",
                 "shrunken_high")
FONT = 9  # points
CHAR, BOLD = 0.55 * FONT, 0.65 * FONT  # approximate width of one character (regular, bold), points
SQUARE = 11.0  # side of the heaviest study's square, points
OBSERVED, SHRUNKEN = "0.15", "tab:blue"
POOLED_COLOURS = ("0.15", "tab:red")


def _fmt_value(value: float, digits: int) -> str:
    return "NE" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def interval_text(est: float, low: float, high: float, digits: int = 1) -> str:
    """'est [low, high]' with NE for a bound that is not estimable."""
    return f"{_fmt_value(est, digits)} [{_fmt_value(low, digits)}, {_fmt_value(high, digits)}]"


def _xlim(table: pd.DataFrame, pooled: list[dict], bounds) -> tuple[float, float]:
    values = np.concatenate([table[list(TABLE_COLUMNS[2:5]) + list(TABLE_COLUMNS[6:])].to_numpy(float).ravel(),
                             [p.get(k, np.nan) for p in pooled for k in ("ci_low", "ci_high", "pi_low", "pi_high")]])
    values = values[np.isfinite(values)]
    low, high = values.min(), values.max()
    pad = 0.04 * (high - low or 1.0)
    low, high = low - pad, high + pad
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return float(low), float(high)


def _interval(ax, y, low, high, xlim, colour, lw, zorder=2):
    """A horizontal interval clipped to ``xlim``; a missing or clipped bound becomes an arrow head."""
    a, b = xlim
    left = a if not math.isfinite(low) or low < a else low
    right = b if not math.isfinite(high) or high > b else high
    ax.plot([left, right], [y, y], color=colour, lw=lw, solid_capstyle="butt", zorder=zorder)
    for edge, open_, marker in ((left, left != low, "<"), (right, right != high, ">")):
        if open_:
            ax.plot(edge, y, marker=marker, color=colour, ms=5, zorder=zorder, clip_on=False)


def _column(ax, y, text, offset, ha, side, weight="normal"):
    """Text at ``offset`` points left of the axes (side 0) or right of it (side 1), at data height y."""
    ax.annotate(text, xy=(side, y), xycoords=("axes fraction", "data"), xytext=(offset, 0),
                textcoords="offset points", ha=ha, va="center", fontsize=FONT, fontweight=weight,
                annotation_clip=False)


@literal_text
def draw_forest(table: pd.DataFrame, pooled: list[dict], heterogeneity: str, xlabel: str,
                text_header: str = "Events / N", estimate_header: str = "Estimate [95% CI]", digits: int = 1,
                bounds=None, log: bool = False, ax=None):
    """Draw a forest plot; returns the Figure.

    ``table``: one row per study with TABLE_COLUMNS (NaN for a bound that is not estimable;
    ``weight`` in %, NaN when the study has none); ``pooled``: dicts with label, estimate,
    ci_low, ci_high and optional pi_low, pi_high; ``bounds``: the axis never goes beyond them
    (e.g. 0-100 for a percentage); ``log``: a log x axis (median times). With ``ax=None`` a
    figure is made with room for the text columns; a given ``ax`` needs that room around it.
    """
    n = len(table)
    labels_w = max(CHAR * max(len(str(s)) for s in table["label"]), BOLD * max(len(p["label"]) for p in pooled))
    text_w = max(CHAR * max(len(str(s)) for s in table["text"]), BOLD * len(text_header))
    weight_w = BOLD * len("Weight")
    estimates = [interval_text(r.estimate, r.ci_low, r.ci_high, digits) for r in table.itertuples()]
    est_w = max(BOLD * len(estimate_header), *(BOLD * len(s) for s in estimates))
    rows = n + 2 + 1.6 * len(pooled)  # studies, a gap, pooled rows with their predictive bars
    if ax is None:
        left_in, right_in = (labels_w + text_w + 28) / 72, (weight_w + est_w + 40) / 72
        plot_in, height_in = 4.2, 0.26 * (rows + 3) + 0.9
        fig = plt.figure(figsize=(left_in + plot_in + right_in, height_in))
        bottom = 0.9 / height_in
        ax = fig.add_axes((left_in / fig.get_figwidth(), bottom, plot_in / fig.get_figwidth(),
                           1 - bottom - 0.45 / height_in))
    fig = ax.figure
    xlim = _xlim(table, pooled, bounds)
    wmax = np.nanmax(table["weight"].to_numpy(float)) if table["weight"].notna().any() else 1.0
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 1.5, 2, 3, 5, 7)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    for y, r in enumerate(table.itertuples(index=False)):
        _interval(ax, y - 0.1, r.ci_low, r.ci_high, xlim, OBSERVED, 1.2)
        if math.isfinite(r.estimate):
            side = max(3.0, SQUARE * math.sqrt(r.weight / wmax)) if math.isfinite(r.weight) else 4.0
            ax.plot(r.estimate, y - 0.1, "s", color=OBSERVED, ms=side, zorder=3, clip_on=False)
        if math.isfinite(r.shrunken):
            _interval(ax, y + 0.25, r.shrunken_low, r.shrunken_high, xlim, SHRUNKEN, 1.0)
            ax.plot(r.shrunken, y + 0.25, "o", color=SHRUNKEN, ms=3.5, zorder=3)
        _column(ax, y, str(r.label), -(labels_w + text_w + 20), "left", 0)
        _column(ax, y, str(r.text), -10, "right", 0)
        _column(ax, y, "-" if not math.isfinite(r.weight) else f"{r.weight:.1f}%", weight_w + 14, "right", 1)
        _column(ax, y, estimates[y], weight_w + est_w + 30, "right", 1)
    y = n + 0.6
    for p, colour in zip(pooled, POOLED_COLOURS * len(pooled), strict=False):
        y += 1
        diamond = Polygon([(p["ci_low"], y), (p["estimate"], y - 0.38), (p["ci_high"], y), (p["estimate"], y + 0.38)],
                          closed=True, facecolor=colour, edgecolor=colour, zorder=3, gid="pooled")
        ax.add_patch(diamond)
        _column(ax, y, p["label"], -(labels_w + text_w + 20), "left", 0, "bold")
        _column(ax, y, interval_text(p["estimate"], p["ci_low"], p["ci_high"], digits), weight_w + est_w + 30,
                "right", 1, "bold")
        if math.isfinite(p.get("pi_low", np.nan)):
            y += 0.6
            ax.errorbar([p["estimate"]], [y], xerr=[[p["estimate"] - p["pi_low"]], [p["pi_high"] - p["estimate"]]],
                        fmt="none", ecolor=colour, elinewidth=1.2, capsize=3, zorder=2, gid="predictive")
            _column(ax, y, "95% predictive interval", -(labels_w + text_w + 10), "left", 0)
            _column(ax, y, "[" + interval_text(np.nan, p["pi_low"], p["pi_high"], digits).split("[")[1],
                    weight_w + est_w + 30, "right", 1)
    header = -1.2
    _column(ax, header, "Study", -(labels_w + text_w + 20), "left", 0, "bold")
    _column(ax, header, text_header, -10, "right", 0, "bold")
    _column(ax, header, "Weight", weight_w + 14, "right", 1, "bold")
    _column(ax, header, estimate_header, weight_w + est_w + 30, "right", 1, "bold")
    ax.axhline(n + 0.6, color="0.6", lw=0.8)
    ax.set_xlim(*xlim)
    ax.set_ylim(y + 0.8, header - 0.6)
    ax.set_yticks([])
    for spine in ("left", "right", "top"):
        ax.spines[spine].set_visible(False)
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT - 1)
    ax.annotate(heterogeneity, xy=(0, 0), xycoords="axes fraction", xytext=(-(labels_w + text_w + 20), -30),
                textcoords="offset points", ha="left", va="top", fontsize=FONT - 1, annotation_clip=False)
    return fig


def forest_table(rows: pd.DataFrame, kind: str, freq=None, bayes=None) -> pd.DataFrame:
    """The studies as ``draw_forest`` takes them: reported value and 95% CI (Clopper-Pearson for
    proportions, in %), the frequentist weight (``freq``, a FreqFit) and the Bayesian shrunken
    estimate (``bayes``, a BayesFit); NaN where a fit is not given. Studies a fit did not pool
    (a median without a CI) are left out: the fit's notes say why."""
    scale = 100.0 if kind == "binary" else 1.0
    shrunk = bayes.studies.set_index("study") if bayes is not None else None
    weights = {str(k): float(v) for k, v in freq.weights.items()} if freq is not None else {}
    pooled = set(shrunk.index) if shrunk is not None else set(weights) or {str(s) for s in rows["study"]}
    out = []
    for row in rows.itertuples(index=False):
        study = str(row.study)
        if study not in pooled:
            continue
        label = getattr(row, "label", None)
        label = study if label is None or label != label else str(label)
        if kind == "binary":
            est, (low, high) = row.events / row.n, clopper_pearson(int(row.events), int(row.n))
            text = f"{int(row.events)}/{int(row.n)}"
        else:
            est, low, high = row.median, row.ci_low, row.ci_high
            text = "-" if pd.isna(row.n) else f"{int(row.n)}"
        s = shrunk.loc[study] if shrunk is not None else {"shrunken": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        out.append({"label": label, "text": text, "estimate": scale * est,
                    "ci_low": scale * _number(low), "ci_high": scale * _number(high),
                    "weight": weights.get(study, np.nan), "shrunken": scale * s["shrunken"],
                    "shrunken_low": scale * s["ci_low"], "shrunken_high": scale * s["ci_high"]})
    return pd.DataFrame(out, columns=list(TABLE_COLUMNS))


def _number(value) -> float:
    return np.nan if value is None or pd.isna(value) else float(value)


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def pooled_rows(kind: str, freq=None, bayes=None) -> list[dict]:
    """The frequentist and the Bayesian pooled value (those given) with their intervals, on the plot's scale."""
    scale = 100.0 if kind == "binary" else 1.0
    out = []
    if freq is not None:
        out.append({"label": f"RE model ({freq.tau2_method}, {freq.measure})", "estimate": scale * freq.estimate,
                    "ci_low": scale * freq.ci_low, "ci_high": scale * freq.ci_high, "pi_low": scale * freq.pi_low,
                    "pi_high": scale * freq.pi_high})
    if bayes is not None:
        p, q = bayes.pooled, bayes.predictive
        out.append({"label": f"Bayesian (tau ~ {bayes.priors.get('tau', '?')})", "estimate": scale * p["median"],
                    "ci_low": scale * p["ci_low"], "ci_high": scale * p["ci_high"], "pi_low": scale * q["ci_low"],
                    "pi_high": scale * q["ci_high"]})
    return out


def heterogeneity_text(kind: str, freq=None, bayes=None) -> str:
    """'Heterogeneity: tau2 = ..., I2 = ..%, Q(df) = ..., p = ...; Bayesian tau = m [l, h]' (the parts given)."""
    parts = []
    if freq is not None and not freq.single_study:
        parts.append(f"Heterogeneity ({freq.measure} scale): \u03c4\u00b2 = {freq.tau2:.3g}, I\u00b2 = "
                     f"{freq.I2:.1f}%, Q({freq.k - 1}) = {freq.Q:.2f}, {_p_text(freq.p_Q)}")
    if bayes is not None:
        t = bayes.tau
        parts.append(f"Bayesian \u03c4 = {t['median']:.2f} [{t['ci_low']:.2f}, {t['ci_high']:.2f}] "
                     f"({'logit' if kind == 'binary' else 'log'} scale)")
    legend = "Squares: reported value" + (", area \u221d weight" if freq is not None else "")
    legend += "; blue: Bayesian shrunken estimate (95% CrI)" if bayes is not None else ""
    return ";  ".join(parts) + "\n" + legend


def fit_forest(rows: pd.DataFrame, outcome: str, freq=None, bayes=None, ax=None):
    """The forest plot of one outcome from its fits (a FreqFit, a BayesFit or both); labels from the rows'
    ``label`` when present. Returns the Figure."""
    kind = rows["kind"].iloc[0]
    binary = kind == "binary"
    return draw_forest(forest_table(rows, kind, freq, bayes), pooled_rows(kind, freq, bayes),
                       heterogeneity_text(kind, freq, bayes),
                       xlabel=f"{outcome} ({'%' if binary else UNITS[kind]})",
                       text_header="Events / N" if binary else "N",
                       estimate_header=f"{outcome} {'%' if binary else 'months'} [95% CI]",
                       bounds=(0.0, 100.0) if binary else None, log=not binary, ax=ax)


def forest_figure(run, ax=None):
    """The forest plot of one OutcomeRun: its frequentist and Bayesian fits together."""
    return fit_forest(run.rows, run.outcome, run.freq, run.bayes, ax)


def plot_forest(run, path: str) -> None:
    """Save the forest plot of one OutcomeRun as ``path`` (PNG) and beside it as SVG."""
    save(forest_figure(run), path)
