"""The split-normal likelihood of a median (``median_likelihood.py``) against direct numerical integration."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from bayes_prrt import median_likelihood as ml

CASES = [  # y, s_lo, s_hi, eta, tau
    (3.0, 0.10, 0.20, 3.1, 0.3), (3.0, 0.10, 0.20, 2.2, 0.05), (3.0, 0.25, 0.08, 3.9, 0.5),
    (2.5, 0.05, 0.40, 2.5, 1.0), (3.1, 0.15, np.inf, 2.6, 0.2), (3.1, 0.15, np.inf, 3.8, 0.4),
    (3.1, 0.15, np.inf, 3.1, 0.01), (1.0, 0.30, 0.30, 0.2, 0.7), (4.0, 0.02, 0.5, 3.0, 0.1),
]


def split_kernel(theta, y, s_lo, s_hi):
    """L(theta) written from its definition (module docstring)."""
    c = 1 / (math.sqrt(2 * math.pi) * s_lo) if math.isinf(s_hi) else 2 / (math.sqrt(2 * math.pi) * (s_lo + s_hi))
    s = s_lo if theta < y else s_hi
    return c * (1.0 if math.isinf(s) else math.exp(-(y - theta) ** 2 / (2 * s**2)))


def normal_pdf(t, eta, tau):
    return math.exp(-((t - eta) / tau) ** 2 / 2) / (math.sqrt(2 * math.pi) * tau)


def quad_marginal(y, s_lo, s_hi, eta, tau, rel=1e-12):
    y, s_lo, s_hi, eta, tau = (float(v) for v in (y, s_lo, s_hi, eta, tau))
    f = lambda t: split_kernel(t, y, s_lo, s_hi) * normal_pdf(t, eta, tau)  # noqa: E731
    return integrate.quad(f, -np.inf, y, epsabs=0, epsrel=rel)[0] + integrate.quad(f, y, np.inf, epsabs=0,
                                                                                    epsrel=rel)[0]


@pytest.mark.parametrize("y,s_lo,s_hi,eta,tau", CASES)
def test_marginal_matches_quadrature(y, s_lo, s_hi, eta, tau):
    assert np.exp(ml.log_marginal(y, s_lo, s_hi, eta, tau)) == pytest.approx(quad_marginal(y, s_lo, s_hi, eta, tau),
                                                                            rel=1e-9)


@pytest.mark.parametrize("y,s_lo,s_hi,eta", [(3.0, 0.1, 0.2, 3.05), (3.0, 0.1, 0.2, 2.8), (3.1, 0.15, np.inf, 3.5),
                                             (3.1, 0.15, np.inf, 2.9), (3.0, 0.1, 0.2, 3.0)])
def test_tau_to_zero_is_the_likelihood_itself(y, s_lo, s_hi, eta):
    at_zero = ml.log_marginal(y, s_lo, s_hi, eta, 0.0)
    assert np.exp(at_zero) == pytest.approx(split_kernel(eta, y, s_lo, s_hi), rel=1e-12)
    assert ml.log_marginal(y, s_lo, s_hi, eta, 1e-7) == pytest.approx(at_zero, abs=1e-5)


def test_equal_halves_give_the_normal_marginal():
    rng = np.random.default_rng(1)
    y, s, eta, tau = rng.normal(3, 0.5, 50), rng.uniform(0.02, 0.5, 50), rng.normal(3, 0.5, 50), rng.uniform(0, 1, 50)
    np.testing.assert_allclose(ml.log_marginal(y, s, s, eta, tau), stats.norm.logpdf(y, eta, np.sqrt(s**2 + tau**2)),
                               rtol=1e-13, atol=1e-13)


def test_loglik_grid_sums_studies():
    y, lo, hi = np.array([3.0, 3.2]), np.array([0.1, 0.2]), np.array([0.3, np.inf])
    mu, tau = np.meshgrid([2.9, 3.1], [0.0, 0.4])
    expected = sum(ml.log_marginal(y[i], lo[i], hi[i], mu, tau) for i in range(2))
    np.testing.assert_allclose(ml.loglik_grid(y, lo, hi, mu, tau), expected, rtol=1e-14)


@pytest.mark.parametrize("y,s_lo,s_hi,eta,tau", [CASES[0], CASES[2], CASES[4], CASES[5], CASES[8]])
def test_study_effect_draws_follow_the_conditional_posterior(y, s_lo, s_hi, eta, tau):
    """Kolmogorov-Smirnov against the conditional CDF from numerical integration of L(theta) N(theta; eta, tau^2)."""
    rng = np.random.default_rng(7)
    draws = ml.study_effect_draws([y], [s_lo], [s_hi], np.full((20000, 1), eta), np.full(20000, tau), rng)[:, 0]
    total = quad_marginal(y, s_lo, s_hi, eta, tau)

    def cdf(t):
        f = lambda u: split_kernel(u, y, s_lo, s_hi) * normal_pdf(u, eta, tau)  # noqa: E731
        below = integrate.quad(f, -np.inf, min(t, y))[0]
        return (below + (integrate.quad(f, y, t)[0] if t > y else 0.0)) / total

    grid = np.quantile(draws, np.linspace(0.01, 0.99, 41))
    ecdf = np.searchsorted(np.sort(draws), grid, side="right") / draws.size
    assert np.max(np.abs(ecdf - [cdf(t) for t in grid])) < 1.63 / np.sqrt(draws.size)  # KS 1% critical value


def test_study_effect_draws_far_in_the_tail():
    """eta far above a two-sided study: the lower piece's truncation point is ~ -20 SD; no NaN, all below y there."""
    rng = np.random.default_rng(3)
    draws = ml.study_effect_draws([0.0], [0.01], [0.01], np.full((1000, 1), 5.0), np.full(1000, 0.2), rng)
    assert np.isfinite(draws).all() and abs(np.mean(draws) - 5.0 * 0.01**2 / (0.01**2 + 0.04)) < 0.01


