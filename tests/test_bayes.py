"""Bayesian models: exactness against quadrature, agreement with the frequentist engine,
diagnostics, probability statements and the CLI contract."""

import json

import arviz as az
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from bayes_prrt import AnalysisError
from bayes_prrt.bayes import quadrature
from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.bayes.sampling import Settings, diagnose
from bayes_prrt.bayes.statements import probability
from bayes_prrt.cli import main
from bayes_prrt.freq.glmm import fit_glmm
from bayes_prrt.freq.pool import subgroups
from bayes_prrt.effects import study_effects
from bayes_prrt.freq.rma import rma
from bayes_prrt.priors import resolve_priors

SETTINGS = Settings()  # 4 chains x 1000 draws, fixed seed
VAGUE = {"mu": "normal:0,100", "tau": "uniform:0,10"}


@pytest.fixture(scope="session")
def dcr_mcmc(dataset):
    return bayes_pool(dataset.select("DCR", "table2"), settings=SETTINGS)


@pytest.fixture(scope="session")
def pfs_mcmc(dataset):
    return bayes_pool(dataset.select("PFS", "primary"), settings=SETTINGS)


@pytest.fixture(scope="session")
def orr_by_grade(dataset):
    return bayes_pool(dataset.select("ORR", "table2"), by="grade", settings=SETTINGS)


def _exact(dataset, outcome, values):
    rows = dataset.select(outcome, values)
    if rows["kind"].iloc[0] == "binary":
        return quadrature.binomial(rows["events"], rows["n"], resolve_priors("binary"), 1)
    eff, _ = study_effects(rows, "LOGMEDIAN")
    return quadrature.normal_normal(eff.yi, np.sqrt(eff.vi), resolve_priors("median"), 1)


@pytest.mark.parametrize("fixture,outcome,values", [("dcr_mcmc", "DCR", "table2"), ("pfs_mcmc", "PFS", "primary")])
@pytest.mark.parametrize("param", ["mu", "tau"])
def test_mcmc_agrees_with_quadrature(fixture, outcome, values, param, dataset, request):
    """Each MCMC quantile lies within 4 Monte Carlo SEs of the exact quantile."""
    res = request.getfixturevalue(fixture)
    exact = _exact(dataset, outcome, values)
    draws = res.idata.posterior[param]
    exact_q = exact.mu_quantile if param == "mu" else exact.tau_quantile
    for prob in (0.05, 0.25, 0.5, 0.75, 0.95):
        got = float(draws.quantile(prob))
        mcse = float(az.mcse(res.idata, var_names=[param], method="quantile", prob=prob)[param])
        assert abs(got - float(exact_q(prob))) < 4 * mcse + 1e-3, (prob, got, float(exact_q(prob)), mcse)


@pytest.mark.parametrize("outcome", ["DCR", "ORR"])
def test_vague_prior_binomial_near_glmm(outcome, dataset):
    """Under vague priors the posterior median of mu lies within 0.25 posterior SD of the ML
    (GLMM) estimate: the marginal posterior integrates over tau, whose posterior is right-skewed,
    so the two differ by a fraction of the posterior SD, not more (measured: 0.13 and 0.02)."""
    rows = dataset.select(outcome, "table2")
    post = quadrature.binomial(rows["events"], rows["n"], resolve_priors("binary", VAGUE), 1)
    ml = fit_glmm(rows["events"], rows["n"])
    assert abs(float(post.mu_quantile(0.5)) - ml.mu) < 0.25 * post.mu.std()


@pytest.mark.parametrize("outcome", ["PFS", "OS"])
def test_vague_prior_logmedian_near_reml(outcome, dataset):
    """Same statement for the normal-normal model against REML (measured: 0.003 and 0.001 SD)."""
    eff, _ = study_effects(dataset.select(outcome, "primary"), "LOGMEDIAN")
    post = quadrature.normal_normal(eff.yi, np.sqrt(eff.vi), resolve_priors("median", VAGUE), 1)
    assert abs(float(post.mu_quantile(0.5)) - rma(eff.yi, eff.vi, method="REML").estimate) < 0.25 * post.mu.std()


