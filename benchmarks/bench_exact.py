"""Timings of the exact engine (bayes/exact.py), as ratios to one ``quadrature.binomial`` call
(the no-covariate engine, ORR, k = 12) timed in the same run; absolute times in ms as well.

Run: ``python benchmarks/bench_exact.py``. Targets: ORR by grade (k = 12) < 100 ms, a
categorical binomial fit with k = 1,000 simulated studies < 2 s.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.special import expit

import bayes_prrt
from bayes_prrt.bayes import quadrature
from bayes_prrt.bayes.exact import exact_posterior
from bayes_prrt.design import design_matrix
from bayes_prrt.priors import resolve_priors


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def exact_cases() -> dict:
    """name -> a function that makes one fit; the first is the baseline."""
    rows = bayes_prrt.load_dataset().select("ORR", "published")
    events, n = rows["events"].to_numpy(), rows["n"].to_numpy()
    binary = resolve_priors("binary")
    X, names, _ = design_matrix(rows, ["grade"])
    levels = sorted(rows["grade"].astype(str).unique())
    rng = np.random.default_rng(1)
    k = 1000
    grade = rng.integers(0, 3, k)
    n_sim = rng.integers(20, 300, k)
    e_sim = rng.binomial(n_sim, expit(-0.8 + 0.3 * grade + 0.5 * rng.standard_normal(k)))
    X_sim = np.eye(3)[grade][:, 1:]
    cases = {
        "baseline: quadrature.binomial ORR (k=12), fresh grid": lambda: quadrature.BinomialLikelihood(events, n)
        .posterior(binary, 1),
        "exact ORR, no covariate (k=12)": lambda: exact_posterior("binary", events, n, np.zeros((len(n), 0)), binary),
        "exact ORR by grade (k=12)": lambda: exact_posterior("binary", events, n, X[:, 1:], binary, names[1:], levels),
        "exact binomial by 3 levels (k=1000)": lambda: exact_posterior("binary", e_sim, n_sim, X_sim, binary,
                                                                        ["b1", "b2"], ["L0", "L1", "L2"]),
        "exact ORR by grade, error_bound (twice-finer refit)": lambda: exact_posterior(
            "binary", events, n, X[:, 1:], binary, names[1:], levels).error_bound,
    }
    return cases


def main() -> None:
    timings = {name: best_of(fn) for name, fn in exact_cases().items()}
    base = next(iter(timings.values()))
    for name, t in timings.items():
        print(f"{name:55s} {1000 * t:8.1f} ms  {t / base:6.2f} x baseline")


if __name__ == "__main__":
    main()
