"""The exact (quadrature) engine for covariate models, bayes/exact.py, against independent references:
closed forms (marginal.py), a twice-finer rule (error bound), REML meta-regression (the posterior
of tau under flat priors is the restricted likelihood), the no-covariate quadrature engine, and
(slow) long MCMC and simulation-based calibration."""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import expit

from bayes_prrt.bayes import quadrature
from bayes_prrt.bayes.exact import QUANTILES, exact_posterior
from bayes_prrt.bayes.marginal import Lattice, NormalMixture
from bayes_prrt.design import design_matrix
from bayes_prrt.effects import study_effects
from bayes_prrt.errors import AnalysisError
from bayes_prrt.freq.metareg import meta_regression
from bayes_prrt.priors import parse_prior, resolve_priors

VAGUE = {"mu": parse_prior("normal:0,100", "mu"), "beta": parse_prior("normal:0,100", "beta"),
         "tau": parse_prior("uniform:0,10", "tau")}


def model_inputs(dataset, outcome, covariate=None):
    """(kind, y, scale, X, coef_names, levels) of an embedded outcome, as bayes_pool builds them."""
    rows = dataset.select(outcome, "published")
    kind = rows["kind"].iloc[0]
    if kind == "binary":
        used, y, scale = rows, rows["events"].to_numpy(float), rows["n"].to_numpy(float)
    else:
        eff, used = study_effects(rows, "LOGMEDIAN")
        y, scale = eff.yi, np.sqrt(eff.vi)
    if covariate is None:
        return kind, y, scale, np.zeros((len(y), 0)), [], None
    keep = used[covariate].notna().to_numpy()
    used = used[keep].reset_index(drop=True)
    X, names, _ = design_matrix(used, [covariate])
    numeric = len(names) == 2 and names[1] == covariate
    levels = None if numeric else sorted(used[covariate].astype(str).unique())
    return kind, y[keep], scale[keep], X[:, 1:], names[1:], levels


# marginal.py: closed forms --------------------------------------------------------------------------------

def test_lattice_of_a_normal_density_gives_normal_quantiles():
    h = 0.25
    centres = -10 + (np.arange(80) + 0.5) * h
    lat = Lattice(-10, h, stats.norm.pdf(centres, 0.3, 1.1) * h)
    q = np.array([0.001, 0.025, 0.5, 0.975, 0.999])
    np.testing.assert_allclose(lat.quantile(q), stats.norm.ppf(q, 0.3, 1.1), atol=1e-8)
    assert lat.prob_above(0.3) == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_allclose(lat.hdi(0.95), stats.norm.interval(0.95, 0.3, 1.1), atol=1e-6)


def test_reflected_lattice_of_a_half_normal_gives_its_quantiles():
    h = 0.05
    centres = (np.arange(120) + 0.5) * h
    lat = Lattice(0.0, h, stats.halfnorm.pdf(centres, scale=0.7) * h, reflect=True)
    q = np.array([0.025, 0.5, 0.975])
    np.testing.assert_allclose(lat.quantile(q), stats.halfnorm.ppf(q, scale=0.7), rtol=1e-4)
    lo, hi = lat.hdi(0.95)  # decreasing density: the HDI starts at 0
    assert lo == pytest.approx(0.0, abs=1e-6) and hi == pytest.approx(stats.halfnorm.ppf(0.95, scale=0.7), rel=1e-4)


def test_normal_mixture_cdf_and_link():
    mix = NormalMixture([0.3, 0.7], [0.0, 2.0], [1.0, 0.5], link=np.exp)
    x = np.array([-1.0, 0.5, 2.5])
    np.testing.assert_allclose(mix.cdf(x), 0.3 * stats.norm.cdf(x) + 0.7 * stats.norm.cdf(x, 2, 0.5), atol=1e-15)
    q = mix.quantile(0.4)
    assert mix.cdf(q)[0] == pytest.approx(0.4, abs=1e-12)
    assert mix.quantile(0.4, outcome=True) == pytest.approx(np.exp(q))