def test_zero_tau_draws_are_eta():
    draws = ml.study_effect_draws([3.0], [0.1], [np.inf], np.full((5, 1), 2.5), np.zeros(5), np.random.default_rng(0))
    np.testing.assert_array_equal(draws, 2.5)


# ---------------------------------------------------------------- frequentist ML (freq/split.py)
from scipy import optimize  # noqa: E402

from bayes_prrt.effects import study_effects  # noqa: E402
from bayes_prrt.freq.pool import pool  # noqa: E402
from bayes_prrt.freq.rma import rma  # noqa: E402
from bayes_prrt.freq.split import split_ml  # noqa: E402


def quad_loglik(mu, tau, y, lo, hi):
    return sum(np.log(quad_marginal(y[i], lo[i], hi[i], mu, tau, 1e-11)) for i in range(len(y)))


@pytest.mark.parametrize("outcome,values", [("PFS", "published"), ("PFS", "living"), ("OS", "living")])
def test_split_ml_matches_numerical_maximisation(dataset, outcome, values):
    """The ML estimate and SE against Nelder-Mead on the likelihood integrated by quad, and its curvature in mu."""
    eff, _ = study_effects(dataset.select(outcome, values), "LOGMEDIAN")
    y, (lo, hi) = eff.yi, eff.halves
    fit = split_ml(y, lo, hi)
    start = [fit.mu + 0.05, np.sqrt(fit.tau2) + 0.05]  # near, not at, the answer: Nelder-Mead has to find it
    res = optimize.minimize(lambda p: -quad_loglik(p[0], abs(p[1]), y, lo, hi), start,
                            method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 4000})
    assert fit.mu == pytest.approx(res.x[0], abs=1e-6)
    assert np.sqrt(fit.tau2) == pytest.approx(abs(res.x[1]), abs=1e-5)
    assert fit.loglik == pytest.approx(-res.fun, abs=1e-9)
    h, tau = 1e-3, np.sqrt(fit.tau2)
    curvature = -(quad_loglik(fit.mu + h, tau, y, lo, hi) - 2 * quad_loglik(fit.mu, tau, y, lo, hi)
                  + quad_loglik(fit.mu - h, tau, y, lo, hi)) / h**2
    assert fit.se == pytest.approx(curvature**-0.5, rel=1e-4)


def test_split_ml_with_symmetric_cis_is_the_normal_ml(dataset):
    """Equal halves: the normal model, so the ML fit of ``rma`` (checked against metafor) to its tolerance."""
    eff, _ = study_effects(dataset.select("PFS", "living"), "LOGMEDIAN")
    se = np.sqrt(eff.vi)
    fit, ref = split_ml(eff.yi, se, se), rma(eff.yi, eff.vi, method="ML")
    assert fit.mu == pytest.approx(ref.estimate, abs=1e-8) and fit.tau2 == pytest.approx(ref.tau2, abs=1e-8)
    assert fit.se == pytest.approx(ref.se[0], rel=1e-6)
    np.testing.assert_allclose(fit.weights, ref.weights, rtol=1e-5)


