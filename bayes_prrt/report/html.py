"""The self-contained HTML report: renders tables and figures that were computed elsewhere."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

SECTIONS = [("data", "What was pooled"), ("headline", "Headline results"),
            ("subgroups", "Subgroups and probability statements"), ("sensitivity", "Sensitivity"),
            ("influence", "Influence of single studies"), ("diagnostics", "Diagnostics"),
            ("methods", "Methods"), ("reproduce", "Reproducing this report")]

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:0.85em;margin:0.6em 0;display:block;overflow-x:auto}th,td{border:1px solid #ccc;padding:3px 6px}
th{background:#f0f0f0}figure{margin:1em 0}img{max-width:100%}figcaption{font-size:0.85em;color:#555}
.warn{color:#a00;font-weight:bold}code,pre{background:#f6f6f6}"""

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
Subgroups: one categorical covariate with a shared &tau;; contrasts are posterior differences of the level values.
Sensitivity: a grid of priors computed exactly by quadrature, data scenarios, PSIS leave-one-out and power-scaling.</p>"""


def _table(frame: pd.DataFrame) -> str:
    # nullable integer columns print <NA> whatever na_rep says: show them as floats ("31", "-")
    frame = frame.apply(lambda col: col.astype(float) if str(col.dtype) == "Int64" else col)
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="-", border=0, escape=True)


def _interval(est, low, high) -> str:
    return "-" if pd.isna(est) else f"{est:.4g} ({low:.4g}-{high:.4g})"


def headline_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The headline table as the report shows it: one cell per estimate with its interval."""
    return pd.DataFrame({
        "outcome": frame["outcome"], "k": frame["k"],
        "Bayesian (95% CrI)": [_interval(*r) for r in frame[["bayes_median", "bayes_ci_low", "bayes_ci_high"]].values],
        "population average": frame["bayes_pop_average"],
        "predictive 95% interval": [f"{lo:.4g}-{hi:.4g}" for lo, hi in frame[["bayes_pi_low", "bayes_pi_high"]].values],
        "tau": frame["tau_median"],
        "frequentist (95% CI)": [_interval(*r) + f" {m}/{t}" for r, m, t in
                                 zip(frame[["freq_estimate", "freq_ci_low", "freq_ci_high"]].values,
                                     frame["freq_measure"], frame["freq_tau2_method"], strict=True)],
        "I2 %": frame["freq_I2"], "published (Wang 2026)": frame["published"], "converged": frame["converged"],
    })


def _figure(folder: Path, name: str, caption: str) -> str:
    data = base64.b64encode((folder / f"{name}.png").read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _figures(folder, captions, prefix) -> str:
    return "".join(_figure(folder, n, c) for n, c in captions.items() if n.startswith(prefix))


def _data_section(run, frames) -> str:
    rows = pd.concat([o.rows.assign(pooled_as=o.outcome) for o in run.outcomes], ignore_index=True)
    cols = [c for c in ("study", "outcome", "value_source", "events", "n", "median", "ci_low", "ci_high", "source")
            if c in rows.columns]
    return (f"<p>Data: {html.escape(run.data.source)} (sha256 <code>{run.data.sha256}</code>), "
            f"values policy <code>{run.spec.values}</code>.</p>" + _table(rows[cols])
            + f"<h3>Audit findings ({len(frames['audit'])})</h3>" + _table(frames["audit"]))


def render_report(run, frames: dict, captions: dict, folder: Path, meta: dict) -> str:
    unreliable = "" if meta["converged"] else (
        '<p class="warn">UNRELIABLE: at least one fit did not pass the convergence checks; see Diagnostics.</p>')
    body = {
        "data": _data_section(run, frames),
        "headline": unreliable + _table(headline_display(frames["headline"])) + _figures(folder, captions, "forest_")
        + ("<h3>Published vs reproduced (frequentist)</h3>" + _table(frames["validation"])
           if "validation" in frames else ""),
        "subgroups": "<h3>Probability statements</h3>" + _table(frames["statements"])
        + "<h3>Subgroups</h3>" + _table(frames["subgroups"]) + "<h3>Contrasts</h3>" + _table(frames["contrasts"])
        + _figures(folder, captions, "subgroups_") + _figures(folder, captions, "contrasts_")
        + "".join(f"<p>{html.escape(o.outcome)} by {html.escape(c)}: not estimated ({html.escape(r)})</p>"
                  for o in run.outcomes for c, r in o.refused.items()),
        "sensitivity": "<h3>Verdicts</h3>" + _table(frames["verdicts"]) + _figures(folder, captions, "sensitivity")
        + "<h3>Prior grid</h3>" + _table(frames["sensitivity_priors"])
        + "<h3>Data scenarios</h3>" + _table(frames["sensitivity_scenarios"]),
        "influence": _table(frames["influence"]) + _figures(folder, captions, "influence_"),
        "diagnostics": _table(frames["diagnostics"]) + "<h3>Power-scaling sensitivity</h3>" + _table(frames["psens"]),
        "methods": METHODS,
        "reproduce": (f"<pre>make run    # or: bayes-prrt run --spec {html.escape(run.spec.path)} --seed {run.seed}"
                      f"</pre><p>Seed {run.seed}; versions:</p>"
                      + _table(pd.DataFrame([meta["versions"]]))),
    }
    nav = " | ".join(f'<a href="#{sid}">{title}</a>' for sid, title in SECTIONS)
    sections = "".join(f'<section id="{sid}"><h2>{title}</h2>{body[sid]}</section>' for sid, title in SECTIONS)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(run.spec.name)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(run.spec.name)}</h1><nav>{nav}</nav>"
            f"{sections}</body></html>")
