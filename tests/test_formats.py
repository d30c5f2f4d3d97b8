"""Input formats (issue 17 part 5): long and wide layouts, CSV delimiters, decimal commas, .xlsx.

The reference for every format is the same data written by hand in the long CSV layout: each
other format must load to the identical validated frame, and its errors must name the file
(and sheet), the spreadsheet row, the study and the column as written in that file.
"""

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from bayes_prrt import DataError, load_csv, read_outcomes
from bayes_prrt.cli import main
from bayes_prrt.data.formats import canonical_long

LONG = ("study,outcome,events,n,median,ci_low,ci_high,grade,g3_share\n"
        "a,DCR,20,30,,,,G1-2,0.1\n"
        "a,PFS,,,22.8,19.4,,G1-2,0.1\n"
        "b,DCR,45,50,,,,G3,0.65\n"
        "b,ORR,12,50,,,,G3,0.65\n"
        "b,PFS,,,10.5,8.25,13,G3,0.65\n")
WIDE_HEADER = ["study", "grade", "g3_share", "DCR_events", "DCR_n", "ORR_events", "ORR_n",
               "PFS_median", "PFS_ci_low", "PFS_ci_high"]
WIDE_ROWS = [["a", "G1-2", "0.1", "20", "30", "", "", "22.8", "19.4", ""],
             ["b", "G3", "0.65", "45", "50", "12", "50", "10.5", "8.25", "13"]]


def wide_text(delimiter=",", decimal="."):
    rows = [WIDE_HEADER] + [[cell.replace(".", decimal) if cell[:1].isdigit() else cell for cell in row]
                            for row in WIDE_ROWS]
    return "".join(delimiter.join(row) + "\n" for row in rows)


def long_text(delimiter=",", decimal="."):
    rows = [line.split(",") for line in LONG.splitlines()]
    return "".join(delimiter.join(c.replace(".", decimal) if c[:1].isdigit() else c for c in row) + "\n"
                   for row in rows)


def write_xlsx(path: Path, rows, title="Outcomes", numbers=True):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append([_number(c) if numbers else c for c in row])
    book.save(path)
    return path


def _number(cell):
    if cell in ("", None):
        return None
    try:
        return int(cell)
    except ValueError:
        try:
            return float(cell)
        except ValueError:
            return cell


def frame(path) -> pd.DataFrame:
    return canonical_long(read_outcomes(path)).sort_values(["study", "outcome"]).reset_index(drop=True)


@pytest.fixture
def reference(write_csv):
    return frame(write_csv(LONG, "long.csv"))


@pytest.mark.parametrize("name,text", [
    ("wide.csv", wide_text()),
    ("semicolon.csv", long_text(";", ",")),
    ("wide_semicolon.csv", wide_text(";", ",")),
    ("semicolon_points.csv", long_text(";")),
    ("tab.tsv", long_text("\t")),
    ("wide_tab.txt", wide_text("\t")),
    ("crlf_bom.csv", "\ufeff" + long_text().replace("\n", "\r\n")),
])
def test_text_formats_load_as_the_long_csv(name, text, write_csv, reference):
    pd.testing.assert_frame_equal(frame(write_csv(text, name)), reference)


@pytest.mark.parametrize("layout", ["long", "wide"])
@pytest.mark.parametrize("numbers", [True, False])
def test_xlsx_loads_as_the_long_csv(layout, numbers, tmp_path, reference):
    rows = [line.split(",") for line in LONG.splitlines()] if layout == "long" else [WIDE_HEADER, *WIDE_ROWS]
    path = write_xlsx(tmp_path / f"{layout}.xlsx", rows, numbers=numbers)
    pd.testing.assert_frame_equal(frame(path), reference)


def test_issue_examples_now_load(write_csv):
    """A wide file failed with "missing required column 'outcome'", a semicolon one with "missing column 'study'"."""
    wide = load_csv(write_csv("study,DCR_events,DCR_n\na,20,30\nb,45,50\n", "wide.csv"))
    semicolon = load_csv(write_csv("study;outcome;events;n\na;DCR;20;30\nb;DCR;45;50\n", "semi.csv"))
    for data in (wide, semicolon):
        assert data.select("DCR")["events"].tolist() == [20, 45]


