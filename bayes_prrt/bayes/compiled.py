"""Compiled-model cache: each hierarchical model structure is compiled once per process.

nutpie compiles a PyMC model's log density and gradient to machine code with numba, which
takes seconds (and is cached on disk by PyTensor between processes), while sampling one of
these models takes well under a second. A compiled model depends only on the structure
(kind, prior families, number of studies and covariate columns); data and prior parameters
are swapped in with ``with_data``. Shapes are rounded up to buckets, K = 16, 32, 64, ...
studies and P = 4, 8, ... columns, with padding that leaves the posterior unchanged
(``models.py``), so the fits of a whole analysis (outcomes, subgroups, data scenarios,
priors) share two or three compiled models.
"""

from __future__ import annotations

import warnings

from .models import ModelData, hierarchical_model

_CACHE: dict[tuple, object] = {}
STATS = {"compiled": 0, "reused": 0}
MIN_STUDIES, COLUMN_STEP = 16, 4


def bucket(k: int, p: int) -> tuple[int, int]:
    """Padded shape: the next power of two >= k (at least 16), the next multiple of 4 >= p (at least 4)."""
    K = max(MIN_STUDIES, 1 << max(k - 1, 0).bit_length())
    P = max(COLUMN_STEP, -(-p // COLUMN_STEP) * COLUMN_STEP)
    return K, P


def trace_names(kind: str) -> list[str]:
    return ["mu", "tau", "beta", "theta" if kind == "binary" else "eta"]


def compiled(data: ModelData):
    """The nutpie model for ``data``'s structure, compiled on first use, with ``data`` swapped in."""
    import nutpie

    K, P = bucket(data.k, data.p)
    key = data.structure(K, P)
    if key not in _CACHE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _CACHE[key] = nutpie.compile_pymc_model(hierarchical_model(data, K, P), var_names=trace_names(data.kind))
        STATS["compiled"] += 1
    else:
        STATS["reused"] += 1
    return _CACHE[key].with_data(**data.arrays(K, P))


def clear() -> None:
    """Forget every compiled model (benchmarks use this to time compilation)."""
    _CACHE.clear()
    STATS.update(compiled=0, reused=0)