def test_normal_normal_closed_form_at_fixed_tau():
    """With tau fixed near 0 by its prior, mu | y is the conjugate normal: check mean and SD."""
    y, se = np.array([3.0, 3.2, 2.9]), np.array([0.1, 0.2, 0.15])
    priors = resolve_priors("median", {"mu": "normal:3,1.5", "tau": "uniform:0,1e-6"})
    post = quadrature.normal_normal(y, se, priors, 1)
    prec = 1 / 1.5**2 + (1 / se**2).sum()
    mean = (3 / 1.5**2 + (y / se**2).sum()) / prec
    assert float(post.mu_quantile(0.5)) == pytest.approx(mean, abs=1e-3)
    assert post.mu.std() == pytest.approx(1 / np.sqrt(prec), rel=0.02)


def test_diagnostics_reported_and_converged(dcr_mcmc, pfs_mcmc, orr_by_grade):
    for res in (dcr_mcmc, pfs_mcmc):
        d = res.diagnostics
        assert d.converged and d.rhat_max <= 1.01 and d.ess_bulk_min >= 400 and d.ess_tail_min >= 400
        assert d.divergences == 0
    assert orr_by_grade.diagnostics.converged and orr_by_grade.overall.converged


def test_diagnose_flags_chains_that_disagree():
    rng = np.random.default_rng(1)
    post = {"mu": rng.normal(size=(4, 500)) + np.array([0, 0, 0, 3])[:, None], "tau": np.abs(rng.normal(size=(4, 500)))}
    idata = az.from_dict(posterior=post, sample_stats={"diverging": np.zeros((4, 500), bool)})
    d = diagnose(idata, ["mu", "tau"], SETTINGS, refitted=True)
    assert not d.converged and any("R-hat" in p for p in d.problems())


def test_inference_data_groups(dcr_mcmc, tmp_path):
    groups = set(dcr_mcmc.idata.groups())
    assert {"posterior", "posterior_predictive", "log_likelihood", "prior", "sample_stats"} <= groups
    path = tmp_path / "dcr.nc"
    dcr_mcmc.idata.to_netcdf(str(path))
    back = az.from_netcdf(str(path))
    xr.testing.assert_allclose(back.posterior["mu"], dcr_mcmc.idata.posterior["mu"])


def test_outcome_scale_quantities(dcr_mcmc, pfs_mcmc):
    p = dcr_mcmc
    assert 0 < p.pooled["ci_low"] < p.pooled["median"] < p.pooled["ci_high"] < 1
    # with tau > 0 and the pooled proportion above 0.5, the population average lies below it
    assert p.pop_average["median"] < p.pooled["median"]
    assert p.predictive["ci_low"] < p.pooled["ci_low"] and p.predictive["ci_high"] > p.pooled["ci_high"]
    assert set(p.studies["study"]) == set(dcr_mcmc.idata.posterior["theta"].study.values)
    assert pfs_mcmc.kind == "median" and 10 < pfs_mcmc.pooled["median"] < 40
    assert any("kennedy2022" in n for n in pfs_mcmc.notes)


def test_same_seed_same_numbers(dataset):
    rows = dataset.select("PFS", "primary")
    a = bayes_pool(rows, engine="quadrature", settings=SETTINGS)
    b = bayes_pool(rows, engine="quadrature", settings=SETTINGS)
    assert a.to_dict() == b.to_dict()


