"""Issue 18, input holes: each test reproduces one reported hole and pins the one-line refusal."""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_prrt import AnalysisError, DataError, load_csv, read_outcomes
from bayes_prrt.bayes.statements import probability
from bayes_prrt.cli import main
from bayes_prrt.cli.params import SEED, SEED_MAX
from bayes_prrt.files import SLUG_LENGTH, safe_slug
from bayes_prrt.priors import PriorError, parse_prior
from bayes_prrt.report import figures, writer


def located(text, write_csv, name="input.csv") -> DataError:
    with pytest.raises(DataError) as info:
        read_outcomes(write_csv(text, name))
    assert "\n" not in str(info.value)
    return info.value


def one_error_line(result) -> str:
    assert result.exit_code == 2 and "Traceback" not in result.output, (result.exit_code, result.output)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


# ---------------------------------------------------------------- names are stripped, blanks refused

def test_trailing_space_is_the_same_study(write_csv):
    err = located("study,outcome,events,n\nA,DCR,20,30\nA ,DCR,21,30\n", write_csv)
    assert (err.row, err.study, err.column) == (3, "A", "outcome") and "duplicate" in err.problem
    data = load_csv(write_csv("study,outcome,events,n,grade\n A,DCR,20,30,G1 \nA\t,ORR,5,30,G1\n"))
    assert set(data.outcomes["study"]) == {"A"} and set(data.outcomes["grade"]) == {"G1"}


@pytest.mark.parametrize("text,column", [
    ("study,outcome,events,n\na,DCR,1,2\n   ,DCR,20,30\n", "study"),
    ("study,outcome,events,n\na,DCR,1,2\n\u00a0\t,DCR,20,30\n", "study"),
    ("study,outcome,events,n\na,DCR,1,2\nb,  ,20,30\n", "outcome"),
])
def test_blank_names_are_refused(text, column, write_csv):
    err = located(text, write_csv)
    assert (err.row, err.column) == (3, column) and "name is empty" in err.problem


# ---------------------------------------------------------------- half a CI

def test_ci_high_without_ci_low_is_refused(write_csv):
    """It used to load and then be left out of every analysis as 'no CI reported'."""
    err = located("study,outcome,median,ci_low,ci_high\na,PFS,20,15,30\nb,PFS,22,,30\n", write_csv)
    assert (err.row, err.study, err.column) == (3, "b", "ci_low") and "without ci_low" in err.problem


def test_ci_low_alone_is_the_one_sided_rule(write_csv):
    rows = read_outcomes(write_csv("study,outcome,median,ci_low,ci_high\na,PFS,20,15,\n"))
    assert rows.loc[0, "ci_low"] == 15 and np.isnan(rows.loc[0, "ci_high"])


# ---------------------------------------------------------------- broken CSV syntax

def test_unterminated_quote_names_its_row(write_csv):
    """pandas said 'starting at row 3' for what a spreadsheet shows as row 4."""
    err = located('study,outcome,events,n\na,DCR,1,2\nb,DCR,3,4\nc,DCR,"5,6\nd,DCR,7,8\n', write_csv)
    assert (err.row, err.study, err.column) == (4, "c", "events") and "not closed" in err.problem


def test_text_after_a_closing_quote(write_csv):
    err = located('study,outcome,events,n\na,DCR,1,2\nb,"DCR" x,3,4\n', write_csv)
    assert (err.row, err.study, err.column) == (3, "b", "outcome") and "closing quote" in err.problem


def test_row_number_counts_cells_with_line_breaks_as_one_row(write_csv):
    err = located('study,outcome,events,n,note\na,DCR,1,2,"two\nlines"\nb,DCR,5,4,\n', write_csv)
    assert (err.row, err.study, err.column) == (3, "b", "events")


