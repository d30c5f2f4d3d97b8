"""Issue 18, numbers: a huge k is refused for MCMC before any sampling; complete separation is said."""

import numpy as np
import pandas as pd
import pytest

from bayes_prrt.bayes import fit as fit_module
from bayes_prrt.bayes.fit import MCMC_MAX_STUDIES, _separation, bayes_pool
from bayes_prrt.errors import AnalysisError


def _rows(events, n, grade=None):
    k = len(events)
    frame = pd.DataFrame({"study": [f"s{i}" for i in range(k)], "outcome": "ORR", "kind": "binary",
                          "events": pd.array(events, dtype="Int64"), "n": pd.array(n, dtype="Int64")})
    if grade is not None:
        frame["grade"] = grade
    return frame


def test_mcmc_refuses_more_studies_than_it_can_fit_in_bounded_time(monkeypatch):
    """Reproducer: 100,000 studies with --method bayes ran for minutes with 1.2 GB and no word."""
    monkeypatch.setattr(fit_module, "sample", lambda *a, **k: pytest.fail("sampled"))
    k = MCMC_MAX_STUDIES + 1
    rows = _rows(np.full(k, 5), np.full(k, 20))
    with pytest.raises(AnalysisError, match=r"5,001 studies.*engine='quadrature'"):
        bayes_pool(rows)


def test_complete_separation_is_named():
    """Reproducer: 0/150 against 150/150 by grade gave a subgroup value of 0.387 with no warning."""
    rows = _rows([0, 0, 150, 150], [150, 150, 150, 150], ["G1-2", "G1-2", "G3", "G3"])
    notes = _separation(rows, "grade")
    assert len(notes) == 2 and notes[0].startswith("separation: every study of grade = G1-2 has 0 events (0/300)")
    assert "all events (300/300)" in notes[1] and "set by the prior on beta" in notes[1]
    assert _separation(_rows([3, 0, 150, 149], [150, 150, 150, 150], ["a", "a", "b", "b"]), "grade") == []


def test_separation_reaches_the_summary():
    from types import SimpleNamespace

    from bayes_prrt.report.summary import warnings

    fit = SimpleNamespace(k=4, priors={"tau": "halfnormal:1"}, converged=True,
                          notes=["separation: every study of grade = G1-2 has 0 events (0/300); ..."])
    o = SimpleNamespace(outcome="ORR", bayes=fit, sensitivity=None, subgroups={"grade": fit}, mcmc={}, agreement=[])
    assert any("ORR: separation: every study of grade = G1-2" in w for w in warnings(o))