def test_probability_statements(orr_by_grade):
    res = orr_by_grade
    p = probability(res, "> 0.30")
    assert p["probability"] == pytest.approx(float((res.draws["pooled"] > 0.30).mean()))
    assert 0 < p["mcse"] < 0.05
    assert p["comparison"] is None and probability(res, "G1-2 > G2-3")["comparison"] == "between-study"
    both = probability(res, "G1-2 > G2-3")["probability"] + probability(res, "G1-2 < G2-3")["probability"]
    assert both == pytest.approx(1.0)
    diff = probability(res, "G1-2 - G2-3 > 0.10")["probability"]
    assert diff <= probability(res, "G1-2 > G2-3")["probability"]
    assert res.contrasts["G1-2 - G2-3"]["p_gt_0"] == pytest.approx(probability(res, "G1-2 > G2-3")["probability"])
    for bad in ("G1-2 > G3", "nonsense"):
        with pytest.raises(AnalysisError):
            probability(res, bad)


def test_subgroup_levels(orr_by_grade):
    assert set(orr_by_grade.levels) == {"G1-2", "G2-3"}  # "unknown" grade is missing, not a level
    assert orr_by_grade.levels["G1-2"]["k"] == 3 and "grade[G2-3]" in orr_by_grade.beta
    assert orr_by_grade.notes == subgroups(orr_by_grade.overall.rows, "grade", "PFT").notes  # one rule
    assert "left out of the covariate model" in orr_by_grade.notes[0] and "4 of 12 studies" in orr_by_grade.notes[0]


def test_exact_covariate_model_against_mcmc(dataset, orr_by_grade):
    """engine='quadrature' fits the covariate model exactly; the MCMC fit of the same model agrees with it within
    4 MCSE on every reported quantile (``bayes.agreement``), and linear statements come from the exact CDF."""
    from bayes_prrt.bayes.agreement import agreement

    exact = bayes_pool(dataset.select("ORR", "table2"), by="grade", engine="quadrature")
    assert exact.exact is not None and exact.levels["G1-2"]["exact"] and exact.pooled["exact"]
    rows = agreement(exact, orr_by_grade)
    assert {r["quantity"] for r in rows} >= {"pooled", "tau", "G1-2", "G2-3"}
    assert all(r["agrees"] for r in rows), [r for r in rows if not r["agrees"]]
    answer = exact.prob("G1-2 > G2-3")
    assert answer["method"] == "exact" and answer["mcse"] == 0
    assert answer["probability"] == pytest.approx(exact.exact.contrast("G1-2", "G2-3").prob_above(0))


def test_exact_engine_refusal_is_one_line(dataset):
    with pytest.raises(AnalysisError, match="normal prior on mu"):
        bayes_pool(dataset.select("ORR", "table2"), priors={"mu": "uniform:-5,5"}, engine="quadrature")


