"""bayes-prrt: Bayesian evidence synthesis of 177Lu-PRRT in neuroendocrine tumours."""

from .dataset import Dataset, load_csv, load_dataset
from .errors import AnalysisError, BayesPrrtError, DataError
from .loader import read_outcomes

__version__ = "0.1.0"

__all__ = ["AnalysisError", "BayesPrrtError", "DataError", "Dataset", "load_csv", "load_dataset",
           "read_outcomes", "__version__"]
