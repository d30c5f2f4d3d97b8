"""The few distribution functions the frequentist engine needs, from ``scipy.special``.

They are the functions ``scipy.stats`` itself evaluates (Cephes and Boost), without its import
cost of about a second, so that the frequentist commands start quickly.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def norm_ppf(q):
    return special.ndtri(q)


def norm_sf(x):
    return special.ndtr(-np.asarray(x, float))


def chi2_sf(x, df):
    return special.chdtrc(df, x)


def chi2_ppf(q, df):
    return special.chdtri(df, 1 - np.asarray(q, float))


def t_ppf(q, df):
    return special.stdtrit(df, q)


def t_sf(x, df):
    return special.stdtr(df, -np.asarray(x, float))


def f_sf(x, dfn, dfd):
    return special.fdtrc(dfn, dfd, x)


def beta_ppf(q, a, b):
    return special.betaincinv(a, b, q)
