"""Medians without a CI: ``median_se="ci+n"`` (SE = c/sqrt(n), ``effects.py``) in both engines."""

import numpy as np
import pandas as pd
import pytest

from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.bayes.sampling import Settings
from bayes_prrt.effects import study_effects
from bayes_prrt.errors import AnalysisError
from bayes_prrt.freq.pool import pool

ROWS = pd.DataFrame({"study": ["a", "b", "c", "d"], "outcome": "PFS", "kind": "median",
                     "median": [20.0, 30.0, 25.0, 18.0], "ci_low": [15.0, 22.0, np.nan, 14.0],
                     "ci_high": [27.0, 41.0, np.nan, np.nan], "n": pd.array([50, 60, 80, 40], dtype="Int64")})


def test_se_from_n_closed_form():
    se_a, se_b = np.log(27 / 15) / 3.92, np.log(41 / 22) / 3.92
    c = np.sqrt((se_a**2 * 50 + se_b**2 * 60) / 2)  # d is one-sided: not used to estimate c
    eff, used = study_effects(ROWS, "LOGMEDIAN", "ci+n")
    assert list(used["study"]) == ["a", "b", "c", "d"]
    assert np.sqrt(eff.vi[2]) == pytest.approx(c / np.sqrt(80), rel=1e-12)
    assert np.sqrt(eff.vi[:2]) == pytest.approx([se_a, se_b], rel=1e-12)
    assert any("c = " in note and "from a, b" in note and "c (n = 80)" in note for note in eff.notes)


def test_c_is_never_below_one():
    rows = ROWS.assign(ci_low=[19.0, 29.0, np.nan, 14.0], ci_high=[21.0, 31.0, np.nan, np.nan])  # tiny SEs
    eff, _ = study_effects(rows, "LOGMEDIAN", "ci+n")
    assert np.sqrt(eff.vi[2]) == pytest.approx(1 / np.sqrt(80))


def test_the_default_rule_still_leaves_them_out():
    eff, used = study_effects(ROWS, "LOGMEDIAN")
    assert list(used["study"]) == ["a", "b", "d"] and "left out, no CI reported: c" in eff.notes


def test_exponential_model_se_of_log_median_is_one_over_sqrt_events():
    """Uncensored exponential samples of size d: the median estimate log(2) x mean has
    SD(log median) = 1/sqrt(d) to first order (simulation, 4000 replicates)."""
    rng = np.random.default_rng(3)
    d = 200
    log_median = np.log(np.log(2) * rng.exponential(20.0, size=(4000, d)).mean(1))
    assert log_median.std(ddof=1) == pytest.approx(1 / np.sqrt(d), rel=0.05)


def test_both_engines_pool_the_median_without_ci(dataset):
    rows = dataset.select("PFS")
    assert pool(rows, "LOGMEDIAN").k == 4
    freq = pool(rows, "LOGMEDIAN", "DL", median_se="ci+n")
    bayes = bayes_pool(rows, engine="quadrature", settings=Settings(seed=1), median_se="ci+n")
    assert freq.k == bayes.k == 6 and {"kennedy2022", "paganelli2020"} <= set(bayes.studies_fitted)
    eff, _ = study_effects(rows, "LOGMEDIAN", "ci+n")
    typical = (5 * (1 / eff.vi).sum()) / ((1 / eff.vi).sum() ** 2 - (1 / eff.vi**2).sum())  # Higgins-Thompson, k = 6
    tau2 = bayes.idata.posterior["tau"].to_numpy() ** 2
    np.testing.assert_allclose(bayes.i2_draws(), 100 * tau2 / (tau2 + typical), rtol=1e-12)


@pytest.mark.parametrize("rows, measure, rule, words", [
    (ROWS, "LOGMEDIAN", "n", "unknown median_se rule"),
    (ROWS, "MEDIAN", "ci+n", "defined on the log scale"),
    (ROWS.assign(ci_high=np.nan), "LOGMEDIAN", "ci+n", "needs at least one study with a two-sided CI"),
])
def test_bad_rules_are_refused(rows, measure, rule, words):
    with pytest.raises(AnalysisError, match=words):
        study_effects(rows, measure, rule)


def test_api_passes_the_rule_to_every_frequentist_model(dataset):
    import bayes_prrt

    assert bayes_prrt.pool(dataset, "OS").k == 2
    fit = bayes_prrt.pool(dataset, "OS", median_se="ci+n")
    assert fit.k == 3 and any("kennedy2022 (n = 104)" in note for note in fit.notes)
    by_site = bayes_prrt.pool(dataset, "PFS", by="site", median_se="ci+n")
    assert sum(level.k for level in by_site.subgroups.levels.values()) == 6


@pytest.mark.parametrize("method", ["freq", "bayes"])
def test_pool_command_median_se(method):
    import json

    from click.testing import CliRunner

    from bayes_prrt.cli import main

    args = ["pool", "--outcome", "PFS", "--method", method, "--json"]
    args += ["--engine", "quadrature"] if method == "bayes" else []
    default = json.loads(CliRunner().invoke(main, args).output)
    with_n = json.loads(CliRunner().invoke(main, [*args, "--median-se", "ci+n"]).output)
    assert default["k"] == 4 and with_n["k"] == 6