def test_split_pool_records_its_rules(dataset):
    p = pool(dataset.select("PFS", "published"), "LOGMEDIAN", "DL", median_likelihood="split")
    assert p.tau2_method == "ML" and p.median_likelihood == "split" and p.median_se == "ci"
    assert p.rules["singh2024"] == "lower bound only, censored (flat above the median)"
    assert p.rules["minczeles2022"] == "95% CI, split normal (an SE per half)"
    assert any("DL is an estimator of the normal model" in n for n in p.notes)
    assert p.to_dict()["median_likelihood"] == "split"
    normal = pool(dataset.select("PFS", "published"), "LOGMEDIAN", "DL")
    assert normal.median_likelihood == "normal" and normal.rules["singh2024"] == "lower bound only, its half mirrored"


def test_split_fixed_tau_and_one_sided_only():
    fit = split_ml([3.0, 3.2], [0.1, 0.1], [0.2, np.inf], fixed_tau=0.0)
    assert fit.tau2 == 0.0
    with pytest.raises(Exception, match="lower CI bound only"):
        split_ml([3.0, 3.2], [0.1, 0.1], [np.inf, np.inf])


# ---------------------------------------------------------------- Bayesian engines (bayes/)
from bayes_prrt.bayes.fit import bayes_pool, model_data  # noqa: E402
from bayes_prrt.bayes.models import hierarchical_model, log_likelihood  # noqa: E402
from bayes_prrt.priors import resolve_priors  # noqa: E402


def _pfs(dataset):
    return model_data(dataset.select("PFS", "published"), resolve_priors("median"), median_likelihood="split")[0]


def test_pymc_potential_is_the_closed_form(dataset):
    """The model's split-marginal Op (padded to 16 studies: weight 0) against NumPy."""
    data = _pfs(dataset)
    model = hierarchical_model(data, K=16, P=0)
    potential = model.compile_fn(model.logp(vars=model.potentials, sum=True), inputs=model.value_vars,
                                 on_unused_input="ignore")
    for mu, tau in ((3.0, 0.3), (2.5, 0.05), (3.6, 1.2)):
        expected = log_likelihood(data, np.full((1, data.k), mu), np.array([tau])).sum()
        got = potential({"mu": mu, "tau_log__": np.log(tau)})
        assert got == pytest.approx(expected, rel=1e-12)


def test_exact_split_posterior_matches_a_brute_force_grid(dataset):
    """Posterior quantiles of mu (months) and tau against a 700 x 700 trapezoid grid of prior x closed-form
    likelihood over a box far wider than the posterior."""
    data = _pfs(dataset)
    fit = bayes_pool(dataset.select("PFS", "published"), engine="quadrature", median_likelihood="split")
    mu, tau = np.linspace(1.5, 6.5, 700), np.linspace(0.0, 3.5, 700)
    M, T = np.meshgrid(mu, tau, indexing="ij")
    lp = ml.loglik_grid(data.y, data.scale, data.scale_hi, M, T) + data.priors["mu"].logpdf(M) \
        + data.priors["tau"].logpdf(T)
    post = np.exp(lp - lp.max())

    def quantiles(density, x):
        cdf = integrate.cumulative_trapezoid(density, x, initial=0.0)
        return np.interp([0.025, 0.5, 0.975], cdf / cdf[-1], x)

    np.testing.assert_allclose(fit.exact.mu.quantile([0.025, 0.5, 0.975], outcome=True),
                               np.exp(quantiles(integrate.trapezoid(post, tau, axis=1), mu)), rtol=2e-3)
    np.testing.assert_allclose(fit.exact.tau.quantile([0.025, 0.5, 0.975]),
                               quantiles(integrate.trapezoid(post, mu, axis=0), tau), rtol=5e-3)
    assert fit.exact.error_bound < 1e-4
    assert fit.to_dict()["median_likelihood"] == "split"
    rule = fit.studies.set_index("study").loc["singh2024", "rule"]
    assert rule == "lower bound only, censored (flat above the median)"


