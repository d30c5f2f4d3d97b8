"""`bayes-prrt update`: before/after pooling with new studies (docs/examples/lazarenko2026.csv)."""

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bayes_prrt.analysis.update import update
from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.cli import main
from bayes_prrt.data.dataset import load_csv
from bayes_prrt.freq.pool import pool
from bayes_prrt.plots.update import plot_update

LAZARENKO = Path(__file__).resolve().parent.parent / "docs" / "examples" / "lazarenko2026.csv"


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_update_json_contract():
    result = invoke("update", "--add", str(LAZARENKO), "--outcome", "ORR", "--prob", "> 0.30", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"before", "after", "statements"} <= set(out)
    assert set(out["before"]) == set(out["after"]) == {"ORR"}
    assert out["after"]["ORR"]["k"] == out["before"]["ORR"]["k"] + 1 == 13
    kinds = {s["kind"] for s in out["statements"]}
    assert kinds == {"shift", "consistency", "probability"} and all(s["text"] for s in out["statements"])


@pytest.mark.parametrize("outcome", ["DCR", "ORR", "PFS"])
def test_after_is_the_pool_with_the_embedded_lazarenko_row(dataset, outcome):
    res = update(dataset, load_csv(LAZARENKO), [outcome]).outcomes[0]
    rows = dataset.select(outcome, "published")
    every = dataset.outcomes
    embedded = every[(every["study"] == "lazarenko2026") & (every["outcome"] == outcome)
                     & (every["value_source"] == "primary")]  # the cohort as a whole, not its retreatment subgroup
    both = pd.concat([rows, embedded], ignore_index=True)
    measure = "PFT" if outcome != "PFS" else "LOGMEDIAN"
    for label, frame in (("before", rows), ("after", both)):
        want, got = pool(frame, measure), getattr(res, label)
        assert got["freq"]["estimate"] == pytest.approx(want.estimate, rel=1e-12)
        assert got["freq"]["ci_low"] == pytest.approx(want.ci_low, rel=1e-12)
        bayes = bayes_pool(frame, engine="quadrature")
        assert got["bayes"]["median"] == pytest.approx(bayes.pooled["median"], rel=1e-12)  # same seed, same draws
    assert res.added == ["lazarenko2026"]


def test_study_already_in_base_is_a_data_error(write_csv):
    path = write_csv("study,outcome,events,n\nsingh2024,ORR,40,150\n")
    result = invoke("update", "--add", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "row 2, study 'singh2024', column 'study': ORR of this study is already in the base data" in result.output


def test_update_plot(dataset, tmp_path):
    res = update(dataset, load_csv(LAZARENKO), ["DCR", "PFS"])
    assert len(plot_update(res).axes) == 2
    plot = tmp_path / "update.png"
    assert invoke("update", "--add", str(LAZARENKO), "--outcome", "OS", "--plot", str(plot)).exit_code == 0
    assert plot.stat().st_size > 0
