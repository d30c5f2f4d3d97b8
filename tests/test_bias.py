"""Small-study effects and cumulative meta-analysis against R metafor 3.8-1 (tests/reference/bias_reference.json).

Every normal-normal quantity (regtest, ranktest, trimfill, funnel, cumul) is held to RTOL = 1e-6 relative
(ATOL 1e-9 for values that are 0), as in test_metafor_reference.py: the references were computed with
convergence tolerances of 1e-12. Cases: the embedded DCR, ORR (PFT, PLO) and PFS (LOGMEDIAN) data under
the 'published' policy, and metafor's dat.pritz1997 (PFT, PLO), dat.bcg (RR) and dat.hackshaw1998 (OR).
"""

import itertools
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats
from scipy.optimize import brentq

from bayes_prrt.cli import main
from bayes_prrt.bayes.cumulative import bayes_cumulative
from bayes_prrt.data.order import publication_year, sort_studies
from bayes_prrt.effects import proportion_effects
from bayes_prrt.errors import AnalysisError
from bayes_prrt.freq.bias import egger_test, rank_test, small_study_effects, trim_and_fill
from bayes_prrt.freq.cumulative import cumulative
from bayes_prrt.freq.kendall import inversion_cdf, kendall_test
from bayes_prrt.plots.cumulative import plot_cumulative
from bayes_prrt.plots.funnel import plot_funnel

REF = json.loads((Path(__file__).parent / "reference" / "bias_reference.json").read_text())["cases"]
RTOL, ATOL = 1e-6, 1e-9
EMBEDDED = {"dcr_published": "DCR", "orr_published": "ORR", "pfs_published": "PFS"}
ROWS_CASES = [*EMBEDDED, "pritz1997"]  # cases with a rows form (for small_study_effects and cumulative)


def close(got, want):
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=RTOL, atol=ATOL)


def _rows(case, dataset):
    if case in EMBEDDED:
        return dataset.select(EMBEDDED[case], "published")
    c = REF[case]
    return pd.DataFrame({"study": c["study"], "outcome": "X", "events": c["events"], "n": c["n"], "kind": "binary"})


def _effects(case, measure):
    c = REF[case]
    if "events" in c:
        e = proportion_effects(c["events"], c["n"], measure)
        return e.yi, e.vi
    return np.array(c["measures"][measure]["yi"]), np.array(c["measures"][measure]["vi"])


MEASURES = [(case, m) for case, c in REF.items() for m in c["measures"]]
METHODS = [(case, m, method) for case, m in MEASURES for method in REF[case]["measures"][m]["methods"]]


@pytest.mark.parametrize("case,measure", MEASURES)
def test_effects_are_metafors(case, measure):
    yi, vi = _effects(case, measure)
    close(yi, REF[case]["measures"][measure]["yi"])
    close(vi, REF[case]["measures"][measure]["vi"])


@pytest.mark.parametrize("case,measure", MEASURES)
def test_rank_test_against_metafor(case, measure):
    ref = REF[case]["measures"][measure]["ranktest"]
    got = rank_test(*_effects(case, measure))
    close([got.tau, got.p], [ref["tau"], ref["pval"]])


def test_rank_test_cases_cover_exact_and_tied_p_values():
    exact = [rank_test(*_effects(case, m)).exact for case, m in MEASURES]
    assert any(exact) and not all(exact)


@pytest.mark.parametrize("case,measure,method", METHODS)
def test_egger_against_metafor(case, measure, method):
    ref = REF[case]["measures"][measure]["methods"][method]["regtest"]
    got = egger_test(*_effects(case, measure), method=method)
    close([got.z, got.p, got.slope, got.limit, *got.limit_ci, got.tau2],
          [ref["zval"], ref["pval"], ref["slope"], ref["est"], ref["ci_low"], ref["ci_high"], ref["tau2"]])


@pytest.mark.parametrize("which", ["trimfill", "trimfill_opposite"])
@pytest.mark.parametrize("case,measure,method", METHODS)
def test_trim_and_fill_against_metafor(case, measure, method, which):
    ref = REF[case]["measures"][measure]["methods"][method][which]
    got = trim_and_fill(*_effects(case, measure), method=method, side=None if which == "trimfill" else ref["side"])
    assert (got.side, got.k0, got.fit.k) == (ref["side"], ref["k0"], ref["k"])
    close([got.fit.estimate, got.fit.se[0], got.fit.ci_low[0], got.fit.ci_high[0], got.fit.tau2],
          [ref["estimate"], ref["se"], ref["ci_low"], ref["ci_high"], ref["tau2"]])
    close(got.filled_yi, ref["yi_filled"])
    close(got.filled_vi, ref["vi_filled"])
    if ref["se_k0"] is None:  # metafor: sqrt of a negative variance
        assert np.isnan(got.se_k0)
    else:
        close(got.se_k0, ref["se_k0"])


