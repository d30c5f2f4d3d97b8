"""Rules on the study-level figures: counts, denominators and the relations between outcomes."""

from __future__ import annotations

from itertools import combinations

import pandas as pd

from ..dataset import Dataset
from .base import Finding, binary_rows, grim_consistent, grim_count, printed, text, value_sources

PROPORTION_TOLERANCE = 0.005  # Table 2 vs primary proportions closer than this are not flagged
# denominator roles (denominators.csv) a single-arm rate may have, and those it cannot
RATE_ROLES = ("enrolled", "treated", "arm", "evaluable", "safety")
WRONG_ROLES = {"screened": "the number screened, not treated", "both_arms": "both arms, the control arm included",
               "control": "the control arm"}


def check_grim(data: Dataset) -> list[Finding]:
    """A printed proportion that no whole count over n can produce (GRIM): the figure cannot be k/n,
    so it was computed over another denominator or mistyped."""
    rows = data.outcomes.dropna(subset=["reported", "n"])
    return [
        Finding("grim", r.study, r.outcome,
                f"{getattr(r, 'value_source', 'reported')} proportion {r.reported} is impossible with n = {r.n} "
                f"(no whole count k gives k/{r.n} = {r.reported}); the proportion was probably "
                f"computed over another denominator", "error", text(getattr(r, "value_source", "")))
        for r in rows.itertuples()
        if not grim_consistent(str(r.reported), int(r.n))
    ]


def _matches(shown: str, n: int, groups: list) -> list[str]:
    """'k/d (group)' for each candidate denominator d other than n that the printed proportion fits."""
    out = []
    for g in groups:
        k = grim_count(shown, int(g.n)) if int(g.n) != n else None
        if k is not None:
            out.append(f"{k}/{int(g.n)} ({g.group})")
    return out


def check_denominators(data: Dataset) -> list[Finding]:
    """Each row's n against the study's arms, analysed groups and subgroups (denominators.csv).

    An n that is a screened count, both arms or the control arm is an error; an n the study never
    reports is a warning; a printed proportion impossible over n but equal to a count over another
    denominator is an error. The message names the matching count (NETTER-2: 0.907 = 137/151).
    Why it matters: a rate over the wrong denominator is a different rate, with the wrong weight.
    """
    found = []
    by_study = {}  # plain tuples: filtering a frame once per row is what made this rule slow
    for g in data.denominators[["study", "group", "n", "role"]].itertuples(index=False):
        by_study.setdefault(g.study, []).append(g)
    rows = data.outcomes[data.outcomes["n"].notna() & data.outcomes["study"].isin(list(by_study))]
    for r in rows.assign(value_source=value_sources(rows)).itertuples():
        cands = by_study[r.study]
        subgroup = r.value_source == "subgroup"
        usable = [g for g in cands if (g.role == "subgroup" if subgroup else g.role in RATE_ROLES)]
        own = [g for g in cands if g.n == int(r.n)]
        binary = r.kind == "binary"
        shown = printed(r) if binary else ""
        matches = _matches(shown, int(r.n), usable) if binary else []
        also = f"; {shown} fits {', '.join(matches)}" if matches else ""
        wrong = [g for g in own if g.role in WRONG_ROLES]
        where = f"{r.value_source} {r.outcome}".strip()
        if wrong:
            found.append(Finding("denominators", r.study, r.outcome,
                                 f"{where}: n = {int(r.n)} is {wrong[0].group}, {WRONG_ROLES[wrong[0].role]}{also}",
                                 "error", r.value_source))
        elif not own:
            known = ", ".join(f"{int(g.n)} {g.group}" for g in usable)
            found.append(Finding("denominators", r.study, r.outcome,
                                 f"{where}: n = {int(r.n)} is none of the study's reported "
                                 f"{'subgroup sizes' if subgroup else 'denominators'} ({known}){also}",
                                 "warning", r.value_source))
        elif binary and text(getattr(r, "reported", None)) and not grim_consistent(shown, int(r.n)) and matches:
            found.append(Finding("denominators", r.study, r.outcome,
                                 f"{where}: {shown} is impossible over n = {int(r.n)} ({own[0].group}) "
                                 f"but fits {', '.join(matches)}", "error", r.value_source))
    return found


