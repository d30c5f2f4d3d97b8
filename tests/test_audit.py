"""The audit: each named rule on a row that trips it and one that does not, its findings on the
shipped dataset, the corrections the 'corrected' policy carries, and the CLI contract."""

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bayes_prrt.cli import main
from bayes_prrt.data.audit import audit, grim_consistent, run_audit
from bayes_prrt.data.dataset import load_csv, load_dataset
from bayes_prrt.data.rules import RULES

STUDY_DEFAULTS = dict(label="x", grade="G1-2", g3_share="", site="GEP", setting="later line", drug="DOTATATE",
                      design="cohort", timing="prospective", response_criteria="RECIST 1.1", risk_of_bias="low",
                      country="X", in_meta="true", primary_year="2020", source="test")
OUTCOME_DEFAULTS = dict(value_source="primary", events="", n="", median="", ci_low="", ci_high="", reported="",
                        source="test")
PUBLISHED_COLUMNS = ("result,outcome,statistic,subgroup_by,subgroup,estimate,ci_low,ci_high,scale,k,n_patients,"
                     "I2,p_Q,p_between,range_low,range_high,model,source,note").split(",")
DENOMINATOR_COLUMNS = ("study", "group", "n", "role", "partition", "part_of", "source")


def _write(path: Path, rows: list[dict], defaults: dict | None = None, columns=None) -> None:
    frame = pd.DataFrame([{**(defaults or {}), **r} for r in rows], columns=columns)
    frame.to_csv(path, index=False)


@pytest.fixture
def folder(tmp_path):
    """A data folder built from a few rows (study defaults filled in), loaded as a Dataset."""

    def make(studies, outcomes, published=(), denominators=None):
        _write(tmp_path / "studies.csv", [{"study": s, **extra} for s, extra in studies.items()], STUDY_DEFAULTS)
        _write(tmp_path / "outcomes.csv", outcomes, OUTCOME_DEFAULTS)
        _write(tmp_path / "published_pooled.csv", list(published), columns=PUBLISHED_COLUMNS)
        if denominators is not None:
            _write(tmp_path / "denominators.csv", denominators, dict(partition="", part_of="", source="test"),
                   columns=DENOMINATOR_COLUMNS)
        return load_dataset(tmp_path)

    return make


def _of(findings, rule):
    return [f for f in findings if f.rule == rule]


# ------------------------------------------------------------------ grim

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


# ------------------------------------------------------------------ denominators

DENS = [dict(study="a", group="screened", n=200, role="screened"), dict(study="a", group="arm", n=100, role="arm"),
        dict(study="b", group="enrolled", n=104, role="enrolled"), dict(study="b", group="evaluable", n=98,
                                                                          role="evaluable", part_of="enrolled")]


def test_denominators_rule(folder):
    data = folder({"a": {}, "b": {}}, [
        dict(study="a", outcome="DCR", value_source="meta_table2", events=180, n=200, reported="0.9"),  # screened
        dict(study="a", outcome="DCR", events=90, n=100),  # the arm: fine
        dict(study="a", outcome="ORR", events=30, n=150),  # no such denominator
        dict(study="b", outcome="DCR", value_source="meta_table2", events=97, n=104, reported="0.929"),
        dict(study="b", outcome="ORR", events=25, n=104, reported="0.24"),  # consistent over its own n: fine
    ], denominators=DENS)
    found = {(f.study, f.outcome, f.value_source): f for f in _of(audit(data), "denominators")}
    assert set(found) == {("a", "DCR", "meta_table2"), ("a", "ORR", "primary"), ("b", "DCR", "meta_table2")}
    screened = found[("a", "DCR", "meta_table2")]
    assert screened.severity == "error" and "screened" in screened.message and "90/100 (arm)" in screened.message
    assert found[("a", "ORR", "primary")].severity == "warning"
    other = found[("b", "DCR", "meta_table2")]
    assert other.severity == "error" and "91/98 (evaluable)" in other.message


def test_netter2_denominator_is_named(dataset):
    found = {(f.study, f.outcome): f for f in _of(audit(dataset), "denominators") if f.value_source == "meta_table2"}
    assert "137/151 (177Lu arm)" in found[("singh2024", "DCR")].message
    assert found[("singh2024", "DCR")].severity == "error"
    assert "97/117 (177Lu arm)" in found[("strosberg2021", "DCR")].message
    assert "126/168 (efficacy)" in found[("vanderzwan2018", "DCR")].message
    assert ("partelli2024", "DCR") not in found and ("braat2020", "DCR") not in found


