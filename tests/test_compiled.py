"""Compiled-model reuse and padding: exactness of the padded models, the cache, both samplers."""

import numpy as np
import pytest
from scipy import stats

from bayes_prrt.bayes import compiled
from bayes_prrt.bayes.models import ModelData, hierarchical_model, log_likelihood
from bayes_prrt.bayes.sampling import Settings, sample
from bayes_prrt.errors import AnalysisError
from bayes_prrt.priors import resolve_priors

RNG = np.random.default_rng(3)


def _binary(k=5, p=2, priors=None):
    n = RNG.integers(20, 200, k)
    return ModelData("binary", RNG.binomial(n, 0.3), n, RNG.standard_normal((k, p)),
                     resolve_priors("binary", priors), [f"s{i}" for i in range(k)], [f"c{j}" for j in range(p)])


def _median(k=5, p=2):
    return ModelData("median", RNG.normal(3, 0.3, k), RNG.uniform(0.1, 0.3, k), RNG.standard_normal((k, p)),
                     resolve_priors("median"), [f"s{i}" for i in range(k)], [f"c{j}" for j in range(p)])


def test_bucket_shapes():
    assert compiled.bucket(1, 0) == (16, 4) and compiled.bucket(16, 4) == (16, 4)
    assert compiled.bucket(17, 5) == (32, 8) and compiled.bucket(10_000, 0) == (16_384, 4)


@pytest.mark.parametrize("make", [_binary, _median])
def test_padding_adds_only_independent_prior_terms(make):
    """log p_padded(theta, 0, ..., 0) - log p(theta) = (K - k) log N(0; 0, 1) [binomial z]
    + (P - p) log p_beta(0): the padded parameters are independent of the rest."""
    data = make()
    K, P = 16, 4
    exact, padded = hierarchical_model(data), hierarchical_model(data, K, P)
    point = exact.initial_point()
    point = {name: value + RNG.normal(0, 0.3, np.shape(value)) for name, value in point.items()}
    wide = {name: (np.pad(value, (0, (K if name == "z" else P) - len(value))) if np.ndim(value) else value)
            for name, value in point.items()}
    diff = padded.compile_logp()(wide) - exact.compile_logp()(point)
    expected = (P - data.p) * stats.norm(0, 1).logpdf(0.0)  # beta prior normal:0,1
    if data.kind == "binary":
        expected += (K - data.k) * stats.norm.logpdf(0.0)
    assert diff == pytest.approx(expected, abs=1e-9)


def test_log_likelihood_matches_scipy():
    data = _binary(p=0)
    theta = RNG.normal(-1, 0.5, (2, 3, data.k))
    assert np.allclose(log_likelihood(data, theta, None), stats.binom.logpmf(data.y, data.scale, 1 / (1 + np.exp(-theta))))
    med = _median(p=0)
    eta, tau = RNG.normal(3, 0.2, (2, 3, med.k)), RNG.uniform(0, 1, (2, 3))
    sd = np.sqrt(med.scale**2 + tau[..., None] ** 2)
    assert np.allclose(log_likelihood(med, eta, tau), stats.norm.logpdf(med.y, eta, sd))


def test_compiled_model_is_reused_across_data_and_prior_values():
    compiled.clear()
    settings = Settings(draws=300, tune=300, chains=2, seed=5)
    first, _ = sample(_binary(k=6, p=1), settings)
    second, _ = sample(_binary(k=12, p=3, priors={"tau": "halfnormal:0.3", "mu": "normal:1,1"}), settings)
    assert compiled.STATS["compiled"] == 1 and compiled.STATS["reused"] >= 1  # (+1 per gate refit)
    assert first.posterior.sizes["study"] == 6 and second.posterior.sizes["coef"] == 3  # padding removed
    assert list(second.posterior["study"].values) == [f"s{i}" for i in range(12)]
    sample(_binary(k=6, p=1, priors={"tau": "halfcauchy:1"}), settings)  # another family: another model
    assert compiled.STATS["compiled"] == 2


def test_same_seed_same_draws():
    data, settings = _median(p=0), Settings(draws=200, tune=200, chains=2, seed=9)
    a, _ = sample(data, settings)
    b, _ = sample(data, settings)
    assert np.array_equal(a.posterior["mu"].values, b.posterior["mu"].values)


