"""``bayes-prrt update``: a meta-analysis before and after adding new studies."""

from __future__ import annotations

from pathlib import Path

import click

from .commands import dump_json, main
from ..data.dataset import VALUE_POLICIES, load_csv, load_dataset
from ..files import write_atomic


@main.command()
@click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
              help="Base long-format CSV [default: the embedded dataset under --values].")
@click.option("--add", "add_path", type=click.Path(dir_okay=False), required=True,
              help="Long-format CSV with the new studies.")
@click.option("--outcome", "outcomes", multiple=True, help="Outcome to update (repeatable) [default: all in --add].")
@click.option("--values", default="published", show_default=True, type=click.Choice(list(VALUE_POLICIES)),
              help="Value policy of the embedded base data.")
@click.option("--prob", "statements", multiple=True, help="Probability statement, e.g. '> 0.30' (repeatable).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write the before/after plot.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def update(data_path, add_path, outcomes, values, statements, plot_path, as_json):
    """Pool before and after adding the studies of --add (frequentist and exact Bayesian)."""
    from ..analysis.update import update as run_update

    base = load_dataset() if data_path is None else load_csv(data_path)
    result = run_update(base, load_csv(add_path), list(outcomes) or None, values, list(statements))
    if as_json:
        dump_json({"data_sha256": base.sha256, **result.to_dict()})
    else:
        from ..report.console import console

        for s in result.statements:
            console.print(s["text"])
    if plot_path:
        import matplotlib.pyplot as plt

        from ..plots.update import plot_update

        fig = plot_update(result)
        write_atomic(Path(plot_path), lambda tmp: fig.savefig(tmp, dpi=110, format=Path(plot_path).suffix.lstrip(".")
                                                              or "png"))
        plt.close(fig)
