"""The audit's named rules, in the order they run (see each function's docstring)."""

from __future__ import annotations

from ..dataset import Dataset
from .base import (Finding, Rule, grim_consistent, needs_any_column, needs_columns, needs_denominators,
                   needs_published)
from .published import check_input_range, check_loo_side, check_range, check_subgroup_total, check_totals
from .studies import check_inclusion, check_overlap, check_units, inclusion_violations
from .values import check_complementary, check_denominators, check_disagreement, check_grim, check_one_denominator


def _needs_both_sources(data: Dataset) -> str | None:
    sources = set(data.outcomes["value_source"]) if "value_source" in data.outcomes.columns else set()
    return None if {"meta_table2", "primary"} <= sources else "needs value_source rows of both meta_table2 and primary"


def _needs_published_or_denominators(data: Dataset) -> str | None:
    if needs_published(data) and needs_denominators(data):
        return "needs the published pooled results (published_pooled.csv) or denominators.csv"
    return None


RULES = (
    Rule("grim", check_grim, needs_columns("reported")),
    Rule("denominators", check_denominators, needs_denominators),
    Rule("one_denominator", check_one_denominator, lambda data: None),
    Rule("complementary", check_complementary, lambda data: None),
    Rule("disagreement", check_disagreement, _needs_both_sources),
    Rule("units", check_units, needs_any_column("activity_gbq", "cycles", "followup_months")),
    Rule("overlap", check_overlap, needs_any_column("centre", "trial", "team", "overlaps_with")),
    Rule("inclusion", check_inclusion, needs_columns("drug", "setting", "response_criteria", table="studies")),
    Rule("totals", check_totals, needs_published),
    Rule("range", check_range, needs_published),
    Rule("loo_side", check_loo_side, needs_published),
    Rule("subgroup_total", check_subgroup_total, _needs_published_or_denominators),
    Rule("input_range", check_input_range, needs_published),
)

__all__ = ["RULES", "Finding", "Rule", "grim_consistent", "inclusion_violations"]
