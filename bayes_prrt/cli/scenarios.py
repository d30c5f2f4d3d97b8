"""``bayes-prrt shift``: how each outcome's pooled value moves from the published figures to a scenario."""

from __future__ import annotations

import click

from .commands import dump_json, main


@main.command()
@click.option("--to", "scenario", default="corrected", show_default=True,
              help="Scenario to compare with (a data scenario of docs/sensitivity.md other than 'published').")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def shift(scenario, as_json):
    """Pooled DCR, ORR, PFS, OS (random effects, DL) under 'published' and a scenario, and what moved them."""
    from ..data.dataset import load_dataset
    from ..report.console import print_frame
    from ..sensitivity.scenarios import scenario_shift_table

    data = load_dataset()
    table = scenario_shift_table(data, to=scenario)
    if as_json:
        dump_json({"source": data.source, "sha256": data.sha256, "scenario": scenario,
                   "shift": table.to_dict(orient="records")})
    else:
        print_frame(table, title=f"Pooled values: published -> {scenario}")