@pytest.mark.parametrize("weights,means,sds", [
    ([0.5, 0.5], [-6.0, 6.0], [0.3, 0.3]),  # bimodal, far apart: Newton from the moment start overshoots
    ([0.2, 0.3, 0.5], [0.0, 1.0, 1.0], [0.0, 0.2, 2.0]),  # a point mass (jump in F, no density)
    ([1e-9, 1.0 - 1e-9], [40.0, 0.0], [1.0, 1e-3]),  # a needle and a far, tiny component
])
def test_normal_mixture_quantiles_invert_its_cdf(weights, means, sds):
    """Newton's method with the exact density, safeguarded by bisection, against Brent's method on the CDF."""
    from scipy.optimize import brentq

    mix = NormalMixture(weights, means, sds)
    q = np.array([1e-6, 0.025, 0.3, 0.5, 0.5 + 1e-9, 0.975, 1 - 1e-6])
    got = np.atleast_1d(mix.quantile(q))
    lo, hi = mix.support()
    for p, x in zip(q, got, strict=True):
        F = lambda t: float(mix.cdf(np.array([t]))[0]) - p  # noqa: E731
        if F(lo) * F(hi) < 0 and not np.isclose(F(x - 1e-9) + p, F(x + 1e-9) + p, atol=1e-6):  # not on a jump
            assert x == pytest.approx(brentq(F, lo, hi, xtol=1e-13, rtol=1e-13), abs=1e-10)
        assert mix.cdf(np.array([x - 1e-9]))[0] <= p + 1e-12 and mix.cdf(np.array([x + 1e-9]))[0] >= p - 1e-12


# the twice-finer rule: the stated error bound ------------------------------------------------------------

@pytest.mark.parametrize("outcome", ["ORR", "PFS"])
def test_quantiles_agree_with_a_twice_finer_rule(dataset, outcome):
    kind, y, scale, X, names, levels = model_inputs(dataset, outcome, "grade")
    post = exact_posterior(kind, y, scale, X, resolve_priors(kind), names, levels)
    assert len(post.error_detail) == 2 + 2 * len(levels) + len(list(itertools.combinations(levels, 2))) + len(names)
    assert post.error_bound < 1e-3, post.error_detail


# REML meta-regression: flat priors make p(tau | y) the restricted likelihood -------------------------------

@pytest.fixture(scope="module")
def simulated_medians():
    rng = np.random.default_rng(13)
    k = 60
    grade = rng.choice(["G1", "G2", "G3"], size=k)
    share = rng.uniform(0, 0.6, size=k)
    se = rng.uniform(0.08, 0.3, size=k)
    eta = 3.0 + np.select([grade == "G2", grade == "G3"], [-0.3, -0.7], 0.0) - 0.5 * share
    y = eta + rng.normal(0, 0.25, k) + rng.normal(0, se)
    return pd.DataFrame({"study": [f"s{i}" for i in range(k)], "outcome": "PFS", "kind": "median",
                         "median": np.exp(y), "ci_low": np.exp(y - 1.96 * se), "ci_high": np.exp(y + 1.96 * se),
                         "grade": grade, "g3_share": share})


def test_vague_priors_reproduce_reml_meta_regression(simulated_medians):
    """Under mu, beta ~ N(0, 100), tau ~ U(0, 10), p(tau | y) is (to 1e-7) the restricted likelihood,
    so its mode is the REML tau; beta | tau_REML is the GLS estimate with the REML SE, and the
    marginal posterior of beta differs from it only through the spread of tau, which centres
    nothing but widens (k = 60, measured: mode of tau 7e-6 relative from REML, medians within
    0.0013 SE, 95% intervals 2.8-3.0% wider than +-1.96 SE; asserted: 1e-4, 0.01 SE, 0-5% wider)."""
    rows = simulated_medians
    fit = meta_regression(rows, ["grade", "g3_share"], "LOGMEDIAN").fit
    eff, _ = study_effects(rows, "LOGMEDIAN")
    X, names, _ = design_matrix(rows, ["grade", "g3_share"])
    post = exact_posterior("median", eff.yi, np.sqrt(eff.vi), X[:, 1:], VAGUE, names[1:])
    lo, hi = post.tau.support()
    mode = optimize.minimize_scalar(lambda t: -post.tau.pdf(t)[0], bounds=(max(lo, 0.02), 1.0), method="bounded",
                                    options={"xatol": 1e-8}).x
    assert mode == pytest.approx(np.sqrt(fit.tau2), rel=1e-4)
    for j, name in enumerate(names):
        marginal = post.mu if j == 0 else post.beta[name]
        q_lo, med, q_hi = marginal.quantile(QUANTILES)
        assert abs(med - fit.b[j]) < 0.01 * fit.se[j], name
        assert 1.0 < (q_hi - q_lo) / (2 * 1.959964 * fit.se[j]) < 1.05, name


