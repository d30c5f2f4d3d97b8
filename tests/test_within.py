"""Within-study subgroup data (data/within_study.csv) and their pooling (bayes/within.py), issue 15 item 4."""

import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from bayes_prrt import AnalysisError, DataError, load_dataset
from bayes_prrt.bayes.within import within_contrasts, within_study
from bayes_prrt.data.dataset import embedded_data_dir
from bayes_prrt.data.within import COLUMNS, read_within
from bayes_prrt.priors import parse_prior

Z = 1.96  # the CI-to-SE rule of effects.se_from_ci
Q = stats.norm.ppf(0.975)  # the quantile of an exact 95% interval
HEADER = ",".join(COLUMNS)
GOOD = "lazarenko2026,PFS,grade,G3,G1,HR,unadjusted,3.41,1.61,7.24,10,38,Lazarenko 2026 (Table 4),"


# ------------------------------------------------------------------ the shipped file
def test_shipped_rows_are_the_printed_figures(dataset):
    """Each row as printed in its source (seed 001 Tables 4 and 5; primary_studies.md), with that source."""
    w = dataset.within
    assert w["source"].str.len().gt(10).all()
    printed = {(r.study, r.outcome, r.level, r.reference if isinstance(r.reference, str) else "", r.value_source):
               f"{r.estimate:.2f} ({r.ci_low:.2f}-{r.ci_high:.2f})" if r.ci_high == r.ci_high
               else f"{r.estimate:.1f} ({r.ci_low:.1f}-NR)" for r in w.itertuples()}
    assert printed[("lazarenko2026", "PFS", "G3", "G1", "unadjusted")] == "3.41 (1.61-7.24)"
    assert printed[("lazarenko2026", "PFS", "G2", "G1", "adjusted")] == "0.69 (0.40-1.18)"
    assert printed[("lazarenko2026", "PFS", "G3", "G1", "adjusted")] == "2.75 (1.21-6.27)"
    assert printed[("lazarenko2026", "PFS", "stomach", "small intestine", "unadjusted")] == "2.35 (0.57-9.77)"
    assert printed[("lazarenko2026", "OS", "G3", "G1", "unadjusted")] == "1.61 (0.68-3.81)"
    assert printed[("lazarenko2026", "OS", "colon or rectum", "small intestine", "unadjusted")] == "0.55 (0.20-1.55)"
    assert printed[("mitjavila2022", "PFS", "PPGL", "", "unadjusted")] == "30.6 (14.4-NR)"
    assert printed[("paganelli2020", "OS", "27.5 GBq", "", "unadjusted")] == "97.6 (64.3-NR)"
    laz = w[w["study"] == "lazarenko2026"]
    assert (laz["source"].str.contains("Table 4") == (laz["outcome"] == "PFS")).all()
    assert set(w.loc[w["value_source"] == "adjusted", "outcome"]) == {"PFS"}  # OS grade was not in the model
    unadj = laz[laz["value_source"] == "unadjusted"]
    assert set(zip(unadj["level"], unadj["n"])) == {("G2", 62), ("G3", 10), ("pancreas", 34),
                                                    ("colon or rectum", 11), ("stomach", 2)}


def _folder(tmp_path, text: str):
    folder = tmp_path / "data"
    shutil.copytree(embedded_data_dir(), folder)
    (folder / "within_study.csv").write_text(text)
    return folder


@pytest.mark.parametrize("row, column, problem", [
    (GOOD.replace(",HR,", ",OR,"), "statistic", "statistic must be HR or median"),
    (GOOD.replace(",G1,HR", ",,HR"), "reference", "needs the reference level"),
    (GOOD.replace("1.61,7.24", "3.5,7.24"), "ci_low", "not above the estimate"),
    (GOOD.replace("1.61,7.24", "1.61,"), "ci_high", "both bounds"),
    (GOOD.replace("3.41", "three"), "estimate", "'three' is not a finite number"),
    (GOOD.replace(",10,38,", ",10.5,38,"), "n", "whole number"),
    (GOOD.replace("unadjusted", "crude"), "value_source", "unadjusted or adjusted"),
    (GOOD.replace(",G3,G1,HR", ",G3,G3,HR"), "reference", "other than the level"),
    ("mitjavila2022,PFS,site,midgut,small intestine,median,unadjusted,31.3,25.7,,,,src x,", "reference",
     "has no reference"),
    (GOOD.replace("Lazarenko 2026 (Table 4)", ""), "source", "cell is empty"),
])
def test_located_errors(write_csv, row, column, problem):
    path = write_csv(f"{HEADER}\n{GOOD}\n{row}\n")
    with pytest.raises(DataError) as err:
        read_within(path)
    assert (err.value.row, err.value.column, err.value.study) == (3, column, row.split(",")[0])
    assert problem in str(err.value) and str(path) in str(err.value)


