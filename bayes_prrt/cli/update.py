"""``bayes-prrt update``: a meta-analysis before and after adding new studies."""

from __future__ import annotations


import click

from .commands import dump_json, main, open_data, save_figure, values_option


@main.command()
@click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
              help="Base long-format CSV [default: the embedded dataset under --values].")
@click.option("--add", "add_path", type=click.Path(dir_okay=False), required=True,
              help="Long-format CSV with the new studies.")
@click.option("--outcome", "outcomes", multiple=True, help="Outcome to update (repeatable) [default: all in --add].")
@values_option
@click.option("--prob", "statements", multiple=True, help="Probability statement, e.g. '> 0.30' (repeatable).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write the before/after plot.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def update(data_path, add_path, outcomes, values, statements, plot_path, as_json):
    """Pool before and after adding the studies of --add (frequentist and exact Bayesian)."""
    from ..analysis.update import update as run_update

    from ..data.dataset import load_csv

    base = open_data(data_path)
    result = run_update(base, load_csv(add_path), list(outcomes) or None, values, list(statements))
    if as_json:
        dump_json({"data_sha256": base.sha256, **result.to_dict()})
    else:
        from ..report.console import print_text

        for s in result.statements:
            print_text(s["text"])
    if plot_path:
        from ..plots.update import plot_update

        save_figure(plot_update(result), plot_path)
