"""The self-contained HTML report, rendered from ``templates/report.html.j2`` (Jinja2, autoescaped)
with its stylesheet and figures embedded: the summary first, the data and audit in the appendix."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from .display import Table, display
from .methods import methods_html
from .summary import published_pooled, run_summary

SECTIONS = [("summary", "Summary"), ("results", "Pooled results and forest plots"),
            ("heterogeneity", "Heterogeneity and priors"), ("subgroups", "Subgroups and probability statements"),
            ("sensitivity", "Sensitivity"), ("influence", "Influence of single studies"),
            ("diagnostics", "Diagnostics"), ("methods", "Methods"),
            ("appendix", "Appendix: data, audit and per-study estimates"), ("reproduce", "Reproducing this report")]
FIGURE_GROUPS = ("forest", "heterogeneity", "priorpost", "subgroups", "contrasts", "influence", "sensitivity", "funnel",
                 "cumulative")
DATA_COLUMNS = ("study", "outcome", "value_source", "events", "n", "median", "ci_low", "ci_high", "source")
PUBLISHED = ("published", "published_ci_low", "published_ci_high")
HEADLINE_NAMES = {"bayes_median": "Bayesian", "bayes_pop_average": "population average", "tau_median": "\u03c4",
                  "freq_measure": "measure", "freq_tau2_method": "\u03c4\u00b2 method", "freq_estimate": "frequentist",
                  "published": "published (Wang 2026)"}

_ENV = Environment(loader=PackageLoader("bayes_prrt.report", "templates"), autoescape=select_autoescape(["j2", "html"]),
                   trim_blocks=False, lstrip_blocks=False)


def _figures(folder: Path, captions: dict) -> dict[str, list[dict]]:
    """Figures grouped by the prefix of their name, each as base64 PNG data with its caption."""
    groups = {g: [] for g in FIGURE_GROUPS}
    for name, caption in captions.items():
        data = base64.b64encode((folder / f"{name}.png").read_bytes()).decode()
        groups[name.split("_")[0]].append({"caption": caption, "data": data})
    return groups


def _per_outcome(frame: pd.DataFrame, kinds) -> list[tuple[str, Table]]:
    return [(o, display(frame[frame["outcome"] == o], kinds, "95% CrI", drop=("outcome",),
                        rename={"estimate": "pooled"}))
            for o in frame["outcome"].unique()]


def _sensitivity(frames, kinds) -> list[tuple[str, Table, Table]]:
    priors = dict(_per_outcome(frames["sensitivity_priors"], kinds))
    scenarios = dict(_per_outcome(frames["sensitivity_scenarios"], kinds)) if len(frames["sensitivity_scenarios"]) \
        else {}
    return [(o, t, scenarios.get(o, Table([], [], []))) for o, t in priors.items()]


def _headline(run, frame: pd.DataFrame) -> pd.DataFrame:
    """The headline table with the published value as numbers (the CSV keeps the published text)."""
    published = [published_pooled(run, o) or (None, None, None) for o in frame["outcome"]]
    return frame.assign(**{c: [p[i] for p in published] for i, c in enumerate(PUBLISHED)})


def tables_shown(run, frames: dict, meta: dict) -> dict:
    """Every table of the report as strings (``display.Table``)."""
    kinds = {o.outcome: o.kind for o in run.outcomes}
    rows = pd.concat([o.rows for o in run.outcomes], ignore_index=True)
    shown = {
        "headline": display(_headline(run, frames["headline"]), kinds, "95% interval", rename=HEADLINE_NAMES),
        "statements": display(frames["statements"], kinds, drop=("draws",)),
        "subgroups": display(frames["subgroups"], kinds, "95% CrI"),
        "contrasts": display(frames["contrasts"], kinds, "95% CrI", rename={"median": "difference"},
                             differences=True),
        "verdicts": display(frames["verdicts"], kinds),
        "sensitivity": _sensitivity(frames, kinds),
        "small_study": display(frames["small_study"], kinds),
        "scenario_shift": display(frames["scenario_shift"], kinds) if "scenario_shift" in frames else None,
        "influence": display(frames["influence"], kinds),
        "diagnostics": display(frames["diagnostics"], kinds),
        "agreement": display(frames["agreement"], kinds),
        "psens": display(frames["psens"], kinds),
        "data": display(rows[[c for c in DATA_COLUMNS if c in rows.columns]], kinds, "95% CI"),
        "audit": display(frames["audit"], kinds),
        "studies": display(frames["studies"][["outcome", *[c for c in frames["studies"] if c != "outcome"]]], kinds,
                           "95% CrI"),
        "versions": Table(["package", "version"], [[k, v] for k, v in meta["versions"].items()], [False, True]),
    }
    if "validation" in frames:
        shown["validation"] = display(frames["validation"], kinds, "95% CI")
    return shown


def _verdict_class(text: str) -> str:
    for start, css in (("supported", "verdict-supported"), ("not supported", "verdict-rejected"),
                       ("depends", "verdict-depends")):
        if text.startswith(start):
            return css
    return ""


def render_report(run, frames: dict, captions: dict, folder: Path, meta: dict) -> str:
    """The report page; ``meta`` gives versions, convergence and (optionally) the reproducing command."""
    summary = run_summary(run)
    low, high = run.spec.sensitivity["thresholds"]
    statements = [{**st, "css": _verdict_class(st["verdict"])} for s in summary for st in s["statements"]]
    return _ENV.get_template("report.html.j2").render(
        name=run.spec.name, data_source=run.data.source, sha256=run.data.sha256, values=run.spec.values,
        n_studies=int(pd.concat([o.rows["study"] for o in run.outcomes]).nunique()), seed=run.seed,
        command=meta.get("command") or f"make run    # or: bayes-prrt run --spec {run.spec.path} --seed {run.seed}",
        methods=Markup(methods_html(run)), sections=SECTIONS, converged=meta["converged"],
        summary=summary, statements=statements, warnings=[w for s in summary for w in s["warnings"]],
        t=tables_shown(run, frames, meta), fig=_figures(folder, captions),
        refused=[f"{o.outcome} by {c}: not estimated ({r})" for o in run.outcomes for c, r in o.refused.items()],
    )
