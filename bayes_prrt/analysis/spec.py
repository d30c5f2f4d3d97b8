"""Declarative analysis specs (TOML files in ``models/``), validated at the door.

A spec names the outcomes to pool, the value-source policy, covariates, the
frequentist settings, the rules for medians (``[medians]``: median_se, median_likelihood), the
priors and the probability statements. Unknown keys and
bad values raise :class:`SpecError` naming the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..data.dataset import VALUE_POLICIES
from ..bayes.statements import BETWEEN_STUDY, COMPARISONS, WITHIN_STUDY, check_levels, compared_levels
from ..bayes.statements import parse as parse_statement
from ..errors import AnalysisError, BayesPrrtError
from ..names import (BINARY_MEASURES, DEFAULT_MEDIAN_LIKELIHOOD, MEDIAN_LIKELIHOODS, MEDIAN_MEASURES, MEDIAN_SE_RULES,
                     TAU2_METHODS)
from ..priors import KINDS, Prior, PriorError, parse_prior, resolve_priors
from ..resources import default_spec_path

MEASURES_BINARY, MEASURES_MEDIAN = BINARY_MEASURES, MEDIAN_MEASURES
MCMC_CHECKS = ("headline", "all", "none")  # which exact posteriors an MCMC fit is set beside
SECTIONS = {
    "analysis": {"name", "outcomes", "values", "covariates", "mcmc"},
    "frequentist": {"measure_binary", "measure_median", "tau2", "hksj"},
    "medians": {"median_se", "median_likelihood"},  # every median fit, Bayesian and frequentist
    "priors": {"binary", "median"},
    "statements": {"outcome", "by", "text", "comparison"},
    "sensitivity": {"thresholds", "scenarios", "tau_binary", "tau_median", "mu_binary", "mu_median"},
}
class SpecError(BayesPrrtError):
    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}, key '{key}': {problem}")


@dataclass
class Spec:
    path: str
    name: str
    outcomes: list[str]
    values: str = "published"
    covariates: list[str] = field(default_factory=list)
    mcmc: str = "headline"  # MCMC beside the exact posterior: headline (overall models), all, none
    measure_binary: str = "PFT"
    measure_median: str = "LOGMEDIAN"
    tau2: str = "DL"
    hksj: bool = False
    median_se: str = "ci"  # a median without a CI: left out (ci) or SE c/sqrt(n) (ci+n); effects.py
    median_likelihood: str = DEFAULT_MEDIAN_LIKELIHOOD  # a median's CI: split normal or one symmetric SE
    priors: dict[str, dict[str, Prior]] = field(default_factory=dict)  # kind -> parameter -> prior, resolved
    statements: list[dict] = field(default_factory=list)  # outcome, text, by; each parsed and checked
    sensitivity: dict = field(default_factory=dict)  # thresholds, scenarios and the grids as Prior lists


def _choice(file, key, value, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise SpecError(file, key, f"'{value}' is not one of {', '.join(allowed)}")
    return value


def _unknown_keys(file, section, table):
    for key in table:
        if key not in SECTIONS[section]:
            raise SpecError(file, f"{section}.{key}", f"unknown key; allowed: {', '.join(sorted(SECTIONS[section]))}")


def _strings(file, key, value, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(file, key, f"give a list of {what} in quotes, e.g. [\"a\", \"b\"]")
    return value


def _text(file, key, value) -> str:
    if not isinstance(value, str):
        raise SpecError(file, key, "must be text in quotes")
    return value


def _read_toml(path: Path, file: str) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise SpecError(file, "-", "file not found") from None
    except UnicodeDecodeError:
        raise SpecError(file, "-", "not a readable spec: the file is not UTF-8 text") from None
    except OSError as err:
        raise SpecError(file, "-", f"cannot be read ({err.strerror or type(err).__name__})") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(file, "-", f"not valid TOML ({err})") from None


def _statements(file, value, outcomes) -> list[dict]:
    """Each [[statements]] entry: its keys, an outcome of the spec, and text the grammar reads."""
    if not isinstance(value, list):
        raise SpecError(file, "statements", "write each statement as a [[statements]] table with outcome and text")
    for i, st in enumerate(value):
        if not isinstance(st, dict):
            raise SpecError(file, f"statements[{i}]", "must be a [[statements]] table with outcome and text")
        _unknown_keys(file, "statements", st)
        if "outcome" not in st or "text" not in st:
            raise SpecError(file, f"statements[{i}]", "each statement needs 'outcome' and 'text'")
        for key in ("outcome", "text", "by", "comparison"):
            if key in st:
                _text(file, f"statements[{i}].{key}", st[key])
        comparison = _choice(file, f"statements[{i}].comparison", st.get("comparison", BETWEEN_STUDY), COMPARISONS)
        if comparison == WITHIN_STUDY and "by" not in st:
            raise SpecError(file, f"statements[{i}].by", "a within-study statement needs 'by', the covariate whose "
                                                         "subgroups the studies compare (e.g. grade)")
        if isinstance(outcomes, list) and st["outcome"] not in outcomes:
            raise SpecError(file, f"statements[{i}].outcome", f"'{st['outcome']}' is not one of analysis.outcomes "
                                                              f"({', '.join(map(str, outcomes))})")
        try:
            parsed = parse_statement(st["text"], st["outcome"])
            if st.get("comparison") == WITHIN_STUDY:
                compared_levels(parsed)
        except AnalysisError as err:
            raise SpecError(file, f"statements[{i}].text", str(err)) from None
    return value


def check_against_data(spec: Spec, data) -> None:
    """What the spec names must be in the data, checked before any fit: each outcome under the spec's
    value policy, each covariate, and each statement's covariate and levels."""
    rows = {}
    for outcome in spec.outcomes:
        rows[outcome] = data.select(outcome, spec.values)
        for cov in spec.covariates:
            if cov not in rows[outcome].columns:
                raise SpecError(spec.path, "analysis.covariates", f"'{cov}' is not a column of {data.source}; "
                                                                  f"covariates there: {', '.join(data.covariates)}")
    for i, st in enumerate(spec.statements):
        if st.get("comparison") == WITHIN_STUDY:
            _check_within(spec, i, st, data)
            continue
        by = st.get("by")
        if by is not None and by not in rows[st["outcome"]].columns:
            raise SpecError(spec.path, f"statements[{i}].by", f"'{by}' is not a column of {data.source}; "
                                                               f"covariates there: {', '.join(data.covariates)}")
        levels = rows[st["outcome"]][by].dropna().unique() if by else []
        try:
            check_levels(parse_statement(st["text"], st["outcome"]), by, levels)
        except AnalysisError as err:
            raise SpecError(spec.path, f"statements[{i}].text", str(err)) from None


