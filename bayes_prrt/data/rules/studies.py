"""Rules on study-level columns: their units and meaning, overlapping cohorts, inclusion criteria."""

from __future__ import annotations

import re
from itertools import combinations

import pandas as pd

from ..dataset import Dataset
from .base import Finding, study_table, text

# approved 177Lu-DOTATATE: 7.4 GBq per cycle, +-10% (Lazarenko 2026 Methods; Wang 2026 sec. 1 and 4)
APPROVED_GBQ, TOLERANCE = 7.4, 0.10
CUMULATIVE_GBQ = 2 * APPROVED_GBQ  # a per-cycle figure at or above two standard cycles is a total
ALLOWED_CRITERIA = ("RECIST", "WHO")
NUMBER = r"\d+(?:\.\d+)?"


def _activity_problem(value: str) -> tuple[str, str] | None:
    """(severity, why) for a per-cycle activity cell: arms 'a/b', each a number or a range 'a-b'."""
    low, high = APPROVED_GBQ * (1 - TOLERANCE), APPROVED_GBQ * (1 + TOLERANCE)
    problems = []
    for arm in value.replace(" ", "").split("/"):
        ends = arm.split("-")
        if not all(re.fullmatch(NUMBER, e) for e in ends) or len(ends) > 2:
            return "error", f"'{value}' is not a per-cycle activity in GBq (a number, arms as a/b)"
        nums = [float(e) for e in ends]
        if max(nums) >= CUMULATIVE_GBQ:
            return "error", (f"{arm} GBq {'reaches' if len(nums) == 2 else 'is'} at least two "
                             f"standard cycles ({CUMULATIVE_GBQ:g} GBq): a cumulative figure in a per-cycle column")
        if len(nums) == 2 and not (low <= nums[0] and nums[1] <= high):
            return "error", f"{arm} GBq is a range of activities, not one per-cycle activity"
        if len(nums) == 2:
            problems.append(("note", f"{arm} GBq is a range within the approved {APPROVED_GBQ:g} GBq +-10%"))
        elif nums[0] > high:
            problems.append(("warning", f"{arm} GBq per cycle is above the approved {APPROVED_GBQ:g} GBq +-10%"))
        elif nums[0] < low:
            problems.append(("note", f"{arm} GBq per cycle is a reduced activity (approved {APPROVED_GBQ:g} GBq)"))
    if not problems:
        return None
    order = ("error", "warning", "note")
    return min((s for s, _ in problems), key=order.index), "; ".join(m for _, m in problems)


def check_units(data: Dataset) -> list[Finding]:
    """Study-level columns that do not mean what their name says: a range or cumulative total in the
    per-cycle activity column (error), an activity outside approved practice (warning or note), a
    fractional number of cycles (a mean, note), a follow-up equal to a survival median of the study
    (the median was copied as follow-up, warning). Activity feeds dose comparisons; follow-up the
    judgement of maturity."""
    found = []
    studies = study_table(data)
    medians = {}  # study -> its median rows (a dict: filtering the frame once per study is slow)
    for m in data.outcomes[data.outcomes["kind"] == "median"].itertuples():
        medians.setdefault(m.study, []).append(m)
    for s in studies.itertuples():
        if (value := text(getattr(s, "activity_gbq", None))) and (problem := _activity_problem(value)):
            found.append(Finding("units", s.study, "(study)", f"activity_gbq: {problem[1]}", problem[0]))
        cycles = text(getattr(s, "cycles", None))
        if re.fullmatch(r"\d+\.\d*[1-9]\d*", cycles):
            found.append(Finding("units", s.study, "(study)", f"cycles: {cycles} is not a whole number of "
                                                               f"cycles (a mean?)", "note"))
        followup = pd.to_numeric(pd.Series([text(getattr(s, "followup_months", None))]), errors="coerce").iloc[0]
        if pd.isna(followup):
            continue
        for m in (m for m in medians.get(s.study, ()) if m.median == followup):
            found.append(Finding("units", s.study, "(study)",
                                 f"followup_months {followup:g} equals the study's {m.outcome} median "
                                 f"({getattr(m, 'value_source', 'file')}): the median may have been copied "
                                 f"as follow-up", "warning"))
    return found


