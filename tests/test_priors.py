"""Prior-spec parsing, and the scipy and PyMC views of each prior agree."""

import numpy as np
import pytest
from scipy import integrate

from bayes_prrt.priors import Prior, PriorError, parse_prior

GOOD = [("normal:0,2", "mu"), ("uniform:-5,5", "beta"), ("halfnormal:0.5", "tau"), ("halfcauchy:1", "tau"),
        ("halfstudentt:3,0.5", "tau"), ("exponential:1", "tau"), ("uniform:0,4", "tau"),
        ("lognormal:-2.56,1.74", "tau")]


@pytest.mark.parametrize("text,parameter", GOOD)
def test_parse_round_trip(text, parameter):
    prior = parse_prior(text, parameter)
    assert parse_prior(str(prior), parameter) == prior


@pytest.mark.parametrize("text,parameter", GOOD)
def test_density_integrates_to_one(text, parameter):
    prior = parse_prior(text, parameter)
    lo = -np.inf if parameter != "tau" else 0.0
    if prior.family == "uniform":
        lo, hi = prior.params
    else:
        hi = np.inf
    total = sum(integrate.quad(lambda x: np.exp(prior.logpdf(x)), a, b, limit=200)[0]
                for a, b in ((lo, 0.0 if lo < 0 else 1e-3), (0.0 if lo < 0 else 1e-3, hi)) if b > a)
    assert total == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("text,parameter", GOOD)
def test_pymc_logp_matches_scipy(text, parameter):
    import pymc as pm

    prior = parse_prior(text, parameter)
    with pm.Model() as model:
        prior.to_pymc("theta")
    point = 0.7 if prior.family != "uniform" or parameter == "tau" else 1.3
    free = model.free_RVs[0]
    value = point**2 if prior.family == "lognormal" else point
    logp = float(pm.logp(free, value).eval())
    expected = prior.logpdf(point)
    if prior.family == "lognormal":  # PyMC's density is on tau^2: p(tau^2) = p(tau) / (2 tau)
        expected = expected - np.log(2 * point)
    # pytensor's gammaln (HalfStudentT) agrees with scipy to ~3e-8; a wrong parameterisation is off by >1e-2
    assert logp == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("text,parameter,words", [
    ("normal", "mu", "not understood"),
    ("gamma:1,1", "tau", "not understood"),
    ("halfnormal:0.5", "mu", "not allowed here"),
    ("normal:0", "mu", "takes 2"),
    ("normal:0,x", "mu", "must be numbers"),
    ("normal:0,-1", "mu", "S must be greater than 0"),
    ("uniform:2,1", "tau", "A < B"),
    ("uniform:-1,1", "tau", "A >= 0"),
    ("normal:0,1", "sigma", "unknown parameter"),
])
def test_bad_priors(text, parameter, words):
    with pytest.raises(PriorError, match=words) as info:
        parse_prior(text, parameter)
    assert "\n" not in str(info.value)


def test_str():
    assert str(Prior("halfstudentt", (3.0, 0.5))) == "halfstudentt:3,0.5"