def _check_within(spec: Spec, i: int, st: dict, data) -> None:
    """A within-study statement compares two levels that some study of the within-study data compares."""
    from ..bayes.within import within_contrasts

    if data.within is None:
        raise SpecError(spec.path, f"statements[{i}].comparison", f"{data.source} has no within-study subgroup rows "
                                                                  f"(data/within_study.csv)")
    try:
        levels = compared_levels(parse_statement(st["text"], st["outcome"]))
        within_contrasts(data.within, st["outcome"], st["by"], *levels)
    except AnalysisError as err:
        raise SpecError(spec.path, f"statements[{i}].text", str(err)) from None


def read_spec(path: str | Path | None = None) -> Spec:
    path = Path(path) if path is not None else default_spec_path()
    file = str(path)
    raw = _read_toml(path, file)
    for section, value in raw.items():
        if section not in SECTIONS:
            raise SpecError(file, section, f"unknown section; allowed: {', '.join(SECTIONS)}")
        if section != "statements" and not isinstance(value, dict):
            raise SpecError(file, section, f"must be a table: a [{section}] header followed by key = value lines")
    analysis, freq, priors = raw.get("analysis", {}), raw.get("frequentist", {}), raw.get("priors", {})
    medians = raw.get("medians", {})
    _unknown_keys(file, "analysis", analysis)
    _unknown_keys(file, "frequentist", freq)
    _unknown_keys(file, "medians", medians)
    _unknown_keys(file, "priors", priors)
    parsed_priors = {kind: resolve_priors(kind, _prior_table(file, kind, priors.get(kind, {}))) for kind in KINDS}
    outcomes = analysis.get("outcomes")
    if not outcomes or not isinstance(outcomes, list) or not all(isinstance(o, str) for o in outcomes):
        raise SpecError(file, "analysis.outcomes", "give a non-empty list of outcome names")
    statements = _statements(file, raw.get("statements", []), outcomes)
    sensitivity = _sensitivity(file, raw.get("sensitivity", {}))
    hksj = freq.get("hksj", False)
    if not isinstance(hksj, bool):
        raise SpecError(file, "frequentist.hksj", "must be true or false")
    return Spec(
        path=file,
        name=_text(file, "analysis.name", analysis.get("name", path.stem)),
        outcomes=outcomes,
        values=_choice(file, "analysis.values", analysis.get("values", "published"), tuple(VALUE_POLICIES)),
        covariates=list(_strings(file, "analysis.covariates", analysis.get("covariates", []), "column names")),
        mcmc=_choice(file, "analysis.mcmc", analysis.get("mcmc", "headline"), MCMC_CHECKS),
        measure_binary=_choice(file, "frequentist.measure_binary", freq.get("measure_binary", "PFT"), MEASURES_BINARY),
        measure_median=_choice(file, "frequentist.measure_median", freq.get("measure_median", "LOGMEDIAN"),
                               MEASURES_MEDIAN),
        tau2=_choice(file, "frequentist.tau2", freq.get("tau2", "DL"), TAU2_METHODS),
        hksj=hksj,
        median_se=_choice(file, "medians.median_se", medians.get("median_se", "ci"), MEDIAN_SE_RULES),
        median_likelihood=_choice(file, "medians.median_likelihood",
                                  medians.get("median_likelihood", DEFAULT_MEDIAN_LIKELIHOOD), MEDIAN_LIKELIHOODS),
        priors=parsed_priors,
        statements=statements,
        sensitivity=sensitivity,
    )


