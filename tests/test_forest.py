"""Forest plots (metafor layout) and the Bayesian figures, checked on the texts and artists they draw."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon
from scipy import stats

from bayes_prrt.analysis.pipeline import OutcomeRun
from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.freq.pool import pool
from bayes_prrt.plots import bayes as bayes_plots
from bayes_prrt.plots.forest import TABLE_COLUMNS, draw_forest, forest_figure, plot_forest


@pytest.fixture(scope="module")
def dcr(dataset):
    rows = dataset.select("DCR", "published")
    return OutcomeRun("DCR", "binary", rows, pool(rows, "PFT", "DL"), bayes_pool(rows))


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_dcr_forest_shows_labels_counts_estimates_diamonds_and_predictive_bars(dcr):
    fig = forest_figure(dcr)
    texts = _texts(fig)
    assert len(dcr.rows) == 12
    for row in dcr.rows.itertuples():
        assert row.label in texts
        assert f"{row.events}/{row.n}" in texts
        ci = stats.binomtest(int(row.events), int(row.n)).proportion_ci(method="exact")  # independent reference
        assert f"{100 * row.events / row.n:.1f} [{100 * ci.low:.1f}, {100 * ci.high:.1f}]" in texts
    assert {"Study", "Events / N", "Weight"} <= set(texts)
    assert any(t.startswith("Heterogeneity") and "I\u00b2 = " in t and "Q(11)" in t for t in texts)
    ax = fig.axes[0]
    diamonds = [p for p in ax.patches if isinstance(p, Polygon) and p.get_gid() == "pooled"]
    assert len(diamonds) == 2  # frequentist and Bayesian
    xs = sorted(diamonds[1].get_xy()[:, 0])
    b = dcr.bayes.pooled
    assert xs[0] == pytest.approx(100 * b["ci_low"]) and xs[-1] == pytest.approx(100 * b["ci_high"])
    bars = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_gid() == "predictive"]
    assert len(bars) == 2
    segment = bars[1].get_segments()[0][:, 0]
    assert sorted(segment) == pytest.approx([100 * dcr.bayes.predictive["ci_low"],
                                             100 * dcr.bayes.predictive["ci_high"]])
    plt.close(fig)


def test_square_area_follows_the_weight(dcr):
    fig = forest_figure(dcr)
    squares = [line for line in fig.axes[0].lines if line.get_marker() == "s"]
    sizes = np.array([line.get_markersize() for line in squares])
    weights = np.array([dcr.freq.weights[s] for s in dcr.rows["study"]])
    np.testing.assert_allclose(sizes**2 / (sizes**2).max(), weights / weights.max(), rtol=1e-9)
    plt.close(fig)


def test_open_bound_is_an_arrow_and_given_axes_are_used():
    table = pd.DataFrame([["A", "n = 10", 20.0, 15.0, np.nan, 60.0, 19.0, 14.0, 26.0],
                          ["B", "n = 12", 14.0, math.nan, 18.0, np.nan, 15.0, 12.0, 18.0]], columns=TABLE_COLUMNS)
    fig, ax = plt.subplots()
    out = draw_forest(table, [{"label": "pooled", "estimate": 17.0, "ci_low": 14.0, "ci_high": 21.0}],
                      "Heterogeneity: none", "months", ax=ax)
    assert out is fig
    markers = [line.get_marker() for line in ax.lines]
    assert markers.count(">") == 1 and markers.count("<") == 1  # A open above, B not estimable below
    assert "20.0 [15.0, NE]" in _texts(fig) and "-" in _texts(fig)  # B has no weight
    assert not [c for c in ax.collections if c.get_gid() == "predictive"]  # no PI given, no bar
    plt.close(fig)


def test_png_and_svg_with_text_kept_as_text(dcr, tmp_path):
    path = tmp_path / "forest_DCR.png"
    plot_forest(dcr, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = path.with_suffix(".svg").read_text()
    assert "Partelli 2024 (NEOLUPANET)" in svg  # svg.fonttype none: a text element, not glyph paths


# --- the Bayesian reviewer's figures (plots/bayes.py), drawn from the same DCR fits ---

@pytest.fixture(scope="module")
def dcr_by_grade(dcr):
    dcr.subgroups["grade"] = bayes_pool(dcr.rows, by="grade")
    return dcr


def _saved_figure(monkeypatch):
    """Capture the figure a plot function saves instead of writing it."""
    captured = []
    monkeypatch.setattr(bayes_plots, "save", lambda fig, path: captured.append(fig))
    return captured


def test_prior_and_posterior_densities(dcr, monkeypatch):
    captured = _saved_figure(monkeypatch)
    bayes_plots.plot_prior_posterior(dcr.bayes, "unused.png")
    (fig,) = captured
    assert len(fig.axes) == 2
    for ax, name in zip(fig.axes, ("mu", "tau"), strict=True):
        labels = [line.get_label() for line in ax.lines]
        assert labels == [f"prior: {dcr.bayes.priors[name]}", "posterior"]
        post = ax.lines[1]
        peak = post.get_xdata()[np.argmax(post.get_ydata())]
        draws = dcr.bayes.idata.posterior[name].to_numpy().ravel()
        assert np.quantile(draws, 0.1) < peak < np.quantile(draws, 0.9)  # the posterior curve is the posterior's
    plt.close(fig)


def test_tau_and_bayesian_i2_beside_the_frequentist(dcr, monkeypatch):
    captured = _saved_figure(monkeypatch)
    bayes_plots.plot_tau_i2(dcr, "unused.png")
    (fig,) = captured
    right = fig.axes[1]
    i2 = dcr.bayes.i2_draws().ravel()
    assert right.get_title() == "Bayesian I\u00b2 = " + "{:.1f}% [{:.1f}, {:.1f}]".format(*np.quantile(i2, [0.5, 0.025,
                                                                                                          0.975]))
    freq = [line for line in right.lines if line.get_label().startswith("frequentist")]
    assert len(freq) == 1 and freq[0].get_xdata()[0] == pytest.approx(dcr.freq.I2)
    plt.close(fig)


def test_subgroup_rows_with_contrast_probabilities_and_contrast_legend_outside(dcr_by_grade, monkeypatch):
    fit = dcr_by_grade.subgroups["grade"]
    captured = _saved_figure(monkeypatch)
    bayes_plots.plot_subgroups(dcr_by_grade, "grade", "unused.png")
    bayes_plots.plot_contrasts(dcr_by_grade, "grade", "unused.png")
    subgroups, contrasts = captured
    ax = subgroups.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{lv} (k = {s['k']})" for lv, s in fit.levels.items()]
    text = " ".join(_texts(subgroups))
    for name, s in fit.contrasts.items():
        assert f"P({name.replace(' - ', ' > ')}) = {s['p_gt_0']:.3f}" in text
    cax = contrasts.axes[0]
    legend = cax.get_legend()
    contrasts.canvas.draw()
    box, axes_box = legend.get_window_extent(), cax.get_window_extent()
    assert box.x0 >= axes_box.x1  # beside the data, not on it
    assert len(legend.get_texts()) == len(fit.contrasts)
    plt.close(subgroups)
    plt.close(contrasts)
