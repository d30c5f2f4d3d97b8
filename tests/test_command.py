"""The ``bayes-prrt`` command as a process (``cli.command``): exit status and output kept when it ends without
the interpreter's teardown."""

import json
import subprocess
import sys

import pytest

from bayes_prrt import cli


def _command(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bayes_prrt.cli", *args], capture_output=True, text=True, timeout=120)


def test_success_prints_all_of_its_output_through_a_pipe():
    done = _command("pool", "--outcome", "DCR", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["k"] == 12  # the whole object arrived: it parses


def test_a_user_error_keeps_its_status_and_one_line():
    done = _command("pool", "--outcome", "NOPE")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


def test_a_usage_error_keeps_click_status():
    assert _command("no-such-command").returncode == 2


@pytest.mark.parametrize("code, status, printed", [(None, 0, ""), (0, 0, ""), (3, 3, ""), ("stopped", 1, "stopped")])
def test_command_runs_exit_handlers_flushes_and_exits_with_the_status(monkeypatch, capsys, code, status, printed):
    calls = []

    def fake_main():
        print("partial line without newline", end="")
        raise SystemExit(code)

    monkeypatch.setattr(cli, "main", fake_main)
    monkeypatch.setattr(cli.atexit, "_run_exitfuncs", lambda: calls.append("atexit"))
    monkeypatch.setattr(cli.os, "_exit", lambda s: calls.append(("exit", s)))
    cli.command()
    assert calls == ["atexit", ("exit", status)]  # the handlers first, then the exit with main's status
    out = capsys.readouterr()
    assert out.out == "partial line without newline" and out.err.strip() == printed
