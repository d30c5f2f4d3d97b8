"""Interrupting `bayes-prrt run` (issue 7): SIGINT (Ctrl-C) and SIGTERM at several moments.

Each case starts ``python -m bayes_prrt.cli run --spec tests/specs/small.toml --out DIR --quiet``
in its own session, signals it, and checks that it exits promptly with status 130 (SIGINT) or
143 (SIGTERM) and the one line ``interrupted; ...``, with no traceback, leaving no DIR, no
temporary ``.DIR.*`` folder beside it and no process of its session behind; and that an
existing DIR survives an interrupted ``--force`` run unchanged. SIGINT goes to the whole
process group, as Ctrl-C in a terminal does; SIGTERM to the process only, as ``kill`` does.

The writer's two moves (the old results aside, the new ones into place) and its deletion of
temporary folders are also tested directly with an interrupt forced at each step.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bayes_prrt.report import writer

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "small.toml"
PROMPT_S = 20  # the process must be gone this long after the signal
LOADING_S = 0.5  # still importing bayes_prrt itself (pandas): before any of its code can install handlers
ANALYSING_S = 5.0  # the small spec's analysis runs from about 3.5 s to 7 s of its 9.5 s (measured on 2 cores)


def start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bayes_prrt.cli", "run", "--spec", str(SPEC), "--out", str(out),
                             "--quiet", *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def temporary_folders(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.*"))


def signal_and_wait(proc: subprocess.Popen, signum: int) -> tuple[str, str, float]:
    assert proc.poll() is None, "the run ended before the signal: " + proc.communicate()[1][-500:]
    sent = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # Ctrl-C: the terminal signals the whole foreground group
    else:
        os.kill(proc.pid, signum)  # kill PID
    try:
        stdout, stderr = proc.communicate(timeout=PROMPT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"still running {PROMPT_S} s after the signal")
    return stdout, stderr, time.monotonic() - sent


def assert_clean_exit(proc, stdout: str, stderr: str, signum: int, out: Path) -> None:
    output = stdout + stderr
    assert "Traceback" not in output, output[-2000:]
    assert proc.returncode == 128 + signum, (proc.returncode, output[-2000:])
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines == ["interrupted; no results written"], output[-2000:]
    assert not temporary_folders(out), temporary_folders(out)
    assert_session_gone(proc)


def assert_session_gone(proc) -> None:
    """No process of the run's session is left (PyMC/nutpie workers, compilers)."""
    for _ in range(50):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("processes of the interrupted run were still alive 5 s after it exited")


def wait_for(condition, proc, limit_s: float = 120) -> None:
    end = time.monotonic() + limit_s
    while not condition():
        if proc.poll() is not None or time.monotonic() > end:
            pytest.fail("the run never reached the moment to interrupt: " + proc.communicate()[1][-500:])
        time.sleep(0.01)


def previous_results(out: Path) -> dict[str, bytes]:
    """A results folder (--force replaces only those: its run.json lists bayes-prrt's version)."""
    (out / "tables").mkdir(parents=True)
    (out / "run.json").write_text('{"versions": {"bayes-prrt": "0.0"}}')
    (out / "report.html").write_text("<p>the previous run</p>")
    (out / "tables" / "headline.csv").write_text("outcome,k\nPFS,4\n")
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- while Python loads the package

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_while_loading(signum, tmp_path):
    """At 0.5 s the interpreter is still importing ``bayes_prrt`` (its ``__init__`` imports pandas),
    before ``cli.py`` runs: nothing can have been written, and the process must end at once.
    A handler can only be installed from ``cli.py`` on, so Python's default applies: SIGTERM
    ends the process silently, SIGINT prints Python's own KeyboardInterrupt traceback."""
    out = tmp_path / "results"
    proc = start(out)
    time.sleep(LOADING_S)
    stdout, stderr, elapsed = signal_and_wait(proc, signum)
    assert elapsed < PROMPT_S and proc.returncode != 0
    assert not out.exists() and not temporary_folders(out)
    assert_session_gone(proc)
    if proc.returncode == 128 + signum:  # the CLI was already loading and handled it
        assert_clean_exit(proc, stdout, stderr, signum, out)
    elif "Traceback" in stdout + stderr:
        assert signum == signal.SIGINT and stderr.rstrip().endswith("KeyboardInterrupt"), stderr[-1000:]
        pytest.xfail("Ctrl-C during `import bayes_prrt` shows Python's KeyboardInterrupt traceback: the handler "
                     "can only be installed once cli.py runs (bayes_prrt/__init__.py would need to load lazily)")
    else:
        assert proc.returncode == -signum and not (stdout + stderr).strip()


# ---------------------------------------------------------------- the CLI's handlers

@pytest.mark.parametrize("signum,delay",
                         [(signal.SIGINT, 3.0), (signal.SIGTERM, 3.0), (signal.SIGINT, ANALYSING_S)],
                         ids=["SIGINT-loading-cli", "SIGTERM-loading-cli", "SIGINT-analysing"])