def _prior_table(file: str, kind: str, table) -> dict[str, Prior]:
    if not isinstance(table, dict):
        raise SpecError(file, f"priors.{kind}", "must be a table, e.g. [priors.binary] with mu, tau, beta")
    out = {}
    for key, text in table.items():
        try:
            out[key] = parse_prior(_text(file, f"priors.{kind}.{key}", text), key)
        except PriorError as err:
            raise SpecError(file, f"priors.{kind}.{key}", str(err)) from None
    return out


@lru_cache(maxsize=1)
def _default_sensitivity() -> dict:
    """The packaged spec's ``[sensitivity]`` table: the defaults of every spec."""
    return _read_toml(default_spec_path(), str(default_spec_path()))["sensitivity"]


def _sensitivity(file: str, given) -> dict:
    """The spec's [sensitivity] over the defaults, checked, with the prior grids as ``Prior`` lists."""
    if not isinstance(given, dict):
        raise SpecError(file, "sensitivity", "must be a table: a [sensitivity] header followed by key = value lines")
    from ..sensitivity.scenarios import SCENARIOS

    _unknown_keys(file, "sensitivity", given)
    table = {**_default_sensitivity(), **given}
    thresholds = table["thresholds"]
    numbers = (isinstance(thresholds, list) and len(thresholds) == 2
               and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in thresholds))
    if not numbers or not 0 < thresholds[0] < thresholds[1] < 1:
        raise SpecError(file, "sensitivity.thresholds", "give [lower, upper] with 0 < lower < upper < 1")
    for name in _strings(file, "sensitivity.scenarios", table["scenarios"], "scenario names"):
        _choice(file, "sensitivity.scenarios", name, tuple(SCENARIOS))
    for key in ("tau_binary", "tau_median", "mu_binary", "mu_median"):
        grid = []
        for text in _strings(file, f"sensitivity.{key}", table[key], "priors"):
            try:
                grid.append(parse_prior(text, key.split("_")[0]))
            except PriorError as err:
                raise SpecError(file, f"sensitivity.{key}", str(err)) from None
        table[key] = grid
    return table
