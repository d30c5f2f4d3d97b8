"""Does a conclusion change? Probabilities are read against decision thresholds.

A probability at or above the upper threshold (default 0.95) supports the statement, one
at or below the lower (0.05) rejects it, anything between leaves it uncertain. A statement
is *robust* when every analysis puts it in the same region, and its *conclusion changes*
otherwise.
"""

from __future__ import annotations

DEFAULT_THRESHOLDS = (0.05, 0.95)


def region(p: float, thresholds=DEFAULT_THRESHOLDS) -> str:
    low, high = thresholds
    return "supported" if p >= high else "rejected" if p <= low else "uncertain"


def verdict(probabilities: dict[str, float], thresholds=DEFAULT_THRESHOLDS) -> dict:
    """``probabilities``: analysis label -> P(statement). Returns the verdict and the regions."""
    if not probabilities:
        return {"verdict": "not run", "regions": {}, "range": None}
    regions = {label: region(p, thresholds) for label, p in probabilities.items()}
    distinct = sorted(set(regions.values()))
    return {"verdict": "robust" if len(distinct) <= 1 else "conclusion changes",
            "regions": regions, "range": [min(probabilities.values()), max(probabilities.values())]}
