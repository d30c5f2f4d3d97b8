"""Bayesian hierarchical models (PyMC) and the exact quadrature engine."""

import logging

# PyTensor announces at import that it uses NumPy's C-API for BLAS; that is not the user's concern.
logging.getLogger("pytensor.tensor.blas").setLevel(logging.ERROR)
