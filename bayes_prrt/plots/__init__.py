"""Figures (matplotlib, Agg backend): each function takes results and a path, and computes nothing."""

import matplotlib

matplotlib.use("Agg")
