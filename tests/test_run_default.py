"""`bayes-prrt run` of the default spec (issue 12): each model fitted once, the counts in run.json.

The default analysis makes 13 MCMC fits: per outcome the model without covariates and one model
per covariate (grade, site), the OS covariate models refused (2 studies) and the PFS grade model
refused (one study of known grade: "unknown" is missing, not a level), and the ORR statement's
grade model in the four data scenarios whose studies differ from the main analysis; 12 requests
are answered from fits already made (the published scenario, the grid's refits, the covariate
models' overall fits). Before the fit memo the same run made about twice as many
(benchmarks/results.md, section 7). A change that fits a model twice changes these numbers.
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
    assert counts["mcmc_fits"] == 13 and counts["fits_reused"] == 12, counts
    assert counts["compilations"] <= 2  # one binomial and one log-median structure (0 when compiled already)


def test_methods_and_reproduce_line_come_from_the_run(default_run):
    meta, out = default_run
    page = (out / "report.html").read_text()
    assert "nutpie&#x27;s NUTS" in page and "DerSimonian-Laird" in page and "value policy &#x27;published&#x27;" in page
    assert meta["command"] == f"bayes-prrt run --out {out} --seed 20261123 --sampler nutpie --force"
    assert meta["command"] in page
