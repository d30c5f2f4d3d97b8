"""Probability statements on a fitted Bayesian result, each with its Monte Carlo error.

Grammar: ``[QUANTITY] OP VALUE`` with OP one of > >= < <=.
  QUANTITY  empty, the outcome's name or ``pooled``: the pooled value (median study);
            ``new``: the value in a new study (predictive);
            a level of the ``by`` covariate, e.g. ``G1-2``;
            a difference of two levels, ``A - B`` (spaces around the minus).
  VALUE     a number on the outcome's scale (a proportion, or months), or a level.
Examples: ``> 0.30``, ``PFS > 24``, ``G1-2 > G2-3``, ``G1-2 - G2-3 > 0.10``.
The probability is the posterior mean of the indicator; its MCSE is ArviZ's (ESS-based).
"""

from __future__ import annotations

import operator
import re

import numpy as np

from ..errors import AnalysisError
from .sampling import indicator_mcse

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_PATTERN = re.compile(r"^\s*(?P<lhs>.*?)\s*(?P<op>>=|<=|>|<)\s*(?P<rhs>.+?)\s*$")


def _quantity(result, text: str):
    name = text.strip()
    if name in ("", "pooled", result.outcome, result.outcome.lower()):
        return result.draws["pooled"]
    if name in ("new", "predictive"):
        return result.draws["predictive"]
    if result.by and f"{result.by}={name}" in result.draws:
        return result.draws[f"{result.by}={name}"]
    if " - " in name:
        a, b = name.split(" - ", 1)
        return _quantity(result, a) - _quantity(result, b)
    levels = f"; levels of {result.by}: {', '.join(result.levels)}" if result.by else "; give --by for subgroups"
    raise AnalysisError(f"'{name}' is not a quantity of this {result.outcome} fit: use the outcome name, "
                        f"'new', a level or 'A - B' (spaces around the minus){levels}")


def _value(result, text: str):
    """The right-hand side: a finite number on the outcome's scale, or a quantity."""
    try:
        value = float(text)
    except ValueError:
        return _quantity(result, text)
    if not np.isfinite(value):
        raise AnalysisError(f"'{text.strip()}' is not a finite number; compare {result.outcome} with a number "
                            f"on its scale (a proportion, or months)")
    return value


def probability(result, statement: str, weights=None) -> dict:
    """P(statement | data) with its Monte Carlo standard error.

    With importance ``weights`` (same shape as the draws, e.g. to move the posterior to another
    prior) the probability is the weighted mean, and the MCSE uses the importance-sampling ESS,
    (sum w)^2 / sum w^2, scaled by the chains' relative efficiency for the indicator.
    """
    match = _PATTERN.match(statement)
    if not match:
        raise AnalysisError(f"statement '{statement}' is not understood; write e.g. '> 0.30', "
                            f"'{result.outcome} > 0.8', 'G1-2 > G2-3' or 'G1-2 - G2-3 > 0.10'")
    lhs = _quantity(result, match["lhs"])
    indicator = OPS[match["op"]](lhs, _value(result, match["rhs"])).astype(float)
    if weights is None:
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
    return {"statement": statement.strip(), "outcome": result.outcome, "probability": p, "mcse": mcse,
            "draws": int(indicator.size)}


def probabilities(result, statements) -> list[dict]:
    return [probability(result, s) for s in statements]
