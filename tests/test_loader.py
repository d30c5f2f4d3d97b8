"""Loading and validation of the long-format CSV: each bad input gives a located error."""

import pytest
from click.testing import CliRunner

from bayes_prrt import DataError, load_csv, read_outcomes
from bayes_prrt.cli import main

GOOD = "study,outcome,events,n,grade\na,DCR,20,30,G1-2\nb,DCR,45,50,G3\n"

# (csv text, expected row, study, column, words in the message)
BAD = {
    "events_gt_n": ("study,outcome,events,n\na,DCR,20,30\nb,DCR,55,50\n", 3, "b", "events", "events exceed n"),
    "negative_events": ("study,outcome,events,n\na,DCR,-1,30\n", 2, "a", "events", "0 or more"),
    "non_integer_events": ("study,outcome,events,n\na,DCR,2.5,30\n", 2, "a", "events", "whole number"),
    "zero_n": ("study,outcome,events,n\na,DCR,0,0\n", 2, "a", "n", "greater than 0"),
    "ci_low_above_median": ("study,outcome,median,ci_low,ci_high\na,PFS,20,25,30\n", 2, "a", "ci_low", "above the median"),
    "ci_high_below_median": ("study,outcome,median,ci_low,ci_high\na,PFS,20,15,18\n", 2, "a", "ci_high", "below the median"),
    "nonpositive_median": ("study,outcome,median,ci_low,ci_high\na,PFS,0,,\n", 2, "a", "median", "greater than 0"),
    "unknown_outcome_type": ("study,outcome,events,n,median\na,QOL,,,\n", 2, "a", "outcome", "unknown outcome type"),
    "duplicate": ("study,outcome,events,n\na,DCR,20,30\na,DCR,21,30\n", 3, "a", "outcome", "duplicate"),
    "non_numeric": ("study,outcome,events,n\na,DCR,20,30\nb,DCR,abc,40\n", 3, "b", "events", "'abc' is not a number"),
    "missing_events_for_binary": ("study,outcome,events,n\na,DCR,,30\n", 2, "a", "events", "needs a value"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_located(case, write_csv):
    text, row, study, column, words = BAD[case]
    path = write_csv(text)
    with pytest.raises(DataError) as info:
        read_outcomes(path)
    err = info.value
    assert (err.row, err.study, err.column) == (row, study, column)
    message = str(err)
    assert str(path) in message and f"row {row}" in message and f"study '{study}'" in message
    assert f"column '{column}'" in message and words in message
    assert "\n" not in message


@pytest.mark.parametrize("text,column,words", [
    ("study,events,n\na,20,30\n", "outcome", "missing required column"),
    ("study,outcome,foo\na,DCR,1\n", "events", "missing outcome columns"),
])
def test_missing_columns(text, column, words, write_csv):
    with pytest.raises(DataError, match=words) as info:
        read_outcomes(write_csv(text))
    assert info.value.column == column


@pytest.mark.parametrize("text,words", [("", "empty"), ("study,outcome,events,n\n", "no data rows")])
def test_empty_files(text, words, write_csv):
    with pytest.raises(DataError, match=words):
        read_outcomes(write_csv(text))


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_outcomes(tmp_path / "nope.csv")


def test_good_file_types_and_covariates(write_csv):
    data = load_csv(write_csv(GOOD))
    assert data.covariates == ["grade"]
    rows = data.select("DCR")
    assert rows["events"].tolist() == [20, 45] and rows["kind"].tolist() == ["binary", "binary"]


def test_median_without_upper_bound_is_valid(write_csv):
    rows = read_outcomes(write_csv("study,outcome,median,ci_low,ci_high,n\na,PFS,22.8,19.4,,151\n"))
    assert rows.loc[0, "kind"] == "median" and rows["ci_high"].isna().all()


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_input_one_line_nonzero(case, write_csv):
    text, row, study, column, _ = BAD[case]
    path = write_csv(text)
    result = CliRunner().invoke(main, ["audit", "--data", str(path)])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert f"row {row}" in lines[0] and f"column '{column}'" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text,row,column,message", [
    # row 3 fails two checks: the relation between columns is reported; rows 4 and 5 are counted
    ("study,outcome,events,n\na,DCR,20,30\nb,DCR,2e9,50\nc,DCR,-1,30\nd,DCR,5,0.5\n", 3, "events",
     "events exceed n (and problems in 2 more rows)"),
    ("study,outcome,events,n\na,DCR,x,y\nb,DCR,20,z\n", 2, "events", "'x' is not a number (and problems in 1 more row)"),
])
def test_first_problem_is_reported_and_the_other_rows_counted(text, row, column, message, write_csv):
    with pytest.raises(DataError) as info:
        read_outcomes(write_csv(text))
    assert (info.value.row, info.value.column) == (row, column) and str(info.value).endswith(message)
