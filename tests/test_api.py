"""The Python API (issue 12): result objects, saving and reloading, statements at the door, layers."""

import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bayes_prrt
from bayes_prrt.analysis.spec import SpecError, check_against_data, read_spec
from bayes_prrt.cli import main
from bayes_prrt.jsonio import dumps
from bayes_prrt.priors import default_priors

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def data():
    return bayes_prrt.load_dataset()


def test_notebook_example_runs(capsys):
    """docs/examples/orr_by_grade.py: load, fit ORR by grade, print, summary, prob, save, reload, plot."""
    runpy.run_path(str(ROOT / "docs" / "examples" / "orr_by_grade.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Bayesian hierarchical model (k = 12" in out and "Subgroups by grade" in out
    assert re.search(r"P\(ORR in G1-2 > ORR in G2-3\) = 0\.\d\d \(MCSE 0\.0\d\d\)", out)


def test_freq_fit_object(data):
    fit = bayes_prrt.pool(data, "DCR", tau2="REML", by="grade")
    assert isinstance(fit, bayes_prrt.FreqFit) and fit.k == 12
    table = fit.summary()
    assert table.loc["pooled DCR", "estimate"] == fit.estimate and table.loc["tau2", "estimate"] == fit.tau2
    assert table.loc["QE", "pval"] == fit.QEp and fit.QE == fit.result.Q
    assert table.loc["grade: G1-2", "estimate"] == fit.subgroups.levels["G1-2"].estimate
    studies = table[table.index.str.startswith("study ")]
    assert len(studies) == 12 and studies["weight_%"].sum() == pytest.approx(100)
    assert "Random-effects model (k = 12; tau^2 estimator: REML)" in str(fit) and "Subgroups by grade" in str(fit)
    assert "<table" in fit._repr_html_()
    loo = fit.leave1out()
    assert len(loo) == 12 and loo["estimate"].between(fit.ci_low - 0.05, fit.ci_high + 0.05).all()
    figure = fit.plot_forest()
    texts = {t.get_text() for t in figure.axes[0].texts}
    assert set(data.studies.set_index("study").loc[fit.rows["study"], "label"]) <= texts


def test_freq_json_is_the_fit(data):
    """`pool --json` prints fit.to_dict(): the CLI adds nothing of its own."""
    out = json.loads(CliRunner().invoke(main, ["pool", "--outcome", "ORR", "--json"]).output)
    fit = bayes_prrt.pool(data, "ORR")
    assert out == json.loads(dumps(fit.to_dict()))
    assert {"method", "values", "data_sha256", "estimate", "ci_low", "ci_high", "tau2", "I2", "Q", "weights"} <= set(out)


def test_bayes_fit_save_and_reload_quadrature(data, tmp_path):
    fit = bayes_prrt.pool(data, "PFS", method="bayes", engine="quadrature")
    assert isinstance(fit, bayes_prrt.BayesFit)
    path = tmp_path / "pfs.nc"
    fit.to_netcdf(path)
    again = bayes_prrt.load_fit(path)
    pd.testing.assert_frame_equal(fit.summary(), again.summary())
    assert again.to_dict() == fit.to_dict() and again.prob("> 20") == fit.prob("> 20")
    table = fit.summary()
    assert table.loc["pooled PFS", "median"] == pytest.approx(fit.pooled["median"])
    assert np.isnan(table.loc["tau", "rhat"]) and table.loc["tau", "ess_bulk"] == fit.idata.posterior.draw.size


def test_load_fit_refuses_other_files(tmp_path):
    path = tmp_path / "x.nc"
    path.write_text("not netcdf")
    with pytest.raises(bayes_prrt.BayesPrrtError, match="not a fit saved by bayes-prrt"):
        bayes_prrt.load_fit(path)


def test_prob_answers_from_a_saved_fit_without_sampling(data, tmp_path, monkeypatch):
    fit = bayes_prrt.pool(data, "OS", method="bayes", engine="quadrature")
    path = tmp_path / "os.nc"
    fit.to_netcdf(path)
    import bayes_prrt.bayes.fit as fit_module

    monkeypatch.setattr(fit_module, "bayes_pool", lambda *a, **k: pytest.fail("sampled again"))
    result = CliRunner().invoke(main, ["prob", "--outcome", "OS", "--idata", str(path), "--json", "> 40"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["statements"][0]["probability"] == fit.prob("> 40")["probability"]
    assert out["answered_from"] == f"saved fit {path}"


def test_covariate_model_reuses_the_overall_fit(data, monkeypatch):
    """A covariate model given an overall fit makes exactly one MCMC fit (its own)."""
    from bayes_prrt.bayes import sampling

    overall = bayes_prrt.pool(data, "PFS", method="bayes", engine="quadrature")
    before = sampling.STATS["fits"]
    by_site = bayes_prrt.pool(data, "PFS", method="bayes", by="site", overall=overall, draws=300)
    assert sampling.STATS["fits"] - before == 1 and by_site.overall is overall
    assert by_site.pooled == overall.pooled and set(by_site.levels) == set(by_site.rows["site"]) == {
        "GEP", "GEP + bronchopulmonary", "mixed"}


def _spec(tmp_path, statements: str, covariates='["grade"]') -> Path:
    path = tmp_path / "s.toml"
    path.write_text(f'[analysis]\noutcomes = ["ORR"]\ncovariates = {covariates}\n{statements}')
    return path


@pytest.mark.parametrize("statement,key,message", [
    ('[[statements]]\noutcome = "ORR"\nby = "grade"\ntext = "G1-2 > G3"\n', "statements[0].text",
     "G3 is not a level of grade"),
    ('[[statements]]\noutcome = "ORR"\nby = "sitee"\ntext = "GEP > lung"\n', "statements[0].by",
     "'sitee' is not a column"),
    ('[[statements]]\noutcome = "ORR"\ntext = "G1-2 > G2-3"\n', "statements[0].text",
     "give the covariate (by)"),
])
def test_statements_checked_before_any_fit(tmp_path, monkeypatch, data, statement, key, message):
    spec = read_spec(_spec(tmp_path, statement))
    with pytest.raises(SpecError) as info:
        check_against_data(spec, data)
    assert f"key '{key}'" in str(info.value) and message in str(info.value) and str(tmp_path) in str(info.value)
    import bayes_prrt.analysis.pipeline as pipeline

    monkeypatch.setattr(pipeline, "FitMemo", lambda *a: pytest.fail("fitted before checking"))
    result = CliRunner().invoke(main, ["run", "--spec", str(_spec(tmp_path, statement)), "--out",
                                       str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize("text,key", [
    ('[analysis]\noutcomes = ["ORR"]\n[[statements]]\noutcome = "OS"\ntext = "> 20"\n', "statements[0].outcome"),
    ('[analysis]\noutcomes = ["ORR"]\n[[statements]]\noutcome = "ORR"\ntext = "> nan"\n', "statements[0].text"),
])
def test_statement_errors_at_spec_load(tmp_path, text, key):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=re.escape(f"key '{key}'")):
        read_spec(path)


def test_unknown_covariate_is_a_spec_error(tmp_path, data):
    spec = read_spec(_spec(tmp_path, "", covariates='["grade", "nonexistent"]'))
    with pytest.raises(SpecError, match=r"key 'analysis.covariates'.*'nonexistent' is not a column"):
        check_against_data(spec, data)


def test_prob_checks_levels_before_sampling(monkeypatch):
    import bayes_prrt.api as api

    monkeypatch.setattr(api, "pool", lambda *a, **k: pytest.fail("sampled before checking"))
    result = CliRunner().invoke(main, ["prob", "--outcome", "ORR", "--by", "grade", "G1-2 > G9"])
    assert result.exit_code == 2 and "G9 is not a level of grade" in result.output


def test_docs_table_of_default_priors_is_the_packaged_one():
    """docs/bayes.md states the defaults that bayes_prrt.priors reads from models/prrt_default.toml."""
    text = (ROOT / "docs" / "bayes.md").read_text()
    rows = {m[1]: (m[2], m[3]) for m in re.finditer(r"^\| (μ|τ|β) \| `([^`]+)`[^|]*\| `([^`]+)`", text, re.M)}
    names = {"μ": "mu", "τ": "tau", "β": "beta"}
    assert set(rows) == set(names)
    for symbol, (binary, median) in rows.items():
        assert binary == str(default_priors("binary")[names[symbol]])
        assert median == str(default_priors("median")[names[symbol]])


def test_library_errors_name_parameters_not_flags():
    """Only the CLI speaks of command-line flags."""
    offenders = []
    for path in (ROOT / "bayes_prrt").rglob("*.py"):
        if "cli" in path.parts:
            continue
        for line in path.read_text().splitlines():
            if re.search(r"Error\(.*--[a-z]", line) or re.search(r'f?"[^"]*\buse --[a-z]', line):
                offenders.append(f"{path.name}: {line.strip()}")
    assert not offenders, offenders


def test_light_imports():
    """`import bayes_prrt` and the command line's start-up load no engine (pandas, PyMC, ArviZ, matplotlib)."""
    code = ("import sys, bayes_prrt, bayes_prrt.cli; heavy = [m for m in ('pandas', 'pymc', 'arviz', 'matplotlib', "
            "'scipy') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


LIGHT_COMMANDS = (["--help"], ["summary"], ["audit"], ["validate"], ["pool", "--outcome", "DCR", "--method", "freq"])
# what none of them needs; each would take a good part of their start-up budget (2x `import pandas`)
NOT_LOADED = ("pymc", "arviz", "pytensor", "matplotlib", "jinja2", "openpyxl", "numba", "xarray", "pandera",
              "scipy.stats", "scipy.optimize")


def test_light_commands_load_no_engine():
    """--help, summary, audit, validate and pool --method freq, each run in turn in one process, load
    none of NOT_LOADED (issue 12: they start in at most twice the time of `import pandas`)."""
    code = f"""
import contextlib, io, sys
from bayes_prrt.cli import main
for args in {LIGHT_COMMANDS!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
        except SystemExit as stop:
            assert stop.code == 0, (args, stop.code)
    print(' '.join(args), '->', ','.join(m for m in {NOT_LOADED!r} if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"{' '.join(args)} -> " for args in LIGHT_COMMANDS], out.stdout


def test_seed_streams_are_independent_and_reproducible():
    from bayes_prrt import seeds

    a, b = seeds.rng(1, "predictive").random(5), seeds.rng(1, "predictive").random(5)
    assert (a == b).all() and not np.allclose(a, seeds.rng(1, "prior").random(5))
    assert seeds.int_seed(1, "sampler") != seeds.int_seed(1, "refit")


def test_exact_binomial_shrunken_estimates_against_numerical_integration():
    """theta_i | x_i, mu, tau of the binomial model (``likelihood.study_effect_draws``, SIR) against the posterior
    mean and SD of theta by direct numerical integration on a fine grid."""
    from scipy.special import expit

    from bayes_prrt.likelihood import study_effect_draws

    x, n, mu, tau = np.array([3.0, 40.0]), np.array([20.0, 50.0]), -1.0, 0.8
    draws = study_effect_draws(x, n, np.full(40_000, mu), np.full(40_000, tau), np.random.default_rng(3))
    theta = np.linspace(-8, 8, 20_001)
    for i in range(2):
        log_post = x[i] * np.log(expit(theta)) + (n[i] - x[i]) * np.log(expit(-theta)) - (theta - mu) ** 2 / (2 * tau**2)
        w = np.exp(log_post - log_post.max())
        mean = (w * theta).sum() / w.sum()
        sd = np.sqrt((w * (theta - mean) ** 2).sum() / w.sum())
        assert draws[:, i].mean() == pytest.approx(mean, abs=4 * sd / np.sqrt(40_000) + 0.01 * sd)
        assert draws[:, i].std() == pytest.approx(sd, rel=0.03)


def test_exact_binomial_fit_has_shrunken_estimates(data):
    fit = bayes_prrt.pool(data, "DCR", method="bayes", engine="quadrature")
    studies = fit.studies
    assert studies["shrunken"].notna().all()
    assert ((studies["ci_low"] <= studies["shrunken"]) & (studies["shrunken"] <= studies["ci_high"])).all()
