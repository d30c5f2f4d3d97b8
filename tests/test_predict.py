"""Posterior predictive of a new, observed study (``bayes/predict.py``, ``BayesFit.predict``) and the
``predict`` / ``check-external`` commands, against closed forms and an independent simulation."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats
from scipy.special import expit, logit

from bayes_prrt.bayes import predict as pr
from bayes_prrt.bayes import quadrature
from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.bayes.sampling import Settings
from bayes_prrt.cli import main
from bayes_prrt.errors import AnalysisError

EXTERNAL = Path(__file__).parents[1] / "data" / "external_cohorts.csv"
QUAD = Settings(seed=7)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ---------------------------------------------------------------- closed forms of the pure functions
@pytest.mark.parametrize("n, p", [(20, 0.3), (151, 0.9)])
def test_point_mass_posterior_gives_the_binomial(n, p):
    draws = np.full(500, p)
    np.testing.assert_allclose(pr.binomial_pmf(draws, n), stats.binom.pmf(np.arange(n + 1), n, p), rtol=1e-12)
    got = pr.binomial_observed(draws, n)
    assert [got["median"], got["pi_low"], got["pi_high"]] == [stats.binom.ppf(q, n, p) / n
                                                              for q in (0.5, 0.025, 0.975)]
    for x in (0, int(n * p) - 5, int(n * p), n):
        exact = min(1.0, 2 * min(stats.binom.cdf(x, n, p), stats.binom.sf(x - 1, n, p)))
        mid = min(1.0, 2 * min(stats.binom.cdf(x, n, p) - stats.binom.pmf(x, n, p) / 2,
                               stats.binom.sf(x, n, p) + stats.binom.pmf(x, n, p) / 2))
        got = pr.binomial_p_value(draws, n, x)
        assert got["p_two_sided"] == pytest.approx(exact, abs=1e-12)
        assert got["p_two_sided_mid"] == pytest.approx(mid, abs=1e-12)
        assert got["p_two_sided_mid"] <= got["p_two_sided"]


def test_true_value_of_a_point_mass_mu_with_fixed_tau_is_a_normal():
    mu, tau = np.full(100, logit(0.8)), np.full(100, 0.5)
    got = pr.true_value("binary", mu, tau)
    expected = expit(stats.norm.ppf([0.5, 0.025, 0.975], logit(0.8), 0.5))
    np.testing.assert_allclose([got["median"], got["pi_low"], got["pi_high"]], expected, rtol=1e-9)
    assert pr.true_value("binary", mu, np.zeros(100))["pi_low"] == pytest.approx(0.8, rel=1e-9)


def test_median_predictive_is_the_normal_normal_convolution_for_point_mass_draws():
    mu, tau, se = np.full(50, np.log(24.0)), np.full(50, 0.3), 0.2
    got = pr.median_observed(mu, tau, se)
    expected = np.exp(stats.norm.ppf([0.5, 0.025, 0.975], np.log(24.0), np.hypot(0.3, 0.2)))
    np.testing.assert_allclose([got["median"], got["pi_low"], got["pi_high"]], expected, rtol=1e-9)
    z = np.log(30 / 24) / np.hypot(0.3, 0.2)
    assert pr.median_p_value(mu, tau, se, 30.0)["p_two_sided"] == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)


# ---------------------------------------------------------------- through a fit (exact engine)
def _median_rows(medians, lows, highs):
    return pd.DataFrame({"study": [f"s{i}" for i in range(len(medians))], "outcome": "PFS", "kind": "median",
                         "median": medians, "ci_low": lows, "ci_high": highs, "n": 100})


def test_median_predict_matches_the_closed_form_posterior_with_tau_fixed():
    """tau fixed at 0.3 by a uniform:0.3,0.3001 prior: mu | y ~ N(m, s^2) in closed form, and the
    observed predictive is N(m, s^2 + tau^2 + se^2); the mu draws are a sample of size DRAWS from
    N(m, s^2), so quantiles agree to a few s / sqrt(DRAWS)."""
    rows = _median_rows([20.0, 30.0, 25.0], [15.0, 22.0, 18.0], [27.0, 41.0, 35.0])
    fit = bayes_pool(rows, {"mu": "normal:3,10", "tau": "uniform:0.3,0.3001"}, engine="quadrature", settings=QUAD)
    y = np.log(rows["median"].to_numpy())
    v = ((np.log(rows["ci_high"]) - np.log(rows["ci_low"])) / (2 * 1.96)).to_numpy() ** 2
    w = 1 / (v + 0.3**2)
    prec = 1 / 10**2 + w.sum()
    m, s2 = (3 / 10**2 + (w * y).sum()) / prec, 1 / prec
    tol = 5 * np.sqrt(s2 / quadrature.DRAWS) + 2e-4  # sampling of mu, and tau within 0.3-0.3001
    se = 0.15
    got = fit.predict(se=se, observed=40.0)
    q = [0.5, 0.025, 0.975]
    for key, var in (("true", s2 + 0.09), ("observed", s2 + 0.09 + se**2)):
        expected = stats.norm.ppf(q, m, np.sqrt(var))
        np.testing.assert_allclose(np.log([got[key]["median"], got[key]["pi_low"], got[key]["pi_high"]]),
                                   expected, atol=tol)
    z = (np.log(40.0) - m) / np.sqrt(s2 + 0.09 + se**2)
    assert got["p_two_sided"] == pytest.approx(2 * stats.norm.sf(z), abs=tol)
    # the SE from a CI: (log U - log L) / (2 x 1.96)
    assert fit.predict(ci_low=20.0, ci_high=40.0)["se"] == pytest.approx(np.log(2) / 3.92)


def test_binary_predict_agrees_with_an_independent_simulation(dataset):
    """X ~ Bin(n, expit(mu + tau z)) simulated from the posterior draws with a separate generator."""
    fit = bayes_pool(dataset.select("ORR"), engine="quadrature", settings=QUAD)
    n, observed = 60, 0.5
    got = fit.predict(n=n, observed=observed)
    rng = np.random.default_rng(1)
    mu, tau = (np.repeat(fit._post(k).ravel(), 20) for k in ("mu", "tau"))
    x = rng.binomial(n, expit(mu + tau * rng.standard_normal(mu.size)))
    lo, med, hi = (np.quantile(x, q, method="inverted_cdf") / n for q in (0.025, 0.5, 0.975))
    assert abs(got["observed"]["median"] - med) <= 1 / n
    assert abs(got["observed"]["pi_low"] - lo) <= 1 / n and abs(got["observed"]["pi_high"] - hi) <= 1 / n
    p_sim = min(1, 2 * min((x <= 30).mean(), (x >= 30).mean()))
    assert got["observed_events"] == 30
    assert got["p_two_sided"] == pytest.approx(p_sim, abs=4 * np.sqrt(p_sim * (1 - p_sim) / 40_000) + 0.01)
    # the observed interval is wider than the true-value interval (binomial noise added)
    assert got["observed"]["pi_high"] - got["observed"]["pi_low"] > got["true"]["pi_high"] - got["true"]["pi_low"]


@pytest.mark.parametrize("kwargs, words", [
    ({"se": 0.1}, "give the new study's n"), ({"n": 0}, "whole number >= 1"),
    ({"n": 10, "observed": 1.5}, "must lie in [0, 1]"),
])
def test_binary_predict_refuses_what_does_not_apply(dataset, kwargs, words):
    fit = bayes_pool(dataset.select("DCR"), engine="quadrature", settings=QUAD)
    with pytest.raises(AnalysisError, match=words.replace("[", r"\[").replace("]", r"\]")):
        fit.predict(**kwargs)


@pytest.mark.parametrize("kwargs, words", [
    ({}, "one of the two"), ({"se": 0.1, "ci_low": 10.0, "ci_high": 20.0}, "one of the two"),
    ({"ci_low": 10.0}, "observed median is needed"), ({"ci_low": 30.0, "ci_high": 20.0}, "ci_low <= ci_high"),
    ({"se": 0.1, "observed": -3.0}, "must be > 0 months"),
])
def test_median_predict_refuses_what_does_not_apply(kwargs, words):
    rows = _median_rows([20.0, 30.0], [15.0, 22.0], [27.0, 41.0])
    fit = bayes_pool(rows, engine="quadrature", settings=QUAD)
    with pytest.raises(AnalysisError, match=words):
        fit.predict(**kwargs)


# ---------------------------------------------------------------- the commands
def test_predict_json_contract():
    out = json.loads(invoke("predict", "--outcome", "PFS", "--ci-low", 19.7, "--ci-high", 29.0,
                            "--observed", 22.5, "--json").output)
    for key in ("true", "observed"):
        assert set(out[key]) >= {"median", "pi_low", "pi_high"}
        assert out[key]["pi_low"] < out[key]["median"] < out[key]["pi_high"]
    assert 0 <= out["p_two_sided"] <= 1
    no_obs = json.loads(invoke("predict", "--outcome", "DCR", "--n", 100, "--json").output)
    assert "p_two_sided" not in no_obs and set(no_obs["observed"]) >= {"median", "pi_low", "pi_high"}


def test_predict_bad_input_is_one_line_exit_2():
    result = invoke("predict", "--outcome", "OS", "--n", 50)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "give the new study's SE of log median" in result.output


def test_check_external_on_the_shipped_cohorts():
    result = invoke("check-external", EXTERNAL, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]
    table = pd.read_csv(EXTERNAL)
    assert [(r["study"], r["outcome"]) for r in rows] == list(zip(table["study"], table["outcome"], strict=True))
    assert table["source"].notna().all()
    for r in rows:
        assert set(r) >= {"study", "outcome", "observed", "pi_low", "pi_high", "p_two_sided"}
        assert r["pi_low"] < r["pi_high"] and 0 <= r["p_two_sided"] <= 1
    laz = next(r for r in rows if r["study"] == "lazarenko2026" and r["outcome"] == "DCR")
    assert laz["observed"] == pytest.approx(85 / 102) and laz["n"] == 102


def test_check_external_refuses_a_study_of_the_synthesis(write_csv):
    path = write_csv("study,outcome,events,n\nsingh2024,DCR,137,151\n")
    result = invoke("check-external", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "row 2" in result.output and "singh2024" in result.output and "in the synthesis" in result.output


def test_check_external_needs_a_ci_for_a_median(write_csv):
    result = invoke("check-external", write_csv("study,outcome,median,ci_low,ci_high,n\nnewcohort,PFS,25,,,80\n"))
    assert result.exit_code == 2 and "column 'ci_low'" in result.output


def test_predict_reports_the_posterior_diagnostics(dataset):
    fit = bayes_pool(dataset.select("DCR"), engine="quadrature", settings=QUAD)
    out = fit.predict(n=50)
    assert out["converged"] is True and out["diagnostics"]["note"] == "exact quadrature, no MCMC"