def _names(value) -> dict[str, str]:
    """The ';'-separated entries of a cell, a trailing '(...)' dropped, by their lower-case form."""
    entries = (re.sub(r"\s*\(.*\)$", "", t).strip() for t in text(value).split(";"))
    return {e.lower(): e for e in entries if e}


def _tokens(value) -> set[str]:
    return set(_names(value))


def _years(period: str) -> tuple[int, int] | None:
    found = [int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", period)]
    return (min(found), max(found)) if found else None


def check_overlap(data: Dataset) -> list[Finding]:
    """Studies that may report the same patients: a shared centre or trial, an explicit
    ``overlaps_with``, or shared authors (team). A warning unless their periods are known not to
    overlap; team-only links are notes. A cohort counted twice gets double weight."""
    studies = study_table(data)
    ids = set(studies["study"])
    found = []
    for a, b in combinations(studies.itertuples(), 2):
        shared = []
        for col in ("centre", "trial"):
            if _tokens(getattr(a, col, None)) & _tokens(getattr(b, col, None)):
                shared.append(f"{col} {text(getattr(a, col))}")
        linked = _tokens(getattr(a, "overlaps_with", None)) | _tokens(getattr(b, "overlaps_with", None))
        if {a.study.lower(), b.study.lower()} & linked:
            shared.append("recorded as overlapping")
        team = _names(getattr(a, "team", None))
        authors = [team[k] for k in sorted(set(team) & _tokens(getattr(b, "team", None)))]
        if not shared and not authors:
            continue
        pa, pb = _years(text(getattr(a, "period", None))), _years(text(getattr(b, "period", None)))
        apart = pa is not None and pb is not None and (pa[1] < pb[0] or pb[1] < pa[0])
        severity = "warning" if shared and not apart else "note"
        what = shared + ([f"authors {', '.join(authors)}"] if authors else [])
        when = "periods do not overlap" if apart else ("periods overlap" if pa and pb else "periods not both known")
        found.append(Finding("overlap", a.study, "(study)", f"shares with {b.study}: {'; '.join(what)} ({when})",
                             severity))
    for s in studies.itertuples():
        for other in _tokens(getattr(s, "overlaps_with", None)) - {i.lower() for i in ids}:
            found.append(Finding("overlap", s.study, "(study)",
                                 f"overlaps with {text(s.overlaps_with)}, which is not in the data: a "
                                 f"meta-analysis including it would count those patients twice", "note"))
    return found


def inclusion_violations(study) -> list[str]:
    """Why a study (a row of studies.csv) falls outside Wang 2026's stated inclusion criteria."""
    reasons = []
    if study.drug != "DOTATATE":
        reasons.append(f"drug is {study.drug}, not 177Lu-DOTATATE monotherapy")
    if study.setting in ("retreatment", "combined therapy"):
        reasons.append(f"setting is {study.setting}")
    if not any(c in str(study.response_criteria) for c in ALLOWED_CRITERIA):
        reasons.append(f"response criteria are '{study.response_criteria}', not RECIST or WHO")
    return reasons


def check_inclusion(data: Dataset) -> list[Finding]:
    """A study outside the meta-analysis's stated inclusion criteria (ligand, monotherapy, RECIST/WHO):
    the pooled result then describes a broader population than it claims."""
    studies = study_table(data)
    if "in_meta" in studies.columns:
        studies = studies[studies["in_meta"].astype(str).str.lower() == "true"]
    return [Finding("inclusion", r.study, "(study)", "outside the stated inclusion criteria: " + "; ".join(reasons))
            for r in studies.itertuples() if (reasons := inclusion_violations(r))]
