"""Report display layer, terminal tables, progress lines, summary warnings and the Bayesian I2."""

import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bayes_prrt.bayes.summaries import bayesian_i2
from bayes_prrt.cli.progress import Steps, progress_display, step_line
from bayes_prrt.effects import proportion_effects, typical_variance
from bayes_prrt.report import console as console_module
from bayes_prrt.report.console import TABLE_WIDTH, print_frame
from bayes_prrt.report.display import MISSING, display
from bayes_prrt.report.summary import warnings

KINDS = {"DCR": "binary", "PFS": "median"}


def test_display_fixed_decimals_units_and_merged_intervals():
    frame = pd.DataFrame({"outcome": ["DCR", "PFS"], "k": [12, 4], "estimate": [0.87396, 19.9517],
                          "ci_low": [0.8133, 13.84], "ci_high": [0.9263, np.nan], "probability": [0.98675, None],
                          "converged": [True, False], "by": [None, None], "note": ["", "left out: x"]})
    t = display(frame, KINDS, "95% CrI")
    assert t.headers == ["outcome", "k", "estimate [95% CrI], % or months", "probability", "converged", "note"]
    assert t.rows[0] == ["DCR", "12", "87.4 [81.3, 92.6]", "0.987", "yes", MISSING]
    assert t.rows[1] == ["PFS", "4", "20.0 [13.8, \u2013]", MISSING, "no", "left out: x"]  # the empty `by` is gone
    assert t.nowrap[2] and not t.nowrap[-1]
    cells = " ".join(c for r in t.rows for c in r)
    assert not re.search(r"\b(True|False|None|nan|NaN|<NA>)\b", cells)


def test_display_differences_are_percentage_points():
    frame = pd.DataFrame({"outcome": ["DCR"], "contrast": ["A - B"], "median": [-0.0137], "ci_low": [-0.131],
                          "ci_high": [0.168], "p_gt_0": [0.4136]})
    t = display(frame, KINDS, "95% CrI", rename={"median": "difference"}, differences=True)
    assert t.headers[2] == "difference [95% CrI], percentage points"
    assert t.rows[0][2:] == ["-1.4 [-13.1, 16.8]", "0.414"]


def _printed(frame, monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(console_module, "console",
                        console_module.Console(file=buffer, width=160, highlight=False, soft_wrap=False))
    print_frame(frame, title="t")
    return buffer.getvalue()


def test_terminal_table_fits_100_columns_without_breaking_words(monkeypatch):
    reason = "Table 2 allows only 0.8622-0.8884; the paper's leave-one-out used inputs that are not public " * 2
    frame = pd.DataFrame({"result": ["dcr_overall", "dcr_loo_min"], "published_estimate": [0.876, 0.8546],
                          "reproduced": [0.8767, 0.8622], "reason": [reason, "-"]})
    out = _printed(frame, monkeypatch)
    lines = out.rstrip("\n").split("\n")
    assert max(len(line.rstrip()) for line in lines) <= TABLE_WIDTH
    assert "published_estimate" in out and "0.8767" in out  # header and numbers whole
    words = set(out.split())
    assert {"leave-one-out", "inputs", "0.8622-0.8884;"} <= words  # wrapped at whole words


def test_too_wide_a_table_prints_one_record_per_block(monkeypatch):
    frame = pd.DataFrame([{f"column_number_{i}": f"value_{i}_0123456789" for i in range(8)}] * 2)
    out = _printed(frame, monkeypatch)
    assert max(len(line.rstrip()) for line in out.split("\n")) <= TABLE_WIDTH
    assert out.count("column_number_7") == 2 and "value_7_0123456789" in out


def test_progress_lines():
    assert step_line(1, 5, "DCR: pooling", 0.4) == "step 1 of 5: DCR: pooling (0:00 elapsed)"
    assert step_line(3, 5, "DCR: sensitivity", 40.0) == "step 3 of 5: DCR: sensitivity (0:40 elapsed, about 1:00 left)"
    assert step_line(7, 5, "extra", 60.0) == "step 7 of 7: extra (1:00 elapsed, about 0:10 left)"  # total grows
    assert step_line(2, None, "x", 61.0) == "step 2: x (1:01 elapsed)"
    times = iter([0.0, 0.0, 10.0])
    shown = []
    step = Steps(3, shown.append, clock=lambda: next(times))
    step("a")
    step("b")
    assert shown == ["step 1 of 3: a (0:00 elapsed)", "step 2 of 3: b (0:10 elapsed, about 0:20 left)"]


def test_progress_plain_lines_off_a_terminal_and_silent_when_quiet():
    stream = io.StringIO()  # not a terminal
    with progress_display(False, 2, stream) as step:
        step("first")
        step("second")
    assert [line.split(" (")[0] for line in stream.getvalue().splitlines()] == ["step 1 of 2: first",
                                                                                  "step 2 of 2: second"]
    quiet = io.StringIO()
    with progress_display(True, 2, quiet) as step:
        step("first")
    assert quiet.getvalue() == ""


def _outcome(k=12, psens_prior=0.01, converged=True, sub_converged=True, agreement=()):
    fit = SimpleNamespace(k=k, priors={"tau": "halfnormal:0.5"}, converged=converged)
    psens = {"mu": {"prior": 0.01, "likelihood": 0.2, "diagnosis": "-"},
             "tau": {"prior": psens_prior, "likelihood": 0.02, "diagnosis": "weak likelihood: the prior decides"}}
    return SimpleNamespace(outcome="OS", bayes=fit, sensitivity=SimpleNamespace(psens=psens),
                           subgroups={"grade": SimpleNamespace(converged=sub_converged, notes=[])}, mcmc={},
                           agreement=list(agreement))


def test_summary_warnings():
    assert warnings(_outcome()) == []
    few = warnings(_outcome(k=2))
    assert len(few) == 1 and "only k = 2 studies" in few[0] and "halfnormal:0.5" in few[0]
    prior = warnings(_outcome(psens_prior=0.08))
    assert len(prior) == 1 and "tau is prior-sensitive" in prior[0] and "the prior decides" in prior[0]
    unconverged = warnings(_outcome(converged=False, sub_converged=False))
    assert [w.split(" did not")[0] for w in unconverged] == ["OS: the overall model", "OS: the model by grade"]
    apart = warnings(_outcome(agreement=[{"model": "overall", "quantity": "tau", "quantile": 0.975, "z": 5.2,
                                           "agrees": False}]))
    assert apart == ["OS: the MCMC fit of the overall model disagrees with the exact posterior (tau, 97.5% quantile: "
                     "5.2 MCSE apart; see Diagnostics)"]


def test_typical_variance_closed_form_and_metafor_i2():
    assert typical_variance([0.04] * 5) == pytest.approx(0.04)  # equal variances: s2 = v
    ref = json.loads((Path(__file__).parent / "reference" / "metafor_reference.json").read_text())["cases"]
    checked = 0
    for case in ref.values():
        if case["kind"] != "binary" or "PLO" not in case["measures"]:
            continue
        m = case["measures"]["PLO"]
        vi = proportion_effects(case["events"], case["n"], "PLO").vi
        for key, fit in m["fits"].items():
            if key.split("_")[0] in ("DL", "REML") and fit.get("tau2") is not None:
                # metafor's I2 = 100 tau2 / (tau2 + s2): the Bayesian I2 at tau = sqrt(tau2_metafor)
                assert bayesian_i2(np.sqrt(fit["tau2"]), vi) == pytest.approx(fit["I2"], rel=1e-6)
                checked += 1
    assert checked >= 2