def test_trim_and_fill_cases_cover_both_sides_and_filled_studies():
    sides = {REF[c]["measures"][m]["methods"][me]["trimfill"]["side"] for c, m, me in METHODS}
    filled = [REF[c]["measures"][m]["methods"][me]["trimfill"]["k0"] for c, m, me in METHODS]
    assert sides == {"left", "right"} and 0 in filled and max(filled) >= 4


ROW_METHODS = [(c, m, me) for c, m, me in METHODS if c in ROWS_CASES]


@pytest.mark.parametrize("case,measure,method", ROW_METHODS)
def test_outcome_scale_and_funnel_against_metafor(case, measure, method, dataset):
    ref = REF[case]["measures"][measure]["methods"][method]
    res = small_study_effects(_rows(case, dataset), measure, method)
    reg, tf = ref["regtest"], ref["trimfill"]
    close(res.limit, [reg["est_bt"], reg["ci_low_bt"], reg["ci_high_bt"]])
    close(res.filled, [tf["estimate_bt"], tf["ci_low_bt"], tf["ci_high_bt"]])
    points, funnel = res.funnel_points(), ref["funnel"]
    close(points["yi"], funnel["x"])
    close(points["sei"], funnel["y"])
    assert points["filled"].tolist() == funnel["fill"]
    close(res.trimfill.fit.estimate, funnel["refline"])


@pytest.mark.parametrize("case,measure,method", ROW_METHODS)
def test_cumulative_against_metafor(case, measure, method, dataset):
    ref = REF[case]["measures"][measure]["methods"][method]["cumul"]
    order = "year" if case in EMBEDDED else "n"  # the embedded years come from the labels here, from year in R
    steps = cumulative(_rows(case, dataset), measure, method, order).steps
    assert [s["study"] for s in steps] == ref["study"] and [s["k"] for s in steps] == list(range(1, len(steps) + 1))
    for mine, theirs in (("estimate", "estimate_bt"), ("ci_low", "ci_low_bt"), ("ci_high", "ci_high_bt"),
                         ("estimate_t", "estimate"), ("se_t", "se"), ("Q", "Q"), ("I2", "I2")):
        close([s[mine] for s in steps], ref[theirs])
    if "tau2" in ref:
        close([s["tau2"] for s in steps], ref["tau2"])


def test_reference_orders_have_ties():
    for case in ("dcr_published", "orr_published", "pritz1997", "bcg_rr", "hackshaw1998"):
        order = REF[case]["order"]
        assert len(set(order)) < len(order), case


def test_stable_sort_keeps_input_order_of_ties():
    rows = pd.DataFrame({"study": ["a", "b", "c", "d", "e"], "year": [2020, 2018, 2020, 2018, 2019]})
    assert sort_studies(rows)["study"].tolist() == ["b", "d", "e", "a", "c"]
    assert sort_studies(rows.iloc[::-1])["study"].tolist() == ["d", "b", "e", "c", "a"]


def test_publication_year_from_label_else_study_id():
    rows = pd.DataFrame({"study": ["partelli2024", "x1999", "smith"],
                         "label": ["Partelli 2024 (NEOLUPANET)", None, "Smith et al. 2011b"]})
    assert publication_year(rows).tolist() == [2024, 1999, 2011]
    with pytest.raises(AnalysisError, match="study 'nolabel', column 'study': no publication year"):
        publication_year(pd.DataFrame({"study": ["nolabel"]}))


def test_embedded_label_years_are_the_study_table_years(dataset):
    studies = dataset.studies
    assert publication_year(studies).tolist() == studies["year"].astype(int).tolist()


def test_order_errors_name_study_and_column(dataset):
    rows = dataset.select("DCR", "published")
    with pytest.raises(AnalysisError, match="order column 'nope' does not exist"):
        cumulative(rows, order="nope")
    with pytest.raises(AnalysisError, match="study 'delpassand2024', column 'g3_share': no value"):
        cumulative(rows, order="g3_share")


def test_too_few_studies_refused():
    rows = pd.DataFrame({"study": ["a", "b"], "outcome": "ORR", "events": [3, 9], "n": [10, 20], "kind": "binary"})
    with pytest.raises(AnalysisError, match=r"ORR: 2 study\(ies\) with an effect; small-study tests need at least 3"):
        small_study_effects(rows)
    with pytest.raises(AnalysisError, match="need at least 3"):
        trim_and_fill([0.1, 0.2], [0.01, 0.02])


def test_equal_standard_errors_refused():
    rows = pd.DataFrame({"study": list("abc"), "outcome": "DCR", "events": [20, 25, 30], "n": 40, "kind": "binary"})
    with pytest.raises(AnalysisError, match="DCR: every study has the same standard error"):
        small_study_effects(rows, "PFT")
    assert small_study_effects(rows, "PLO").k == 3  # PLO variances differ


