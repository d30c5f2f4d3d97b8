"""Frequentist engine against R metafor 3.8-1 (tests/reference/metafor_reference.json).

The references were computed with convergence tolerances of 1e-12 (see the JSON's meta),
so every normal-normal fit, closed-form (FE, DL) or iterative (REML, ML, PM, Q-profile),
is held to RTOL = 1e-6 relative (ATOL 1e-9 for values that are 0). GLMM references come
from lme4, whose optimiser stops at about 1e-5 relative; they are held to 1e-4 and, more
strictly, our optimum must be at least as likely as lme4's.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from bayes_prrt.freq import glmm
from bayes_prrt.effects import proportion_effects
from bayes_prrt.freq.metareg import meta_regression
from bayes_prrt.freq.pool import leave_one_out, pool, subgroups
from bayes_prrt.freq.rma import i2_interval, rma

REF = json.loads((Path(__file__).parent / "reference" / "metafor_reference.json").read_text())
CASES = REF["cases"]
RTOL, ATOL = 1e-6, 1e-9
GLMM_RTOL = 1e-4


def close(got, want, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=atol)


def effects(case, measure):
    c = CASES[case]
    if c["kind"] == "binary":
        e = proportion_effects(c["events"], c["n"], measure)
        return e.yi, e.vi
    return np.array(c["measures"]["GEN"]["yi"]), np.array(c["measures"]["GEN"]["vi"])


FITS = [(case, measure, key) for case, c in CASES.items() for measure, m in c["measures"].items()
        for key in m["fits"]]


@pytest.mark.parametrize("case,measure", [(c, m) for c in CASES if CASES[c]["kind"] == "binary"
                                          for m in CASES[c]["measures"]])
def test_escalc(case, measure):
    yi, vi = effects(case, measure)
    close(yi, CASES[case]["measures"][measure]["yi"])
    close(vi, CASES[case]["measures"][measure]["vi"])


@pytest.mark.parametrize("case,measure,key", FITS)
def test_rma_against_metafor(case, measure, key):
    ref = CASES[case]["measures"][measure]["fits"][key]
    method, _, knha = key.partition("_")
    yi, vi = effects(case, measure)
    fit = rma(yi, vi, method=method, hksj=bool(knha))
    got = {"estimate": fit.estimate, "se": fit.se[0], "ci_low": fit.ci_low[0], "ci_high": fit.ci_high[0],
           "tau2": fit.tau2, "I2": fit.I2, "H2": fit.H2, "Q": fit.QE, "p_Q": fit.p_QE, "pval": fit.pval[0],
           "weights": fit.weights, "k": fit.k}
    if method != "FE":
        got["pi_low"], got["pi_high"] = fit.predict()
        got["tau2_ci_low"], got["tau2_ci_high"] = fit.tau2_ci
        got["I2_ci_low"], got["I2_ci_high"] = i2_interval(fit, vi)
        if ref.get("tau2_ci_high_bounded"):  # metafor returned its search cap, not a solution
            del got["tau2_ci_high"], got["I2_ci_high"]
    for name, value in got.items():
        if ref.get(name) is not None:
            close(value, ref[name]), name


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c]["kind"] == "binary"])
def test_back_transform(case):
    rows = _rows(CASES[case])
    for measure in ("PFT", "PLO", "PR"):
        for method in ("DL", "REML"):
            ref = CASES[case]["measures"][measure]["fits"][method]
            res = pool(rows, measure, method)
            expected = [ref["estimate_bt"], ref["ci_low_bt"], ref["ci_high_bt"], ref["pi_low_bt"], ref["pi_high_bt"]]
            if measure == "PR":  # metafor prints PR's normal-theory bounds raw; the package clips them to [0, 1]
                expected = list(np.clip(expected, 0.0, 1.0))
            close([res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high], expected)


def _extra(case, measure, method):
    return CASES[case]["measures"][measure]["extra"][method]


def _rows(c):
    import pandas as pd
    return pd.DataFrame({"study": c["study"], "outcome": "X", "events": c["events"], "n": c["n"],
                         "kind": "binary"})


def test_reference_data_is_the_embedded_data(dataset):
    for case, outcome in (("dcr_table2", "DCR"), ("orr_table2", "ORR")):
        rows = dataset.select(outcome, "table2")
        assert rows["study"].tolist() == CASES[case]["study"]
        assert rows["events"].tolist() == CASES[case]["events"] and rows["n"].tolist() == CASES[case]["n"]
    pfs = dataset.select("PFS", "primary").dropna(subset=["ci_low"])
    assert pfs["study"].tolist() == CASES["pfs_logmedian"]["study"]


@pytest.mark.parametrize("case", ["pfs_logmedian", "os_logmedian", "pfs_median", "os_median"])
def test_median_pooling_matches(case, dataset):
    outcome, scale = case.split("_")
    rows = dataset.select(outcome.upper(), "primary")
    for method in ("DL", "REML"):
        res = pool(rows, scale.upper(), method)
        ref = CASES[case]["measures"]["GEN"]["fits"][method]
        close([res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high, res.tau2],
              [ref["estimate_bt"], ref["ci_low_bt"], ref["ci_high_bt"], ref["pi_low_bt"], ref["pi_high_bt"],
               ref["tau2"]])


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c]["kind"] == "binary"])
@pytest.mark.parametrize("nodes", [7, 25])
def test_glmm_against_lme4(case, nodes):
    c, ref = CASES[case], CASES[case]["glmm"][f"GLMM_nAGQ{nodes}"]
    fit = glmm.fit_glmm(c["events"], c["n"], nodes=nodes)
    close([fit.mu, fit.se, fit.tau2], [ref["estimate"], ref["se"], ref["tau2"]], rtol=GLMM_RTOL)
    # bounds are differences of O(1) numbers on the logit scale: compare on that scale
    close([fit.ci_low, fit.ci_high, fit.pi_low, fit.pi_high],
          [ref["ci_low"], ref["ci_high"], ref["pi_low"], ref["pi_high"]], rtol=0, atol=GLMM_RTOL)
    x, n = np.array(c["events"], float), np.array(c["n"], float)
    at_lme4 = glmm.loglik(x, n, ref["estimate"], np.sqrt(ref["tau2"]), nodes)
    assert fit.loglik >= at_lme4 - 1e-9


EXTRA = [(case, outcome, measure, method) for case, outcome in (("dcr_table2", "DCR"), ("orr_table2", "ORR"))
         for measure in ("PFT", "PLO") for method in ("DL", "REML")]


@pytest.mark.parametrize("case,outcome,measure,method", EXTRA)
def test_leave_one_out(case, outcome, measure, method, dataset):
    ref = _extra(case, measure, method)["leave1out"]
    got = leave_one_out(dataset.select(outcome, "table2"), measure, method)
    for name in ("estimate", "ci_low", "ci_high", "tau2", "I2", "Q"):
        want = ref[name]
        have = got[name + "_t"] if name in ("estimate",) else got[name]
        if name in ("ci_low", "ci_high"):
            have = got["estimate_t"] + (1 if name == "ci_high" else -1) * 1.959963984540054 * got["se_t"]
        close(have, want)
    close(got["estimate"], ref["estimate_bt"])


@pytest.mark.parametrize("case,outcome,measure,method", EXTRA)
@pytest.mark.parametrize("by", ["site", "grade"])
def test_subgroups(case, outcome, measure, method, by, dataset):
    ref = _extra(case, measure, method)["subgroups"][by]
    got = subgroups(dataset.select(outcome, "table2"), by, measure, method)
    assert sorted(got.levels) == sorted(ref["levels"])
    for level, want in ref["levels"].items():
        have = got.levels[level]
        close([have.estimate_t, have.se_t, have.tau2, have.I2, have.Q, have.k],
              [want["estimate"], want["se"], want["tau2"], want["I2"], want["Q"], want["k"]])
        close([have.estimate, have.ci_low, have.ci_high], [want["estimate_bt"], want["ci_low_bt"], want["ci_high_bt"]])
    close([got.Q_between, got.df, got.p_between], [ref["between"]["Q"], ref["between"]["df"], ref["between"]["p"]])


METAREG = {"site": (["site"], False), "grade": (["grade"], False), "site_knha": (["site"], True),
           "grade_knha": (["grade"], True), "g3_share": (["g3_share"], False)}


@pytest.mark.parametrize("case,outcome,measure,method,key", [
    (*e, key) for e in EXTRA for key in _extra(e[0], e[2], e[3])["metareg"]])
def test_meta_regression(case, outcome, measure, method, key, dataset):
    covariates, hksj = METAREG[key]
    ref = _extra(case, measure, method)["metareg"][key]
    got = meta_regression(dataset.select(outcome, "table2"), covariates, measure, method, hksj=hksj).fit
    close(got.b, ref["b"])
    close(got.se, ref["se"])
    close(got.ci_low, ref["ci_low"])
    close(got.ci_high, ref["ci_high"])
    close([got.QM, got.p_QM, got.QE, got.tau2, got.I2], [ref["QM"], ref["QMp"], ref["QE"], ref["tau2"], ref["I2"]])
    assert got.k == ref["k"] and len(got.coef_names) == len(ref["coef_names"])
