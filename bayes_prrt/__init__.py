"""bayes-prrt: Bayesian evidence synthesis of 177Lu-PRRT in neuroendocrine tumours.

The names below load on first use, so that ``import bayes_prrt`` (and the command's start-up)
does not import pandas, PyMC or matplotlib before they are needed.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {  # name -> module that defines it
    "pool": ".api", "load_fit": ".api", "FreqFit": ".freq.result", "BayesFit": ".bayes.result",
    "Dataset": ".data.dataset", "load_csv": ".data.dataset", "load_dataset": ".data.dataset",
    "read_outcomes": ".data.loader", "within_study": ".bayes.within", "WithinFit": ".bayes.within",
    "AnalysisError": ".errors", "BayesPrrtError": ".errors", "DataError": ".errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bayes_prrt' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
