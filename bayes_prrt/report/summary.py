"""The answers first: per outcome the pooled value, predictive interval, tau, k and the
studies left out, the frequentist and published values, each probability statement with its
verdict, and the warnings a reader must see (few studies, prior-dominated, not converged).
Pure: builds dicts from the run object; ``html.py`` and ``text.py`` render them.
"""

from __future__ import annotations

from ..outcomes import KNOWN_OUTCOMES
from ..sensitivity.power import THRESHOLD
from .display import interval, number, scale_of, value

FEW_STUDIES = 2  # k at or below this: tau is informed by the prior more than by the data


def published_pooled(run, outcome: str) -> tuple[float, float, float] | None:
    """The published pooled estimate and 95% CI of ``outcome`` (overall, not a subgroup), if any."""
    pub = run.data.published
    if pub is None:
        return None
    rows = pub[(pub["outcome"] == outcome) & (pub["statistic"] == "pooled") & pub["subgroup"].isna()]
    return None if rows.empty else tuple(float(rows.iloc[0][c]) for c in ("estimate", "ci_low", "ci_high"))


def _interval(s: dict, kind: str) -> str:
    return interval(s["median"], s["ci_low"], s["ci_high"], kind)


def _notes(o) -> list[str]:
    """The fits' notes (studies left out and why, one-sided CIs), each once."""
    seen = []
    for note in [*o.bayes.notes, *o.freq.notes]:
        if note not in seen:
            seen.append(note)
    return seen


def _fits(o):
    yield "overall model", o.bayes
    for covariate, fit in o.subgroups.items():
        yield f"model by {covariate}", fit
    for model, fit in o.mcmc.items():
        yield f"MCMC check of the {'overall model' if model == 'overall' else f'model by {model}'}", fit


def warnings(o) -> list[str]:
    """What could make this outcome's numbers misleading."""
    out = []
    if o.bayes.k <= FEW_STUDIES:
        out.append(f"{o.outcome}: only k = {o.bayes.k} studies; the between-study SD tau, and so every interval, "
                   f"rests mostly on its prior ({o.bayes.priors.get('tau', '?')})")
    for name, s in (o.sensitivity.psens.items() if o.sensitivity else ()):
        if s["prior"] >= THRESHOLD:
            out.append(f"{o.outcome}: {name} is prior-sensitive (power-scaling: prior {s['prior']:.3f}, "
                       f"likelihood {s['likelihood']:.3f}; {s['diagnosis']})")
    for label, fit in _fits(o):
        if not fit.converged:
            out.append(f"{o.outcome}: the {label} did not converge; its numbers are UNRELIABLE (see Diagnostics)")
    for fit in o.subgroups.values():
        out += [f"{o.outcome}: {note}" for note in fit.notes if note.startswith("separation")]
    for row in o.agreement:
        if not row["agrees"]:
            out.append(f"{o.outcome}: the MCMC fit of the {row['model']} model disagrees with the exact posterior "
                       f"({row['quantity']}, {100 * row['quantile']:g}% quantile: {row['z']:.1f} MCSE apart; see "
                       f"Diagnostics)")
    return out


# what a statement rests on (``comparison`` of its answer, ``bayes.statements``), as the summary says it
RESTS_ON = {"between-study": "between-study (ecological): levels of different studies compared",
            "within-study": "within-study: each study's own subgroups compared",
            None: "not a comparison (the pooled or a new study's value)"}


def _statement(o, st: dict) -> dict:
    v = o.sensitivity.verdicts.get(st["statement"]) if o.sensitivity else None
    probability = st.get("probability")
    text = st["statement"]
    text = f"{o.outcome} {text}" if text[:1] in "<>" else f"{o.outcome}: {text}"
    within = st.get("comparison") == "within-study"
    by = f", by {st['by']}{' within studies' if within else ''}" if st.get("by") else ""
    return {"statement": f"P({text}{by})", "probability": number(probability, 3), "mcse": number(st.get("mcse"), 3),
            "rests_on": RESTS_ON[st.get("comparison")] + (f" ({st['studies']})" if within else ""),
            "verdict": st.get("note") or (v["wording"] if v else "not assessed (no sensitivity analysis)")}


def outcome_summary(run, o) -> dict:
    b, f = o.bayes, o.freq
    info = KNOWN_OUTCOMES.get(o.outcome)
    published = published_pooled(run, o.outcome)
    t = b.tau
    return {
        "outcome": o.outcome, "label": info.label if info else o.outcome, "kind": o.kind,
        "unit": scale_of(o.kind)[1], "k": b.k, "notes": _notes(o),
        "pooled": _interval(b.pooled, o.kind),
        "predictive": f"[{value(b.predictive['ci_low'], o.kind)}, {value(b.predictive['ci_high'], o.kind)}]",
        "tau": f"{t['median']:.2f} [{t['ci_low']:.2f}, {t['ci_high']:.2f}]",
        "frequentist": interval(f.estimate, f.ci_low, f.ci_high, o.kind),
        "frequentist_method": f"{f.tau2_method}, {f.measure}, I\u00b2 = {f.I2:.1f}%",
        "published": "\u2013" if published is None else interval(*published, o.kind),
        "statements": [_statement(o, st) for st in o.statements],
        "warnings": warnings(o),
    }


def run_summary(run) -> list[dict]:
    """One summary per outcome, in the spec's order."""
    return [outcome_summary(run, o) for o in run.outcomes]