def test_wide_covariates_are_copied_to_each_outcome(write_csv):
    data = load_csv(write_csv(wide_text(), "wide.csv"))
    assert data.covariates == ["grade", "g3_share"]
    assert data.select("PFS")["grade"].tolist() == ["G1-2", "G3"]
    assert data.select("ORR")["study"].tolist() == ["b"]  # a has no ORR cells: no row


def test_decimal_comma_only_in_semicolon_files(write_csv):
    with pytest.raises(DataError, match="'22,8' is not a number") as info:
        read_outcomes(write_csv('study,outcome,median,ci_low,ci_high\na,PFS,"22,8",19,\n'))
    assert (info.value.row, info.value.column) == (2, "median")
    rows = read_outcomes(write_csv("study;outcome;median;ci_low;ci_high\na;PFS;22,8;19,4;1,5e2\n"))
    assert rows.loc[0, ["median", "ci_low", "ci_high"]].tolist() == [22.8, 19.4, 150.0]
    with pytest.raises(DataError, match="ci_high is below the median"):  # 1,5e0 = 1.5 < 22.8: read as a number
        read_outcomes(write_csv("study;outcome;median;ci_low;ci_high\na;PFS;22,8;19,4;1,5e0\n"))


def test_decimal_commas_and_points_do_not_mix(write_csv):
    """In a decimal-comma file, '1.000' could be a thousand: refused, not read as 1."""
    err_text = "study;outcome;events;n;median;ci_low;ci_high\na;PFS;;;22,8;19,4;\nb;DCR;20;1.000;;;\n"
    with pytest.raises(DataError, match="'1.000' has a decimal point") as info:
        read_outcomes(write_csv(err_text))
    assert (info.value.row, info.value.study, info.value.column) == (3, "b", "n")
    assert read_outcomes(write_csv("study;outcome;events;n;g\nb;DCR;20;1000;0.5\n"))["g"].tolist() == ["0.5"]


def test_semicolon_file_keeps_commas_in_names(write_csv):
    rows = read_outcomes(write_csv("study;outcome;events;n;note\nSmith, 2020;DCR;2;3;1,5 cycles\n"))
    assert rows.loc[0, "study"] == "Smith, 2020" and rows.loc[0, "note"] == "1,5 cycles"


# (file text or xlsx rows, file name, row, study, column, words)
LOCATED = {
    "wide_bad_count": (wide_text().replace(",50,12,", ",x,12,"), "w.csv", 3, "b", "DCR_n", "'x' is not a number"),
    "wide_events_gt_n": (wide_text().replace(",12,50,", ",60,50,"), "w.csv", 3, "b", "ORR_events", "events exceed n"),
    "wide_ci": (wide_text().replace(",8.25,", ",11,"), "w.csv", 3, "b", "PFS_ci_low", "above the median"),
    "wide_duplicate": (wide_text() + "a,G1-2,0.1,1,2,,,,,\n", "w.csv", 4, "a", "DCR_events", "duplicate"),
    "wide_no_values": (wide_text() + "c,G3,0.2,,,,,,,\n", "w.csv", 4, "c", "DCR_events", "no outcome value"),
    "semicolon": (long_text(";", ",").replace(";8,25;", ";x;"), "s.csv", 6, "b", "ci_low", "'x' is not a number"),
    "blank_rows_counted": ("study,outcome,events,n\n\na,DCR,20,30\n,,,\nb,DCR,55,50\n", "b.csv", 5, "b", "events",
                           "events exceed n"),
}


@pytest.mark.parametrize("case", sorted(LOCATED))
def test_errors_are_located_in_the_file_as_written(case, write_csv):
    text, name, row, study, column, words = LOCATED[case]
    with pytest.raises(DataError, match=words) as info:
        read_outcomes(write_csv(text, name))
    assert (info.value.row, info.value.study, info.value.column) == (row, study, column)
    assert f"row {row}, study '{study}', column '{column}'" in str(info.value)


def test_xlsx_errors_name_the_sheet_and_row(tmp_path):
    rows = [WIDE_HEADER, WIDE_ROWS[0], [], ["b", "G3", 0.65, 45, "n/a", None, None, 10.5, 8.25, 13]]
    path = write_xlsx(tmp_path / "book.xlsx", rows, title="My data")
    with pytest.raises(DataError) as info:
        read_outcomes(path)
    assert str(info.value).startswith(f"{path} (sheet 'My data'), row 4, study 'b', column 'DCR_n': 'n/a' is not")


