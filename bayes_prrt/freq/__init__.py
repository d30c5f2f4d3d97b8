"""Frequentist meta-analysis engine, validated against R's metafor."""

from .bias import small_study_effects
from .cumulative import cumulative
from .glmm import fit_glmm
from .metareg import meta_regression
from .pool import Pooled, leave_one_out, pool, subgroups
from .rma import rma
from .tau2 import METHODS as TAU2_METHODS

__all__ = ["Pooled", "TAU2_METHODS", "cumulative", "fit_glmm", "leave_one_out", "meta_regression", "pool", "rma",
           "small_study_effects", "subgroups"]
