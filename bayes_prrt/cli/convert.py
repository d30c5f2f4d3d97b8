"""``bayes-prrt convert``: any accepted input file as the canonical long CSV."""

from __future__ import annotations

from pathlib import Path

import click

from .commands import main


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="CSV file to write (replaced atomically) [default: standard output].")
def convert(input_path, out_path):
    """Validate INPUT (long or wide layout; CSV or .xlsx) and write it as the canonical long CSV."""
    from ..data.formats import canonical_long, read_table
    from ..data.loader import validate_outcomes
    from ..files import write_atomic

    table = read_table(input_path)
    rows = canonical_long(validate_outcomes(table))
    text = rows.to_csv(index=False, lineterminator="\n")
    if out_path is None:
        click.echo(text, nl=False)
        return
    write_atomic(Path(out_path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    click.echo(f"{out_path}: {len(rows)} rows, {rows['study'].nunique()} studies, read from {table.file} "
               f"({table.kind})", err=True)
