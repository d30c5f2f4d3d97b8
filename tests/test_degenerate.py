"""Degenerate but legal data (issue 7): each case gives a sensible result or a clear refusal.

k = 1, k = 2, every study at 100% (or 0%) events, identical studies, one huge study among small
ones, extreme medians with very narrow and very wide CIs, and a CI of zero width. The
frequentist engine (PFT, PLO, GLMM, LOGMEDIAN with DL/REML) and the exact quadrature engine
carry most cases; MCMC is used for two small fits only (whatever the default sampler is).
Tolerances are stated where they are used.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.cli import main
from bayes_prrt.errors import AnalysisError
from bayes_prrt.freq.pool import pool, single_study

PROPORTION = ("PFT", "PLO", "GLMM")
TAU2 = ("DL", "REML")


def binary_rows(events, n, outcome="ORR") -> pd.DataFrame:
    """One row per study, as Dataset.select returns them for a binary outcome."""
    k = len(events)
    return pd.DataFrame({
        "study": [f"s{i + 1}" for i in range(k)], "outcome": outcome,
        "events": pd.array(events, dtype="Int64"), "n": pd.array(n, dtype="Int64"),
        "median": np.nan, "ci_low": np.nan, "ci_high": np.nan, "kind": "binary",
        "grade": ["G1-2", "G2-3"] * (k // 2) + ["G1-2"] * (k % 2), "site": "GEP",
    })


def median_rows(median, ci_low, ci_high, outcome="PFS") -> pd.DataFrame:
    """One row per study, as Dataset.select returns them for a median outcome (months)."""
    k = len(median)
    return pd.DataFrame({
        "study": [f"s{i + 1}" for i in range(k)], "outcome": outcome,
        "events": pd.array([pd.NA] * k, dtype="Int64"), "n": pd.array([100] * k, dtype="Int64"),
        "median": np.asarray(median, float), "ci_low": np.asarray(ci_low, float),
        "ci_high": np.asarray(ci_high, float), "kind": "median",
        "grade": ["G1-2", "G2-3"] * (k // 2) + ["G1-2"] * (k % 2), "site": "GEP",
    })


def assert_interval(res, low=-math.inf, high=math.inf) -> None:
    """Finite estimate inside its finite CI, all within [low, high]."""
    values = (res.ci_low, res.estimate, res.ci_high)
    assert all(math.isfinite(v) for v in values), values
    assert low <= res.ci_low <= res.estimate <= res.ci_high <= high, values


def assert_bayes(res, low=-math.inf, high=math.inf) -> None:
    for summary in (res.pooled, res.predictive):
        values = (summary["ci_low"], summary["median"], summary["ci_high"])
        assert all(math.isfinite(v) for v in values), values
        assert low <= summary["ci_low"] <= summary["median"] <= summary["ci_high"] <= high, values
    assert all(math.isfinite(res.tau[k]) and res.tau[k] >= 0 for k in ("ci_low", "median", "ci_high"))
    assert np.isfinite(res.draws["pooled"]).all() and np.isfinite(res.draws["tau"]).all()


# ---------------------------------------------------------------- k = 1

K1 = {"binary": binary_rows([18], [31], "ORR"), "median": median_rows([22.8], [19.4], [26.0], "PFS")}


@pytest.mark.parametrize("tau2", TAU2)
@pytest.mark.parametrize("kind,measure", [("binary", m) for m in PROPORTION] + [("median", "LOGMEDIAN")])
def test_k1_random_effects_refused(kind, measure, tau2):
    rows = K1[kind]
    with pytest.raises(AnalysisError) as info:
        pool(rows, measure, tau2)
    message = str(info.value)
    assert message.startswith(f"{rows['outcome'][0]}: 1 poolable study") and "at least 2" in message


@pytest.mark.parametrize("engine", ["quadrature", "mcmc"])
@pytest.mark.parametrize("kind", ["binary", "median"])
def test_k1_bayes_refused(kind, engine):
    """Refused before any sampling, so the MCMC engine costs nothing here."""
    rows = K1[kind]
    with pytest.raises(AnalysisError, match=rf"^{rows['outcome'][0]}: 1 poolable study.*at least 2"):
        bayes_pool(rows, engine=engine)


@pytest.mark.parametrize("events,n", [(18, 31), (0, 12), (12, 12)])
def test_single_study_proportion(events, n):
    res = single_study(binary_rows([events], [n]), "PFT")
    assert res.single_study and res.model == "single study" and res.k == 1
    assert res.estimate == events / n
    # exact (Clopper-Pearson) 95% CI, closed at 0 and 1
    low = 0.0 if events == 0 else stats.beta.ppf(0.025, events, n - events + 1)
    high = 1.0 if events == n else stats.beta.ppf(0.975, events + 1, n - events)
    assert (res.ci_low, res.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert_interval(res, 0, 1)
    for missing in (res.tau2, res.I2, res.Q, res.pi_low, res.pi_high):
        assert math.isnan(missing)
    assert res.tau2_ci is None and res.weights == {"s1": 100.0}
    assert any("single study (s1)" in note and "Clopper-Pearson" in note for note in res.notes)


def test_single_study_median():
    res = single_study(K1["median"], "LOGMEDIAN")
    assert (res.estimate, res.ci_low, res.ci_high) == (22.8, 19.4, 26.0)
    one_sided = single_study(median_rows([22.8], [19.4], [np.nan]), "LOGMEDIAN")
    assert one_sided.estimate == 22.8 and math.isnan(one_sided.ci_high)
    assert any("upper CI bound not estimable" in note for note in one_sided.notes)


def test_single_study_needs_exactly_one():
    with pytest.raises(AnalysisError, match="ORR: 2 poolable"):
        single_study(binary_rows([3, 4], [10, 10]), "PFT")


def test_cli_pool_single_median_study(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("study,outcome,median,ci_low,ci_high\na,PFS,22.8,19.4,26\n")
    result = CliRunner().invoke(main, ["pool", "--data", str(path), "--outcome", "PFS"])
    assert result.exit_code == 0 and "Single study (k = 1)" in result.output and "Traceback" not in result.output
    out = json.loads(CliRunner().invoke(main, ["pool", "--data", str(path), "--outcome", "PFS", "--json"]).output)
    assert (out["estimate"], out["ci_low"], out["ci_high"], out["tau2"]) == (22.8, 19.4, 26.0, None)


# ---------------------------------------------------------------- k = 2

K2 = binary_rows([10, 30], [40, 50])  # 0.25 and 0.60


@pytest.mark.parametrize("tau2", TAU2)
@pytest.mark.parametrize("measure", PROPORTION)
def test_k2_proportions(measure, tau2):
    res = pool(K2, measure, tau2)
    assert res.k == 2
    assert_interval(res, 0, 1)
    assert 0.25 <= res.estimate <= 0.60  # a weighted mean of two studies lies between them
    assert math.isfinite(res.tau2) and res.tau2 > 0 and 0 <= res.I2 <= 100  # 0.25 vs 0.60 do differ
    assert math.isfinite(res.pi_low) and math.isfinite(res.pi_high)


@pytest.mark.parametrize("tau2", TAU2)
def test_k2_medians(tau2):
    res = pool(median_rows([12, 30], [10, 20], [15, 45]), "LOGMEDIAN", tau2)
    assert_interval(res, 0)
    assert 12 <= res.estimate <= 30 and res.tau2 > 0 and 0 < res.pi_low < res.pi_high < math.inf


def test_k2_bayes_quadrature():
    res = bayes_pool(K2, engine="quadrature")
    assert res.k == 2
    assert_bayes(res, 0, 1)
    assert 0.25 <= res.pooled["median"] <= 0.60
    med = bayes_pool(median_rows([12, 30], [10, 20], [15, 45]), engine="quadrature")
    assert_bayes(med, 0)
    assert 12 <= med.pooled["median"] <= 30


def test_k2_bayes_mcmc_agrees_with_quadrature():
    """MCMC fit 1 of 2. Both engines target the same posterior: the pooled median agrees to 0.03
    (Monte Carlo error of a median from a few thousand draws is below 0.01 here)."""
    mcmc = bayes_pool(K2, engine="mcmc")
    assert_bayes(mcmc, 0, 1)
    assert isinstance(mcmc.converged, bool)
    quad = bayes_pool(K2, engine="quadrature")
    assert mcmc.pooled["median"] == pytest.approx(quad.pooled["median"], abs=0.03)


# ---------------------------------------------------------------- every study at 100% (or 0%)

N5 = [20, 35, 50, 12, 80]
ALL = {"100%": binary_rows(N5, N5), "0%": binary_rows([0] * 5, N5)}


@pytest.mark.parametrize("tau2", TAU2)
@pytest.mark.parametrize("case", ALL)
def test_all_events_pft(case, tau2):
    """PFT needs no continuity correction: the estimate is exactly 1 (or 0), the CI one-sided."""
    res = pool(ALL[case], "PFT", tau2)
    assert_interval(res, 0, 1)
    assert res.tau2 == 0 and res.estimate == (1.0 if case == "100%" else 0.0)
    assert (res.ci_low >= 0.99) if case == "100%" else (res.ci_high <= 0.01)


@pytest.mark.parametrize("case", ALL)
def test_all_events_plo_is_corrected_and_says_so(case):
    res = pool(ALL[case], "PLO", "DL")
    assert_interval(res, 0, 1)
    assert 0 < res.estimate < 1 and (res.estimate > 0.95 if case == "100%" else res.estimate < 0.05)
    assert any("0.5 added to both cells for 5 study(ies)" in note for note in res.notes)


@pytest.mark.parametrize("case", ALL)
def test_all_events_glmm_refused(case):
    """The binomial-normal ML estimate does not exist (the logit runs to infinity)."""
    with pytest.raises(AnalysisError, match=r"^ORR: every study has .*no maximum-likelihood estimate"):
        pool(ALL[case], "GLMM")


@pytest.mark.parametrize("case", ALL)
def test_all_events_bayes_quadrature(case):
    """The prior keeps the posterior proper: pooled proportion near, not at, the edge."""
    res = bayes_pool(ALL[case], engine="quadrature")
    assert_bayes(res, 0, 1)
    if case == "100%":
        assert 0.95 < res.pooled["median"] < 1 and res.pooled["ci_high"] < 1
    else:
        assert 0 < res.pooled["median"] < 0.05 and res.pooled["ci_low"] > 0


def test_all_events_bayes_mcmc():
    """MCMC fit 2 of 2, on the hardest geometry (the logit pushed to the prior's tail). Whatever
    the convergence verdict, the numbers are finite proportions near 1 and agree with the exact
    engine to 0.01 (the posterior of the proportion is concentrated in 0.97-1)."""
    mcmc = bayes_pool(ALL["100%"], engine="mcmc")
    assert_bayes(mcmc, 0, 1)
    quad = bayes_pool(ALL["100%"], engine="quadrature")
    assert mcmc.pooled["median"] == pytest.approx(quad.pooled["median"], abs=0.01)


# ---------------------------------------------------------------- identical studies

IDENTICAL = binary_rows([15] * 5, [50] * 5)  # 0.30 each
IDENTICAL_MEDIANS = median_rows([20] * 4, [15] * 4, [27] * 4)


@pytest.mark.parametrize("tau2", ("DL", "REML", "PM", "ML"))
@pytest.mark.parametrize("measure", ("PFT", "PLO"))
def test_identical_proportions(measure, tau2):
    """No spread at all: tau2 is exactly 0 (each estimator's boundary case) and the pooled value is
    the common 0.30 to rounding error: with equal n, Miller's inverse undoes the PFT exactly and
    expit undoes the logit."""
    res = pool(IDENTICAL, measure, tau2)
    assert res.tau2 == 0.0 and res.I2 == 0.0 and res.Q == pytest.approx(0, abs=1e-20)
    assert res.estimate == pytest.approx(0.3, abs=1e-12)
    assert_interval(res, 0, 1)


def test_identical_proportions_glmm():
    """tau2 is snapped to the boundary 0 when it fits at least as well; mu comes from a numerical
    optimiser (xtol 1e-12 on the logit), hence 1e-6 on the proportion."""
    res = pool(IDENTICAL, "GLMM")
    assert res.tau2 == 0.0 and res.estimate == pytest.approx(0.3, abs=1e-6)
    assert_interval(res, 0, 1)


@pytest.mark.parametrize("tau2", TAU2)
def test_identical_medians(tau2):
    res = pool(IDENTICAL_MEDIANS, "LOGMEDIAN", tau2)
    assert res.tau2 == 0.0 and res.estimate == pytest.approx(20, rel=1e-12)
    se = (math.log(27) - math.log(15)) / (2 * 1.96) / math.sqrt(4)  # common-effect SE of 4 equal studies
    z = stats.norm.ppf(0.975)  # the CI's quantile (1.96 is only the constant that turns a CI into an SE)
    assert (res.ci_low, res.ci_high) == pytest.approx((20 * math.exp(-z * se), 20 * math.exp(z * se)), rel=1e-12)


def test_identical_bayes_quadrature():
    """Posterior tau near 0: below a third of the prior median (half-normal(1): 0.674 on the logit
    scale; half-normal(0.5): 0.337 on the log scale). The pooled value is the common one to 0.01
    (proportion) or 2% (median): the prior's pull on mu is below 0.001 here, the rest is Monte
    Carlo error of a median from 40 000 draws and the grid."""
    res = bayes_pool(IDENTICAL, engine="quadrature")
    assert_bayes(res, 0, 1)
    assert res.pooled["median"] == pytest.approx(0.3, abs=0.01)
    assert res.tau["median"] < 0.674 / 3
    med = bayes_pool(IDENTICAL_MEDIANS, engine="quadrature")
    assert_bayes(med, 0)
    assert med.pooled["median"] == pytest.approx(20, rel=0.02)
    assert med.tau["median"] < 0.337 / 3


# ---------------------------------------------------------------- one huge study among small ones

HUGE = binary_rows([30000, 5, 6, 7, 6, 6], [100000, 20, 20, 20, 20, 20])  # 0.30 and five near 0.30


@pytest.mark.parametrize("tau2", TAU2)
@pytest.mark.parametrize("measure", ("PLO", "GLMM"))
def test_huge_study_dominates(measure, tau2):
    res = pool(HUGE, measure, tau2)
    assert_interval(res, 0, 1)
    assert res.ci_low <= 0.3 <= res.ci_high  # the CI contains the huge study's proportion
    assert res.estimate == pytest.approx(0.3, abs=0.001)
    if measure == "PLO":
        assert res.weights["s1"] > 99


@pytest.mark.parametrize("tau2", TAU2)
def test_huge_study_pft_warns(tau2):
    """PFT back-transforms at the harmonic mean n (about 24 here, as metafor does): the pooled
    proportion drifts below the huge study's 0.30 and its CI misses it (Schwarzer et al. 2019).
    The numbers stay metafor's; the result says so."""
    res = pool(HUGE, "PFT", tau2)
    assert_interval(res, 0, 1)
    assert res.ci_high < 0.3  # the known failure, kept visible
    assert any(note.startswith("PFT back-transform depends on n here") for note in res.notes)


def test_no_pft_warning_on_balanced_or_real_data(dataset):
    for rows in (IDENTICAL, K2, dataset.select("DCR"), dataset.select("ORR"), dataset.select("DCR", "living")):
        assert not any("depends on n" in note for note in pool(rows, "PFT").notes)


def test_huge_study_bayes_quadrature():
    res = bayes_pool(HUGE, engine="quadrature")
    assert_bayes(res, 0, 1)
    assert res.pooled["ci_low"] <= 0.3 <= res.pooled["ci_high"]
    assert res.pooled["median"] == pytest.approx(0.3, abs=0.02)


# ---------------------------------------------------------------- extreme medians and CIs

# 0.5 months (0.4-0.6), 400 months (300-500), 10 months with a very narrow (9.99-10.01) and a
# very wide (0.1-1000) CI
EXTREME = median_rows([0.5, 400, 10, 10], [0.4, 300, 9.99, 0.1], [0.6, 500, 10.01, 1000])


@pytest.mark.parametrize("tau2", TAU2)
def test_extreme_medians(tau2):
    res = pool(EXTREME, "LOGMEDIAN", tau2)
    assert_interval(res, 0.5, 400)
    assert math.isfinite(res.tau2) and res.tau2 > 1 and res.I2 > 99  # 0.5 vs 400 months: huge spread
    assert 0 < res.pi_low < res.pi_high < math.inf


def test_extreme_medians_narrow_ci_dominates_common_effect():
    """The 9.99-10.01 study has an SE hundreds of times smaller than the others: the common-effect
    estimate is its median to 0.001 months, and the CI about as narrow as its own (0.02 months)."""
    res = pool(EXTREME, "LOGMEDIAN", "FE")
    assert_interval(res)
    assert res.estimate == pytest.approx(10, abs=0.001) and res.ci_high - res.ci_low < 0.021
    assert res.weights["s3"] > 99.9


def test_extreme_medians_raw_scale_says_when_it_goes_negative():
    res = pool(EXTREME, "MEDIAN", "DL")
    assert math.isfinite(res.estimate) and res.ci_low < 0
    assert any("below 0 months" in note for note in res.notes)


def test_extreme_medians_bayes_quadrature():
    res = bayes_pool(EXTREME, engine="quadrature")
    assert_bayes(res, 0)
    assert 0.5 <= res.pooled["ci_low"] <= res.pooled["ci_high"] <= 400
    assert res.tau["median"] > 1  # the spread overrides the half-normal(0.5) prior
    assert res.studies["observed"].to_numpy() == pytest.approx([0.5, 400, 10, 10], rel=1e-12)


# ---------------------------------------------------------------- a CI of zero width

ZERO_WIDTH = {"two-sided": median_rows([20, 25, 30], [20, 20, 25], [20, 30, 36]),
              "one-sided": median_rows([20, 25, 30], [20, 20, 25], [np.nan, 30, 36])}


@pytest.mark.parametrize("case", ZERO_WIDTH)
def test_zero_width_ci_refused(case):
    """ci_low = median = ci_high is legal input but gives SE 0 (infinite weight): both engines
    refuse, naming the study, instead of failing inside the tau2 solver or the quadrature."""
    rows = ZERO_WIDTH[case]
    for call in (lambda: pool(rows, "LOGMEDIAN", "DL"), lambda: pool(rows, "MEDIAN", "REML"),
                 lambda: bayes_pool(rows, engine="quadrature")):
        with pytest.raises(AnalysisError, match=r"^PFS, study 's1': its 95% CI has zero width"):
            call()
