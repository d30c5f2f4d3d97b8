"""Probability statements on a fitted Bayesian result, each with its Monte Carlo error.

Grammar: ``[QUANTITY] OP VALUE`` with OP one of > >= < <=.
  QUANTITY  empty, the outcome's name or ``pooled``: the pooled value (median study);
            ``new``: the value in a new study (predictive);
            a level of the ``by`` covariate, e.g. ``G1-2``;
            a difference of two levels, ``A - B`` (spaces around the minus).
  VALUE     a finite number on the outcome's scale (a proportion, or months), or a quantity.
Examples: ``> 0.30``, ``PFS > 24``, ``G1-2 > G2-3``, ``G1-2 - G2-3 > 0.10``.
A statement is parsed once (``parse``), its level names checked against the data before any
fit (``check_levels``), and answered by ``probability``: from the exact CDF when the fit is exact
and the statement linear in its parameters (``method``: exact, MCSE 0), otherwise from the stored
draws as the posterior mean of the indicator, with ArviZ's ESS-based MCSE (``method``: draws).
Each answer says what kind of comparison it rests on (``comparison``): a statement about levels
of a fit compares *different studies* (``between-study``, an ecological comparison open to
confounding by everything else that differs between them), since the outcome data have one row
per study; a ``within-study`` answer (``within.py``) pools each study's own comparison of its
subgroups (rows of study x subgroup, ``data/within_study.csv``). A statement about the pooled or
a new study's value compares nothing (``None``).
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

import numpy as np

from ..errors import AnalysisError

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_PATTERN = re.compile(r"^\s*(?P<lhs>.*?)\s*(?P<op>>=|<=|>|<)\s*(?P<rhs>.+?)\s*$")
POOLED, NEW = ("", "pooled"), ("new", "predictive")
BETWEEN_STUDY = "between-study"  # one row per study: levels are compared across studies
WITHIN_STUDY = "within-study"  # rows of study x subgroup: each study compares its own patients
COMPARISONS = (BETWEEN_STUDY, WITHIN_STUDY)


@dataclass(frozen=True)
class Statement:
    """A parsed statement: ``lhs`` and ``rhs`` are tuples of level names (one, or two for a
    difference ``A - B``; ``("pooled",)`` and ``("new",)`` for the overall quantities), or
    ``rhs`` is a number."""

    text: str
    lhs: tuple[str, ...]
    op: str
    rhs: tuple[str, ...] | float

    @property
    def levels(self) -> set[str]:
        """The covariate levels the statement names."""
        terms = self.lhs + (self.rhs if isinstance(self.rhs, tuple) else ())
        return {t for t in terms if t not in ("pooled", "new")}


def _term(text: str, outcome: str) -> tuple[str, ...]:
    name = text.strip()
    if name in POOLED or name in (outcome, outcome.lower()):
        return ("pooled",)
    if name in NEW:
        return ("new",)
    if " - " in name:
        a, b = name.split(" - ", 1)
        return _term(a, outcome) + _term(b, outcome)
    return (name,)


def parse(statement: str, outcome: str) -> Statement:
    """Parse ``statement`` about ``outcome``; an AnalysisError says what to write instead."""
    match = _PATTERN.match(str(statement))
    if not match:
        raise AnalysisError(f"statement '{statement}' is not understood; write e.g. '> 0.30', "
                            f"'{outcome} > 0.8', 'G1-2 > G2-3' or 'G1-2 - G2-3 > 0.10'")
    try:
        rhs: tuple[str, ...] | float = float(match["rhs"])
    except ValueError:
        rhs = _term(match["rhs"], outcome)
    if isinstance(rhs, float) and not math.isfinite(rhs):
        raise AnalysisError(f"statement '{statement}': '{match['rhs']}' is not a finite number; compare {outcome} "
                            f"with a number on its scale (a proportion, or months)")
    lhs = _term(match["lhs"], outcome)
    if len(lhs) > 2 or (isinstance(rhs, tuple) and len(rhs) > 2):
        raise AnalysisError(f"statement '{statement}': compare a quantity or a difference of two (A - B)")
    return Statement(str(statement).strip(), lhs, match["op"], rhs)


def compared_levels(st: Statement) -> tuple[str, str]:
    """The two levels of a statement "A < B" or "A > B" (A, B), what a within-study statement must be."""
    if len(st.lhs) != 1 or not isinstance(st.rhs, tuple) or len(st.rhs) != 1 or len(st.levels) != 2:
        raise AnalysisError(f"within-study statement '{st.text}': compare two levels, e.g. 'G3 < G1' (the median "
                            f"of G3 below G1's)")
    return st.lhs[0], st.rhs[0]


def check_levels(statement: Statement, by: str | None, levels) -> None:
    """Every level the statement names must be a level of ``by`` in the data."""
    named = statement.levels
    if not named:
        return
    if by is None:
        raise AnalysisError(f"statement '{statement.text}' names {', '.join(sorted(named))}: give the covariate "
                            f"(by) whose levels it compares")
    unknown = sorted(named - {str(v) for v in levels})
    if unknown:
        raise AnalysisError(f"statement '{statement.text}': {', '.join(unknown)} is not a level of {by} "
                            f"(levels: {', '.join(sorted(str(v) for v in levels))})")


def _draws(fit, terms: tuple[str, ...]):
    values = [fit.quantity(t) for t in terms]
    return values[0] if len(values) == 1 else values[0] - values[1]


def probability(fit, statement: str | Statement, weights=None) -> dict:
    """P(statement | data) with its Monte Carlo standard error, from ``fit.quantity(name)`` draws.

    With importance ``weights`` (same shape as the draws, e.g. to move the posterior to another
    prior) the probability is the weighted mean, and the MCSE uses the importance-sampling ESS,
    (sum w)^2 / sum w^2, scaled by the chains' relative efficiency for the indicator.
    """
    from .sampling import indicator_mcse

    st = statement if isinstance(statement, Statement) else parse(statement, fit.outcome)
    lhs = _draws(fit, st.lhs)
    rhs = st.rhs if isinstance(st.rhs, float) else _draws(fit, st.rhs)
    indicator = OPS[st.op](lhs, rhs).astype(float)
    exact = fit.exact_prob(st) if weights is None and hasattr(fit, "exact_prob") else None
    method = "draws" if exact is None else "exact"
    if exact is not None:  # from the exact CDF: no Monte Carlo error
        p, mcse = float(exact), 0.0
    elif weights is None:
        p = float(indicator.mean())
        mcse = 0.0 if p in (0.0, 1.0) else indicator_mcse(indicator)
    else:
        w = np.asarray(weights, float) / np.sum(weights)
        p = float(np.sum(w * indicator))
        if p in (0.0, 1.0):
            mcse = 0.0
        else:
            r_eff = min(1.0, (p * (1 - p) / indicator.size) / indicator_mcse(indicator) ** 2)
            mcse = float(np.sqrt(p * (1 - p) / (r_eff / np.sum(w**2))))
    return {"statement": st.text, "outcome": fit.outcome, "probability": p, "mcse": mcse,
            "draws": int(indicator.size), "method": method, "comparison": BETWEEN_STUDY if st.levels else None}


def probabilities(fit, statements) -> list[dict]:
    return [probability(fit, s) for s in statements]
