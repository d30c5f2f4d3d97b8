"""One place for the fits of an analysis: each distinct model is fitted once.

A fit is keyed by what determines it: the rows' data (study, counts or medians and CIs, the
covariate columns), the priors, the covariates, the engine, the MCMC settings and, for medians, the
rules ``median_se`` and ``median_likelihood`` (the memo's own, or a scenario's). The pipeline,
the sensitivity analysis and the data scenarios ask the memo, so a model they share (the
published-data scenario and the main analysis, say) is fitted once.
"""

from __future__ import annotations

from dataclasses import astuple
from functools import partial

import pandas as pd

from ..errors import ExactUnavailable
from ..priors import resolve_priors
from .background import BackgroundFits, available
from .exact import finer_quantiles
from .fit import bayes_pool
from .result import BayesFit
from .sampling import Settings

_DATA_COLUMNS = ("study", "outcome", "events", "n", "median", "ci_low", "ci_high")


class FitMemo:
    """``reuse=False`` fits every request anew, each covariate model with its own overall MCMC fit (what
    the pipeline did before the memo; the benchmark times both in one run)."""

    def __init__(self, settings: Settings, reuse: bool = True, median_se: str = "ci",
                 median_likelihood: str = "normal", background: BackgroundFits | None = None) -> None:
        """``background``: a worker started already, which its starter stops (a worker the memo starts itself,
        ``close`` stops)."""
        self.settings, self.reuse = settings, reuse
        self.rules = {"median_se": median_se, "median_likelihood": median_likelihood}
        self._fits: dict[tuple, BayesFit] = {}
        self._pending: dict[tuple, int] = {}  # key -> index of the fit in the background worker's list
        self._background, self._owns_background = background, False
        self.hits = 0

    def prefetch(self, jobs: list) -> None:
        """Start the MCMC fits (no covariates) of ``jobs``, a list of (rows, priors), in a background
        process (``background.py``) where that helps; ``fit`` then takes each from there. May be called
        again: the fits are made in the order they were asked for."""
        if not (jobs and self.reuse and available()):
            return
        if self._background is None:
            self._background, self._owns_background = BackgroundFits(), True
        for rows, priors in jobs:
            key = self._key(rows, priors, None, "mcmc", self.rules)
            if key not in self._pending and key not in self._fits:
                self._pending[key] = self._background.submit(rows, priors, self.settings, self.rules)

    def needs_mcmc(self, rows: pd.DataFrame, priors=None) -> bool:
        """True when the exact engine cannot take the model without covariates (its exact fit is kept)."""
        try:
            self.fit(rows, priors, engine="quadrature")
            return False
        except ExactUnavailable:
            return True

    def error_bound_later(self, fit: BayesFit) -> None:
        """Have the background worker, where there is one, compute the exact ``fit``'s twice-finer rule
        (``exact.finer_quantiles``) after the fits it was given, while this process goes on; its error bound
        then takes it from there. Without a worker (or an exact posterior) nothing changes."""
        if self._background is not None and fit.exact is not None and fit.exact.error_detail_pending:
            index = self._background.submit_call(finer_quantiles, fit.exact.args)
            fit.exact.finer_later(partial(self._background.result, index))

    def prefetched(self) -> None:
        """No more ``prefetch``: the worker goes on to its next tasks once it has made these fits."""
        if self._background is not None:
            self._background.end_jobs()

    def close(self) -> None:
        """Stop the background process if the memo started it (the fits it has not delivered are made here
        if asked for)."""
        if self._owns_background:
            self._background.close()
        self._background, self._pending = None, {}

    def _key(self, rows: pd.DataFrame, priors, by, engine, rules: dict) -> tuple:
        columns = [c for c in _DATA_COLUMNS if c in rows.columns] + ([by] if by else [])
        data = tuple(tuple(map(str, r)) for r in rows[columns].itertuples(index=False))
        texts = tuple(sorted((k, str(v)) for k, v in resolve_priors(rows["kind"].iloc[0], priors).items()))
        median = tuple(sorted(rules.items())) if rows["kind"].iloc[0] == "median" else ()
        return data, texts, by, engine, astuple(self.settings), median

    def fit(self, rows: pd.DataFrame, priors=None, by: str | None = None, engine: str = "mcmc",
            rules: dict | None = None) -> BayesFit:
        """``bayes_pool(rows, priors, by=by, engine=engine)``, fitted on first request, with the memo's rules for
        medians updated by ``rules``. A covariate model takes as its ``overall`` the memo's model without
        covariates of the same rows, priors and rules (exact first, else MCMC), made exactly when there is none."""
        rules = {**self.rules, **(rules or {})}
        key = self._key(rows, priors, by, engine, rules)
        if key in self._fits and self.reuse:
            self.hits += 1
            return self._fits[key]
        if key in self._pending:
            fit = self._fits[key] = self._background.result(self._pending.pop(key))
            return fit
        overall = None
        if by and not self.reuse:
            overall = bayes_pool(rows, priors=priors, settings=self.settings, **rules)
        elif by:
            made = [self._fits.get(self._key(rows, priors, None, e, rules)) for e in ("quadrature", "mcmc")]
            overall = next((f for f in made if f is not None), None) or self.fit(rows, priors, engine="quadrature",
                                                                                 rules=rules)
        fit = bayes_pool(rows, priors=priors, by=by, engine=engine, settings=self.settings, overall=overall, **rules)
        self._fits[key] = fit
        return fit

    def exact_or_mcmc(self, rows: pd.DataFrame, priors=None, by: str | None = None,
                      rules: dict | None = None) -> BayesFit:
        """The exact fit where the exact engine takes the model, else MCMC (a note on the fit says why)."""
        try:
            return self.fit(rows, priors, by, engine="quadrature", rules=rules)
        except ExactUnavailable as err:
            fit = self.fit(rows, priors, by, engine="mcmc", rules=rules)
            note = f"fitted by MCMC: {err}"
            if note not in fit.notes:
                fit.notes.append(note)
            return fit