# the no-covariate engine ---------------------------------------------------------------------------------

def test_without_covariates_agrees_with_quadrature_normal_normal(dataset):
    kind, y, se, X, _, _ = model_inputs(dataset, "PFS")
    priors = resolve_priors(kind)
    old = quadrature.normal_normal(y, se, priors, seed=1)
    new = exact_posterior(kind, y, se, X, priors)
    np.testing.assert_allclose(new.mu.quantile(QUANTILES), old.mu_quantile(QUANTILES), atol=1e-3)
    np.testing.assert_allclose(new.tau.quantile(QUANTILES), old.tau_quantile(QUANTILES), rtol=2e-3)


def test_without_covariates_agrees_with_quadrature_binomial(dataset):
    """The old 80 x 80 grid is accurate to about 0.003 on the logit scale (docs/bayes.md)."""
    kind, y, n, X, _, _ = model_inputs(dataset, "ORR")
    priors = resolve_priors(kind)
    old = quadrature.binomial(y, n, priors, seed=1)
    new = exact_posterior(kind, y, n, X, priors)
    np.testing.assert_allclose(new.mu.quantile(QUANTILES), old.mu_quantile(QUANTILES), atol=5e-3)
    np.testing.assert_allclose(new.tau.quantile(QUANTILES), old.tau_quantile(QUANTILES), atol=5e-3)


# bayesmeta's worked example ------------------------------------------------------------------------------

# Rubin (1981) eight schools, as printed in the bayesmeta vignette "An introduction to meta-analysis
# using the bayesmeta package" (bayesmeta 3.4, https://cran.r-project.org/package=bayesmeta, file
# inst/doc/bayesmeta.html, object schools.example.1: mu ~ N(0, 50^2), tau ~ half-Cauchy(25)).
SCHOOLS_Y = [28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16]
SCHOOLS_SE = [14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6]
BAYESMETA_PRINTED = {  # quantity: (median, shortest 95% interval); theta = a new school's effect
    "tau": (4.758539, (0.0, 15.165894)), "mu": (7.962961, (-1.823353, 17.824562)),
    "theta": (7.926819, (-10.623526, 26.827377))}
BAYESMETA_MORE = {"tau_central": (0.2199559, 18.0531718), "tau_q95": 15.16589, "mu_q95": 16.11009,
                  "p_mu_positive": 0.9487521}


