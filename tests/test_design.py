"""The one rule for missing covariates (``design.known_covariates``), shared by every engine."""

import numpy as np
import pandas as pd
import pytest

import bayes_prrt
from bayes_prrt.design import known_covariates
from bayes_prrt.errors import AnalysisError
from bayes_prrt.freq.metareg import meta_regression
from bayes_prrt.freq.pool import subgroups


def test_unknown_and_empty_are_missing_not_levels():
    rows = pd.DataFrame({"study": list("abcdef"), "grade": ["G1-2", "unknown", " Unknown ", "", None, "G2-3"],
                         "g3_share": [0.0, np.nan, 0.2, np.nan, 0.5, 0.35]})
    known, notes = known_covariates(rows, ["grade"])
    assert known.tolist() == [True, False, False, False, False, True]
    assert notes == ["grade unknown or not reported, left out of the covariate model: b, c, d, e; it uses the 2 of "
                     "6 studies with a known value"]
    known, notes = known_covariates(rows, ["g3_share"])
    assert known.tolist() == [True, False, True, False, True, True] and "4 of 6" in notes[0]
    assert known_covariates(rows.iloc[[0, 5]], ["grade", "g3_share"]) == (pytest.approx([True, True]), [])


def test_frequentist_subgroups_and_meta_regression_leave_unknown_out(dataset):
    rows = dataset.select("ORR", "table2")
    sub = subgroups(rows, "grade", "PFT", "REML")
    assert set(sub.levels) == {"G1-2", "G2-3"} and sub.df == 1
    assert sum(level.k for level in sub.levels.values()) == 4 and "4 of 12" in sub.notes[0]
    reg = meta_regression(rows, ["g3_share"], "PFT", "REML")
    assert reg.fit.k == 4 and "4 of 12" in reg.notes[-1]


def test_a_covariate_known_in_one_level_only_is_refused(dataset):
    with pytest.raises(AnalysisError, match="1 level"):
        bayes_prrt.pool(dataset, "PFS", by="grade")
