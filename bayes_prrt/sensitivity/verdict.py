"""Does a conclusion change? Probabilities are read against decision thresholds.

A probability at or above the upper threshold (default 0.95) supports the statement, one
at or below the lower (0.05) rejects it, anything between leaves it uncertain. A statement
is *robust* when every analysis puts it in the same region, and its *conclusion changes*
otherwise. ``wording`` says which way in one sentence, e.g. "supported (P > 0.95 under every
prior and scenario)" or "depends on the prior: P = 0.047 - 0.067, below 0.05 only under
tau ~ halfnormal:0.25".
"""

from __future__ import annotations

DEFAULT_THRESHOLDS = (0.05, 0.95)
NAMED = 3  # a minority of at most this many analyses is named; a larger one is counted


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


def _where(name: str, thresholds) -> str:
    """The region as a condition on P: 'above 0.95', 'below 0.05', 'between 0.05 and 0.95'."""
    low, high = thresholds
    return {"supported": f"above {high:g}", "rejected": f"below {low:g}",
            "uncertain": f"between {low:g} and {high:g}"}[name]


def _depends(what: str, probabilities: dict[str, float], thresholds) -> str:
    """'depends on the prior: P = 0.047 - 0.067, below 0.05 only under A' (the minority regions named)."""
    regions = {label: region(p, thresholds) for label, p in probabilities.items()}
    counts = {name: sum(r == name for r in regions.values()) for name in set(regions.values())}
    usual = max(sorted(counts), key=lambda name: counts[name])  # ties: alphabetical, so the wording is stable
    parts = []
    for name in sorted(counts):
        if name == usual:
            continue
        labels = [label for label, r in regions.items() if r == name]
        under = ", ".join(labels) if len(labels) <= NAMED else f"{len(labels)} of {len(regions)} {what}s"
        parts.append(f"{_where(name, thresholds)} only under {under}")
    values = probabilities.values()
    return f"depends on the {what}: P = {min(values):.3f} - {max(values):.3f}, " + "; ".join(parts)


def wording(priors: dict[str, float], scenarios: dict[str, float], thresholds=DEFAULT_THRESHOLDS) -> str:
    """One sentence saying which way a statement goes under every prior (label -> P) and every data
    scenario (label -> P): supported, uncertain or not supported everywhere, or what it depends on."""
    low, high = thresholds
    every = {**priors, **scenarios}
    if not every:
        return "not assessed (no sensitivity analysis)"
    regions = {region(p, thresholds) for p in every.values()}
    if len(regions) == 1:
        where = "under every prior and scenario" if scenarios else "under every prior"
        return {"supported": f"supported (P \u2265 {high:g} {where})",
                "rejected": f"not supported (P \u2264 {low:g} {where})",
                "uncertain": f"uncertain ({low:g} < P < {high:g} {where})"}[regions.pop()]
    parts = [_depends(what, probs, thresholds) for what, probs in (("prior", priors), ("data scenario", scenarios))
             if len({region(p, thresholds) for p in probs.values()}) > 1]
    if not parts:  # each dimension agrees with itself, but priors and scenarios disagree
        p_region, s_region = region(next(iter(priors.values())), thresholds), \
            region(next(iter(scenarios.values())), thresholds)
        return (f"depends on the data scenario: P {_where(p_region, thresholds)} under every prior, "
                f"{_where(s_region, thresholds)} under every scenario")
    return "; ".join(parts)