def test_xlsx_first_sheet_with_margins(tmp_path):
    """The table may start below and right of A1: rows keep the sheet's numbering, empty margins go."""
    book = openpyxl.Workbook()
    sheet = book.active
    for col, name in zip("BCDE", ["study", "outcome", "events", "n"]):
        sheet[f"{col}3"] = name
    for col, value in zip("BCDE", ["a", "DCR", 40, 30]):
        sheet[f"{col}5"] = value
    book.create_sheet("ignored")["A1"] = "not read"
    book.save(tmp_path / "m.xlsx")
    with pytest.raises(DataError, match="events exceed n") as info:
        read_outcomes(tmp_path / "m.xlsx")
    assert info.value.row == 5 and info.value.column == "events"
    sheet["D5"] = 20
    book.save(tmp_path / "m.xlsx")
    assert list(read_outcomes(tmp_path / "m.xlsx").columns[:4]) == ["study", "outcome", "events", "n"]


@pytest.mark.parametrize("raw,name,words", [
    (b"study,foo\na,1\n", "x.csv", "accepted are a long layout"),
    (b"grade;DCR_events;DCR_n\nG1;1;2\n", "x.csv", "accepted are a long layout"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "old.xls", "old Excel .xls workbook"),
    (b"PK\x03\x04 not really a zip", "x.xlsx", "not a readable .xlsx workbook"),
    (b"study,outcome,events,n\n", "x.xlsx", "not a readable .xlsx workbook"),
])
def test_unreadable_or_unknown_files_say_what_is_accepted(raw, name, words, tmp_path):
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(DataError, match=words) as info:
        read_outcomes(path)
    assert "\n" not in str(info.value) and "xlsx" in str(info.value)


def test_wide_file_with_a_bare_data_column(write_csv):
    with pytest.raises(DataError, match="<outcome>_events") as info:
        read_outcomes(write_csv("study,DCR_events,DCR_n,events\na,1,2,3\n"))
    assert (info.value.row, info.value.column) == (1, "events")


# ---------------------------------------------------------------- bayes-prrt convert

@pytest.mark.parametrize("name", ["wide.csv", "semicolon.csv", "long.xlsx"])
def test_convert_round_trip(name, tmp_path, reference):
    source = tmp_path / name
    if name == "wide.csv":
        source.write_text(wide_text())
    elif name == "semicolon.csv":
        source.write_text(long_text(";", ","))
    else:
        write_xlsx(source, [line.split(",") for line in LONG.splitlines()])
    out = tmp_path / "out" / "long.csv"
    result = CliRunner().invoke(main, ["convert", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 rows, 2 studies" in result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["long.csv"]  # no temporary left behind
    assert out.read_text().splitlines()[0] == "study,outcome,events,n,median,ci_low,ci_high,grade,g3_share"
    pd.testing.assert_frame_equal(frame(out), reference)


def test_convert_to_standard_output(write_csv):
    result = CliRunner().invoke(main, ["convert", str(write_csv("study,DCR_events,DCR_n\na,20,30\n"))])
    assert result.exit_code == 0
    assert result.output == "study,outcome,events,n,median,ci_low,ci_high\na,DCR,20,30,,,\n"


def test_convert_embedded_outcomes_is_unchanged(tmp_path):
    """The canonical layout of the shipped long file loads to the same rows."""
    from bayes_prrt.data.dataset import embedded_data_dir

    source = embedded_data_dir() / "outcomes.csv"
    out = tmp_path / "o.csv"
    assert CliRunner().invoke(main, ["convert", str(source), "--out", str(out)]).exit_code == 0
    pd.testing.assert_frame_equal(frame(out), frame(source))


def test_convert_bad_input_one_line(write_csv, tmp_path):
    out = tmp_path / "never.csv"
    result = CliRunner().invoke(main, ["convert", str(write_csv("study,DCR_events,DCR_n\na,40,30\n")),
                                       "--out", str(out)])
    assert result.exit_code == 2 and not out.exists()
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "row 2, study 'a', column 'DCR_events': events exceed n" in lines[0]


def test_data_option_takes_xlsx(tmp_path):
    path = write_xlsx(tmp_path / "w.xlsx", [WIDE_HEADER, *WIDE_ROWS])
    result = CliRunner().invoke(main, ["pool", "--data", str(path), "--outcome", "DCR", "--json"])
    assert result.exit_code == 0, result.output
    assert '"k": 2' in result.output