def test_no_covariate_log_median_engine_reproduces_bayesmeta_worked_example():
    """tau: bayesmeta integrates its marginal numerically and prints 7 digits; we match to 1e-6
    relative. mu and theta: bayesmeta approximates them by a discrete mixture over tau (DIRECT,
    Roever & Friede 2017, J Comput Graph Stat 26:217; divergence delta = 0.01, neglected mass
    epsilon = 1e-4), so its printed values are compared on the probability scale: our exact CDF at
    its median is 0.5, and its 95% interval holds 0.95, both within 2e-4 (measured: 0.5 - 5e-5,
    0.95005 for mu; 0.5 - 8e-5, 0.95016 for theta)."""
    post = exact_posterior("median", SCHOOLS_Y, SCHOOLS_SE, np.zeros((8, 0)),
                           {"mu": parse_prior("normal:0,50", "mu"), "tau": parse_prior("halfcauchy:25", "tau")})
    median, hdi = BAYESMETA_PRINTED["tau"]
    assert post.tau.quantile(0.5) == pytest.approx(median, rel=1e-6)
    np.testing.assert_allclose(post.tau.hdi(0.95), hdi, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(post.tau.interval(0.95), BAYESMETA_MORE["tau_central"], rtol=1e-6)
    assert post.tau.quantile(0.95) == pytest.approx(BAYESMETA_MORE["tau_q95"], rel=1e-6)
    for name, marginal in (("mu", post.mu), ("theta", post.predictive())):
        median, hdi = BAYESMETA_PRINTED[name]
        assert marginal.cdf(median)[0] == pytest.approx(0.5, abs=2e-4), name
        assert np.diff(marginal.cdf(hdi))[0] == pytest.approx(0.95, abs=2e-4), name
        assert np.ptp(marginal.hdi(0.95)) <= np.ptp(hdi), name  # ours is the shortest under our CDF
    assert post.mu.cdf(BAYESMETA_MORE["mu_q95"])[0] == pytest.approx(0.95, abs=2e-4)
    assert post.mu.prob_above(0.0) == pytest.approx(BAYESMETA_MORE["p_mu_positive"], abs=2e-4)


# bayesmeta's meta-regression, bmr() (tests/reference/bayesmeta_reference.R) ------------------------------

BMR = json.loads((Path(__file__).parent / "reference" / "bayesmeta_reference.json").read_text())


@pytest.mark.parametrize("case", sorted(BMR["cases"]))
def test_log_median_meta_regression_agrees_with_bayesmeta_bmr(dataset, case):
    """bmr integrates tau numerically: its quantiles match ours to 1e-7 relative (measured 3e-9).
    It approximates beta | y by a discrete mixture over tau (DIRECT, delta = 0.001, epsilon = 1e-6
    here), so coefficients, level values and new-study values are compared on the probability
    scale: our exact CDF at bmr's quantiles within 5e-5 of 2.5/50/97.5% (measured <= 1.1e-5)."""
    c = BMR["cases"][case]
    X = np.array(c["X"], float)
    if case == "pfs_grade":  # the same numbers as the embedded data give
        _, y, se, X_ours, _, _ = model_inputs(dataset, "PFS", "grade")
        np.testing.assert_allclose(c["y"], y, rtol=1e-13)
        np.testing.assert_allclose(c["se"], se, rtol=1e-13)
        np.testing.assert_array_equal(X[:, 1:], X_ours)
    (m0, b0), (s0, sb) = c["prior_mean"][:2], c["prior_sd"][:2]
    assert set(c["prior_mean"][1:]) == {b0} and set(c["prior_sd"][1:]) == {sb}
    priors = {"mu": parse_prior(f"normal:{m0},{s0}", "mu"), "beta": parse_prior(f"normal:{b0},{sb}", "beta"),
              "tau": parse_prior(f"halfnormal:{c['tau_scale']}", "tau")}
    post = exact_posterior("median", c["y"], c["se"], X[:, 1:], priors)
    p = np.array(BMR["meta"]["probabilities"])
    np.testing.assert_allclose(post.tau.quantile(p), c["tau"], rtol=1e-7)
    marginals = [post.linear(np.eye(X.shape[1])[j]) for j in range(X.shape[1])]
    checks = list(zip(marginals, c["beta"]))
    checks += [(post.linear(x), c["value"][name]) for name, x in c["levels"].items()]
    checks += [(post.predictive(c=x), c["new"][name]) for name, x in c["levels"].items()]
    for marginal, quantiles in checks:
        np.testing.assert_allclose(marginal.cdf(quantiles), p, atol=5e-5)


@pytest.mark.slow
def test_bayesmeta_script_reproduces_committed_json(tmp_path):
    """When R with bayesmeta is installed, the committed script reproduces the committed JSON."""
    import shutil
    import subprocess

    probe = shutil.which("Rscript") and subprocess.run(
        ["Rscript", "-e", "quit(status = !requireNamespace('bayesmeta', quietly = TRUE))"], capture_output=True)
    if not probe or probe.returncode:
        pytest.skip("R with bayesmeta is not installed")
    out = tmp_path / "ref.json"
    root = Path(__file__).resolve().parent.parent
    subprocess.run(["Rscript", "tests/reference/bayesmeta_reference.R", str(out)], cwd=root, check=True,
                   capture_output=True, timeout=900)
    assert json.loads(out.read_text())["cases"] == BMR["cases"]


# draws, derived quantities, errors -----------------------------------------------------------------------

def test_draws_are_seeded_and_follow_the_exact_marginals(dataset):
    kind, y, n, X, names, levels = model_inputs(dataset, "ORR", "grade")
    post = exact_posterior(kind, y, n, X, resolve_priors(kind), names, levels)
    a, b = (post.draws(20_000, np.random.default_rng(5)) for _ in range(2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    level = a["mu"] + a["beta"][:, 1]  # unknown grade
    for draws, marginal in ((a["mu"], post.mu), (a["tau"], post.tau), (level, post.level("unknown")),
                            (a["beta"][:, 0] - a["beta"][:, 1], post.contrast("G2-3", "unknown"))):
        for q in QUANTILES:  # 5 binomial SEs of the empirical CDF at the exact quantile
            assert abs((draws <= marginal.quantile(q)).mean() - q) < 5 * np.sqrt(q * (1 - q) / len(draws))


def test_outcome_scale_and_probabilities(dataset):
    kind, y, n, X, names, levels = model_inputs(dataset, "ORR", "grade")
    post = exact_posterior(kind, y, n, X, resolve_priors(kind), names, levels)
    level = post.level("G1-2")
    assert level.quantile(0.5, outcome=True) == pytest.approx(expit(level.quantile(0.5)))
    assert level.prob_above(level.quantile(0.8)) == pytest.approx(0.2, abs=1e-9)
    ab, ba = post.contrast("G1-2", "unknown"), post.contrast("unknown", "G1-2")
    np.testing.assert_allclose(ab.quantile(QUANTILES), -ba.quantile(QUANTILES[::-1]), atol=1e-9)
    np.testing.assert_allclose(ab.quantile(QUANTILES), post.beta["grade[unknown]"].quantile(QUANTILES[::-1]) * -1,
                               atol=1e-9)


def test_numeric_covariate_binomial(dataset):
    kind, y, n, X, names, levels = model_inputs(dataset, "ORR", "g3_share")
    post = exact_posterior(kind, y, n, X, resolve_priors(kind), names, levels)
    assert levels is None and list(post.beta) == ["g3_share"]
    assert post.at(0.0).quantile(0.5) == pytest.approx(post.mu.quantile(0.5), abs=1e-9)
    draws = post.draws(20_000, np.random.default_rng(1))
    at = draws["mu"] + 0.35 * draws["beta"][:, 0]
    q = post.at(0.35).quantile(0.5)
    assert abs((at <= q).mean() - 0.5) < 5 * np.sqrt(0.25 / len(at))


def test_unsupported_models_are_one_line_errors():
    y, n = np.array([3, 5, 7]), np.array([20, 20, 20])
    priors = resolve_priors("binary")
    with pytest.raises(AnalysisError, match="normal prior on mu"):
        exact_posterior("binary", y, n, np.zeros((3, 0)), {**priors, "mu": parse_prior("uniform:-5,5", "mu")})
    with pytest.raises(AnalysisError, match="one categorical or one numeric"):
        exact_posterior("binary", y, n, np.eye(3)[:, :2] + 0.5, priors, ["a", "b"])
    with pytest.raises(AnalysisError, match="treatment dummies"):
        exact_posterior("binary", y, n, np.array([[0.5], [1.0], [0.0]]), priors, ["x"], levels=["A", "B"])
    with pytest.raises(AnalysisError, match="0 <= events <= n"):
        exact_posterior("binary", np.array([3, 25, 7]), n, np.zeros((3, 0)), priors)


# slow: long MCMC and simulation-based calibration ---------------------------------------------------------

def mcmc_quantities(post, idata, rng) -> dict[str, np.ndarray]:
    """The (chain, draw) arrays of the quantities ``post.quantities()`` reports, from MCMC draws."""
    mu, tau = idata.posterior["mu"].to_numpy(), idata.posterior["tau"].to_numpy()
    beta = idata.posterior["beta"].to_numpy() if post.p else np.zeros(mu.shape + (0,))
    out = {"mu": mu, "tau": tau, **{f"beta:{name}": beta[..., j] for j, name in enumerate(post.coef_names)}}
    if post.levels is not None:
        value = {name: mu + (beta[..., j - 1] if j else 0) for j, name in enumerate(post.levels)}
        out |= {f"level:{name}": v for name, v in value.items()}
        out |= {f"contrast:{a}-{b}": value[a] - value[b] for a, b in itertools.combinations(post.levels, 2)}
        out |= {f"new:{name}": v + tau * rng.standard_normal(tau.shape) for name, v in value.items()}
    elif post.p == 0:
        out["new"] = mu + tau * rng.standard_normal(tau.shape)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("outcome,covariate", [("ORR", "grade"), ("DCR", "site"), ("PFS", "grade"),
                                               ("ORR", "g3_share")])
def test_long_mcmc_agrees_within_three_mcse(dataset, outcome, covariate):
    import arviz as az

    from bayes_prrt.bayes.models import ModelData
    from bayes_prrt.bayes.sampling import Settings, sample

    kind, y, scale, X, names, levels = model_inputs(dataset, outcome, covariate)
    priors = resolve_priors(kind)
    post = exact_posterior(kind, y, scale, X, priors, names, levels)
    idata, diag = sample(ModelData(kind, y, scale, X, priors, coef_names=names),
                         Settings(draws=5000, tune=1000, chains=4, seed=2026))
    assert diag.converged, diag.problems()
    exact = post.quantities()
    for name, draws in mcmc_quantities(post, idata, np.random.default_rng(3)).items():
        data = az.convert_to_dataset({"x": draws})
        for q in QUANTILES:
            mcse = float(az.mcse(data, method="quantile", prob=q)["x"])
            assert abs(np.quantile(draws, q) - exact[name].quantile(q)) < 3 * mcse, (name, q)


@pytest.mark.slow
@pytest.mark.parametrize("kind,numeric,replicates", [("binary", False, 200), ("binary", True, 60),
                                                     ("median", True, 200)])
def test_simulation_based_calibration(kind, numeric, replicates):
    """Cook, Gelman & Rubin (2006, J Comput Graph Stat 15:675): with (mu, beta, tau) drawn from the
    prior and data from the model, the posterior CDF at the true value is U(0, 1) (the exact CDF
    replaces the rank among draws of Talts et al. 2018). KS test, must not reject at 0.1%."""
    rng = np.random.default_rng(77)
    priors = resolve_priors(kind)
    k = 9
    x = rng.uniform(0, 1, k) if numeric else np.arange(k) % 3
    X = x[:, None] if numeric else np.eye(3)[x][:, 1:]
    names, levels = (["x"], None) if numeric else (["b1", "b2"], ["L0", "L1", "L2"])
    scale = rng.integers(20, 200, k).astype(float) if kind == "binary" else rng.uniform(0.1, 0.4, k)
    pit = {"mu": [], "tau": [], "beta": []}
    for _ in range(replicates):
        mu, tau = priors["mu"].rvs(rng, None), priors["tau"].rvs(rng, None)
        beta = priors["beta"].rvs(rng, X.shape[1])
        eta = mu + X @ beta + tau * rng.standard_normal(k)
        y = rng.binomial(scale.astype(int), expit(eta)) if kind == "binary" else eta + scale * rng.standard_normal(k)
        post = exact_posterior(kind, y, scale, X, priors, names, levels)
        for name, marginal, true in (("mu", post.mu, mu), ("tau", post.tau, tau),
                                     ("beta", post.beta[names[0]], beta[0])):
            pit[name].append(float(marginal.cdf(true)[0]))
    for name, values in pit.items():
        assert stats.kstest(values, "uniform").pvalue > 1e-3, name


# ------------------------------------------------ categorical rule: factored level tables, dense where needed

@pytest.mark.parametrize("outcome, by, likelihood", [("DCR", "site", "normal"), ("ORR", "grade", "normal"),
                                                      ("PFS", "site", "split")])
def test_factored_level_tables_give_the_dense_tables_answers(dataset, monkeypatch, outcome, by, likelihood):
    """q = L P / C kept as factors (matrix products) against the 3-D table of the same rule: every reported
    quantile, each contrast's probability, the error bound and the draws, to round-off."""
    from bayes_prrt.bayes import exact
    from bayes_prrt.bayes.fit import bayes_pool

    def answers():
        post = bayes_pool(dataset.select(outcome), by=by, engine="quadrature", median_likelihood=likelihood).exact
        assert {type(t).__name__ for t in post._engine.q[1:]} == {kind}
        marginals = post.quantities()
        return ({name: m.quantile(QUANTILES) for name, m in marginals.items()},
                {name: m.prob_above(0.0) for name, m in marginals.items() if name.startswith("contrast")},
                post.error_bound, post.draws(500, np.random.default_rng(2)))

    kind = "_Factored"
    factored = answers()
    monkeypatch.setattr(exact._Factored, "make", classmethod(lambda cls, logL, logprior: (None, None)))
    kind = "_Dense"
    dense = answers()
    for name, q in dense[0].items():
        np.testing.assert_allclose(factored[0][name], q, rtol=1e-12, err_msg=name)
    for name, p in dense[1].items():
        assert factored[1][name] == pytest.approx(p, abs=1e-13)
    assert factored[2] == pytest.approx(dense[2], rel=1e-9)
    for name, d in dense[3].items():
        np.testing.assert_allclose(factored[3][name], d, rtol=1e-12, atol=1e-14)


def test_factored_tables_give_way_where_underflow_could_matter():
    """A cell whose normaliser C underflowed (likelihood and prior 800 nats apart) is left out only when even
    every lost term could not bring it within 2 x DROP of the largest cell; else the dense tables are used."""
    from bayes_prrt.bayes.exact import DROP, _Dense, _Factored

    logL = np.array([[0.0, -800.0]])  # one tau row, two a cells
    logprior = np.array([[-800.0, 0.0], [0.0, 0.0]])  # mu 0: its prior where the likelihood is not; mu 1: both
    table, logC = _Factored.make(logL, logprior)
    assert table.kept.tolist() == [[False, True]] and logC[0, 0] == -np.inf
    assert _Factored.hold(np.array([[0.0, -100.0]]), [table], [logC])  # the left-out cell: at most -707, kept -100
    assert not _Factored.hold(np.array([[0.0, -708.0 + DROP]]), [table], [logC])  # within 2 x DROP: dense
    dense, exact_logC = _Dense.make(logL, logprior)
    assert exact_logC[0, 0] == pytest.approx(-800 + np.log(2)) and exact_logC[0, 1] == pytest.approx(0.0)
    np.testing.assert_allclose(dense.at(np.array([0]), np.array([0])), [[0.5, 0.5]])  # what the factors lose
    one_row, c = _Factored.make(logL, logprior[:1])
    assert not _Factored.hold(np.array([[0.0]]), [one_row], [c])  # nothing kept at all


def test_a_later_level_can_make_a_left_out_cell_matter():
    """Level 1 leaves out mu cell 0 (C about e^-649, below SAFE), negligible beside cell 1 by its own terms;
    level 2 then pushes cell 1 down by 600 nats, so cell 0 carries the mass. Checked on the whole joint, the
    factors give way; checked level by level they would not."""
    from bayes_prrt.bayes.exact import DROP, _Factored

    first = _Factored.make(np.array([[0.0, -650.0]]), np.array([[-650.0, 0.0], [0.0, 0.0]]))
    second = _Factored.make(np.array([[0.0, -600.0]]), np.array([[0.0, -800.0], [-800.0, 0.0]]))
    base = np.array([[100.0, 0.0]])
    assert first[0].kept.tolist() == [[False, True]] and second[0].kept.all()
    assert _Factored.hold(base, [first[0]], [first[1]])  # level 1 alone: cell 0 at most -549, cell 1 at 0
    assert not _Factored.hold(base, [first[0], second[0]], [first[1], second[1]])  # cell 1 now at -600
    assert np.max(base + first[0].upper(first[1]) + second[1]) > -600 + 2 * DROP  # cell 0's bound: -549
