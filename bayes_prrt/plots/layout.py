"""Saving figures: PNG for the report, SVG beside it with text kept as text; the same figure gives the
same files (no date in the SVG, its element ids from a fixed salt)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

matplotlib.rcParams["svg.fonttype"] = "none"  # SVG text stays editable, searchable text
matplotlib.rcParams["svg.hashsalt"] = "bayes-prrt"  # element ids from the content, not random: same figure, same file
DPI = 110


def save(fig, path: str) -> None:
    """Write ``fig`` to ``path`` as PNG and, when ``path`` ends in .png, as SVG beside it (a
    temporary path of an atomic write gets the PNG only); closes the figure."""
    png = Path(path)
    fig.set_dpi(DPI)
    # the tight bounding box, measured once for both formats ("tight" would draw the figure twice per file)
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    fig.savefig(png, format="png", dpi=DPI, bbox_inches=box)
    if png.suffix == ".png":
        fig.savefig(png.with_suffix(".svg"), format="svg", bbox_inches=box, metadata={"Date": None})
    plt.close(fig)
