"""The self-contained HTML report, rendered from ``templates/report.html.j2`` (Jinja2, autoescaped)
with its stylesheet and figures embedded: the summary first, the data and audit in the appendix."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from .display import Table, display
from .summary import published_pooled, run_summary

SECTIONS = [("summary", "Summary"), ("results", "Pooled results and forest plots"),
            ("heterogeneity", "Heterogeneity and priors"), ("subgroups", "Subgroups and probability statements"),
            ("sensitivity", "Sensitivity"), ("influence", "Influence of single studies"),
            ("diagnostics", "Diagnostics"), ("methods", "Methods"),
            ("appendix", "Appendix: data, audit and per-study estimates"), ("reproduce", "Reproducing this report")]
FIGURE_GROUPS = ("forest", "heterogeneity", "priorpost", "subgroups", "contrasts", "influence", "sensitivity")
DATA_COLUMNS = ("study", "outcome", "value_source", "events", "n", "median", "ci_low", "ci_high", "source")
PUBLISHED = ("published", "published_ci_low", "published_ci_high")
HEADLINE_NAMES = {"bayes_median": "Bayesian", "bayes_pop_average": "population average", "tau_median": "\u03c4",
                  "freq_measure": "measure", "freq_tau2_method": "\u03c4\u00b2 method", "freq_estimate": "frequentist",
                  "published": "published (Wang 2026)"}

METHODS = """<p>Proportions (DCR, ORR) are pooled with a binomial random-effects model:
y<sub>i</sub> ~ Binomial(n<sub>i</sub>, p<sub>i</sub>), logit p<sub>i</sub> = &mu; + x<sub>i</sub>&prime;&beta; + &tau;z<sub>i</sub>,
z<sub>i</sub> ~ N(0, 1). Median survival (PFS, OS) is pooled on the log scale: log m<sub>i</sub> ~
N(&mu; + x<sub>i</sub>&prime;&beta;, &radic;(s<sub>i</sub><sup>2</sup> + &tau;<sup>2</sup>)), with s<sub>i</sub> from the 95% CI,
(log U &minus; log L)/(2&times;1.96), or the lower half alone when U is not estimable. The pooled value is that of the
median study, expit(&mu;) or exp(&mu;); for proportions the population average E[expit(&mu; + &tau;u)] is shown too.
Priors: half-normal on &tau; (R&ouml;ver et al. 2021), normal on &mu; and &beta;; see the Sensitivity section for
alternatives. Sampling: PyMC NUTS, 4 chains; a fit counts only with R-hat &le; 1.01, bulk and tail ESS &ge; 400 and
no divergences. The frequentist values use the Freeman-Tukey double arcsine (proportions) or log medians with
DerSimonian-Laird random effects, as the published meta-analysis did; the engine agrees with R metafor to 1e-6.
The Bayesian I&sup2; is &tau;&sup2; / (&tau;&sup2; + s&sup2;) per posterior draw, s&sup2; the typical within-study variance
of Higgins and Thompson (2002) on the model's scale (logit, or log months).
Subgroups: one categorical covariate with a shared &tau;; contrasts are posterior differences of the level values.
Sensitivity: a grid of priors computed exactly by quadrature, data scenarios, PSIS leave-one-out and power-scaling.
A statement is <i>supported</i> at P &ge; {high:g}, <i>not supported</i> at P &le; {low:g}, <i>uncertain</i> between.</p>"""

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
        "influence": display(frames["influence"], kinds),
        "diagnostics": display(frames["diagnostics"], kinds),
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
        methods=Markup(METHODS.format(low=low, high=high)), sections=SECTIONS, converged=meta["converged"],
        summary=summary, statements=statements, warnings=[w for s in summary for w in s["warnings"]],
        t=tables_shown(run, frames, meta), fig=_figures(folder, captions),
        refused=[f"{o.outcome} by {c}: not estimated ({r})" for o in run.outcomes for c, r in o.refused.items()],
    )