@pytest.mark.parametrize("delimiter,name", [(",", "comma"), (";", "semicolon"), ("\t", "tab")])
def test_extra_cells_are_located(delimiter, name, write_csv):
    rows = [["study", "outcome", "events", "n"], ["a", "DCR", "1", "2"], ["b", "DCR", "3", "4", "5", "6"]]
    err = located("".join(delimiter.join(r) + "\n" for r in rows), write_csv)
    assert (err.row, err.study, err.column) == (3, "b", "#5 (no header)")
    assert "header names 4 columns" in err.problem and f"a {name} inside a value needs quotes" in err.problem


def test_empty_trailing_cells_are_not_extra(write_csv):
    assert len(read_outcomes(write_csv("study,outcome,events,n\na,DCR,1,2,,\n"))) == 1


# ---------------------------------------------------------------- outcome names and file names

@pytest.mark.parametrize("name", ["a/b", "a\\b", "PFS:1", "x*", "what?", 'q"', "<x>", "a|b", "semi;colon",
                                  "tab\there", "nul\x00", "dot/../up"])
def test_unsafe_outcome_names_are_refused_at_the_door(name, write_csv):
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["study", "outcome", "events", "n"], ["a", name, "1", "2"]])
    err = located(out.getvalue(), write_csv)
    assert (err.row, err.study, err.column) == (2, "a", "outcome")
    assert "letters, digits, spaces and - _ . + % ( )" in err.problem


def test_unsafe_outcome_name_in_a_wide_header(write_csv):
    err = located("study,ORR/DCR_events,ORR/DCR_n\na,1,2\n", write_csv)
    assert (err.row, err.column) == (1, "ORR/DCR_events")


@pytest.mark.parametrize("name", ["PFS (months)", "Grade 3+ AE %", "DCR-1.2_x", "Überleben", "ORR 95%"])
def test_allowed_outcome_names(name, write_csv):
    assert read_outcomes(write_csv(f"study,outcome,events,n\na,{name},1,2\n"))["outcome"].tolist() == [name]


SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(name=st.text(max_size=200))
def test_safe_slug_is_a_safe_file_name(name):
    slug = safe_slug(name)
    assert SAFE.fullmatch(slug) and len(slug) <= SLUG_LENGTH + 9 and slug == safe_slug(name)


@pytest.mark.parametrize("name", ["DCR", "PFS", "forest_ORR", "a.b-c_d"])
def test_safe_slug_keeps_safe_names(name):
    assert safe_slug(name) == name


def test_safe_slug_keeps_names_apart():
    names = ["PFS+", "PFS%", "PFS ", "PFS_", "PFS/", "PFS (a)", "PFS [a]", "CON", "con", ".hidden", "x" * 100,
             "x" * 101]
    slugs = [safe_slug(n) for n in names]
    assert len(set(slugs)) == len(slugs)
    assert safe_slug("CON") != "CON" and not safe_slug(".hidden").startswith(".")


def test_report_figures_use_safe_names(tmp_path, monkeypatch):
    """The run's figure files are named from outcome and covariate names through safe_slug."""
    from bayes_prrt.plots import bayes, forest, influence, sensitivity

    for module, plot in ((forest, "plot_forest"), (bayes, "plot_prior_posterior"), (bayes, "plot_tau_i2"),
                         (bayes, "plot_subgroups"), (bayes, "plot_contrasts"), (influence, "plot_influence"),
                         (sensitivity, "plot_sensitivity")):
        monkeypatch.setattr(module, plot, lambda *args: Path(args[-1]).write_bytes(b"png"))
    outcome = SimpleNamespace(outcome="Grade 3+ AE %", subgroups={"site (x)": None}, sensitivity=None,
                              kind="binary", bayes=None, small_study=None, cumulative=None)
    captions = figures.figures(SimpleNamespace(outcomes=[outcome]), tmp_path)
    files = sorted(p.stem for p in tmp_path.iterdir())
    assert files == sorted(captions) and all(SAFE.fullmatch(f) for f in files)
    assert {f.split("_")[0] for f in files} == {"forest", "priorpost", "heterogeneity", "subgroups", "contrasts",
                                                "influence", "sensitivity"}


# ---------------------------------------------------------------- statements

def fake_result():
    draws = np.linspace(0.5, 0.9, 400)
    return SimpleNamespace(outcome="DCR", quantity=lambda name: draws)