def test_samplers_agree_on_a_normal_model_with_a_closed_form():
    """tau fixed near 0 by a tight prior, flat-ish mu prior: mu | y is close to the inverse-variance
    mean with SE 1/sqrt(sum w); both samplers must find it (4 MCSE)."""
    y, se = np.array([2.9, 3.1, 3.0, 3.3]), np.array([0.1, 0.2, 0.15, 0.3])
    priors = resolve_priors("median", {"mu": "normal:3,100", "tau": "halfnormal:0.001"})
    data = ModelData("median", y, se, np.zeros((4, 0)), priors, list("abcd"))
    w = 1 / se**2
    mean, sd = (w * y).sum() / w.sum(), 1 / np.sqrt(w.sum())
    for sampler in ("nutpie", "pymc"):
        idata, diag = sample(data, Settings(sampler=sampler, seed=2))
        mu = idata.posterior["mu"].values
        assert diag.converged and diag.sampler == sampler
        assert abs(mu.mean() - mean) < 4 * sd / np.sqrt(diag.ess_bulk_min)
        assert mu.std() == pytest.approx(sd, rel=0.1)


def test_unknown_sampler_is_refused():
    with pytest.raises(AnalysisError, match="unknown sampler 'stan'"):
        Settings(sampler="stan")


# -------------------------------------------------------------------- rewritten graphs kept on disk

@pytest.fixture
def graph_file(tmp_path, monkeypatch):
    """The graphs' file in a folder of this test's own; compile_functions counted."""
    path = tmp_path / "graphs" / "model.pkl"
    monkeypatch.setattr(compiled, "_graph_file", lambda key: path)
    calls = []
    build = compiled.compile_functions
    monkeypatch.setattr(compiled, "compile_functions", lambda *a: calls.append(1) or build(*a))
    compiled.clear()
    yield path, calls
    compiled.clear()


@pytest.mark.parametrize("make", [_binary, _median])
def test_a_model_loaded_from_its_kept_graphs_gives_the_same_density_and_draws(graph_file, make):
    path, calls = graph_file
    data, settings = make(k=6, p=1), Settings(draws=200, tune=200, chains=2, seed=4)
    first, _ = sample(data, settings)
    assert path.is_file() and len(calls) == 1
    built = compiled._CACHE.popitem()[1]
    loaded = compiled._load(path)
    assert loaded is not None
    args = [np.asarray(v) for v in built.defaults]
    for x in RNG.normal(0, 0.7, (5, built.ndim)):  # the same numbers, bit for bit
        (v1, g1), (v2, g2) = built.logp(x, *args), loaded.logp(x, *args)
        assert v1 == v2 and np.array_equal(g1, g2)
        assert all(np.array_equal(a, b) for a, b in zip(built.expand(x, *args), loaded.expand(x, *args), strict=True))
    compiled.clear()
    second, _ = sample(data, settings)  # a new process's first fit: from the file, nothing compiled
    assert len(calls) == 1 and compiled.STATS["compiled"] == 1
    assert np.array_equal(first.posterior["mu"].values, second.posterior["mu"].values)


def test_a_damaged_graph_file_is_compiled_afresh_and_replaced(graph_file):
    path, calls = graph_file
    path.parent.mkdir()
    path.write_bytes(b"not a pickle")
    data, settings = _binary(k=4, p=0), Settings(draws=100, tune=100, chains=1, seed=1)
    sample(data, settings)
    assert len(calls) == 1 and compiled._load(path) is not None


def test_an_unwritable_graph_folder_only_means_no_kept_graphs(graph_file):
    path, calls = graph_file
    path.parent.write_text("a file where the folder would be")
    sample(_binary(k=4, p=0), Settings(draws=100, tune=100, chains=1, seed=1))
    assert len(calls) == 1 and path.parent.is_file()


def test_graphs_that_do_not_pickle_leave_no_file(graph_file, monkeypatch):
    import pickle

    path, calls = graph_file

    def refuse(*args, **kwargs):
        raise pickle.PicklingError("an Op without a module-level class")

    monkeypatch.setattr(compiled.pickle, "dump", refuse)
    sample(_binary(k=4, p=0), Settings(draws=100, tune=100, chains=1, seed=1))
    assert len(calls) == 1 and list(path.parent.iterdir()) == []  # neither the file nor a part of it


def test_the_graph_file_changes_with_the_structure_and_the_source(monkeypatch):
    a, b = compiled._graph_file(("binary", 1)), compiled._graph_file(("binary", 2))
    monkeypatch.setattr(compiled, "_source_hash", lambda: "edited")
    assert len({a, b, compiled._graph_file(("binary", 1))}) == 3 and a.parent.name == compiled.GRAPHS


def test_each_sampler_thread_keeps_its_thread_state_once(monkeypatch):
    import ctypes
    import threading

    calls, both = [], threading.Barrier(2)  # both threads alive at once: two distinct threads
    monkeypatch.setattr(ctypes.pythonapi, "PyGILState_Ensure", lambda: calls.append(threading.get_ident()))

    def twice():
        both.wait()
        compiled._keep_thread_state()
        compiled._keep_thread_state()

    threads = [threading.Thread(target=twice) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 2 and len(set(calls)) == 2  # once per thread, however often it calls
