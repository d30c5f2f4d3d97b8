"""Compiled-model cache: each hierarchical model structure is compiled once, and once per machine.

The log density, its gradient and the traced quantities of a PyMC model are compiled by
PyTensor's numba backend, which caches the machine code on disk (PyTensor's compile
directory), so a later process loads it in about a second instead of compiling it again.
nutpie's NUTS sampler (Rust) calls them through its Python-function interface
(``nutpie.compiled_pyfunc.from_pyfunc``). nutpie's own ``compile_pymc_model`` wraps the same
functions in a numba C callback that is compiled afresh in every process (5-15 s a model on
this machine); calling them from Python costs about 20 us a gradient instead, under 2 s for a
fit of these models, so the compile cost saved is far larger than the sampling cost added.
nutpie calls them from its own threads, which have no Python thread state: each call would
create one and delete it on return, with a fresh frame stack (mapped and unmapped each time,
4 page faults), which took more than half of a fit's time. So each such thread keeps the state
it first gets (``_keep_thread_state``): the DCR fit's sampling took 2.2 s before and 0.9 s
after, with 0.4 s of system time instead of 3.0 s (measured).

A compiled model depends only on the structure (kind, prior families, number of studies and
covariate columns); data and prior parameters are inputs of the compiled functions, bound per
fit. Shapes are rounded up to buckets, K = 16, 32, 64, ... studies and P = 4, 8, ... columns,
with padding that leaves the posterior unchanged (``models.py``), so the fits of a whole
analysis (outcomes, subgroups, data scenarios, priors) share two or three compiled models.

Building the graphs (PyMC's log density and gradient) and PyTensor's rewriting of them take about
2.5 s a binomial model even with the machine code cached, so the rewritten graphs are kept too:
pickled in a ``bayes_prrt-graphs`` folder of PyTensor's compile directory, one file per structure,
named by a hash of the structure, bayes-prrt's source and the versions of Python, NumPy, PyMC,
PyTensor and numba (any change compiles afresh). A process that finds the file links the graphs to
their cached machine code (0.3 s) instead; the functions are the same, so are the draws (tested).
A file that cannot be read is replaced; one that cannot be written is skipped (no cache, no error).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .models import ModelData, hierarchical_model

_CACHE: dict[tuple, _Functions] = {}
STATS = {"compiled": 0, "reused": 0}
GRAPHS = "bayes_prrt-graphs"  # the rewritten graphs' folder in PyTensor's compile directory
MIN_STUDIES, COLUMN_STEP = 16, 4
_THREAD = threading.local()  # per Python thread state: whether this thread keeps its state


def _keep_thread_state() -> None:
    """Make the calling thread keep its Python thread state after this call (see the module docstring):
    one more ``PyGILState_Ensure``, never released, so the ``PyGILState_Release`` that ends nutpie's call
    leaves the state in place and the next call from this thread finds it, frame stack and all. A thread
    Python started keeps its state anyway (this only raises a counter it ignores at the thread's end). nutpie
    starts new threads for each fit, so each fit leaves its sampler thread's state behind, freed with the
    interpreter: 32 KiB a fit (resident memory over 60 fits, against 12 KiB without), 32 MB for 1,000 fits in
    one process."""
    if not getattr(_THREAD, "kept", False):
        import ctypes

        ctypes.pythonapi.PyGILState_Ensure()
        _THREAD.kept = True


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
                _keep_thread_state()
                value, grad = logp(x, *args)
                return float(value), np.array(grad, dtype=np.float64)
            return logp_grad

        def make_expand(_seed1, _seed2, _chain):
            def traced(x, **_):
                _keep_thread_state()
                return {name: np.array(v, dtype=np.float64) for name, v in zip(names, expand(x, *args), strict=True)}
            return traced

        def initial_point(seed):  # U(-1, 1) on the unconstrained scale, as PyMC's jitter; the same for any data
            return np.random.default_rng(seed).uniform(-1.0, 1.0, self.ndim)

        return from_pyfunc(self.ndim, make_logp, make_expand, [np.dtype(np.float64)] * len(names),
                           [list(s) for s in self.shapes], list(names), make_initial_point_fn=initial_point)


def compile_functions(model, var_names) -> tuple[_Functions, tuple]:
    """Compile ``model``'s log density, gradient and ``var_names`` with PyTensor's numba backend; returns the
    functions and their two rewritten graphs (``FunctionGraph``: log density with gradient, traced values)."""
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
    functions = _Functions(f_logp.vm.jit_fn, expand, tuple(v.name for v in data), tuple(v.dtype for v in data),
                           tuple(v.get_value() for v in data), tuple(var_names), shapes, ndim)
    return functions, (f_logp.maker.fgraph, f_expand.maker.fgraph)


def _link(fgraph):
    """The numba function of a rewritten graph, as PyTensor's numba linker makes it (its machine code from
    PyTensor's cache where compiled before)."""
    from pytensor.link.numba.linker import NumbaLinker

    return NumbaLinker().accept(fgraph).make_all()[0].jit_fn


@cache
def _source_hash() -> str:
    """sha256 of bayes-prrt's Python source, file by file: a changed model compiles afresh."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parents[1].rglob("*.py")):
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _graph_file(key: tuple) -> Path | None:
    """Where the rewritten graphs of ``key``'s structure are kept; None when PyTensor does not cache numba code."""
    import numba
    import pymc
    import pytensor

    config = pytensor.config
    if not config.numba__cache:
        return None
    rewrites = (config.optimizer, config.optimizer_including, config.optimizer_excluding,
                config.optimizer_requiring, config.cast_policy)  # flags that change the rewritten graph
    ident = repr((key, _source_hash(), sys.version, np.__version__, pymc.__version__, pytensor.__version__,
                  numba.__version__, config.floatX, config.numba__fastmath, rewrites))
    return Path(config.compiledir) / GRAPHS / f"{hashlib.sha256(ident.encode()).hexdigest()}.pkl"


def _load(path: Path | None) -> _Functions | None:
    """The functions kept at ``path``, linked; None when there are none or they cannot be read."""
    if path is None or not path.is_file():
        return None
    try:
        with open(path, "rb") as file:
            fields, (logp, expand) = pickle.load(file)
        return _Functions(_link(logp), _link(expand), **fields)
    except Exception:  # noqa: BLE001 - a damaged or foreign file: compile afresh, and replace it
        return None


def _save(path: Path | None, functions: _Functions, graphs) -> None:
    """Keep ``graphs`` and the functions' fields at ``path`` (written whole, then renamed; skipped when the
    folder cannot be written)."""
    if path is None:
        return
    fields = {name: getattr(functions, name) for name in ("data_names", "data_dtypes", "defaults", "names",
                                                          "shapes", "ndim")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as file:
            try:
                pickle.dump((fields, graphs), file, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001 - a graph that does not pickle: no file, the fit goes on
                file.close()
                os.unlink(file.name)
                return
        os.replace(file.name, path)
    except OSError:
        return


def compiled(data: ModelData):
    """The nutpie model for ``data``'s structure, compiled on first use, with ``data`` bound."""
    K, P = bucket(data.k, data.p)
    key = data.structure(K, P)
    if key not in _CACHE:
        path = _graph_file(key)
        functions = _load(path)
        if functions is None:
            functions, graphs = compile_functions(hierarchical_model(data, K, P), trace_names(data.kind))
            _save(path, functions, graphs)
        _CACHE[key] = functions
        STATS["compiled"] += 1
    else:
        STATS["reused"] += 1
    return _CACHE[key].bind(data.arrays(K, P))


def clear() -> None:
    """Forget every compiled model of this process (the graphs kept on disk stay: the next fit links them)."""
    _CACHE.clear()
    STATS.update(compiled=0, reused=0)
