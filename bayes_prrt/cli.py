"""The ``bayes-prrt`` command line."""

from __future__ import annotations

import json
import sys

import click
import pandas as pd

from . import __version__
from .audit import audit
from .console import console, print_frame
from .dataset import Dataset, load_csv, load_dataset
from .errors import BayesPrrtError
from .spec import read_spec
from .summary import dataset_summary


class UserError(click.ClickException):
    exit_code = 2


class Cli(click.Group):
    """Turns the package's own errors into a one-line message and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BayesPrrtError as err:
            raise UserError(str(err)) from None


data_option = click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
                           help="Long-format CSV to use instead of the embedded dataset.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def open_data(path: str | None) -> Dataset:
    return load_dataset() if path is None else load_csv(path)


def dump_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=_json_default, allow_nan=False))


def _json_default(value):
    if pd.isna(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {value!r}")


@click.group(cls=Cli)
@click.version_option(__version__, prog_name="bayes-prrt")
def main() -> None:
    """Bayesian evidence synthesis of 177Lu-PRRT in neuroendocrine tumours."""


def _print_summary(data: Dataset) -> None:
    console.print(f"[bold]Dataset[/bold]: {data.source}  (sha256 {data.sha256[:16]}, "
                  f"{len(data.studies) if data.embedded else data.outcomes['study'].nunique()} studies, {len(data.outcomes)} outcome rows)")
    print_frame(dataset_summary(data), title="Outcomes by value source")


def _print_audit(findings) -> None:
    if not findings:
        console.print("Audit: no findings.")
        return
    frame = pd.DataFrame([f.to_dict() for f in findings])
    print_frame(frame, title=f"Audit: {len(findings)} findings")


@main.command()
@data_option
@json_option
def summary(data_path, as_json):
    """Describe the dataset: studies, patients and values per outcome."""
    data = open_data(data_path)
    if as_json:
        dump_json({"source": data.source, "sha256": data.sha256,
                   "outcomes": dataset_summary(data).to_dict(orient="records")})
    else:
        _print_summary(data)


@main.command(name="audit")
@data_option
@json_option
def audit_command(data_path, as_json):
    """Data-quality audit: GRIM, totals, ranges, source disagreements, inclusion criteria."""
    data = open_data(data_path)
    findings = audit(data)
    if as_json:
        counts = pd.Series([f.check for f in findings], dtype=str).value_counts().to_dict()
        dump_json({"source": data.source, "sha256": data.sha256, "counts": counts,
                   "findings": [f.to_dict() for f in findings]})
    else:
        _print_audit(findings)


@main.command()
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), default=None,
              help="Analysis spec (TOML); default models/prrt_default.toml.")
@data_option
def run(spec_path, data_path):
    """The main job: read the spec, summarise and audit the data."""
    spec = read_spec(spec_path)
    data = open_data(data_path)
    for outcome in spec.outcomes:
        data.select(outcome, spec.values)  # fails early, naming the outcome, if it cannot be pooled
    console.print(f"[bold]Spec[/bold]: {spec.name}  ({spec.path})")
    _print_summary(data)
    _print_audit(audit(data))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
