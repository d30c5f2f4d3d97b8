"""The audit's findings on the shipped dataset, and the GRIM rule on its own."""

import json

import pytest
from click.testing import CliRunner

from bayes_prrt.data.audit import audit, grim_consistent
from bayes_prrt.cli import main


@pytest.mark.parametrize("reported,n,ok", [
    ("0.929", 104, False),  # 96/104 = 0.923, 97/104 = 0.933
    ("0.93", 104, True),
    ("0.581", 31, True),    # 18/31 = 0.5806
    ("1", 31, True),
    ("0.5", 3, False),      # 1/3, 2/3
    ("0.85", 130, True),
])
def test_grim_rule(reported, n, ok):
    assert grim_consistent(reported, n) is ok


@pytest.fixture(scope="module")
def findings(dataset):
    return {(f.check, f.study, f.outcome): f.message for f in audit(dataset)}


def test_grim_findings(findings):
    grim = {(s, o) for c, s, o in findings if c == "grim"}
    assert grim == {("singh2024", "DCR"), ("kennedy2022", "DCR"), ("kennedy2022", "ORR"),
                    ("minczeles2022", "DCR"), ("strosberg2021", "DCR")}


def test_totals_finding(findings):
    assert "1279" in findings[("totals", "(all)", "DCR")] and "1710" in findings[("totals", "(all)", "DCR")]


def test_gi_pfs_outside_range(dataset):
    messages = [f.message for f in audit(dataset) if f.check == "range"]
    assert any("66.32" in m and "18.9-59.8" in m for m in messages)


def test_disagreements(findings):
    keys = {(s, o) for c, s, o in findings if c == "disagreement"}
    assert {("mitjavila2022", "DCR"), ("vanderzwan2018", "DCR"), ("minczeles2022", "DCR"),
            ("singh2024", "ORR")} <= keys
    assert "417" in findings[("disagreement", "mitjavila2022", "DCR")]
    assert "522" in findings[("disagreement", "mitjavila2022", "DCR")]


def test_inclusion_criteria(findings):
    flagged = {s for c, s, o in findings if c == "inclusion"}
    assert {"reidylagunes2019", "delpassand2024", "vanderzwan2018", "braat2020"} <= flagged
    assert "satoreotide" in findings[("inclusion", "reidylagunes2019", "(study)")]
    assert "partelli2024" not in flagged and "strosberg2021" not in flagged


def test_audit_cli_json(dataset):
    result = CliRunner().invoke(main, ["audit", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert out["sha256"] == dataset.sha256
    assert out["counts"]["grim"] == 5 and len(out["findings"]) == sum(out["counts"].values())


def test_audit_cli_table():
    result = CliRunner().invoke(main, ["audit"])
    assert result.exit_code == 0 and "grim" in result.output and "kennedy2022" in result.output


def test_user_csv_gets_the_checks_that_apply(write_csv):
    path = write_csv("study,outcome,events,n,reported\na,DCR,97,104,0.929\nb,DCR,20,30,\n")
    result = CliRunner().invoke(main, ["audit", "--json", "--data", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"] == {"grim": 1}


def test_summary_command():
    result = CliRunner().invoke(main, ["summary"])
    assert result.exit_code == 0 and "Outcomes by value source" in result.output and "1710" in result.output
