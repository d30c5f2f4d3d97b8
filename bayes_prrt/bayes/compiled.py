"""Compiled-model cache: each hierarchical model structure is compiled once, and once per machine.

The log density, its gradient and the traced quantities of a PyMC model are compiled by
PyTensor's numba backend, which caches the machine code on disk (PyTensor's compile
directory), so a later process loads it in about a second instead of compiling it again.
nutpie's NUTS sampler (Rust) calls them through its Python-function interface
(``nutpie.compiled_pyfunc.from_pyfunc``). nutpie's own ``compile_pymc_model`` wraps the same
functions in a numba C callback that is compiled afresh in every process (5-15 s a model on
this machine); calling them from Python costs about 20 us a gradient instead, under 2 s for a
fit of these models, so the compile cost saved is far larger than the sampling cost added.

A compiled model depends only on the structure (kind, prior families, number of studies and
covariate columns); data and prior parameters are inputs of the compiled functions, bound per
fit. Shapes are rounded up to buckets, K = 16, 32, 64, ... studies and P = 4, 8, ... columns,
with padding that leaves the posterior unchanged (``models.py``), so the fits of a whole
analysis (outcomes, subgroups, data scenarios, priors) share two or three compiled models.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .models import ModelData, hierarchical_model

_CACHE: dict[tuple, _Functions] = {}
STATS = {"compiled": 0, "reused": 0}
MIN_STUDIES, COLUMN_STEP = 16, 4


def bucket(k: int, p: int) -> tuple[int, int]:
    """Padded shape: the next power of two >= k (at least 16), the next multiple of 4 >= p (at least 4)."""
    K = max(MIN_STUDIES, 1 << max(k - 1, 0).bit_length())
    P = max(COLUMN_STEP, -(-p // COLUMN_STEP) * COLUMN_STEP)
    return K, P


def trace_names(kind: str) -> list[str]:
    return ["mu", "tau", "beta", "theta" if kind == "binary" else "eta"]


@dataclass(frozen=True)
class _Functions:
    """A model's compiled log density with gradient, and its traced quantities, as functions of the
    unconstrained point x and the model's shared inputs (its ``pm.Data`` and dimension lengths, in
    ``data_names`` order; ``defaults``: their values in the model as built)."""

    logp: object  # numba dispatcher: (x, *data) -> (logp, grad)
    expand: object  # numba dispatcher: (x, *data) -> traced values
    data_names: tuple[str, ...]
    data_dtypes: tuple[str, ...]
    defaults: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    ndim: int

    def bind(self, arrays: dict[str, np.ndarray]):
        """The nutpie model of these functions with ``arrays`` as the data."""
        from nutpie.compiled_pyfunc import from_pyfunc

        args = tuple(np.ascontiguousarray(arrays.get(name, default), dtype=dtype)
                     for name, dtype, default in zip(self.data_names, self.data_dtypes, self.defaults, strict=True))
        logp, expand, names = self.logp, self.expand, self.names

        def make_logp():
            def logp_grad(x, **_):
                value, grad = logp(x, *args)
                return float(value), np.array(grad, dtype=np.float64)
            return logp_grad

        def make_expand(_seed1, _seed2, _chain):
            def traced(x, **_):
                return {name: np.array(v, dtype=np.float64) for name, v in zip(names, expand(x, *args), strict=True)}
            return traced

        def initial_point(seed):  # U(-1, 1) on the unconstrained scale, as PyMC's jitter; the same for any data
            return np.random.default_rng(seed).uniform(-1.0, 1.0, self.ndim)

        return from_pyfunc(self.ndim, make_logp, make_expand, [np.dtype(np.float64)] * len(names),
                           [list(s) for s in self.shapes], list(names), make_initial_point_fn=initial_point)


def compile_functions(model, var_names) -> _Functions:
    """Compile ``model``'s log density, gradient and ``var_names`` with PyTensor's numba backend."""
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import join_nonshared_inputs
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    # join_nonshared_inputs needs only each value's shape: where all are static (the hierarchical models, K and P
    # fixed) no initial-point function is compiled for them (0.4 s warm, 0.9 s cold); the joint model's use dims
    if all(None not in v.type.shape for v in model.value_vars):
        point = {v.name: np.zeros(v.type.shape, v.dtype) for v in model.value_vars}
    else:
        point = model.initial_point()
    traced = model.replace_rvs_by_values([model[name] for name in var_names])
    data = [v for v in graph_inputs([model.logp(), *traced]) if isinstance(v, SharedVariable)]
    inputs = [pt.tensor(name=v.name, shape=v.type.shape, dtype=v.dtype) for v in data]
    givens = dict(zip(data, inputs, strict=True))
    (logp, grad), flat = join_nonshared_inputs(point, [model.logp(), model.dlogp()], model.value_vars)
    values, flat_e = join_nonshared_inputs(point, traced, model.value_vars)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f_logp = pytensor.function([flat, *inputs], [logp, grad], givens=givens, mode="NUMBA",
                                   on_unused_input="ignore")
        f_expand = pytensor.function([flat_e, *inputs], values, givens=givens, mode="NUMBA", on_unused_input="ignore")
    ndim = sum(int(np.prod(point[v.name].shape)) for v in model.value_vars)
    expand = f_expand.vm.jit_fn
    shapes = tuple(np.shape(v) for v in expand(np.zeros(ndim), *(v.get_value() for v in data)))
    return _Functions(f_logp.vm.jit_fn, expand, tuple(v.name for v in data), tuple(v.dtype for v in data),
                      tuple(v.get_value() for v in data), tuple(var_names), shapes, ndim)


def compiled(data: ModelData):
    """The nutpie model for ``data``'s structure, compiled on first use, with ``data`` bound."""
    K, P = bucket(data.k, data.p)
    key = data.structure(K, P)
    if key not in _CACHE:
        _CACHE[key] = compile_functions(hierarchical_model(data, K, P), trace_names(data.kind))
        STATS["compiled"] += 1
    else:
        STATS["reused"] += 1
    return _CACHE[key].bind(data.arrays(K, P))


def clear() -> None:
    """Forget every compiled model (benchmarks use this to time compilation)."""
    _CACHE.clear()
    STATS.update(compiled=0, reused=0)
