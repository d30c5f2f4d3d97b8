"""Fit every outcome of the embedded data with and without the grade and site covariates.

Writes a markdown table of pooled estimates and convergence diagnostics, the evidence
that the Bayesian models fit the shipped data. Run from the repository root:

    .venv/bin/python benchmarks/fit_matrix.py benchmarks/fit_matrix.md
"""

from __future__ import annotations

import sys
import time

import bayes_prrt
from bayes_prrt.bayes.fit import bayes_pool
from bayes_prrt.errors import AnalysisError


def main(out_path: str) -> None:
    data = bayes_prrt.load_dataset()
    lines = ["| outcome | covariate | k | pooled (95% CrI) | R-hat max | ESS bulk/tail min | divergences | "
             "converged | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    for outcome in ("DCR", "ORR", "PFS", "OS"):
        for by in (None, "grade", "site"):
            start = time.perf_counter()
            try:
                res = bayes_pool(data.select(outcome), by=by)
            except AnalysisError as err:
                lines.append(f"| {outcome} | {by or '-'} | | refused: {err} | | | | | |")
                continue
            d = res.diagnostics
            p = res.pooled
            lines.append(f"| {outcome} | {by or '-'} | {res.k} | {p['median']:.3g} ({p['ci_low']:.3g}-{p['ci_high']:.3g}) "
                         f"| {d.rhat_max:.3f} | {d.ess_bulk_min:.0f}/{d.ess_tail_min:.0f} | {d.divergences} | "
                         f"{res.converged}{' (refitted)' if d.refitted else ''} | {time.perf_counter() - start:.0f} |")
    with open(out_path, "w") as fh:
        fh.write("# Bayesian fits on the embedded data ('published' values)\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/fit_matrix.md")