def test_interrupt_run(signum, delay, tmp_path):
    """3 s: cli.py is importing the analysis's modules while its helper imports PyMC (the early handler
    ends the process); ANALYSING_S: the analysis runs (the signal unwinds the command). Either way:
    130/143, one line, nothing left. (SIGTERM while analysing:
    test_interrupted_force_run_keeps_previous_results.)"""
    out = tmp_path / "results"
    proc = start(out)
    time.sleep(delay)
    stdout, stderr, elapsed = signal_and_wait(proc, signum)
    assert elapsed < PROMPT_S
    assert_clean_exit(proc, stdout, stderr, signum, out)
    assert not out.exists()


def test_interrupted_force_run_keeps_previous_results(tmp_path):
    """SIGTERM while analysing, with --force over a previous run: it is left as it was."""
    out = tmp_path / "results"
    before = previous_results(out)
    proc = start(out, "--force")
    time.sleep(ANALYSING_S)
    stdout, stderr, _ = signal_and_wait(proc, signal.SIGTERM)
    assert_clean_exit(proc, stdout, stderr, signal.SIGTERM, out)
    assert snapshot(out) == before


def test_sigterm_while_writing_keeps_previous_results(tmp_path):
    """The signal arrives as soon as the writer's temporary folder exists: the figures, tables and
    posterior files are being written there."""
    out = tmp_path / "results"
    before = previous_results(out)
    proc = start(out, "--force")
    wait_for(lambda: temporary_folders(out), proc)
    stdout, stderr, _ = signal_and_wait(proc, signal.SIGTERM)
    assert_clean_exit(proc, stdout, stderr, signal.SIGTERM, out)
    assert snapshot(out) == before


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [0.0, 0.2, 0.5])
def test_sigint_while_writing(after_s, tmp_path):
    out = tmp_path / "results"
    proc = start(out)
    wait_for(lambda: temporary_folders(out), proc)
    time.sleep(after_s)
    if proc.poll() is not None:
        pytest.skip("the run finished writing before the signal")
    stdout, stderr, _ = signal_and_wait(proc, signal.SIGINT)
    if (out / "run.json").exists():
        # the signal landed after the final move: reported as such, or during Python's shutdown
        # (handlers are back to the defaults there: killed by the signal, silently)
        assert "Traceback" not in stdout + stderr and not temporary_folders(out)
        assert (proc.returncode == 130 and "results were complete" in stderr) or proc.returncode in (0, -2)
        return
    assert_clean_exit(proc, stdout, stderr, signal.SIGINT, out)
    assert not out.exists()


# ---------------------------------------------------------------- the writer's moves, step by step

class Interrupt(BaseException):
    """Stands in for KeyboardInterrupt / the CLI's Interrupted."""


def test_replace_puts_previous_results_back_when_interrupted(tmp_path, monkeypatch):
    out, tmp = tmp_path / "results", tmp_path / ".results.tmp"
    before = previous_results(out)
    tmp.mkdir()
    (tmp / "run.json").write_text("{}")
    real_rename, calls = Path.rename, []

    def rename(self, target):
        calls.append(self.name)
        if len(calls) == 2:  # the old results are aside; the new ones are not yet in place
            raise Interrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(Interrupt):
        writer._replace(tmp, out, tmp.with_name(tmp.name + ".old"))
    monkeypatch.undo()
    assert snapshot(out) == before and not (tmp_path / ".results.tmp.old").exists()


def test_remove_finishes_before_an_interrupt_propagates(tmp_path, monkeypatch):
    folder = tmp_path / ".results.tmp"
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "a.png").write_bytes(b"x")
    real_rmtree, calls = shutil.rmtree, []

    def rmtree(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            real_rmtree(Path(path) / "figures")  # half done
            raise Interrupt
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    with pytest.raises(Interrupt):
        writer._remove(folder)
    assert not folder.exists() and len(calls) == 2


# ---------------------------------------------------------------- the handlers, in-process

def test_cli_turns_a_signal_into_one_line_and_status(monkeypatch):
    """In-process (CliRunner): SIGTERM during a command gives 143 and the line; the handlers and the
    unraisable hook are put back afterwards."""
    from click.testing import CliRunner

    from bayes_prrt import cli
    from bayes_prrt.data import summary

    def slow_summary(data):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises during the sleep
        pytest.fail("the signal did not interrupt the command")

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), sys.unraisablehook)
    monkeypatch.setattr(summary, "dataset_summary", slow_summary)
    result = CliRunner().invoke(cli.main, ["summary"])
    assert result.exit_code == 143, result.output
    assert result.output.splitlines()[-1] == "interrupted; no results written" and "Traceback" not in result.output
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), sys.unraisablehook) == before


def test_interrupt_dropped_by_python_is_delivered_again(capfd):
    """A signal handled inside a finaliser (or a callback from C, as numba's LLVM hooks) raises there,
    and Python drops that exception with "Exception ignored". The CLI delivers it again, so the
    command still stops, promptly and without that message."""
    from bayes_prrt.cli import interrupts as cli

    class Finaliser:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))  # Python code inside __del__: the handler runs (and raises) here

    with pytest.raises(cli.Interrupted) as info:
        with cli.interruptible():
            Finaliser()  # dropped at once: __del__ runs
            end = time.monotonic() + 5
            while time.monotonic() < end:  # ordinary code: the re-delivered signal lands here
                sum(range(1000))
            pytest.fail("the dropped interrupt was not delivered again")
    assert info.value.signum == signal.SIGTERM
    assert "Exception ignored" not in capfd.readouterr().err