def test_duplicates_missing_columns_and_cross_checks(write_csv, tmp_path):
    with pytest.raises(DataError, match="row 3.*duplicate.*row 2 has the same"):
        read_within(write_csv(f"{HEADER}\n{GOOD}\n{GOOD}\n"))
    with pytest.raises(DataError, match="column 'note'.*missing column"):
        read_within(write_csv(HEADER.rsplit(",", 1)[0] + "\n" + GOOD[:-1] + "\n"))
    with pytest.raises(DataError, match="within_study.csv, row 2, study 'nobody2020', column 'study'.*studies.csv"):
        load_dataset(_folder(tmp_path, f"{HEADER}\n{GOOD.replace('lazarenko2026', 'nobody2020')}\n"))
    with pytest.raises(DataError, match="row 2, study 'lazarenko2026', column 'outcome'.*time-to-event"):
        load_dataset(_folder(tmp_path / "b", f"{HEADER}\n{GOOD.replace(',PFS,', ',ORR,')}\n"))


# ------------------------------------------------------------------ contrasts
def _table(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in frame:
            frame[col] = np.nan
    return frame.assign(value_source="unadjusted", source="test", outcome="PFS", by="grade")


def test_contrasts_from_hazard_ratios_and_medians():
    table = _table([
        {"study": "a", "level": "G3", "reference": "G1", "statistic": "HR", "estimate": 2.0, "ci_low": 1.0, "ci_high": 4.0},
        {"study": "b", "level": "G1", "reference": "G3", "statistic": "HR", "estimate": 0.5, "ci_low": 0.2, "ci_high": 1.25},
        {"study": "c", "level": "G3", "statistic": "median", "estimate": 10.0, "ci_low": 5.0, "ci_high": 20.0},
        {"study": "c", "level": "G1", "statistic": "median", "estimate": 30.0, "ci_low": 20.0},
        {"study": "d", "level": "G3", "reference": "G2", "statistic": "HR", "estimate": 2.0, "ci_low": 1.0, "ci_high": 4.0},
        {"study": "d", "level": "G1", "reference": "G2", "statistic": "HR", "estimate": 0.8, "ci_low": 0.5, "ci_high": 1.3},
        {"study": "e", "level": "G3", "reference": "G1", "statistic": "HR", "estimate": 3.0, "ci_low": 1.5, "ci_high": 6.0},
        {"study": "e", "level": "G3", "statistic": "median", "estimate": 10.0, "ci_low": 5.0, "ci_high": 20.0},
        {"study": "e", "level": "G1", "statistic": "median", "estimate": 11.0, "ci_low": 5.0, "ci_high": 20.0},
    ])
    c, notes = within_contrasts(table, "PFS", "grade", "G3", "G1")
    c = c.set_index("study")
    assert c.loc["a", "y"] == pytest.approx(-np.log(2)) and c.loc["a", "se"] == pytest.approx(np.log(4) / (2 * Z))
    assert c.loc["b", "y"] == pytest.approx(np.log(0.5))  # G1 vs G3 reversed: log median ratio G3/G1 = +log HR
    assert c.loc["c", "y"] == pytest.approx(np.log(10 / 30))
    assert c.loc["c", "se"] == pytest.approx(np.hypot(np.log(4) / (2 * Z), np.log(30 / 20) / Z))  # lower half for NR
    assert c.loc["e", "statistic"] == "HR" and c.loc["e", "y"] == pytest.approx(-np.log(3))  # the HR before medians
    assert "d" not in c.index and any(n.startswith("d: G3 and G1 are each compared") for n in notes)
    assert any("exponential baseline" in n for n in notes)
    with pytest.raises(AnalysisError, match="no within-study PFS contrast of grade G4 vs G1.*have: G1, G1 vs G2, G1 vs G3"):
        within_contrasts(table, "PFS", "grade", "G4", "G1")


# ------------------------------------------------------------------ pooling against references
def _reference_p_below(y, se, m0, s0, tau_logpdf):
    """P(mu < 0 | y) by adaptive quadrature over tau of the closed-form normal posterior of mu given tau; the
    marginal likelihood from the joint normal of y given tau (covariance diag(se^2 + tau^2) + s0^2 J)."""
    y, v = np.asarray(y, float), np.asarray(se, float) ** 2

    def weight(t):
        cov = np.diag(v + t**2) + s0**2
        return np.exp(tau_logpdf(t) + stats.multivariate_normal.logpdf(y, np.full(len(y), m0), cov))

    def below(t):
        prec = 1 / s0**2 + np.sum(1 / (v + t**2))
        mean = (m0 / s0**2 + np.sum(y / (v + t**2))) / prec
        return weight(t) * stats.norm.cdf(-mean * np.sqrt(prec))

    z = integrate.quad(weight, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    return integrate.quad(below, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0] / z


def _hr_table(hrs):
    return _table([{"study": f"s{i}", "level": "G3", "reference": "G1", "statistic": "HR", "estimate": hr,
                    "ci_low": lo, "ci_high": hi} for i, (hr, lo, hi) in enumerate(hrs)])


@pytest.mark.parametrize("hrs", [[(3.41, 1.61, 7.24)], [(3.41, 1.61, 7.24), (1.2, 0.7, 2.1), (2.0, 0.9, 4.4)]])
def test_pooled_contrast_against_quadrature(hrs):
    fit = within_study(_hr_table(hrs), "PFS", "grade", "G3", "G1")
    c = fit.contrasts
    tau = parse_prior("halfnormal:0.5", "tau")
    ref = _reference_p_below(c["y"], c["se"], 0.0, 1.0, tau.logpdf)
    assert fit.prob("G3 < G1")["probability"] == pytest.approx(ref, abs=1e-6)
    assert fit.prob("G1 > G3")["probability"] == pytest.approx(ref, abs=1e-6)
    assert fit.prob("G3 > G1")["probability"] == pytest.approx(1 - ref, abs=1e-6)


def test_fixed_tau_gives_the_closed_form():
    """tau held at 0.3 (uniform 0.3-0.3001): mu | y is N(m, 1/P), P = 1/s0^2 + sum 1/(s_i^2 + tau^2)."""
    fit = within_study(_hr_table([(3.41, 1.61, 7.24), (1.2, 0.7, 2.1)]), "PFS", "grade", "G3", "G1",
                       priors={"tau": "uniform:0.3,0.3001"})
    y, v = fit.contrasts["y"].to_numpy(), fit.contrasts["se"].to_numpy() ** 2 + 0.30005**2
    prec = 1 + np.sum(1 / v)
    mean = np.sum(y / v) / prec
    lo, mid, hi = np.exp(mean + np.array([-Q, 0, Q]) / np.sqrt(prec))
    assert [fit.ratio[k] for k in ("ci_low", "median", "ci_high")] == pytest.approx([lo, mid, hi], rel=1e-5)
    assert [fit.hazard_ratio[k] for k in ("ci_low", "median", "ci_high")] == pytest.approx([1 / hi, 1 / mid, 1 / lo],
                                                                                           rel=1e-5)
    assert fit.p_shorter() == pytest.approx(stats.norm.cdf(-mean * np.sqrt(prec)), abs=1e-6)


def test_shipped_grade_contrast(dataset):
    """PFS G3 vs G1 (Lazarenko 2026 only): the statement's answer is the quadrature reference, says it is
    within-study, and the one-study note is there."""
    fit = within_study(dataset, "PFS", "grade", "G3", "G1")
    answer = fit.prob("G3 < G1")
    hr = dataset.within.query("outcome == 'PFS' and level == 'G3' and value_source == 'unadjusted'").iloc[0]
    y, se = -np.log(hr["estimate"]), np.log(hr["ci_high"] / hr["ci_low"]) / (2 * Z)
    ref = _reference_p_below([y], [se], 0.0, 1.0, parse_prior("halfnormal:0.5", "tau").logpdf)
    assert answer["probability"] == pytest.approx(ref, abs=1e-6)
    assert (answer["comparison"], answer["method"], answer["k"], answer["studies"]) == (
        "within-study", "exact", 1, "lazarenko2026")
    assert any(n.startswith("one study (lazarenko2026): tau's posterior is its prior") for n in fit.notes)
    # the study's own contrast theta_1: likelihood N(y; theta, se^2) times its prior N(0, 1 + tau^2), mixed over
    # the tau prior; the draws' P(theta_1 < 0) within 4 Monte Carlo SEs of it
    tau_pdf = parse_prior("halfnormal:0.5", "tau").logpdf

    def part(t, below):
        a = 1 + t**2
        w = np.exp(tau_pdf(t)) * stats.norm.pdf(y, 0, np.sqrt(a + se**2))
        return w * (stats.norm.cdf(-(y * a / (a + se**2)) / np.sqrt(a * se**2 / (a + se**2))) if below else 1)

    p_theta = (integrate.quad(part, 0, np.inf, args=(True,))[0] / integrate.quad(part, 0, np.inf, args=(False,))[0])
    p_study = fit.studies.iloc[0]["P(G3 < G1)"]
    assert abs(p_study - p_theta) < 4 * np.sqrt(p_theta * (1 - p_theta) / fit.draws["mu"].size)
    assert p_theta > answer["probability"] + 0.04  # the mean contrast is wider: tau's prior widens it
    d = fit.to_dict()
    assert d["comparison"] == "within-study" and d["p_G3_shorter"] == answer["probability"]
    assert "Within-study contrast of PFS by grade: G3 vs G1" in str(fit)
    with pytest.raises(AnalysisError, match="'G3 > 0.5': compare two levels"):
        fit.prob("G3 > 0.5")
    with pytest.raises(AnalysisError, match="compare the two levels"):
        fit.prob("G2 < G1")


# ------------------------------------------------------------------ specs and the report's summary
WITHIN_ST = '[[statements]]\noutcome = "PFS"\nby = "grade"\ncomparison = "within-study"\ntext = "{text}"\n'


def _spec(tmp_path, statements: str):
    from bayes_prrt.analysis.spec import read_spec

    path = tmp_path / "s.toml"
    path.write_text('[analysis]\nname = "t"\noutcomes = ["PFS"]\ncovariates = []\nmcmc = "none"\n' + statements
                    + '[sensitivity]\nscenarios = ["published"]\ntau_median = ["halfnormal:0.25", "halfnormal:1"]\n'
                      'mu_median = ["normal:3,1.5"]\n')
    return read_spec(path)


@pytest.mark.parametrize("statement, key, message", [
    (WITHIN_ST.replace("within-study", "within"), "statements[0].comparison",
     "'within' is not one of between-study, within-study"),
    (WITHIN_ST.replace('by = "grade"\n', ""), "statements[0].by", "a within-study statement needs 'by'"),
    (WITHIN_ST.format(text="> 18"), "statements[0].text", "'> 18': compare two levels"),
    (WITHIN_ST.format(text="G3 - G1 < 0"), "statements[0].text", "compare two levels"),
])
def test_spec_refuses_bad_within_statements(tmp_path, statement, key, message):
    from bayes_prrt.analysis.spec import SpecError

    with pytest.raises(SpecError) as err:
        _spec(tmp_path, statement)
    assert f"key '{key}'" in str(err.value) and message in str(err.value)


def test_spec_checks_within_statements_against_the_data(tmp_path, dataset):
    from bayes_prrt.analysis.spec import SpecError, check_against_data
    from bayes_prrt.data.dataset import Dataset

    spec = _spec(tmp_path, WITHIN_ST.format(text="G3 < G2"))
    with pytest.raises(SpecError, match=r"statements\[0\].text'.*no within-study PFS contrast of grade G3 vs G2.*G2 v"):
        check_against_data(spec, dataset)
    bare = Dataset(dataset.outcomes, dataset.source, dataset.sha256, dataset.studies, dataset.published,
                   dataset.covariates)
    with pytest.raises(SpecError, match=r"statements\[0\].comparison'.*no within-study subgroup rows"):
        check_against_data(_spec(tmp_path, WITHIN_ST.format(text="G3 < G1")), bare)
    assert _spec(tmp_path, WITHIN_ST.format(text="G3 < G1")).statements[0]["comparison"] == "within-study"


def test_summary_says_what_each_statement_rests_on(tmp_path, dataset):
    """A small run (PFS, no MCMC): the pooled, a between-study and a within-study statement, each with its wording;
    the within-study answer is that of within_study() under the spec's priors, its verdict over the tau grid."""
    from bayes_prrt.analysis.pipeline import run_analysis
    from bayes_prrt.bayes.sampling import Settings
    from bayes_prrt.report.summary import RESTS_ON, run_summary

    spec = _spec(tmp_path, '[[statements]]\noutcome = "PFS"\ntext = "> 18"\n'
                           '[[statements]]\noutcome = "PFS"\nby = "site"\ntext = "GEP > mixed"\n'
                 + WITHIN_ST.format(text="G3 < G1"))
    spec.covariates = ["site"]
    run = run_analysis(spec, dataset, Settings())
    rows = run_summary(run)[0]["statements"]
    assert [r["statement"] for r in rows] == ["P(PFS > 18)", "P(PFS: GEP > mixed, by site)",
                                              "P(PFS: G3 < G1, by grade within studies)"]
    assert [r["rests_on"] for r in rows] == [RESTS_ON[None], RESTS_ON["between-study"],
                                             RESTS_ON["within-study"] + " (lazarenko2026)"]
    answer = run.outcomes[0].statements[2]
    assert answer["probability"] == within_study(dataset, "PFS", "grade", "G3", "G1").prob("G3 < G1")["probability"]
    grid = {t: within_study(dataset, "PFS", "grade", "G3", "G1", priors={"tau": t}).prob("G3 < G1")["probability"]
            for t in ("halfnormal:0.25", "halfnormal:1")}
    verdict = run.outcomes[0].sensitivity.verdicts["G3 < G1"]
    assert verdict["priors"]["range"] == [min(grid.values()), max(grid.values())]
    assert rows[2]["verdict"] == verdict["wording"]
    from bayes_prrt.report.methods import methods_paragraphs

    assert any(p.startswith("Within-study statements: each study's own hazard ratio") for p in methods_paragraphs(run))