def test_cli_pool_bayes_json_contract():
    result = CliRunner().invoke(main, ["pool", "--outcome", "OS", "--method", "bayes", "--engine", "quadrature",
                                       "--prior-tau", "halfnormal:0.25", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"outcome", "method", "engine", "k", "estimate", "ci_low", "ci_high", "pop_average", "pi_low",
            "pi_high", "tau", "priors", "diagnostics"} <= set(out)
    assert out["priors"]["tau"] == "halfnormal:0.25" and set(out["tau"]) >= {"median", "ci_low", "ci_high"}
    assert {"rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "converged"} <= set(out["diagnostics"])


def test_cli_prob_mcmc_with_idata(tmp_path):
    path = tmp_path / "out" / "dcr.nc"
    result = CliRunner().invoke(main, ["prob", "--outcome", "DCR", "--values", "table2", "--idata", str(path),
                                       "--json", "> 0.80", "DCR > 0.95"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    probs = {s["statement"]: s for s in out["statements"]}
    assert probs["> 0.80"]["probability"] > probs["DCR > 0.95"]["probability"]
    assert out["diagnostics"]["converged"] is True and path.exists()
    assert not list(path.parent.glob(".dcr.nc.*"))  # no temporary file left behind


def test_cli_unconverged_exits_nonzero_unless_allowed(monkeypatch):
    import bayes_prrt.bayes.fit as fit_module
    from bayes_prrt.bayes.sampling import Diagnostics

    real = fit_module.sample

    def failing(data, settings):
        idata, _ = real(data, Settings(draws=200, tune=200, chains=2, seed=1))
        return idata, Diagnostics(1.2, 50, 40, 3, False, True, 200, 2, 0.99)

    monkeypatch.setattr(fit_module, "sample", failing)
    args = ["pool", "--outcome", "PFS", "--values", "primary", "--method", "bayes"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "UNRELIABLE" in refused.output and "R-hat 1.200" in refused.output
    allowed = CliRunner().invoke(main, args + ["--allow-unconverged", "--json"])
    assert allowed.exit_code == 0
    assert json.loads(allowed.output)["diagnostics"]["converged"] is False


def test_bad_prior_from_cli():
    result = CliRunner().invoke(main, ["pool", "--outcome", "DCR", "--method", "bayes", "--prior-tau", "normal:0,1"])
    assert result.exit_code == 2 and "not allowed here" in result.output


@pytest.fixture(scope="session")
def joint_fit(dataset):
    from bayes_prrt.bayes.joint import joint_response

    return joint_response(dataset, "table2", settings=SETTINGS)


def test_joint_model_orders_orr_below_dcr(joint_fit):
    from scipy.special import expit

    mu = joint_fit.idata.posterior["mu"].to_numpy()
    p_r, p_s = expit(mu[..., 0]), expit(mu[..., 1])
    assert np.all(p_r <= p_r + (1 - p_r) * p_s)
    assert joint_fit.converged and joint_fit.k == 12
    assert -1 <= joint_fit.rho["ci_low"] < joint_fit.rho["ci_high"] <= 1
    assert joint_fit.orr["median"] < joint_fit.dcr["median"]


def test_joint_model_close_to_separate_models(joint_fit):
    """Same studies and likelihood information: pooled medians agree within a quarter of a posterior SD."""
    for row in joint_fit.comparison.itertuples():
        joint = joint_fit.orr if row.outcome == "ORR" else joint_fit.dcr
        assert abs(row.joint_median - row.separate_median) < 0.25 * joint["sd"]


def test_joint_counts_need_same_n(dataset):
    from bayes_prrt.bayes.joint import response_counts

    counts, notes = response_counts(dataset, "table2")
    assert (counts["stable"] >= 0).all() and not notes  # Table 2 gives DCR and ORR over the same N
    counts, notes = response_counts(dataset, "living")
    assert any("minczeles2022" in n for n in notes)  # DCR over the 130 analysed (primary), ORR over 243 (Table 2)
    assert counts.set_index("study").loc["strosberg2021", "n"] == 117  # both over the 177Lu arm once corrected


def test_numeric_covariate_left_out_studies_are_named(dataset):
    res = bayes_pool(dataset.select("ORR", "table2"), covariates=["g3_share"], settings=SETTINGS)
    assert set(res.beta) == {"g3_share"}
    assert any("g3_share unknown or not reported" in n and "kennedy2022" in n and "4 of 12" in n for n in res.notes)
    assert res.diagnostics is not None and "beta" in res.to_dict()


def test_stated_reference_level(dataset):
    res = bayes_pool(dataset.select("DCR", "table2"), by="site", reference="GEP", settings=SETTINGS)
    assert "site[GEP]" not in res.beta and "site[pancreatic]" in res.beta
    assert res.converged, res.diagnostics


def test_predict_from_an_mcmc_fit_carries_its_diagnostics(pfs_mcmc):
    out = pfs_mcmc.predict(se=0.1, observed=30.0)
    assert out["engine"] == "mcmc" and out["converged"] and out["diagnostics"]["rhat_max"] <= 1.01
    assert out["observed"]["pi_low"] < out["true"]["pi_low"] < out["true"]["median"] < out["true"]["pi_high"]
    assert 0 < out["p_two_sided"] <= 1
