"""`bayes-prrt pool` and `bayes-prrt validate`: the command-line contract and its errors."""

import json

import pytest
from click.testing import CliRunner

from bayes_prrt.cli import main

KEYS = {"outcome", "method", "measure", "tau2_method", "k", "estimate", "ci_low", "ci_high", "pi_low", "pi_high",
        "tau2", "I2", "H2", "Q", "p_Q", "weights"}


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_pool_json_contract():
    result = invoke("pool", "--outcome", "DCR", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert KEYS <= set(out)
    assert out["k"] == 12 and out["measure"] == "PFT" and out["tau2_method"] == "DL"
    # metafor: PFT + DL on Table 2 gives 87.67% (82.70-91.95) (tests/reference)
    assert out["estimate"] == pytest.approx(0.876710646362185, rel=1e-6)
    assert sum(out["weights"].values()) == pytest.approx(100)


def test_pool_by_covariate_json():
    out = json.loads(invoke("pool", "--outcome", "ORR", "--by", "grade", "--tau2", "REML", "--json").output)
    assert set(out["subgroups"]) == {"G1-2", "G2-3"}  # "unknown" grade is missing, not a level
    assert KEYS - {"weights", "method"} <= set(out["subgroups"]["G1-2"])
    assert set(out["between"]) == {"Q", "df", "p"} and out["between"]["df"] == 1


def test_pool_survival_notes_left_out_studies():
    out = json.loads(invoke("pool", "--outcome", "PFS", "--json").output)
    assert out["measure"] == "LOGMEDIAN"
    assert any("kennedy2022" in n and "no CI" in n for n in out["notes"])
    assert any("singh2024" in n and "one-sided (censored)" in n for n in out["notes"])  # the default: split
    assert out["median_likelihood"] == "split" and out["tau2_method"] == "ML"
    assert out["rules"]["singh2024"] == "lower bound only, censored (flat above the median)"
    normal = json.loads(invoke("pool", "--outcome", "PFS", "--median-likelihood", "normal", "--json").output)
    assert any("singh2024" in n and "lower half" in n for n in normal["notes"]) and normal["tau2_method"] == "DL"


@pytest.mark.parametrize("args,words", [
    (("--outcome", "QOL"), "outcome 'QOL' is not in"),
    (("--outcome", "DCR", "--by", "colour"), "covariate column 'colour' does not exist"),
    (("--outcome", "OS", "--values", "table2"), "no OS values"),
    (("--outcome", "DCR", "--measure", "LOGMEDIAN"), "DCR is a binary outcome"),
    (("--outcome", "PFS", "--measure", "PFT"), "PFS is a median outcome"),
])
def test_pool_bad_requests(args, words):
    result = invoke("pool", *args)
    assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output


def test_pool_single_study_is_summarised(write_csv):
    """k = 1: nothing to pool; the study's own proportion with its exact CI, labelled, exit 0."""
    path = write_csv("study,outcome,events,n\na,DCR,20,30\n")
    result = invoke("pool", "--data", str(path), "--outcome", "DCR")
    assert result.exit_code == 0, result.output
    assert "Single study (k = 1)" in result.output and "note: single study (a)" in result.output
    out = json.loads(invoke("pool", "--data", str(path), "--outcome", "DCR", "--json").output)
    assert out["model"] == "single study" and out["k"] == 1 and out["tau2"] is None and out["I2"] is None
    assert out["estimate"] == pytest.approx(20 / 30)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((0.4719, 0.8271), abs=1e-4)  # Clopper-Pearson


def test_pool_no_poolable_study(write_csv):
    path = write_csv("study,outcome,median,ci_low,ci_high\na,PFS,20,,\nb,PFS,25,,\n")
    result = invoke("pool", "--data", str(path), "--outcome", "PFS")
    assert result.exit_code == 2 and "PFS: 0 poolable study(ies); pooling needs at least 2" in result.output


def test_pool_user_csv_with_covariate(write_csv):
    path = write_csv("study,outcome,events,n,grade\na,DCR,20,30,G1-2\nb,DCR,45,50,G3\nc,DCR,30,40,G3\n")
    out = json.loads(invoke("pool", "--data", str(path), "--outcome", "DCR", "--by", "grade", "--json").output)
    assert out["k"] == 3 and set(out["subgroups"]) == {"G1-2", "G3"}


def test_pool_text_output():
    result = invoke("pool", "--outcome", "ORR", "--measure", "PLO", "--tau2", "REML", "--hksj")
    assert result.exit_code == 0
    assert "Random-effects model (k = 12; tau^2 estimator: REML; Knapp-Hartung)" in result.output
    assert "Pooled ORR" in result.output


def test_validate_dcr_orr_within_margins():
    result = invoke("validate", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["result"]: r for r in json.loads(result.output)}
    for name in ("dcr_overall", "orr_overall"):
        r = rows[name]
        assert r["within_margin"] is True
        assert abs(r["reproduced"] - r["published"]) <= 0.005
        assert abs(r["ci_low"] - r["published_ci_low"]) <= 0.01
        assert abs(r["ci_high"] - r["published_ci_high"]) <= 0.01
    # every row that could not be reproduced says why
    for r in rows.values():
        assert r["reproduced"] is not None or r["reason"]
    assert "not public" in rows["pfs_overall"]["reason"]


def test_validate_table():
    result = invoke("validate")
    assert result.exit_code == 0 and "dcr_overall" in result.output
