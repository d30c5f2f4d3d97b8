"""Figures (matplotlib, Agg backend): each function takes results and a path, and computes nothing."""

import functools

import matplotlib

matplotlib.use("Agg")


def literal_text(plot):
    """Draw with mathtext off: a label from the data (a study named ``a$^$b``) is shown as
    written, instead of being parsed as a formula (which fails with a ValueError)."""

    @functools.wraps(plot)
    def draw(*args, **kwargs):
        with matplotlib.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)

    return draw