@pytest.mark.parametrize("statement", ["> nan", "> inf", "< -inf", ">= 1e999", "<= Infinity", "> NaN"])
def test_statement_refuses_non_finite_values(statement):
    with pytest.raises(AnalysisError, match="is not a finite number") as info:
        probability(fake_result(), statement)
    assert "\n" not in str(info.value)


def test_statement_with_finite_value_still_works():
    assert probability(fake_result(), "> 0.7")["probability"] == pytest.approx(0.5, abs=0.01)


def test_cli_prob_nan_is_one_line():
    result = CliRunner().invoke(main, ["prob", "--outcome", "PFS", "--engine", "quadrature", "> nan"])
    assert "not a finite number" in one_error_line(result)


# ---------------------------------------------------------------- seeds

SEEDED = [["pool", "--outcome", "DCR", "--method", "bayes"], ["prob", "--outcome", "DCR", "> 0.5"], ["joint"],
          ["sensitivity"], ["run", "--out", "never"]]


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999999", str(SEED_MAX + 1), "1.5", "abc"])
@pytest.mark.parametrize("command", SEEDED, ids=lambda c: c[0])
def test_bad_seed_is_one_line(command, seed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(CliRunner().invoke(main, [*command, f"--seed={seed}"]))
    assert f"--seed '{seed}' is not a whole number from 0 to {SEED_MAX}" in line
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("seed", ["0", str(SEED_MAX), "20261123"])
def test_seed_range_ends_are_accepted(seed):
    assert SEED.convert(seed, None, None) == int(seed)


# ---------------------------------------------------------------- prior parameters

@pytest.mark.parametrize("text,parameter,words", [
    ("halfnormal:1e-300", "tau", "S must be from 1e-06 to 1e+06"),
    ("halfnormal:1e7", "tau", "S must be from 1e-06 to 1e+06"),
    ("halfcauchy:1e-7", "tau", "S must be from 1e-06 to 1e+06"),
    ("exponential:1e300", "tau", "RATE must be from 1e-06 to 1e+06"),
    ("halfstudentt:1e-9,1", "tau", "NU must be from 1e-06 to 1e+06"),
    ("normal:1e300,1", "mu", "M must be from -1e+06 to 1e+06"),
    ("normal:0,1e-10", "beta", "S must be from 1e-06 to 1e+06"),
    ("uniform:-1e9,1", "mu", "A must be from -1e+06 to 1e+06"),
    ("uniform:0,1e-9", "tau", "B - A at least 1e-06"),
    ("lognormal:-50,1", "tau", "M must be from -27.6 to 27.6 on log(tau^2)"),
    ("lognormal:-2.56,100", "tau", "S must be from 1e-06 to 27.6 on log(tau^2)"),
])
def test_prior_parameters_out_of_range(text, parameter, words):
    with pytest.raises(PriorError, match=re.escape(words)) as info:
        parse_prior(text, parameter)
    assert str(info.value).startswith(f"prior for {parameter} '{text}'") and "\n" not in str(info.value)


@pytest.mark.parametrize("text,parameter", [("halfnormal:1e-6", "tau"), ("halfnormal:1e6", "tau"),
                                            ("normal:-1e6,1e6", "mu"), ("uniform:0,1e-6", "tau"),
                                            ("lognormal:-27.6,27.6", "tau"), ("halfstudentt:1e6,1e-6", "tau")])
def test_prior_range_ends_are_accepted(text, parameter):
    prior = parse_prior(text, parameter)
    point = 0.5 * (prior.params[0] + prior.params[1]) if prior.family == "uniform" else 1.0
    assert np.isfinite(prior.logpdf(point))


def test_cli_tiny_prior_scale_is_one_line():
    result = CliRunner().invoke(main, ["pool", "--outcome", "PFS", "--method", "bayes", "--engine", "quadrature",
                                       "--prior-tau", "halfnormal:1e-300"])
    assert "prior for tau 'halfnormal:1e-300': S must be from 1e-06" in one_error_line(result)
