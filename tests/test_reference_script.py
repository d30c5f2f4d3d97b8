"""When R with metafor is installed, re-running each committed script reproduces its committed JSON."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"
SCRIPTS = ["metafor_reference", "bias_reference"]  # <name>.R writes <name>.json


def _has_metafor() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "quit(status = !requireNamespace('metafor', quietly = TRUE))"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _has_metafor(), reason="R with metafor is not installed (apt-get install r-cran-metafor)")
@pytest.mark.parametrize("name", SCRIPTS)
def test_script_reproduces_committed_json(tmp_path, name):
    out = tmp_path / "ref.json"
    subprocess.run(["Rscript", str(REFERENCE / f"{name}.R"), str(out)], cwd=ROOT, check=True, capture_output=True,
                   timeout=600)
    fresh, committed = json.loads(out.read_text()), json.loads((REFERENCE / f"{name}.json").read_text())
    assert fresh["cases"] == committed["cases"]
    assert fresh["meta"]["metafor"] == committed["meta"]["metafor"]


@pytest.mark.skipif(not _has_metafor(), reason="R with metafor is not installed (apt-get install r-cran-metafor)")
def test_scenario_shift_script_reproduces_committed_json(tmp_path):
    out = tmp_path / "shift.json"
    subprocess.run(["Rscript", str(ROOT / "tests" / "reference" / "scenario_shift.R"), str(out)], cwd=ROOT,
                   check=True, capture_output=True, timeout=300)
    committed = json.loads((ROOT / "tests" / "reference" / "scenario_shift.json").read_text())
    assert json.loads(out.read_text())["cases"] == committed["cases"]
