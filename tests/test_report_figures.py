"""The report's figures drawn on two cores (report/figures.py) are the files one process draws."""

import hashlib
from pathlib import Path

import pytest

from bayes_prrt import processes
from bayes_prrt.analysis.pipeline import run_analysis
from bayes_prrt.analysis.spec import read_spec
from bayes_prrt.bayes.sampling import Settings
from bayes_prrt.report import figures

SPEC = Path(__file__).parent / "specs" / "small.toml"
pytestmark = pytest.mark.skipif(not processes.available(), reason="needs two cores")


@pytest.fixture(scope="module")
def run(dataset):
    spec = read_spec(SPEC)
    spec.mcmc = "none"
    return run_analysis(spec, dataset, Settings(seed=5))


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _drawn_by_both(run, folder: Path, helper: str) -> tuple[dict, set]:
    """``helper``: "own" (the Drawing starts one) or "worker" (the MCMC worker's task, after its fits)."""
    from bayes_prrt.bayes.background import BackgroundFits

    worker = None
    if helper == "own":
        drawing = figures.Drawing()
    else:
        drawing = figures.Drawing(start=False)
        worker = BackgroundFits(then=(drawing.task,))
        drawing.attach(worker.process)
        worker.end_jobs()  # no fits: straight to the figures
    try:
        drawing.send(run, folder)
        captions = drawing.finish()
        claims = drawing._counter.value  # by either process, each one past the last figure
    finally:
        drawing.close()
        if worker is not None:
            worker.close()
    return captions, claims


@pytest.mark.parametrize("helper", ["own", "worker"])
def test_two_processes_write_the_files_one_writes(run, tmp_path, helper):
    alone, both = tmp_path / "alone", tmp_path / "both"
    alone.mkdir()
    both.mkdir()
    captions_alone = figures.figures(run, alone)
    captions_both, claims = _drawn_by_both(run, both, helper)
    assert captions_both == captions_alone
    assert _digests(both) == _digests(alone)
    assert len(captions_alone) == len(figures.figure_jobs(run)) and claims >= len(captions_alone)


def test_figures_the_helper_did_not_deliver_are_drawn_here(run, tmp_path, monkeypatch):
    """A helper that ends without drawing (killed, say) leaves its figures to this process."""
    monkeypatch.setattr(figures, "_helper", _claims_one_and_dies)
    drawing = figures.Drawing()
    try:
        drawing.send(run, tmp_path)
        captions = drawing.finish()
    finally:
        drawing.close()
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == sorted(captions)


def _claims_one_and_dies(inbox, counter, outbox):
    import os

    inbox.get()
    figures._claim(counter)
    os._exit(3)
