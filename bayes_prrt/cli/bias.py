"""``bayes-prrt bias`` (small-study effects) and ``bayes-prrt cumulative`` (cumulative meta-analysis)."""

from __future__ import annotations


import click

from ..errors import AnalysisError
from ..names import MEDIAN_MEASURES, PROPORTION_MEASURES, TAU2_CHOICES
from .commands import dump_json, main, open_data, sampler_option, save_figure, seed_option, values_option

_MEASURES = click.Choice(list(PROPORTION_MEASURES + MEDIAN_MEASURES), case_sensitive=False)
_TAU2 = click.Choice(list(TAU2_CHOICES), case_sensitive=False)


def _common(func):
    options = [
        click.option("--outcome", required=True, help="Outcome (DCR, ORR, PFS, OS or one in --data)."),
        click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
                     help="Data file (long or wide; CSV or .xlsx) instead of the embedded dataset."),
        values_option,
        click.option("--measure", type=_MEASURES, default=None,
                     help="Effect measure [default: PFT for proportions, LOGMEDIAN for medians]."),
        click.option("--tau2", "tau2_method", type=_TAU2, default="DL", show_default=True,
                     help="tau2 estimator; FE for the common-effect model."),
        click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                     help="Write the figure (funnel / cumulative forest plot) to this file."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _rows(data_path, outcome, values):
    data = open_data(data_path)
    return data, data.select(outcome, values)


@main.command()
@_common
@click.option("--bayes", "with_bayes", is_flag=True,
              help="Also fit the Bayesian small-study model (SE proxy as a covariate; MCMC).")
@click.option("--draws", type=click.IntRange(100), default=1000, show_default=True, help="Draws per chain (--bayes).")
@click.option("--chains", type=click.IntRange(2), default=4, show_default=True)
@seed_option
@sampler_option
@click.option("--allow-unconverged", is_flag=True, help="Exit 0 even if the Bayesian fit fails the checks.")
def bias(outcome, data_path, values, measure, tau2_method, plot_path, as_json, with_bayes, draws, chains, seed,
         sampler, allow_unconverged):
    """Small-study effects: Egger's regression test, rank correlation test, trim-and-fill."""
    from ..freq.bias import small_study_effects

    data, rows = _rows(data_path, outcome, values)
    res = small_study_effects(rows, measure, tau2_method.upper())
    model = None
    if with_bayes:
        from ..bayes.sampling import Settings
        from ..bayes.small_study import small_study_model

        settings = Settings(draws=draws, tune=draws, chains=chains, seed=seed, sampler=sampler)
        model = small_study_model(rows, settings=settings)
    if as_json:
        out = {"values": values, "data_sha256": data.sha256, **res.to_dict()}
        if model is not None:
            out["bayes"] = {"seed": seed, **model.to_dict()}
        dump_json(out)
    else:
        from ..report.bias import print_small_study, print_small_study_model

        print_small_study(res, values)
        if model is not None:
            print_small_study_model(model)
    if plot_path:
        from ..plots.funnel import plot_funnel

        save_figure(plot_funnel(res.funnel_points(), res.trimfill.fit.estimate,
                          xlabel=f"{res.outcome} ({res.measure} scale)"), plot_path)
    if model is not None and not model.converged and not allow_unconverged:
        raise AnalysisError("the Bayesian small-study model did not pass the convergence checks (R-hat <= 1.01, "
                            "ESS >= 400, no divergences); its results are UNRELIABLE. Rerun with more --draws, or "
                            "pass --allow-unconverged")


@main.command()
@_common
@click.option("--order", default="year", show_default=True,
              help="Column to order the studies by (stable sort; 'year' falls back to the year in the label).")
@click.option("--method", type=click.Choice(["freq", "bayes"]), default="freq", show_default=True,
              help="freq: random-effects pooling at each step; bayes: exact posterior (quadrature, default priors).")
def cumulative(outcome, data_path, values, measure, tau2_method, plot_path, as_json, order, method):
    """Cumulative meta-analysis: the pooled estimate after each study, in the order of a column."""
    data, rows = _rows(data_path, outcome, values)
    if method == "bayes":
        from ..bayes.cumulative import bayes_cumulative

        res = bayes_cumulative(rows, order)
    else:
        from ..freq.cumulative import cumulative as freq_cumulative

        res = freq_cumulative(rows, measure, tau2_method.upper(), order)
    if as_json:
        dump_json({"values": values, "data_sha256": data.sha256, **res.to_dict()})
    else:
        from ..report.bias import print_cumulative

        print_cumulative(res, values)
    if plot_path:
        from ..plots.cumulative import plot_cumulative

        save_figure(plot_cumulative(res.steps, xlabel=res.outcome, title=f"{res.outcome}: cumulative ({res.method})"),
              plot_path)
