"""`bayes-prrt run` of the default spec (issue 12): each model fitted once, the counts in run.json.

Every reported posterior is exact where the exact engine takes the model; the default analysis
then makes 9 MCMC fits: each outcome's model without covariates (the MCMC check of the exact
posterior, and the input of PSIS leave-one-out and power-scaling), and the ORR statement's grade
model under the five tau priors of the grid whose heavy tails the exact grid cannot hold (4
studies of known grade; each such row of the prior grid says so). The OS covariate models and
the PFS grade model are refused (too few studies of known level). 17 requests are answered from
fits already made. A change that fits a model twice changes these numbers.
"""

import json

import pytest
from click.testing import CliRunner

from bayes_prrt.cli import main


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "results"
    result = CliRunner().invoke(main, ["run", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads((out / "run.json").read_text()), out


def test_each_model_is_fitted_once(default_run):
    meta, _ = default_run
    counts = meta["counts"]
    assert counts["mcmc_fits"] == 9 and counts["fits_reused"] == 17, counts
    # one compiled model per structure: binomial and log-median with the default half-normal tau, and the binomial
    # model with the half-Cauchy, exponential and log-normal tau priors of the grid (fewer when compiled already)
    assert counts["compilations"] <= 5


def test_methods_and_reproduce_line_come_from_the_run(default_run):
    meta, out = default_run
    page = (out / "report.html").read_text()
    assert "nutpie&#x27;s NUTS" in page and "DerSimonian-Laird" in page and "value policy &#x27;published&#x27;" in page
    assert meta["command"] == f"bayes-prrt run --out {out} --seed 20261123 --sampler nutpie --force"
    assert meta["command"] in page
