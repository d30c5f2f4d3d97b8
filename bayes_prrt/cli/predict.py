"""``bayes-prrt predict`` and ``bayes-prrt check-external``: the posterior predictive of a new,
observed study, and the external validation of the synthesis against cohorts it did not use."""

from __future__ import annotations

import click

from ..names import ENGINES
from .commands import data_option, dump_json, json_option, main, open_data, seed_option, values_option

ENGINE_HELP = ("Posterior engine: quadrature (exact, about a second; the default) or mcmc (NUTS, slower; the "
               "same model).")


def predict_options(func):
    options = [data_option, values_option,
               click.option("--engine", type=click.Choice(ENGINES), default="quadrature", show_default=True,
                            help=ENGINE_HELP),
               click.option("--prior-mu", default=None, help="Prior for mu [default by outcome kind]."),
               click.option("--prior-tau", default=None, help="Prior for tau [default by outcome kind]."),
               seed_option, json_option]
    for option in reversed(options):
        func = option(func)
    return func


def _fit(data, outcome, values, engine, prior_mu, prior_tau, seed):
    from ..api import pool

    return pool(data, outcome, "bayes", values=values, engine=engine, seed=seed,
                priors={"mu": prior_mu, "tau": prior_tau})


def _interval(d: dict) -> str:
    return f"{d['median']:.3g} ({d['pi_low']:.3g} to {d['pi_high']:.3g})"


@main.command()
@click.option("--outcome", required=True, help="Outcome of the new study (DCR, ORR, PFS, OS or one in --data).")
@click.option("--n", "n", type=click.IntRange(1), default=None, help="Sample size of the new study (proportions).")
@click.option("--se", type=click.FloatRange(0, min_open=True), default=None,
              help="SE of the new study's log median (medians).")
@click.option("--ci-low", type=click.FloatRange(0, min_open=True), default=None,
              help="Lower 95% CI bound of the new study's median (medians; SE = (log U - log L)/(2 x 1.96)).")
@click.option("--ci-high", type=click.FloatRange(0, min_open=True), default=None,
              help="Upper 95% CI bound (may be left out with --observed: the lower half is used).")
@click.option("--observed", type=float, default=None,
              help="The new study's observed value on the outcome's scale (a proportion, or months): "
                   "adds its two-sided predictive p-value.")
@predict_options
def predict(outcome, n, se, ci_low, ci_high, observed, data_path, values, engine, prior_mu, prior_tau, seed,
            as_json):
    """Predict what a new study of OUTCOME will show: its true value and, given its n (proportions) or
    SE/CI (medians), its observed value, as medians and 95% intervals; with --observed, the two-sided
    predictive p-value. The posterior comes from the exact quadrature engine by default (fast)."""
    fit = _fit(open_data(data_path), outcome, values, engine, prior_mu, prior_tau, seed)
    out = fit.predict(n=n, se=se, ci_low=ci_low, ci_high=ci_high, observed=observed)
    if as_json:
        dump_json(out)
        return
    click.echo(f"{outcome}, a new study (posterior from k = {out['k']} studies, {out['engine']}"
               + ("" if out["converged"] else "; UNRELIABLE: the MCMC fit failed the convergence checks") + "):")
    click.echo(f"  true value      {_interval(out['true'])}")
    click.echo(f"  observed value  {_interval(out['observed'])}")
    if "p_two_sided" in out:
        click.echo(f"  observed {observed:g}: two-sided predictive p = {out['p_two_sided']:.3f}"
                   + (f" (mid-p {out['p_two_sided_mid']:.3f})" if "p_two_sided_mid" in out else ""))


@main.command(name="check-external")
@click.argument("file_path", metavar="FILE.csv", type=click.Path(dir_okay=False))
@predict_options
def check_external(file_path, data_path, values, engine, prior_mu, prior_tau, seed, as_json):
    """External validation: each cohort of FILE.csv (long format, one row per cohort and outcome; not in
    the synthesis) against the posterior predictive of a new study of its outcome, with its two-sided
    predictive p-value. Posteriors from the exact quadrature engine by default (fast)."""
    from ..bayes.external import check_external as run_check

    data = open_data(data_path)
    results = run_check(file_path, lambda outcome: _fit(data, outcome, values, engine, prior_mu, prior_tau, seed))
    if as_json:
        dump_json({"results": results})
        return
    for r in results:
        click.echo(f"{r['study']:<22} {r['outcome']:<5} observed {r['observed']:.3g}  95% PI {r['pi_low']:.3g} to "
                   f"{r['pi_high']:.3g}  p = {r['p_two_sided']:.3f}")