def test_kendall_exact_distribution_by_enumeration():
    # P(T <= t) of the inversions of all permutations of 6, counted directly
    counts = np.bincount([sum(p[i] > p[j] for i in range(6) for j in range(i + 1, 6))
                          for p in itertools.permutations(range(6))])
    close(inversion_cdf(6), np.cumsum(counts) / counts.sum())
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=7), rng.normal(size=7)
    got = kendall_test(x, y)  # exact p: the share of the permutations of y with |tau| at least as large
    upper = np.triu_indices(7, 1)
    sx = np.sign(np.subtract.outer(x, x))[upper]

    def s_stat(v):
        return np.sum(sx * np.sign(np.subtract.outer(v, v))[upper])

    null = np.abs([s_stat(np.array(p)) for p in itertools.permutations(y)])
    assert got.exact and got.tau == pytest.approx(stats.kendalltau(x, y).statistic, rel=1e-12)
    assert got.p == pytest.approx(np.mean(null >= abs(s_stat(y))), rel=1e-9)


def test_bayes_cumulative_steps(dataset):
    res = bayes_cumulative(dataset.select("DCR", "published"))
    freq = cumulative(dataset.select("DCR", "published"))
    assert [s["study"] for s in res.steps] == [s["study"] for s in freq.steps][1:]
    assert [s["k"] for s in res.steps] == list(range(2, 13))
    assert all(s["ci_low"] < s["estimate"] < s["ci_high"] for s in res.steps)
    again = bayes_cumulative(dataset.select("DCR", "published"))
    assert again.steps == res.steps  # same seed, same numbers


def test_plots_return_figures(dataset):
    res = small_study_effects(dataset.select("ORR", "published"), "PLO")
    assert res.trimfill.k0 == 1
    fig = plot_funnel(res.funnel_points(), res.trimfill.fit.estimate)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert isinstance(fig, matplotlib.figure.Figure) and "filled (trim-and-fill)" in labels
    hidden = plot_funnel(res.funnel_points(), res.trimfill.fit.estimate, show_filled=False)
    assert "filled (trim-and-fill)" not in [line.get_label() for line in hidden.axes[0].lines]
    steps = cumulative(dataset.select("DCR", "published")).steps
    assert len(plot_cumulative(steps).axes[0].get_yticks()) == len(steps)


# --- command line -------------------------------------------------------------------------------

def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_bias_json_contract():
    result = invoke("bias", "--outcome", "DCR", "--measure", "PLO", "--tau2", "REML", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"z", "p", "limit_estimate"} <= set(out["egger"])
    assert {"kendall_tau", "p"} <= set(out["rank"])
    assert {"k0", "side", "estimate", "ci_low", "ci_high"} <= set(out["trimfill"])
    ref = REF["dcr_published"]["measures"]["PLO"]["methods"]["REML"]
    close([out["egger"]["z"], out["egger"]["limit_estimate"], out["rank"]["kendall_tau"], out["trimfill"]["estimate"]],
          [ref["regtest"]["zval"], ref["regtest"]["est_bt"], REF["dcr_published"]["measures"]["PLO"]["ranktest"]["tau"],
           ref["trimfill"]["estimate_bt"]])
    assert out["trimfill"]["k0"] == ref["trimfill"]["k0"] == len(out["trimfill"]["filled_studies"])


def test_bias_text_and_funnel_plot(tmp_path):
    plot = tmp_path / "funnel.png"
    result = invoke("bias", "--outcome", "PFS", "--plot", str(plot))
    assert result.exit_code == 0, result.output
    assert "Regression test for funnel plot asymmetry" in result.output and "Kendall's tau" in result.output
    assert "little power" in result.output and plot.stat().st_size > 0


