"""The MCMC fits made by the background worker are the fits this process would make."""

import numpy as np
import pytest

from bayes_prrt.bayes import background, sampling
from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.bayes.memo import FitMemo
from bayes_prrt.bayes.sampling import Settings
from bayes_prrt.priors import resolve_priors

pytestmark = pytest.mark.skipif(not background.available(), reason="needs two cores")
SETTINGS = Settings(seed=11, draws=300, tune=300)


def test_worker_fits_are_identical_and_counted(dataset):
    rows = dataset.select("DCR")
    priors = resolve_priors("binary")
    memo = FitMemo(SETTINGS)
    fits_before = sampling.STATS["fits"]
    memo.prefetch([(rows, priors)])
    try:
        assert memo._background is not None
        fit = memo.fit(rows, priors)
    finally:
        memo.close()
    assert sampling.STATS["fits"] - fits_before == 1  # the worker's fit is counted here
    assert memo.fit(rows, priors) is fit and memo.hits == 1  # delivered once, then reused
    here = bayes_pool(rows, priors=priors, engine="mcmc", settings=SETTINGS)
    for name in ("mu", "tau", "theta"):
        np.testing.assert_array_equal(fit.idata.posterior[name].values, here.idata.posterior[name].values)
    assert fit.diagnostics.to_dict() == here.diagnostics.to_dict()


def test_worker_error_is_raised_where_the_fit_is_asked_for(dataset):
    rows = dataset.select("DCR").iloc[:0]  # no studies
    with pytest.raises(Exception) as here:
        bayes_pool(rows, priors=resolve_priors("binary"), engine="mcmc", settings=SETTINGS)
    worker = background.BackgroundFits()
    worker.submit(rows, resolve_priors("binary"), SETTINGS)
    try:
        with pytest.raises(type(here.value)) as there:
            worker.result(0)
    finally:
        worker.close()
    assert str(there.value) == str(here.value)


def test_close_stops_a_busy_worker(dataset):
    rows = dataset.select("DCR")
    worker = background.BackgroundFits()
    for _ in range(5):
        worker.submit(rows, resolve_priors("binary"), SETTINGS)
    worker.close()
    assert not worker.process.is_alive()


def _report(outbox, text):
    outbox.put(text)


def test_a_worker_started_first_serves_the_memo_then_its_next_task(dataset):
    """The CLI starts the worker before it reads the data, with a task for after the fits (the figures). The
    memo it is handed uses it; once told that no more fits will come, the worker runs that task; the memo
    leaves the worker to its starter."""
    from bayes_prrt import processes

    outbox = processes.CONTEXT.Queue()
    worker = background.BackgroundFits(then=((_report, (outbox, "next task")),))
    rows, priors = dataset.select("ORR"), resolve_priors("binary")
    memo = FitMemo(SETTINGS, background=worker)
    try:
        memo.prefetch([(rows, priors)])
        memo.prefetched()
        fit = memo.fit(rows, priors)
        memo.close()
        assert outbox.get(timeout=60) == "next task"
        worker.process.join(timeout=60)
        assert worker.process.exitcode == 0  # its tasks done, it ended
    finally:
        worker.close()
    here = bayes_pool(rows, priors=priors, engine="mcmc", settings=SETTINGS)
    np.testing.assert_array_equal(fit.idata.posterior["mu"].values, here.idata.posterior["mu"].values)


def test_pymc_sampler_in_the_worker_gives_the_in_process_draws(dataset):
    """``--sampler pymc`` in the daemonic worker runs its chains in one process (it may not start its own),
    with the draws of a fit here (chains in parallel processes)."""
    settings = Settings(seed=11, draws=200, tune=200, sampler="pymc")
    rows, priors = dataset.select("DCR"), resolve_priors("binary")
    memo = FitMemo(settings)
    memo.prefetch([(rows, priors)])
    try:
        fit = memo.fit(rows, priors)
    finally:
        memo.close()
    here = bayes_pool(rows, priors=priors, engine="mcmc", settings=settings)
    np.testing.assert_array_equal(fit.idata.posterior["mu"].values, here.idata.posterior["mu"].values)


def _binary_then_median(dataset):
    """A worker given the DCR fit, then the PFS fit (split likelihood), and told that no more will come;
    and the PFS job."""
    from bayes_prrt.bayes.memo import FitMemo

    rules = FitMemo(SETTINGS, median_likelihood="split").rules
    pfs = (dataset.select("PFS"), resolve_priors("median"), SETTINGS, rules)
    worker = background.BackgroundFits()
    worker.submit(dataset.select("DCR"), resolve_priors("binary"), SETTINGS)
    worker.submit(*pfs)
    worker.end_jobs()
    return worker, pfs


def test_the_run_takes_back_a_fit_of_another_model_while_the_worker_is_on_its_first(dataset):
    """Waiting while the worker has made no fit yet (here: still importing PyMC), the run makes the last
    unstarted job itself when its kind differs from the first job's; the worker skips it. The draws are
    those of an in-process fit."""
    worker, (rows, priors, settings, rules) = _binary_then_median(dataset)
    try:
        taken = worker.result(1)
        assert 1 in worker._taken and worker._shared[background.END] == 1
        first = worker.result(0)
        assert 0 not in worker._taken
    finally:
        worker.close()
    here = bayes_pool(rows, priors=priors, engine="mcmc", settings=settings, **rules)
    np.testing.assert_array_equal(taken.idata.posterior["mu"].values, here.idata.posterior["mu"].values)
    assert first.converged is not None


def test_nothing_is_taken_back_once_the_worker_has_made_a_fit(dataset):
    import time

    worker, _ = _binary_then_median(dataset)
    try:
        deadline = time.monotonic() + 120
        while worker._shared[background.DONE] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        worker.result(1)
        assert not worker._taken and worker._shared[background.END] == 2
    finally:
        worker.close()


def test_error_bounds_made_by_the_worker_are_those_made_here(dataset):
    """An exact fit's twice-finer rule, computed by the worker (``FitMemo.error_bound_later``; the worker's
    first job, so never taken back), gives the error bound of the fit computed here, number for number; a fit
    pickled meanwhile (the figures' helper) leaves the worker's queue behind and computes its own."""
    import pickle

    rows, priors = dataset.select("ORR"), resolve_priors("binary")
    worker = background.BackgroundFits()
    memo = FitMemo(SETTINGS, background=worker)
    try:
        fit = memo.fit(rows, priors, by="grade", engine="quadrature")
        memo.error_bound_later(fit)
        assert not fit.exact.error_detail_pending
        travelled = pickle.loads(pickle.dumps(fit.exact))
        memo.prefetched()
        there = fit.exact.error_detail
        assert not worker._taken and worker._shared[background.DONE] == 1  # made by the worker
        memo.error_bound_later(fit)  # computed already: nothing more is asked of the worker
        assert len(worker._submitted) == 1
    finally:
        worker.close()
    here = bayes_pool(rows, priors=priors, by="grade", engine="quadrature").exact.error_detail
    assert there == here and travelled.error_detail == here


def test_an_error_bound_whose_worker_has_gone_is_computed_here(dataset):
    rows, priors = dataset.select("ORR"), resolve_priors("binary")
    worker = background.BackgroundFits()
    memo = FitMemo(SETTINGS, background=worker)
    fit = memo.fit(rows, priors, by="grade", engine="quadrature")
    memo.error_bound_later(fit)
    worker.close()  # killed before it made the refit
    here = bayes_pool(rows, priors=priors, by="grade", engine="quadrature").exact.error_detail
    assert fit.exact.error_detail == here