# ------------------------------------------------------------------ one denominator

def test_one_denominator_rule(write_csv):
    path = write_csv("study,outcome,events,n,median,ci_low,ci_high\n"
                     "a,DCR,85,102,,,\na,PFS,,110,22.5,19.7,29\nb,DCR,40,50,,,\nb,PFS,,50,20,18,25\n")
    found = _of(audit(load_csv(path)), "one_denominator")
    assert [(f.study, f.severity) for f in found] == [("a", "warning")]
    assert "102" in found[0].message and "110" in found[0].message


# ------------------------------------------------------------------ complementary outcomes

def test_complementary_rule(write_csv, folder):
    path = write_csv("study,outcome,events,n\n"
                     "a,DCR,20,40\na,ORR,25,40\n"     # ORR above DCR
                     "b,DCR,71,91\nb,ORR,20,91\n"     # sum to 1
                     "c,DCR,30,40\nc,ORR,12,40\n")    # fine
    found = {(f.study, f.outcome): f for f in _of(audit(load_csv(path)), "complementary")}
    assert set(found) == {("a", "ORR"), ("b", "ORR")}
    assert found[("a", "ORR")].severity == "error" and found[("b", "ORR")].severity == "warning"
    split = [dict(study="b", group="cohort", n=91, role="enrolled"),
             dict(study="b", group="responders", n=71, role="subgroup", partition="clinical", part_of="cohort"),
             dict(study="b", group="non-responders", n=20, role="subgroup", partition="clinical", part_of="cohort")]
    data = folder({"b": {}}, [dict(study="b", outcome="DCR", events=71, n=91),
                              dict(study="b", outcome="ORR", events=20, n=91)], denominators=split)
    found = _of(audit(data), "complementary")
    assert {(f.outcome, f.severity) for f in found} == {("DCR", "error"), ("ORR", "error")}


def test_ortega_complement_is_an_error(dataset):
    found = {f.outcome: f for f in _of(audit(dataset), "complementary")}
    assert set(found) == {"DCR", "ORR"} and {f.study for f in found.values()} == {"ortega2021"}
    assert all(f.severity == "error" and f.exclusion for f in found.values())


# ------------------------------------------------------------------ units

@pytest.mark.parametrize("activity,severity", [
    ("3.7-27.8", "error"), ("29.6", "error"), ("7.4-14", "error"), ("9", "warning"), ("7.2-7.5", "note"),
    ("3.7/5.5", "note"), ("7.4", None), ("7.8", None), ("7.4 GBq", "error"),
])
def test_units_rule_activity(write_csv, activity, severity):
    path = write_csv(f"study,outcome,events,n,activity_gbq\na,DCR,20,30,{activity}\n")
    found = _of(audit(load_csv(path)), "units")
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_units_rule_followup_and_cycles(write_csv):
    path = write_csv("study,outcome,median,ci_low,ci_high,followup_months,cycles\n"
                     "a,OS,34,28,40,34,4\nb,OS,34,28,40,60,3.6\n")
    found = {(f.study, f.severity): f.message for f in _of(audit(load_csv(path)), "units")}
    assert set(found) == {("a", "warning"), ("b", "note")} and "OS median" in found[("a", "warning")]


# ------------------------------------------------------------------ overlapping cohorts

def test_overlap_rule(write_csv):
    path = write_csv("study,outcome,events,n,centre,team,period\n"
                     "a,DCR,20,30,Erasmus MC,X A; Y B,2000-2010\n"
                     "b,DCR,20,30,Erasmus MC,Z C,\n"              # same centre, period unknown: warning
                     "c,DCR,20,30,Bordet,Y B,2015-2020\n"         # shares an author with a only: note
                     "d,DCR,20,30,Bordet,W D,2021-2023\n"         # same centre as c, periods apart: note
                     "e,DCR,20,30,Perth,V E,\n")                  # nothing shared
    found = {(f.study, f.message.split(":")[0]): f.severity for f in _of(audit(load_csv(path)), "overlap")}
    assert found == {("a", "shares with b"): "warning", ("a", "shares with c"): "note",
                     ("c", "shares with d"): "note"}