@pytest.mark.slow
def test_exact_split_posterior_matches_long_mcmc(dataset):
    """The PyMC model with the split Potential (nutpie, 4 x 10000 draws) against the exact engine, PFS."""
    from bayes_prrt.bayes.sampling import Settings

    rows = dataset.select("PFS", "published")
    exact = bayes_pool(rows, engine="quadrature", median_likelihood="split")
    mcmc = bayes_pool(rows, engine="mcmc", median_likelihood="split", settings=Settings(draws=10000, tune=2000))
    assert mcmc.converged
    for name in ("mu", "tau"):
        draws = mcmc.idata.posterior[name].to_numpy().ravel()
        marginal = exact.exact.mu if name == "mu" else exact.exact.tau
        q = np.quantile(draws, [0.025, 0.5, 0.975])
        np.testing.assert_allclose(q, marginal.quantile([0.025, 0.5, 0.975]), rtol=0.03, atol=0.01)


# ---------------------------------------------------------------- spec keys and the rule scenarios
from bayes_prrt.analysis.spec import SpecError, read_spec  # noqa: E402
from bayes_prrt.bayes.memo import FitMemo  # noqa: E402
from bayes_prrt.bayes.sampling import DEFAULT_SETTINGS  # noqa: E402
from bayes_prrt.sensitivity.analysis import outcome_sensitivity, prior_grid  # noqa: E402


def test_default_spec_rules():
    spec = read_spec()
    assert (spec.median_likelihood, spec.median_se) == ("split", "ci")
    assert {"symmetric_ci", "se_from_n"} <= set(spec.sensitivity["scenarios"])


@pytest.mark.parametrize("table,key,problem", [
    ('median_likelihood = "skewed"', "medians.median_likelihood", "'skewed' is not one of split, normal"),
    ('median_se = "n"', "medians.median_se", "'n' is not one of ci, ci+n"),
    ('likelihood = "split"', "medians.likelihood", "unknown key"),
])
def test_spec_median_keys_are_checked(tmp_path, table, key, problem):
    path = tmp_path / "spec.toml"
    path.write_text(f'[analysis]\noutcomes = ["PFS"]\n[medians]\n{table}\n')
    with pytest.raises(SpecError) as err:
        read_spec(path)
    assert str(err.value).startswith(f"{path}, key '{key}': ") and problem in str(err.value)


def test_spec_median_keys_are_read(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('[analysis]\noutcomes = ["PFS"]\n[medians]\nmedian_likelihood = "normal"\nmedian_se = "ci+n"\n')
    spec = read_spec(path)
    assert (spec.median_likelihood, spec.median_se) == ("normal", "ci+n")


def test_rule_scenarios_refit_medians_with_their_rules(dataset):
    """symmetric_ci is the normal-likelihood fit of the published rows, se_from_n the split fit with ci+n; for a
    proportion both are the published fit itself (the memo reuses it)."""
    memo = FitMemo(DEFAULT_SETTINGS, median_likelihood="split")
    grid = prior_grid("median", ["halfnormal:0.5"], [])
    res = outcome_sensitivity(dataset, "PFS", [], grid, ["published", "symmetric_ci", "se_from_n"], (0.05, 0.95),
                              memo=memo, mcmc=False)
    rows = {r["scenario"]: r for r in res.scenarios}
    published = dataset.select("PFS", "published")
    expected = {"published": bayes_pool(published, engine="quadrature", median_likelihood="split"),
                "symmetric_ci": bayes_pool(published, engine="quadrature", median_likelihood="normal"),
                "se_from_n": bayes_pool(published, engine="quadrature", median_likelihood="split", median_se="ci+n")}
    for name, fit in expected.items():
        assert rows[name]["estimate"] == pytest.approx(fit.pooled["median"], rel=1e-12) and rows[name]["k"] == fit.k
    assert rows["se_from_n"]["k"] == 6 and rows["symmetric_ci"]["estimate"] != rows["published"]["estimate"]
    hits = memo.hits
    dcr = outcome_sensitivity(dataset, "DCR", [], prior_grid("binary", ["halfnormal:1"], []),
                              ["published", "symmetric_ci"], (0.05, 0.95), memo=memo, mcmc=False)
    assert dcr.scenarios[0]["estimate"] == dcr.scenarios[1]["estimate"] and memo.hits > hits
