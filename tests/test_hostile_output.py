"""Output safety (issue 18): hostile names, full disks, killed runs, unwritable or precious destinations.

Most cases test the writer and the library functions directly. One real ``run`` of
tests/specs/small.toml (a module fixture, ~40 s) provides the analysis object the writer tests
write again, with names or destinations changed; the CLI cases replace the analysis by that
object, so they take seconds. Disk-full and read-only cases mount a small tmpfs (root only;
skipped, with the reason, elsewhere).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from bayes_prrt import files
from bayes_prrt import api
from bayes_prrt.analysis import pipeline
from bayes_prrt.cli import main
from bayes_prrt.sensitivity import analysis as sensitivity
from bayes_prrt.cli.progress import progress_display
from bayes_prrt.errors import BayesPrrtError
from bayes_prrt.freq.pool import pool, subgroups
from bayes_prrt.report import writer
from bayes_prrt.report.console import console, print_frame
from bayes_prrt.report.html import render_report
from bayes_prrt.sensitivity.analysis import GridEntry, outcome_sensitivity

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "tests" / "specs" / "small.toml")
HOSTILE = ["a$^$b <script>", "=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "[/bold]A",
           "\x1b]0;pwned\x07\x1b[31mred"]  # the first: mathtext in a figure label, and HTML


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(the analysis object of one real `run`, the folder it wrote)."""
    captured, real = {}, writer.write_run

    def keep(run, out, force, timings, **kwargs):
        captured["run"] = run
        return real(run, out, force, timings, **kwargs)

    out = tmp_path_factory.mktemp("run") / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writer, "write_run", keep)
        result = CliRunner().invoke(main, ["run", "--spec", SPEC, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return captured["run"], out


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def previous_results(out: Path) -> dict[str, bytes]:
    """A small bayes-prrt results folder (its run.json lists bayes-prrt among the versions)."""
    (out / "tables").mkdir(parents=True)
    (out / "run.json").write_text(json.dumps({"versions": {"bayes-prrt": "0.0"}}))
    (out / "report.html").write_text("<p>the previous run</p>")
    return snapshot(out)


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def no_analysis(*args, **kwargs):
    raise AssertionError("the analysis ran although the destination could not be written")


@contextmanager
def mounted_tmpfs(path: Path, options: str):
    path.mkdir(parents=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB file system."""
    with mounted_tmpfs(tmp_path / "disk", "size=2m") as path:
        yield path


@pytest.fixture
def read_only(tmp_path):
    """A folder no one may write in: a read-only tmpfs as root (who ignores permissions), else mode 0555."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as path:
        yield path


def fill(folder: Path, leave: int) -> None:
    """Fill ``folder``'s file system until ``leave`` bytes are free."""
    free = shutil.disk_usage(folder).free
    (folder / "filler").write_bytes(b"\0" * max(free - leave, 0))


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def marked(folder: Path, pid: int) -> Path:
    (folder / "tables").mkdir(parents=True)
    (folder / files.MARKER).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    return folder


# ---------------------------------------------------------------- 1. CSV formula injection

def test_write_csv_neutralises_formulas(tmp_path):
    path = tmp_path / "t.csv"
    files.write_csv(pd.DataFrame({"study": HOSTILE + ["plain"], "x": -0.5, "=col": 1}), path, index=False)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns) == ["study", "x", "'=col"]
    expected = ["'" + s if s[0] in "=+-@\t\r" else s for s in HOSTILE] + ["plain"]
    assert list(back["study"]) == expected  # markup is not a formula: unchanged
    assert set(back["x"]) == {"-0.5"}  # a number stays a number


def test_run_tables_neutralise_formulas_and_get_the_umask(finished, tmp_path, monkeypatch):
    """Item 1 through the writer (the study names of the analysis replaced by hostile ones) and
    item 9 (folder 0777 & ~umask instead of mkdtemp's 0700; files 0666 & ~umask); a stale
    temporary folder of a killed run beside ``out`` is removed first (item 4)."""
    run, _ = finished
    o = run.outcomes[0]
    names = dict(zip(o.bayes.studies["study"], HOSTILE * len(o.bayes.studies)))
    studies, rows = o.bayes.studies.copy(), o.rows.copy()
    studies["study"], rows["study"] = studies["study"].map(names), rows["study"].map(names)
    monkeypatch.setattr(type(o.bayes), "studies", property(lambda fit: studies))
    monkeypatch.setattr(o, "rows", rows)
    out = tmp_path / "results"
    stale = marked(tmp_path / ".results.abcd1234", dead_pid())
    mask = os.umask(0o027)
    try:
        writer.write_run(run, out, False, {})
    finally:
        os.umask(mask)
    table = pd.read_csv(out / "tables" / "studies.csv", dtype=str, keep_default_na=False)
    assert list(table["study"]) == [("'" + s if s[0] in "=+-@\t\r" else s) for s in studies["study"]]
    for col in table:
        text = table[col][pd.to_numeric(table[col], errors="coerce").isna()]
        assert not text.str.startswith(files.FORMULA_START).any(), col
    assert out.stat().st_mode & 0o777 == 0o750
    assert (out / "run.json").stat().st_mode & 0o777 == 0o640
    assert (out / "posterior" / "PFS.nc").stat().st_mode & 0o777 == 0o640
    assert not stale.exists() and not leftovers(out) and not (out / files.MARKER).exists()
    assert "a$^$b &lt;script&gt;" in (out / "report.html").read_text()  # and the figures were drawn


def test_report_escapes_outcome_and_covariate_names(finished, monkeypatch):
    run, _ = finished
    o = run.outcomes[0]
    monkeypatch.setattr(o, "refused", {"<b>cov": "<i>reason"})
    monkeypatch.setattr(o, "outcome", "<script>x</script>")
    page = render_report(run, writer.tables(run), {}, Path("."), {"converged": True, "versions": {}})
    assert "<script>x" not in page and "<b>cov" not in page and "&lt;b&gt;cov" in page


def test_write_atomic_gives_the_umask_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        files.write_atomic(tmp_path / "f.png", lambda tmp: Path(tmp).write_bytes(b"x"))
    finally:
        os.umask(mask)
    assert (tmp_path / "f.png").stat().st_mode & 0o777 == 0o644  # mkstemp alone gives 0600


# ---------------------------------------------------------------- 2. markup and control characters

def test_console_shows_markup_and_control_characters_literally():
    frame = pd.DataFrame({"study": HOSTILE, "[/y]col": 1.0})
    with console.capture() as cap:
        print_frame(frame, title="[/x] title \x1b]0;t\x07")
        console.print(f"Report: {Path('runs/[/y]') / 'report.html'}")
        console.print("UNRELIABLE", style="bold")
    text = cap.get()
    assert "[/bold]A" in text and "[/y]col" in text and "runs/[/y]/report.html" in text and "[/x] title" in text
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b]0;pwned\\x07\\x1b[31mred" in text


def test_cli_prints_hostile_names_literally(write_csv):
    # outcome names are validated at the door (letters, digits, - _ . + % ( ) and spaces), so the markup is in
    # the study names and a covariate's levels, which are free text
    path = write_csv('study,outcome,events,n,grade\n"[/bold]A",X (y),20,30,[b]G1\n'
                     '"\x1b]0;pwned\x07\x1b[31mred",X (y),45,50,G3\n"=1+1",X (y),30,40,G3\n')
    result = invoke("pool", "--data", path, "--outcome", "X (y)", "--by", "grade")
    assert result.exit_code == 0, result.output
    assert "[/bold]A" in result.output and "outcome X (y)" in result.output and "[b]G1" in result.output
    assert "\x1b" not in result.output and "\\x1b[31mred" in result.output
    refused = invoke("pool", "--data", path, "--outcome", "\x1b]0;pwned\x07")
    assert_one_line_error(refused)
    assert "\x1b" not in refused.output and "\x07" not in refused.output


def test_progress_label_is_shown_literally(monkeypatch):
    """Reproducer: rich's TextColumn read the label ("fitting <outcome>") as markup: MarkupError."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress_display(quiet=False) as step:
        step("fitting [/y]X \x1b[31m")


# ---------------------------------------------------------------- 3. full disk

NETCDF_ON_FULL_DISK = """
import sys, numpy as np, arviz as az
from pathlib import Path
from bayes_prrt.files import write_netcdf
from bayes_prrt.errors import BayesPrrtError
n = 3000
idata = az.from_dict(posterior={"mu": np.random.randn(4, n), "theta": np.random.randn(4, n, 30)},
                     sample_stats={"lp": np.random.randn(4, n)}, observed_data={"y": np.arange(30.0)})
try:
    write_netcdf(idata, Path(sys.argv[1]))
except BayesPrrtError as err:
    print(err)
"""


def test_netcdf_on_a_full_disk_is_an_error_not_a_crash(small_disk):
    """Reproducer: ``idata.to_netcdf`` (h5py) with 1.5 MB of 2 MB used raises OSError and then the
    process dies with SIGSEGV (status 139). ``write_netcdf`` builds the file in memory: one line."""
    fill(small_disk, leave=500_000)
    done = subprocess.run([sys.executable, "-c", NETCDF_ON_FULL_DISK, str(small_disk / "post.nc")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip().startswith(f"cannot write {small_disk / 'post.nc'}: No space left on device")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]  # no partial file


def test_netcdf_bytes_round_trip(finished, tmp_path):
    import arviz as az

    run, _ = finished
    idata = run.outcomes[0].bayes.idata
    files.write_netcdf(idata, tmp_path / "p.nc")
    back = az.from_netcdf(tmp_path / "p.nc")
    assert set(back.groups()) == set(idata.groups())
    for group in idata.groups():
        for name, var in idata[group].data_vars.items():
            np.testing.assert_array_equal(back[group][name].to_numpy(), var.to_numpy())


def test_run_refuses_when_space_is_short(finished, small_disk, monkeypatch):
    """The estimated size (posterior bytes, figures, tables) exceeds the free space: exit 2 with one
    line before anything is written; the previous results stay."""
    run, _ = finished
    out = small_disk / "results"
    before = previous_results(out)
    monkeypatch.setattr(pipeline, "run_analysis", lambda *a, **k: run)
    result = invoke("run", "--spec", SPEC, "--out", out, "--quiet", "--force")
    assert_one_line_error(result, "not enough free space", "MB are free")
    assert snapshot(out) == before and not leftovers(out)


def test_disk_full_while_writing_keeps_previous_results(finished, small_disk, monkeypatch):
    """The space check passes (here: switched off) but the disk fills while writing: one line,
    the temporary folder removed, the previous results intact."""
    run, _ = finished
    out = small_disk / "results"
    before = previous_results(out)
    fill(small_disk, leave=300_000)
    monkeypatch.setattr(writer, "check_space", lambda folder, needed: None)
    with pytest.raises(BayesPrrtError, match="No space left on device.*nothing was changed"):
        writer.write_run(run, out, True, {})
    assert snapshot(out) == before and not leftovers(out)


# ---------------------------------------------------------------- 4. killed runs

def test_stale_temporary_folders_are_removed_and_moved_results_restored(tmp_path):
    out = tmp_path / "results"
    dead, sleeper = dead_pid(), subprocess.Popen(["sleep", "30"])
    try:
        killed = marked(tmp_path / ".results.abcd1234", dead)
        moved = marked(tmp_path / ".results.abcd1234.old", dead)  # killed between the two moves
        (moved / "run.json").write_text("{}")
        live = marked(tmp_path / ".results.live5678", sleeper.pid)
        unmarked = tmp_path / ".results.zzzz9999"
        unmarked.mkdir()
        other = marked(tmp_path / ".results.x.abcd1234", dead)  # the temporary folder of --out results.x
        writer.remove_stale(out)
        assert not killed.exists() and not moved.exists()
        assert (out / "run.json").read_text() == "{}" and not (out / files.MARKER).exists()  # put back
        assert live.exists() and unmarked.exists() and other.exists()
        again = marked(tmp_path / ".results.efgh5678.old", dead)  # killed after the new results were in place
        writer.remove_stale(out)
        assert not again.exists() and (out / "run.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow
def test_sigkill_while_writing_leaves_a_marked_folder_the_next_run_removes(tmp_path):
    """The real thing (a whole run, ~40 s): SIGKILL as soon as the temporary folder is marked."""
    out = tmp_path / "results"
    proc = subprocess.Popen([sys.executable, "-m", "bayes_prrt.cli", "run", "--spec", SPEC, "--out", str(out),
                             "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 180
    while not list(tmp_path.glob(f".results.*/{files.MARKER}")):
        assert proc.poll() is None and time.monotonic() < end, "the run never started writing"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith(".results.")]
    assert json.loads((folder / files.MARKER).read_text())["pid"] == proc.pid
    writer.remove_stale(out)  # what the next run does before it writes
    assert not leftovers(out) and not out.exists()


# ---------------------------------------------------------------- 5. unwritable destinations

def test_check_writable_refuses_early(tmp_path, read_only):
    (tmp_path / "file").write_text("x")
    cases = [(Path("/"), True, "root folder"), (tmp_path / "file", True, "is a file"),
             (tmp_path, False, "is a folder"), (tmp_path / "file" / "sub", True, "is not a folder"),
             (read_only / "res", True, "cannot write in"), (read_only / "a" / "b.nc", False, "cannot write in")]
    for path, folder, fragment in cases:
        with pytest.raises(BayesPrrtError, match=fragment):
            files.check_writable(path, "--out", folder=folder)
    files.check_writable(tmp_path / "new" / "deeper", "--out", folder=True)  # made later, as needed
    assert not (tmp_path / "new").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["file", "ro"]


def test_unwritable_outputs_fail_before_any_fit(read_only, monkeypatch):
    for module, name in ((pipeline, "run_analysis"), (api, "pool"), (sensitivity, "spec_sensitivities")):
        monkeypatch.setattr(module, name, no_analysis)
    for args in (["run", "--spec", SPEC, "--out", read_only / "res"], ["run", "--spec", SPEC, "--out", "/"],
                 ["pool", "--outcome", "PFS", "--method", "bayes", "--idata", read_only / "p.nc"],
                 ["prob", "--outcome", "PFS", "--idata", read_only / "p.nc", "> 18"],
                 ["sensitivity", "--spec", SPEC, "--plot", read_only / "s.png"]):
        assert_one_line_error(invoke(*args), "cannot" if args[-1] != "/" else "root folder")


# ---------------------------------------------------------------- 6. symbolic links

def test_symlinked_out_replaces_its_target(finished, tmp_path):
    """Chosen: follow the link. The user keeps results elsewhere (another disk) on purpose; the
    link keeps working and nothing is left beside either of them."""
    run, _ = finished
    target = tmp_path / "disk" / "results"
    previous_results(target)
    link = tmp_path / "results"
    link.symlink_to(target)
    writer.write_run(run, link, True, {})
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert "bayes-prrt" in json.loads((target / "run.json").read_text())["versions"]
    assert (target / "posterior" / "PFS.nc").exists() and not leftovers(target) and not leftovers(link)


def test_dangling_and_looping_links(tmp_path):
    dangling = tmp_path / "results"
    dangling.symlink_to(tmp_path / "elsewhere" / "results")
    assert writer.destination(dangling) == (tmp_path / "elsewhere" / "results").resolve()
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(BayesPrrtError, match="cannot be followed"):
        writer.check_destination(tmp_path / "a", True)


# ---------------------------------------------------------------- 7. --force only over results folders

def test_force_refuses_what_is_not_a_results_folder(tmp_path, monkeypatch):
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "thesis.tex").write_text("\\chapter{One}")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "run.json").write_text('{"versions": {"other-tool": "1"}}')
    for folder in (thesis, foreign):
        with pytest.raises(BayesPrrtError, match="not a bayes-prrt results folder"):
            writer.check_destination(folder, True)
    results = tmp_path / "results"
    previous_results(results)
    writer.check_destination(results, True)  # a results folder may be replaced
    (results / "data.csv").write_text("study,outcome\n")
    with pytest.raises(BayesPrrtError, match="holds .*data.csv"):
        writer.check_destination(results, True, (None, results / "data.csv"))
    monkeypatch.chdir(results / "tables")
    with pytest.raises(BayesPrrtError, match="holds"):
        writer.check_destination(Path(".."), True)
    monkeypatch.setattr(pipeline, "run_analysis", no_analysis)
    before = snapshot(thesis)
    assert_one_line_error(invoke("run", "--spec", SPEC, "--out", thesis, "--force"), "not a bayes-prrt results folder")
    assert snapshot(thesis) == before


# ---------------------------------------------------------------- 8. generated code in the temporary folder

def test_mcmc_leaves_nothing_in_the_system_temporary_folder(tmp_path):
    """Reproducer: a tiny MCMC fit left 12 ``tmp*`` files (pytensor's generated source, written
    with NamedTemporaryFile(delete=False)). The CLI now points them at one folder it removes."""
    system = tmp_path / "system-tmp"
    system.mkdir()
    done = subprocess.run([sys.executable, "-m", "bayes_prrt.cli", "pool", "--outcome", "PFS", "--method", "bayes",
                           "--draws", "100", "--chains", "2", "--allow-unconverged", "--json"], cwd=ROOT,
                          env={**os.environ, "TMPDIR": str(system)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["diagnostics"]
    assert list(system.iterdir()) == []


def test_scratch_tempdir_removes_stale_folders_of_killed_runs(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    stale = marked(tmp_path / "bayes-prrt-scratch.abcd1234", dead_pid())
    with files.scratch_tempdir() as folder:
        assert os.environ["TMPDIR"] == str(folder) and folder.parent == tmp_path
        Path(__import__("tempfile").mkstemp()[1]).write_text("generated code")
    assert not stale.exists() and not folder.exists()


# ---------------------------------------------------------------- 9. one-entry prior grid

def test_one_entry_prior_grid_gives_no_warning(finished):
    run, _ = finished
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = outcome_sensitivity(run.data, "PFS", [{"outcome": "PFS", "text": "> 18"}],
                                  [GridEntry("tau ~ halfnormal:0.5", {"tau": "halfnormal:0.5"})], [], (0.05, 0.95),
                                  mcmc=False)
    assert [str(w.message) for w in caught if "empty slice" in str(w.message)] == []
    assert len(res.priors) == 1 and "extra_prior_median_s" not in res.timing


# ---------------------------------------------------------------- 10. frequentist holes

def binary_rows(events, n, grade=None) -> pd.DataFrame:
    k = len(events)
    return pd.DataFrame({"study": [f"s{i}" for i in range(k)], "outcome": "ORR",
                         "events": pd.array(events, dtype="Int64"), "n": pd.array(n, dtype="Int64"),
                         "median": np.nan, "ci_low": np.nan, "ci_high": np.nan, "kind": "binary",
                         "grade": grade or ["G1"] * k})


@pytest.mark.parametrize("events", [[30, 40, 50], [0, 0, 0]], ids=["all-100%", "all-0%"])
def test_pr_bounds_are_clipped_to_the_unit_interval(events):
    """Closed form: with 1/2 added to both cells, yi = (x + 1/2)/(n + 1), vi = yi(1 - yi)/(n + 1);
    the studies are homogeneous (tau2 = 0), so the CI is the inverse-variance mean +- 1.96 se,
    which crosses 1 (or 0); metafor prints that raw bound (0.9692, 1.0073 for all-100%)."""
    n = np.array([30, 40, 50])
    yi = (np.array(events) + 0.5) / (n + 1)
    w = (n + 1) / (yi * (1 - yi))
    mean, se = np.sum(w * yi) / np.sum(w), np.sqrt(1 / np.sum(w))
    raw = mean + np.array([-1, 1]) * stats.norm.ppf(0.975) * se
    res = pool(binary_rows(events, list(n)), "PR")
    assert res.tau2 == 0 and res.estimate == pytest.approx(mean, rel=1e-10)
    assert (res.ci_low, res.ci_high) == pytest.approx(tuple(np.clip(raw, 0, 1)), rel=1e-10)
    assert 0 <= res.pi_low <= res.pi_high <= 1 and (raw[0] < 0 or raw[1] > 1)
    assert any(f"[{raw[0]:.4g}, {raw[1]:.4g}]" in note and "clipped" in note for note in res.notes)


def test_glmm_single_study_level_is_its_own_estimate():
    """`pool --by grade --measure GLMM` stopped with "the GLMM needs at least 2 studies"."""
    rows = binary_rows([20, 30, 25, 36], [30, 40, 50, 45], grade=["G1", "G2", "G2", "G2"])
    sub = subgroups(rows, "grade", "GLMM")
    single = sub.levels["G1"]
    assert single.single_study and single.estimate == 20 / 30
    exact = (stats.beta.ppf(0.025, 20, 11), stats.beta.ppf(0.975, 21, 10))  # Clopper-Pearson
    assert (single.ci_low, single.ci_high) == pytest.approx(exact, rel=1e-10)
    pooled = pool(rows[rows["grade"] == "G2"].reset_index(drop=True), "GLMM")
    assert sub.levels["G2"].estimate == pooled.estimate and sub.df == 1


def test_cli_glmm_by_level_with_one_study(write_csv):
    path = write_csv("study,outcome,events,n,grade\na,ORR,20,30,G1\nb,ORR,30,40,G2\nc,ORR,25,50,G2\n")
    result = invoke("pool", "--data", path, "--outcome", "ORR", "--by", "grade", "--measure", "GLMM")
    assert result.exit_code == 0, result.output
    (g1,) = [line for line in result.output.splitlines() if " G1 " in line]
    low, high = stats.beta.ppf(0.025, 20, 11), stats.beta.ppf(0.975, 21, 10)  # Clopper-Pearson, 20/30
    assert [f"{v:.4g}" for v in (20 / 30, low, high)] == g1.replace("│", " ").split()[2:5]
