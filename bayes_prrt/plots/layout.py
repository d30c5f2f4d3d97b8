"""Saving figures: PNG for the report, SVG beside it with text kept as text."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

matplotlib.rcParams["svg.fonttype"] = "none"  # SVG text stays editable, searchable text
DPI = 110


def save(fig, path: str) -> None:
    """Write ``fig`` to ``path`` (PNG) and to the same name with .svg; closes the figure."""
    png = Path(path)
    fig.savefig(png, dpi=DPI, bbox_inches="tight")
    fig.savefig(png.with_suffix(".svg"), bbox_inches="tight")
    plt.close(fig)
