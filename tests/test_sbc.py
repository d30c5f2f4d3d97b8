"""Simulation-based calibration of the binomial model (Talts et al. 2018, arXiv:1804.06788).

For each replicate: draw (mu, tau) from the prior, simulate 8 studies, fit by MCMC, and
record the rank of the true value among thinned posterior draws. Ranks of a calibrated
sampler are uniform; a chi-square test over 10 bins must not reject at the 0.1% level.
Slow (several minutes): run with `make test-slow`.
"""

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from bayes_prrt.bayes.models import ModelData
from bayes_prrt.bayes.sampling import Settings, sample
from bayes_prrt.priors import resolve_priors

REPLICATES, THIN_TO, BINS = 100, 99, 10


@pytest.mark.slow
def test_binomial_model_ranks_are_uniform():
    rng = np.random.default_rng(2026)
    priors = resolve_priors("binary")
    settings = Settings(draws=500, tune=500, chains=2, seed=0)
    ranks = {"mu": [], "tau": []}
    n = rng.integers(20, 200, size=8)
    for rep in range(REPLICATES):
        mu = rng.normal(0, 2)
        tau = abs(rng.normal(0, 1))
        events = rng.binomial(n, expit(mu + tau * rng.standard_normal(len(n))))
        data = ModelData("binary", events, n, np.zeros((len(n), 0)), priors)
        idata, _ = sample(data, Settings(draws=settings.draws, tune=settings.tune, chains=2, seed=rep))
        for name, true in (("mu", mu), ("tau", tau)):
            draws = idata.posterior[name].to_numpy().ravel()
            thinned = draws[np.linspace(0, len(draws) - 1, THIN_TO).astype(int)]
            ranks[name].append(int((thinned < true).sum()))
    for name, r in ranks.items():
        counts = np.bincount(np.asarray(r) * BINS // (THIN_TO + 1), minlength=BINS)
        assert stats.chisquare(counts).pvalue > 1e-3, (name, counts)