@pytest.mark.parametrize("method", ["freq", "bayes"])
def test_cumulative_json_contract(method):
    result = invoke("cumulative", "--outcome", "DCR", "--method", method, "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)["steps"]
    assert all({"study", "k", "estimate", "ci_low", "ci_high"} <= set(s) for s in steps)
    ks = [s["k"] for s in steps]
    assert ks == sorted(ks) and ks[-1] == 12
    years = [s["order_value"] for s in steps]
    assert years == sorted(years)


@pytest.mark.parametrize("args,message", [
    (["bias", "--outcome", "PFS", "--values", "table2"], "no PFS values under the 'table2' policy"),
    (["cumulative", "--outcome", "DCR", "--order", "nope"], "order column 'nope' does not exist"),
    (["bias", "--outcome", "DCR", "--measure", "LOGMEDIAN"], "measure LOGMEDIAN does not apply"),
])
def test_cli_errors_are_one_line_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_cli_refuses_too_few_studies(write_csv):
    path = write_csv("study,outcome,events,n\na,ORR,3,10\nb,ORR,9,20\n")
    result = invoke("bias", "--outcome", "ORR", "--data", str(path))
    assert result.exit_code == 2 and "small-study tests need at least 3" in result.output


# --- Bayesian small-study model ---------------------------------------------------------------

def test_se_proxy_columns(dataset):
    from bayes_prrt.bayes.small_study import with_se_proxy

    dcr = with_se_proxy(dataset.select("DCR", "published"))
    close(dcr["se_proxy"], 1 / np.sqrt(dcr["n"].astype(float)))
    pfs = with_se_proxy(dataset.select("PFS", "published"))
    assert pfs["study"].tolist() == REF["pfs_published"]["study"]  # the studies with a CI
    close(pfs["se_proxy"] ** 2, REF["pfs_published"]["measures"]["LOGMEDIAN"]["vi"])


def _exact_pet(y, s, m0=(3.0, 0.0), sd0=(1.5, 2.0), tau_scale=0.5):
    """Exact posterior of the normal PET model: (mu, beta) | tau is bivariate normal, tau on a fine grid.

    y ~ N(X b, D), X = [1, s], D = diag(s^2 + tau^2), b ~ N(m0, S0): b | tau, y ~ N(P^-1 (S0^-1 m0 + X'D^-1 y), P^-1),
    P = S0^-1 + X'D^-1 X, and p(tau | y) proportional to HalfNormal(tau) N(y; X m0, X S0 X' + D).
    """
    X = np.column_stack([np.ones_like(s), s])
    S0 = np.diag(np.square(sd0))
    taus = np.linspace(1e-6, 8 * tau_scale, 8000)
    logw, means, sds = [], [], []
    for tau in taus:
        D = np.diag(s**2 + tau**2)
        logw.append(stats.halfnorm.logpdf(tau, scale=tau_scale)
                    + stats.multivariate_normal.logpdf(y, X @ np.asarray(m0), X @ S0 @ X.T + D))
        P = np.linalg.inv(S0) + X.T @ np.linalg.solve(D, X)
        cov = np.linalg.inv(P)
        means.append(cov @ (np.linalg.solve(S0, m0) + X.T @ np.linalg.solve(D, y)))
        sds.append(np.sqrt(np.diag(cov)))
    w = np.exp(np.array(logw) - max(logw))
    w /= w.sum()
    means, sds = np.array(means), np.array(sds)
    p_up = float(w @ stats.norm.sf(0, means[:, 1], sds[:, 1]))
    mu_median = brentq(lambda q: w @ stats.norm.cdf(q, means[:, 0], sds[:, 0]) - 0.5, -10, 10)
    return p_up, float(w @ means[:, 1]), mu_median


@pytest.mark.slow
def test_small_study_model_against_exact_posterior(dataset):
    """MCMC against the exact posterior of the median (normal) model, within 5 Monte Carlo SEs."""
    from bayes_prrt.bayes.small_study import small_study_model, with_se_proxy

    rows = dataset.select("PFS", "published")
    used = with_se_proxy(rows)
    y = np.log(used["median"].astype(float).to_numpy())
    p_up, beta_mean, mu_median = _exact_pet(y, used["se_proxy"].to_numpy())
    res = small_study_model(rows)
    assert res.converged and res.priors["beta"] == "normal:0,2"
    ess = res.diagnostics.ess_bulk_min
    assert abs(res.p_inflation - p_up) < 5 * np.sqrt(p_up * (1 - p_up) / ess)
    assert abs(res.slope["mean"] - beta_mean) < 5 * res.slope["sd"] / np.sqrt(ess)
    log_sd = np.std(np.log([res.limit["ci_low"], res.limit["ci_high"]])) / 1.96  # ~ posterior SD of mu
    assert abs(np.log(res.limit["median"]) - mu_median) < 5 * 1.25 * log_sd / np.sqrt(ess)
    assert res.unadjusted["median"] == pytest.approx(cumulative(rows).steps[-1]["estimate"], rel=0.1)
    again = small_study_model(rows)
    assert again.slope == res.slope and again.p_inflation == res.p_inflation  # same seed, same numbers


@pytest.mark.slow
def test_bias_cli_bayes_json():
    result = invoke("bias", "--outcome", "DCR", "--bayes", "--json")
    assert result.exit_code == 0, result.output
    bayes = json.loads(result.output)["bayes"]
    assert 0 <= bayes["p_inflation"] <= 1 and bayes["converged"]
    assert {"rhat_max", "ess_bulk_min", "divergences"} <= set(bayes["diagnostics"])
    assert {"median", "ci_low", "ci_high"} <= set(bayes["limit"]) & set(bayes["unadjusted"])