def test_erasmus_cohorts_overlap(dataset):
    found = [f for f in _of(audit(dataset), "overlap") if f.severity == "warning"]
    assert [(f.study, "vanderzwan2018" in f.message) for f in found] == [("minczeles2022", True)]
    assert any(f.study == "lazarenko2026" and "LuMEN" in f.message for f in _of(audit(dataset), "overlap"))


# ------------------------------------------------------------------ inclusion, disagreement, totals, range

@pytest.fixture(scope="module")
def findings(dataset):
    return {(f.check, f.study, f.outcome): f for f in audit(dataset)}


def test_grim_findings(findings):
    grim = {(s, o) for c, s, o in findings if c == "grim"}
    assert grim == {("singh2024", "DCR"), ("kennedy2022", "DCR"), ("kennedy2022", "ORR"),
                    ("minczeles2022", "DCR"), ("strosberg2021", "DCR")}
    assert all(findings[("grim", s, o)].severity == "error" for s, o in grim)


def test_totals_finding(findings):
    f = findings[("totals", "(all)", "DCR")]
    assert "1279" in f.message and "1710" in f.message and f.severity == "error" and f.corrected_value == "1710"
    assert not [m for (c, _, _), m in findings.items() if c == "totals" and "studies but" in m.message]  # k = 12 agrees


def test_range_findings(dataset):
    found = _of(audit(dataset), "range")
    assert any("66.32" in f.message and "18.9-59.8" in f.message for f in found)
    assert not any("pfs_overall" in f.message for f in found)  # 30.87 lies inside 18.9-59.8


def test_disagreements(findings):
    keys = {(s, o) for c, s, o in findings if c == "disagreement"}
    assert {("mitjavila2022", "DCR"), ("vanderzwan2018", "DCR"), ("minczeles2022", "DCR"),
            ("singh2024", "ORR")} <= keys
    assert ("partelli2024", "DCR") not in keys  # same count in both sources
    assert "417" in findings[("disagreement", "mitjavila2022", "DCR")].message
    assert "522" in findings[("disagreement", "mitjavila2022", "DCR")].message


def test_inclusion_criteria(findings):
    flagged = {s for c, s, o in findings if c == "inclusion"}
    assert {"reidylagunes2019", "delpassand2024", "vanderzwan2018", "braat2020"} <= flagged
    assert "satoreotide" in findings[("inclusion", "reidylagunes2019", "(study)")].message
    assert "partelli2024" not in flagged and "strosberg2021" not in flagged


# ------------------------------------------------------------------ published results that cannot be right

def test_loo_side(findings):
    pfs = findings[("loo_side", "(pooled)", "PFS")]
    assert "28.34" in pfs.message and "30.87" in pfs.message
    assert ("loo_side", "(pooled)", "DCR") not in findings  # 0.8546 and 0.9054 straddle 0.876


def _published(result, outcome, estimate, k, n, subgroup_by="", subgroup=""):
    return dict(result=result, outcome=outcome, statistic="pooled", subgroup_by=subgroup_by, subgroup=subgroup,
                estimate=estimate, ci_low=estimate - 0.1, ci_high=estimate + 0.1, k=k, n_patients=n)


def test_subgroup_total_rule(folder):
    studies = {"a": {}, "b": {}}
    rows = [dict(study="a", outcome="DCR", events=20, n=30), dict(study="b", outcome="DCR", events=25, n=30),
            dict(study="a", outcome="ORR", events=10, n=30), dict(study="b", outcome="ORR", events=12, n=30)]
    published = [_published("dcr", "DCR", 0.7, 2, 60), _published("dcr_g12", "DCR", 0.8, 2, 40, "grade", "G1-2"),
                 _published("dcr_g3", "DCR", 0.6, 1, 30, "grade", "G3"),  # 70 patients > 60
                 _published("orr", "ORR", 0.4, 2, 60), _published("orr_g12", "ORR", 0.4, 1, 30, "grade", "G1-2"),
                 _published("orr_g3", "ORR", 0.4, 1, 30, "grade", "G3")]
    dens = [dict(study="a", group="cohort", n=30, role="enrolled"),
            dict(study="a", group="G1", n=20, role="subgroup", partition="grade", part_of="cohort"),
            dict(study="a", group="G2", n=15, role="subgroup", partition="grade", part_of="cohort"),  # 35 > 30
            dict(study="b", group="cohort", n=30, role="enrolled"),
            dict(study="b", group="G1", n=10, role="subgroup", partition="grade", part_of="cohort")]
    found = _of(audit(folder(studies, rows, published, dens)), "subgroup_total")
    assert {(f.study, f.outcome) for f in found} == {("(pooled)", "DCR"), ("a", "(study)")}
    assert all(f.severity == "error" for f in found)


