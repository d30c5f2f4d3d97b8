"""Number formatting shared by the text blocks of fits, the terminal and the report."""

from __future__ import annotations

import html
import math

import pandas as pd


def fmt(value, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; '-' for a value that does not exist."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def p_value(p: float) -> str:
    """'= 0.0123' or '< .0001', as metafor prints p-values."""
    return "< .0001" if p < 1e-4 else f"= {p:.4f}"


def interval(s: dict) -> str:
    """'median [ci_low, ci_high]' of a summary dict."""
    return f"{fmt(s['median'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"


def fit_html(text: str, summary: pd.DataFrame) -> str:
    """A fit in a notebook: the first paragraph of its text block, then its summary table."""
    head = html.escape(text.split("\n\n", 1)[0]).replace("\n", "<br>")
    return f"<p><code>{head}</code></p>" + summary.to_html(float_format=lambda v: f"{v:.4g}", na_rep="-")


def frame_text(frame: pd.DataFrame, digits: int = 4) -> str:
    """A data frame as plain text, numbers with ``digits`` significant digits."""
    return frame.to_string(index=False, na_rep="-", formatters={
        c: (lambda v: fmt(float(v), digits)) for c in frame.columns if pd.api.types.is_float_dtype(frame[c])})


def text_block(parts: list[str], notes: list[str]) -> str:
    """A fit's text block: its parts, then one line per note, separated by blank lines."""
    return "\n\n".join([*parts, *(["\n".join(f"note: {n}" for n in notes)] if notes else [])])
