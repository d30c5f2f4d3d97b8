"""`bayes-prrt run`: the report, its files, reproducibility and safe writing."""

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from bayes_prrt.cli import main
from bayes_prrt.report.html import SECTIONS

SPEC = str(Path(__file__).parent / "specs" / "small.toml")


def _run(out: Path, *extra):
    return CliRunner().invoke(main, ["run", "--spec", SPEC, "--out", str(out), "--quiet", *extra])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "results"
    result = _run(out)
    assert result.exit_code == 0, result.output
    return out


def test_outputs_exist(results):
    for name in ("report.html", "run.json", "tables/headline.csv", "tables/statements.csv", "tables/verdicts.csv",
                 "figures/forest_PFS.png", "figures/sensitivity.png", "figures/subgroups_PFS_site.png",
                 "figures/contrasts_PFS_site.png", "figures/influence_PFS.png", "posterior/PFS.nc"):
        assert (results / name).stat().st_size > 0, name
    assert not list(results.parent.glob(".results.*"))  # the temporary folder is gone


def test_run_json_records_provenance(results):
    meta = json.loads((results / "run.json").read_text())
    assert meta["seed"] == 20261123 and len(meta["data"]["sha256"]) == 64
    assert {"python", "pymc", "arviz", "numpy"} <= set(meta["versions"])
    assert meta["converged"] is True and meta["diagnostics"]


def test_report_sections_and_embedded_figures(results):
    page = (results / "report.html").read_text()
    for sid, title in SECTIONS:
        assert f'id="{sid}"' in page and title in page
    figures = list((results / "figures").glob("*.png"))
    assert page.count("data:image/png;base64,") == len(figures)
    assert "src=\"figures/" not in page  # self-contained


def test_statements_answered(results):
    st = pd.read_csv(results / "tables" / "statements.csv")
    assert set(st["statement"]) == {"> 18", "GEP > mixed"} and st["probability"].between(0, 1).all()


EXPLAINING = ("note", "reason")  # the columns that say why a number is missing


def test_tables_have_no_inf_and_every_blank_is_explained(results):
    """Numerical guard: no infinity anywhere; a blank (NaN) in a numeric column only where the row
    says why (its note, or the validation table's reason). Text columns may be blank (e.g. `by`)."""
    for path in sorted((results / "tables").glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        explain = [c for c in frame.columns if c in EXPLAINING]
        explained = frame[explain].notna().any(axis=1) if explain else pd.Series(False, index=frame.index)
        for col in frame.columns:
            numbers = pd.to_numeric(frame[col], errors="coerce")
            assert not numbers.isin([float("inf"), float("-inf")]).any(), f"{path.name}: inf in {col}"
            if col in explain or (frame[col].notna() & numbers.isna()).any():
                continue  # a text column
            blank = frame[col].isna() & ~explained
            assert not blank.any(), f"{path.name}: {col} blank without a note in rows {list(frame.index[blank])}"


def test_run_json_is_strict_json(results):
    def refuse(token):
        raise AssertionError(f"run.json holds {token}")

    meta = json.loads((results / "run.json").read_text(), parse_constant=refuse)
    assert meta["diagnostics"]


def test_existing_results_need_force(results):
    refused = _run(results)
    assert refused.exit_code == 2 and "--force" in refused.output


def test_same_seed_same_tables(results, tmp_path):
    again = tmp_path / "again"
    assert _run(again).exit_code == 0
    for csv in sorted((results / "tables").glob("*.csv")):
        assert csv.read_bytes() == (again / "tables" / csv.name).read_bytes(), csv.name


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install chromium); "
                                                "the report was not opened in a browser")
def test_report_in_headless_chromium(results, tmp_path):
    """Open the report in Chromium: every image decoded, every section rendered."""
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load',()=>{const i=[...document.images];"
              "document.body.setAttribute('data-images',i.filter(x=>x.complete&&x.naturalWidth>0).length+'/'+i.length);"
              "document.body.setAttribute('data-sections',[...document.querySelectorAll('section h2')]"
              ".filter(h=>h.getBoundingClientRect().height>0).length)});</script>")
    probe.write_text((results / "report.html").read_text().replace("</body>", script + "</body>"))
    dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                          probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    n = len(list((results / "figures").glob("*.png")))
    assert f'data-images="{n}/{n}"' in dom
    assert f'data-sections="{len(SECTIONS)}"' in dom