def test_shipped_subgroups_fit_their_totals(findings):
    assert not [k for k in findings if k[0] == "subgroup_total"]


def test_input_range(findings):
    keys = {(s, o) for c, s, o in findings if c == "input_range"}
    assert keys == {("vanderzwan2018", "PFS")}  # 14.6 below the stated 18.9; DCR 0.746 is the range's own end


# ------------------------------------------------------------------ corrections

def test_every_error_has_a_correction_or_an_exclusion(dataset):
    errors = [f for f in audit(dataset) if f.severity == "error"]
    assert errors
    for f in errors:
        assert (f.corrected_value and f.source) or f.exclusion, f


def test_corrected_scenario_pools_no_error(dataset):
    """No figure the audit marks as an error is among the rows the corrected policy pools."""
    bad = {(f.study, f.outcome, f.value_source) for f in audit(dataset) if f.severity == "error" and f.value_source}
    assert len(bad) >= 9
    for outcome in ("DCR", "ORR", "PFS", "OS"):
        rows = dataset.select(outcome, "corrected")
        used = set(zip(rows["study"], rows["outcome"], rows["value_source"]))
        assert not used & bad, used & bad


def test_published_policy_keeps_the_flagged_figures(dataset):
    rows = dataset.select("DCR", "published")
    assert set(rows["value_source"]) == {"meta_table2"} and len(rows) == 12 and rows["n"].sum() == 1710


# ------------------------------------------------------------------ user CSV and the CLI contract

def test_user_csv_gets_the_checks_that_apply(write_csv):
    path = write_csv("study,outcome,events,n,reported\na,DCR,97,104,0.929\nb,DCR,20,30,\n")
    result = CliRunner().invoke(main, ["audit", "--json", "--data", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["counts"] == {"grim": 1}
    skipped = {s["rule"]: s["reason"] for s in out["skipped"]}
    assert set(skipped) == {r.name for r in RULES} - {"grim", "one_denominator", "complementary"}
    assert "denominators.csv" in skipped["denominators"] and "activity_gbq" in skipped["units"]


def test_user_csv_runs_a_rule_once_its_columns_are_there(write_csv):
    path = write_csv("study,outcome,events,n,activity_gbq,centre\na,DCR,20,30,3.7-27.8,X\nb,DCR,20,30,7.4,X\n")
    result = run_audit(load_csv(path))
    assert {"units", "overlap"}.isdisjoint(s["rule"] for s in result.skipped)
    assert result.counts() == {"units": 1, "overlap": 1}


def test_audit_cli_json(dataset):
    result = CliRunner().invoke(main, ["audit", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert set(out) == {"source", "sha256", "counts", "findings", "skipped"}
    assert out["sha256"] == dataset.sha256 and out["skipped"] == []
    assert out["counts"]["grim"] == 5 and len(out["findings"]) == sum(out["counts"].values())
    keys = {"rule", "check", "severity", "study", "outcome", "message", "corrected_value", "source"}
    assert all(keys <= set(f) and f["rule"] == f["check"] for f in out["findings"])
    assert {f["severity"] for f in out["findings"]} <= {"error", "warning", "note"}


def test_audit_cli_table():
    result = CliRunner().invoke(main, ["audit"])
    assert result.exit_code == 0 and "grim" in result.output and "kennedy2022" in result.output


def test_every_rule_is_documented():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    for rule in RULES:
        assert rule.doc and f"`{rule.name}`" in docs, rule.name


def test_summary_command():
    result = CliRunner().invoke(main, ["summary"])
    assert result.exit_code == 0 and "Outcomes by value source" in result.output and "1710" in result.output


def test_complement_across_value_sources(write_csv):
    path = write_csv("study,outcome,value_source,events,n\na,DCR,meta_table2,25,100\na,DCR,primary,75,100\n"
                     "b,DCR,meta_table2,70,100\nb,DCR,primary,72,100\n")
    found = _of(audit(load_csv(path)), "complementary")
    assert [(f.study, f.value_source, f.severity) for f in found] == [("a", "primary", "warning")]
    assert "meta_table2 DCR 0.250 + primary DCR 0.750 = 1" in found[0].message
