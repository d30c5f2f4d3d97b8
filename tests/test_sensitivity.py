"""Sensitivity analysis: verdicts, reweighting, scenarios, and the command on the embedded data."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from bayes_prrt import load_csv
from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.bayes.quadrature import normal_normal
from bayes_prrt.bayes.sampling import Settings
from bayes_prrt.cli import main
from bayes_prrt.effects import study_effects
from bayes_prrt.priors import resolve_priors
from bayes_prrt.sensitivity.analysis import GridEntry, outcome_sensitivity
from bayes_prrt.sensitivity.reweight import prior_weights, weighted_quantile
from bayes_prrt.sensitivity.scenarios import scenario_rows
from bayes_prrt.sensitivity.verdict import region, verdict

SETTINGS = Settings()


def test_regions_and_verdict():
    assert [region(p) for p in (0.96, 0.95, 0.5, 0.05, 0.01)] == ["supported", "supported", "uncertain",
                                                                    "rejected", "rejected"]
    assert verdict({"a": 0.97, "b": 0.99})["verdict"] == "robust"
    assert verdict({"a": 0.97, "b": 0.90})["verdict"] == "conclusion changes"


def _grid():
    return [GridEntry("tau ~ halfnormal:0.25", {"tau": "halfnormal:0.25"}),
            GridEntry("tau ~ halfcauchy:1", {"tau": "halfcauchy:1"}),
            GridEntry("mu ~ normal:-3,0.3", {"mu": "normal:-3,0.3"}),
            GridEntry("mu ~ normal:0,10", {"mu": "normal:0,10"})]


def _user_data(write_csv, rows):
    text = "study,outcome,events,n\n" + "".join(f"s{i},ORR,{x},{n}\n" for i, (x, n) in enumerate(rows))
    return load_csv(write_csv(text))


def test_conclusion_changes_with_the_prior(write_csv):
    """Three small studies: a strongly pessimistic prior on mu overturns P(ORR > 0.5)."""
    data = _user_data(write_csv, [(14, 20), (15, 20), (13, 20)])
    res = outcome_sensitivity(data, "ORR", [{"outcome": "ORR", "text": "> 0.5"}], _grid(), [], (0.05, 0.95),
                              settings=SETTINGS)
    v = res.verdicts["> 0.5"]
    assert v["overall"] == "conclusion changes"
    assert v["priors"]["regions"]["mu ~ normal:0,10"] == "supported"
    assert v["priors"]["regions"]["mu ~ normal:-3,0.3"] != "supported"


def test_conclusion_robust_with_much_data(write_csv):
    """Ten large, homogeneous studies: every defensible prior (tau from 0.25 half-normal to
    half-Cauchy(1), mu vague or informative at 0.5) leaves P(ORR > 0.5) supported. The extreme
    normal(-3, 0.3) of the test above is left out: it conflicts with these data by 13 prior SDs,
    and the model absorbs that conflict through a large tau rather than giving way."""
    data = _user_data(write_csv, [(720 + d, 1000) for d in (-8, -5, -3, -1, 0, 0, 1, 3, 5, 8)])
    grid = [e for e in _grid() if e.label != "mu ~ normal:-3,0.3"] + [GridEntry("mu ~ normal:0,0.5",
                                                                                {"mu": "normal:0,0.5"})]
    res = outcome_sensitivity(data, "ORR", [{"outcome": "ORR", "text": "> 0.5"}], grid, [], (0.05, 0.95),
                              settings=SETTINGS)
    assert res.verdicts["> 0.5"]["overall"] == "robust"
    assert all(r["statements"]["> 0.5"] >= 0.95 for r in res.priors)
    assert set(res.psens) == {"mu", "tau"} and set(res.loo) == {f"s{i}" for i in range(10)}
    low, high = res.loo_range["bayes"]
    assert low <= res.priors[0]["estimate"] + 0.01 and high >= res.priors[0]["estimate"] - 0.01


def test_reweighting_matches_exact_posterior(dataset):
    """MCMC draws under the default prior, moved to half-Cauchy(1), match quadrature under half-Cauchy(1)."""
    rows = dataset.select("PFS", "primary")
    base = bayes_pool(rows, settings=SETTINGS)
    post = base.idata.posterior
    new = resolve_priors("median", {"tau": "halfcauchy:1"})
    w, k = prior_weights(post["mu"].to_numpy(), post["tau"].to_numpy(), resolve_priors("median"), new)
    assert k < 0.7
    eff, _ = study_effects(rows, "LOGMEDIAN")
    exact = normal_normal(eff.yi, np.sqrt(eff.vi), new, 1)
    for q in (0.25, 0.5, 0.75):
        got = weighted_quantile(post["tau"].to_numpy(), w, q)
        assert got == pytest.approx(float(exact.tau_quantile(q)), abs=0.03)
        got_mu = weighted_quantile(post["mu"].to_numpy(), w, q)
        assert got_mu == pytest.approx(float(exact.mu_quantile(q)), abs=0.02)


def test_same_prior_gives_uniform_weights():
    mu, tau = np.random.default_rng(1).normal(size=(2, 4, 50))
    w, k = prior_weights(mu, np.abs(tau), resolve_priors("binary"), resolve_priors("binary"))
    assert k == 0.0 and np.allclose(w, 1 / w.size)


def test_scenarios(dataset):
    strict, notes = scenario_rows(dataset, "DCR", "strict")
    assert {"reidylagunes2019", "vanderzwan2018", "delpassand2024", "braat2020", "kennedy2022"}.isdisjoint(
        strict["study"])
    assert "partelli2024" in set(strict["study"]) and notes
    recist, _ = scenario_rows(dataset, "DCR", "recist")
    assert "ortega2021" not in set(recist["study"]) and "minczeles2022" not in set(recist["study"])
    living, _ = scenario_rows(dataset, "DCR", "living")
    assert "lazarenko2026" in set(living["study"])
    corrected, _ = scenario_rows(dataset, "DCR", "corrected")
    assert pd.Series(corrected["n"]).loc[corrected["study"] == "mitjavila2022"].item() == 522


def test_cli_sensitivity_json(tmp_path):
    plot = tmp_path / "sens.png"
    result = CliRunner().invoke(main, ["sensitivity", "--outcome", "PFS", "--plot", str(plot), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"priors", "scenarios", "loo", "psens", "verdicts"} <= set(out)
    assert len(out["priors"]) >= 9
    assert {"prior", "estimate", "ci_low", "ci_high", "tau_median", "statements"} <= set(out["priors"][0])
    assert {r["scenario"] for r in out["scenarios"]} == {"published", "corrected", "strict", "living", "recist",
                                                         "symmetric_ci", "se_from_n"}
    assert {"pareto_k", "shift"} <= set(next(iter(out["loo"].values())))
    strict = next(r for r in out["scenarios"] if r["scenario"] == "strict")
    assert strict["estimate"] is None and any("strict: not poolable" in n for n in out["notes"])
    assert out["loo_range"]["published"] is None and len(out["loo_range"]["bayes"]) == 2
    assert out["timing"]["extra_prior_median_s"] < 1.0  # priors reuse the likelihood: no refit per prior
    assert plot.exists() and plot.stat().st_size > 10_000


def test_one_study_per_cohort(dataset):
    rows, notes = scenario_rows(dataset, "DCR", "one_per_cohort")
    assert "minczeles2022" not in set(rows["study"]) and "vanderzwan2018" in set(rows["study"])  # 130 < 168
    assert notes == ["one_per_cohort: dropped minczeles2022"]
    os_rows, os_notes = scenario_rows(dataset, "OS", "one_per_cohort")  # van der Zwan has no OS here
    assert "minczeles2022" in set(os_rows["study"]) and not os_notes


def test_scenario_shift_table_against_metafor(dataset):
    from bayes_prrt.sensitivity.scenarios import scenario_shift_table

    reference = json.loads((Path(__file__).parent / "reference" / "scenario_shift.json").read_text())["cases"]
    table = scenario_shift_table(dataset).set_index("outcome")
    for outcome in ("DCR", "ORR"):
        for scenario in ("published", "corrected"):
            ref = reference[outcome][scenario]
            rows, _ = scenario_rows(dataset, outcome, scenario)
            assert sorted(zip(rows["study"], rows["events"], rows["n"])) == sorted(
                zip(ref["study"], ref["events"], ref["n"]))
            assert table.loc[outcome, scenario] == pytest.approx(ref["estimate"], abs=1e-9)
        assert table.loc[outcome, "corrected_k"] == reference[outcome]["corrected"]["k"]
    assert "singh2024: 237/261 -> 137/151 (grim error, denominators error" in table.loc["DCR", "changes"]
    assert "kennedy2022: 97/104 -> left out (grim error)" in table.loc["DCR", "changes"]
    assert table.loc["PFS", "shift"] == 0 and table.loc["PFS", "changes"] == ""


def test_cli_shift():
    result = CliRunner().invoke(main, ["shift", "--to", "one_per_cohort", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["outcome"]: r for r in json.loads(result.output)["shift"]}
    assert set(rows) == {"DCR", "ORR", "PFS", "OS"}
    changes = rows["DCR"]["changes"]
    assert "minczeles2022: 181/243 -> left out (" in changes and "overlap warning" in changes
    strict_out = CliRunner().invoke(main, ["shift", "--to", "strict", "--json"]).output
    strict = {r["outcome"]: r for r in json.loads(strict_out)["shift"]}
    assert strict["PFS"]["strict"] is None and strict["PFS"]["note"].startswith("not poolable")
    assert "braat2020: 25/30 -> left out (inclusion warning)" in strict["DCR"]["changes"]


def test_exact_leave_one_out_drops_the_fitted_study():
    """The exact refit behind an influence row leaves out study i of the *fitted* rows (the log-likelihood's
    order): for PFS the medians without a CI are not fitted, so row i of all rows would be another study."""
    from bayes_prrt.data.dataset import load_dataset
    from bayes_prrt.sensitivity.influence import _exact_refit

    rows = load_dataset().select("PFS")
    full = bayes_pool(rows, engine="quadrature")
    assert len(full.rows) < len(rows)  # some PFS medians have no CI
    for i, study in enumerate(full.studies_fitted):
        without = bayes_pool(rows[rows["study"] != study].reset_index(drop=True), engine="quadrature")
        assert _exact_refit(full, i, None) == pytest.approx(without.pooled["median"], rel=1e-9)
