"""`bayes-prrt run`: the report, its files, reproducibility and safe writing."""

import json
import re
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
                 "figures/contrasts_PFS_site.png", "figures/influence_PFS.png", "posterior/PFS.nc",
                 "figures/forest_PFS.svg", "figures/priorpost_PFS.png", "figures/heterogeneity_PFS.png"):
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


def test_summary_states_verdicts_and_puts_the_data_in_the_appendix(results):
    page = (results / "report.html").read_text()
    summary = page[page.index('id="summary"'):page.index('id="results"')]
    assert "P(PFS &gt; 18)" in summary and "P(PFS: GEP &gt; mixed, by site)" in summary
    assert re.search(r"(supported|uncertain|not supported|depends on the (prior|data scenario))", summary)
    assert "left out, no CI reported" in summary  # the studies left out, with why
    assert page.index('id="appendix"') > page.index('id="diagnostics"')
    assert "What was pooled" in page[page.index('id="appendix"'):]


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


VIEWPORT = (1400, 900)  # the report's first screen


def _browser(url: str, profile: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--hide-scrollbars", f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
                           f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args, url],
                          capture_output=True, text=True, timeout=120)


PROBE = """<script>window.addEventListener('load',()=>{const b=document.body, W=document.documentElement.clientWidth;
const i=[...document.images];
b.setAttribute('data-images',i.filter(x=>x.complete&&x.naturalWidth>0).length+'/'+i.length);
b.setAttribute('data-sections',[...document.querySelectorAll('section h2')]
  .filter(h=>h.getBoundingClientRect().height>0).length);
b.setAttribute('data-first-section',document.querySelector('section').id);
b.setAttribute('data-summary-in-view',[...document.querySelectorAll('#summary tr[data-outcome]')].filter(r=>
  r.querySelector('.pooled').textContent.trim().length>0&&r.getBoundingClientRect().bottom<=%d)
  .map(r=>r.dataset.outcome).join(','));
const tables=[...document.querySelectorAll('table')];
b.setAttribute('data-wide-tables',tables.filter(t=>
  t.getBoundingClientRect().right>W+0.5||t.scrollWidth>t.clientWidth+1).length+'/'+tables.length);
});</script>""" % VIEWPORT[1]


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install chromium); "
                                                "the report was not opened in a browser")
def test_report_in_headless_chromium(results, tmp_path):
    """Open the report in Chromium at 1400 x 900: the summary with every outcome's pooled value
    on the first screen, every image decoded, every section rendered, no table wider than the
    page; a screenshot of the first screen is saved in the results folder."""
    probe = tmp_path / "probe.html"
    probe.write_text((results / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = _browser(probe.as_uri(), tmp_path / "profile", "--dump-dom").stdout
    n = len(list((results / "figures").glob("*.png")))
    outcomes = ",".join(pd.read_csv(results / "tables" / "headline.csv")["outcome"])
    assert f'data-images="{n}/{n}"' in dom
    assert f'data-sections="{len(SECTIONS)}"' in dom
    assert 'data-first-section="summary"' in dom
    assert f'data-summary-in-view="{outcomes}"' in dom
    tables = (results / "report.html").read_text().count("<table")
    assert f'data-wide-tables="0/{tables}"' in dom
    shot = results / "screenshot.png"
    _browser((results / "report.html").as_uri(), tmp_path / "profile2", f"--screenshot={shot}")
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")) == VIEWPORT