def check_one_denominator(data: Dataset) -> list[Finding]:
    """A study whose outcomes from one value source use different n: the figures describe different
    patients (evaluable vs all, arm vs trial), so they are not one cohort's results."""
    rows = data.outcomes[data.outcomes["n"].notna()]
    rows = rows.assign(value_source=value_sources(rows))
    found = []
    for (study, source), g in rows.groupby(["study", "value_source"], sort=False):
        if g["n"].nunique() < 2:
            continue
        parts = [f"{', '.join(h['outcome'])} over {int(n)}" for n, h in g.groupby("n", sort=True)]
        found.append(Finding("one_denominator", study, "(study)",
                             f"{source or 'the'} figures use {g['n'].nunique()} denominators: " + "; ".join(parts),
                             "warning", source))
    return found


def _split(data: Dataset, study: str, counts: set[int]) -> str | None:
    """The recorded partition of a study (denominators.csv) whose two groups have these counts."""
    if data.denominators is None:
        return None
    subs = data.denominators[(data.denominators["study"] == study) & data.denominators["partition"].notna()]
    for partition, g in subs.groupby("partition"):
        if len(g) == 2 and set(g["n"]) == counts:
            return f"{partition}: {' / '.join(f'{int(x.n)} {x.group}' for x in g.itertuples())}"
    return None


def _cell(r) -> str:
    return f"{r.value_source + ' ' if r.value_source else ''}{r.outcome} {printed(r)}"


def check_complementary(data: Dataset) -> list[Finding]:
    """ORR above DCR from one source (responders are a subset of disease control: impossible), and
    two outcome cells of a study, from any sources, that sum to exactly 1 (one may be the complement
    of the other: ORR = 1 - DCR is the share progressing). An error when the two counts are the two
    halves of a split the study reports (Ortega 2021: 71 clinical responders / 20 non-responders),
    else a warning."""
    found = []
    by_source, by_study = {}, {}  # as groupby(sort=False), without a frame per group
    for r in binary_rows(data).itertuples():
        if pd.notna(r.value_source):
            by_source.setdefault((r.study, r.value_source), {})[r.outcome] = r
        by_study.setdefault(r.study, []).append(r)
    for (study, source), cells in by_source.items():
        dcr, orr = cells.get("DCR"), cells.get("ORR")
        if dcr is not None and orr is not None and orr.events / orr.n > dcr.events / dcr.n:
            found.append(Finding("complementary", study, "ORR", f"{_cell(orr)} exceeds {_cell(dcr)}: responders "
                                                                f"are part of disease control", "error", source))
    for study, g in by_study.items():
        for a, b in combinations(g, 2):
            if a.n != b.n or a.events + b.events != a.n:
                continue
            split = _split(data, study, {int(a.events), int(b.events)})
            pair = f"{_cell(a)} + {_cell(b)} = 1"
            if split:
                for cell in (a, b):
                    found.append(Finding("complementary", study, cell.outcome,
                                         f"{pair}: the counts are the study's split ({split}), not {cell.outcome}",
                                         "error", cell.value_source))
            else:
                cell = b if b.outcome == "ORR" or a.outcome != "ORR" else a
                found.append(Finding("complementary", study, cell.outcome,
                                     f"{pair}: one may be the complement of the other", "warning", cell.value_source))
    return found


def check_disagreement(data: Dataset) -> list[Finding]:
    """Table 2 and the primary study give different n or proportions for the same outcome."""
    found = []
    rows = binary_rows(data)
    rows = rows[rows["value_source"].isin(["meta_table2", "primary"])]
    if set(rows["value_source"]) < {"meta_table2", "primary"}:
        return found  # one source only: nothing to compare
    both = rows.pivot_table(index=["study", "outcome"], columns="value_source",
                            values=["events", "n"], aggfunc="first").dropna()
    for (study, outcome), r in both.iterrows():
        n_t, n_p = int(r[("n", "meta_table2")]), int(r[("n", "primary")])
        p_t, p_p = r[("events", "meta_table2")] / n_t, r[("events", "primary")] / n_p
        parts = []
        if n_t != n_p:
            parts.append(f"n {n_t} (Table 2) vs {n_p} (primary)")
        if abs(p_t - p_p) > PROPORTION_TOLERANCE:
            parts.append(f"proportion {p_t:.3f} (Table 2) vs {p_p:.3f} (primary)")
        if parts:
            found.append(Finding("disagreement", study, outcome, "; ".join(parts), "warning", "meta_table2"))
    return found
