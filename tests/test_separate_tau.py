"""The separate-tau Bayesian subgroup model (bayes/separate.py): a mean and a tau per level, exact."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import integrate, stats

import bayes_prrt
from bayes_prrt import AnalysisError
from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.cli import main
from bayes_prrt.priors import parse_prior

Q = stats.norm.ppf(0.975)


def _medians(values, level):
    """Log-median rows (median, 95% CI) with the study's level; SE = (log U - log L) / (2 x 1.96)."""
    return pd.DataFrame([{"study": f"{level}{i}", "outcome": "PFS", "kind": "median", "median": m, "ci_low": lo,
                          "ci_high": hi, "n": np.nan, "events": pd.NA, "grade": level}
                         for i, (m, lo, hi) in enumerate(values)])


ROWS = pd.concat([_medians([(20, 15, 27), (30, 22, 41), (25, 18, 35)], "A"),
                  _medians([(14, 10, 19.6), (18, 12, 27)], "B")], ignore_index=True)


def _yse(rows):
    return np.log(rows["median"].to_numpy()), np.log(rows["ci_high"] / rows["ci_low"]).to_numpy() / (2 * 1.96)


def test_levels_are_the_per_level_exact_fits():
    """Each level's value, tau and new-study interval are those of the model without covariates on its studies."""
    fit = bayes_pool(ROWS, by="grade", separate_tau=True)
    for level in ("A", "B"):
        alone = bayes_pool(ROWS[ROWS["grade"] == level], engine="quadrature")
        s = fit.levels[level]
        for key in ("median", "ci_low", "ci_high"):
            assert s[key] == pytest.approx(alone.pooled[key], rel=1e-10)
            assert s["tau"][key] == pytest.approx(alone.tau[key], rel=1e-10)
            assert s["pi"][key] == pytest.approx(alone.predictive[key], rel=1e-10)


def test_contrast_probability_against_the_fixed_tau_closed_form():
    """tau held at 0.2 in each level: mu_j | y ~ N(m_j, 1/P_j), so P(mu_A > mu_B) = Phi((m_A - m_B)/sqrt(1/P_A + 1/P_B))."""
    priors = {"tau": "uniform:0.2,0.2001"}
    fit = bayes_pool(ROWS, by="grade", separate_tau=True, priors=priors)
    mu0, s0 = parse_prior("normal:3,1.5", "mu").params
    moments = []
    for level in ("A", "B"):
        y, se = _yse(ROWS[ROWS["grade"] == level])
        w = 1 / (se**2 + 0.20005**2)
        prec = 1 / s0**2 + w.sum()
        moments.append(((mu0 / s0**2 + w @ y) / prec, 1 / prec))
    (ma, va), (mb, vb) = moments
    assert fit.contrasts["A - B"]["p_gt_0"] == pytest.approx(stats.norm.cdf((ma - mb) / np.sqrt(va + vb)), abs=1e-6)
    assert fit.prob("B > A")["probability"] == pytest.approx(stats.norm.cdf((mb - ma) / np.sqrt(va + vb)), abs=1e-6)
    assert fit.levels["B"]["ci_high"] == pytest.approx(np.exp(mb + Q * np.sqrt(vb)), rel=1e-6)


def test_contrast_probability_against_brute_force_integration():
    """Half-normal tau per level: each level's posterior density of mu on a fine grid by quadrature over tau,
    then P(mu_A > mu_B) = int f_A(x) F_B(x) dx; the one-study level B has its tau from its prior alone."""
    rows = pd.concat([ROWS[ROWS["grade"] == "A"], ROWS[ROWS["grade"] == "B"].iloc[:1]], ignore_index=True)
    fit = bayes_pool(rows, by="grade", separate_tau=True)
    mu0, s0 = parse_prior("normal:3,1.5", "mu").params
    tau_pdf = lambda t: stats.halfnorm.pdf(t, scale=0.5)  # noqa: E731
    x = np.linspace(-3.0, 9.0, 8001)

    def density(y, se):
        def at(t):
            v = se**2 + t**2
            likelihood = np.prod(stats.norm.pdf(y[:, None], x[None], np.sqrt(v)[:, None]), 0)
            return tau_pdf(t) * stats.norm.pdf(x, mu0, s0) * likelihood

        f = integrate.quad_vec(at, 0, 6.0, epsabs=0, epsrel=1e-10)[0]
        return f / integrate.trapezoid(f, x)

    fa, fb = (density(*_yse(rows[rows["grade"] == g])) for g in ("A", "B"))
    Fb = integrate.cumulative_trapezoid(fb, x, initial=0)
    assert fit.contrasts["A - B"]["p_gt_0"] == pytest.approx(integrate.trapezoid(fa * Fb, x), abs=1e-6)
    assert any(n.startswith("grade = B has one study (B0): its tau is informed by its prior") for n in fit.notes)


def test_refusals_and_answers():
    with pytest.raises(AnalysisError, match="needs a subgroup covariate"):
        bayes_pool(ROWS, separate_tau=True)
    with pytest.raises(AnalysisError, match="1 level"):
        bayes_pool(ROWS[ROWS["grade"] == "A"], by="grade", separate_tau=True)
    fit = bayes_pool(ROWS, by="grade", separate_tau=True)
    with pytest.raises(AnalysisError, match="no pooled value"):
        fit.prob("> 20")
    answer = fit.prob("A > 20")
    assert answer["method"] == "exact" and answer["comparison"] == "between-study"
    assert answer["probability"] == pytest.approx(fit.exact["A"].mu.prob_above(np.log(20)), abs=1e-12)
    assert fit.to_dict()["tau_model"] == "separate" and "Contrasts" in str(fit)


def test_cli_and_api_on_orr_by_grade():
    """``pool --separate-tau`` and ``prob --separate-tau`` print the fit of ``bayes_prrt.pool(..., separate_tau=True)``."""
    data = bayes_prrt.load_dataset()
    fit = bayes_prrt.pool(data, "ORR", "bayes", by="grade", separate_tau=True)
    result = CliRunner().invoke(main, ["prob", "--outcome", "ORR", "--by", "grade", "--separate-tau", "--json",
                                       "G1-2 > G2-3"])
    assert result.exit_code == 0, result.output
    assert f'"probability": {fit.prob("G1-2 > G2-3")["probability"]!r}' in result.output
    result = CliRunner().invoke(main, ["pool", "--method", "bayes", "--outcome", "ORR", "--by", "grade",
                                       "--separate-tau"])
    assert result.exit_code == 0 and "a separate tau per level" in result.output
    assert "grade = G2-3 has one study (singh2024)" in result.output
    result = CliRunner().invoke(main, ["pool", "--method", "bayes", "--outcome", "ORR", "--by", "grade",
                                       "--separate-tau", "--idata", "x.nc"])
    assert result.exit_code == 2 and "not saved" in result.output
