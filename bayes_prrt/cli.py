"""The ``bayes-prrt`` command line."""

from __future__ import annotations

import json
import sys

import click
import pandas as pd

from . import __version__
from .audit import audit
from .console import console, print_frame
from .dataset import VALUE_POLICIES, Dataset, load_csv, load_dataset
from .errors import BayesPrrtError
from .freq.measures import MEDIAN_MEASURES
from .freq.pool import BINARY_MEASURES, subgroups
from .freq.pool import pool as freq_pool
from .freq.validate import reproduce
from .headline import frequentist_headline
from .render import print_pooled, print_subgroups
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
    click.echo(json.dumps(_finite(obj), indent=2, default=_json_default, allow_nan=False))


def _finite(obj):
    """NaN (a value that does not exist) becomes null; containers are walked."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


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


def _weights_table(res) -> pd.DataFrame:
    return pd.DataFrame({"study": list(res.weights), "weight_%": list(res.weights.values())})


@main.command()
@data_option
@click.option("--outcome", required=True, help="Outcome to pool (DCR, ORR, PFS, OS or one in --data).")
@click.option("--method", type=click.Choice(["freq"]), default="freq", show_default=True,
              help="Frequentist pooling (the Bayesian engine is `--method bayes` once available).")
@click.option("--measure", type=click.Choice(list(BINARY_MEASURES + MEDIAN_MEASURES), case_sensitive=False),
              default=None, help="Effect measure [default: PFT for proportions, LOGMEDIAN for medians].")
@click.option("--tau2", "tau2_method", type=click.Choice(["DL", "REML", "PM", "ML", "FE"], case_sensitive=False),
              default="DL", show_default=True, help="tau2 estimator; FE for the common-effect model.")
@click.option("--hksj", is_flag=True, help="Knapp-Hartung (HKSJ) adjustment of the CI.")
@click.option("--by", default=None, help="Covariate column: pool within its levels and test the difference.")
@click.option("--values", default="published", show_default=True,
              type=click.Choice(list(VALUE_POLICIES)), help="Which figures to use when a study has several.")
@json_option
def pool(data_path, outcome, method, measure, tau2_method, hksj, by, values, as_json):
    """Pool one outcome (frequentist random-effects or common-effect model)."""
    data = open_data(data_path)
    rows = data.select(outcome, values)
    measure = (measure or ("PFT" if rows["kind"].iloc[0] == "binary" else "LOGMEDIAN")).upper()
    tau2_method = tau2_method.upper()
    res = freq_pool(rows, measure, tau2_method, hksj)
    sub = subgroups(rows, by, measure, tau2_method, hksj) if by else None
    if as_json:
        out = {"method": method, "values": values, "data_sha256": data.sha256, **res.to_dict()}
        if sub is not None:
            out.update(sub.to_dict())
        dump_json(out)
        return
    print_pooled(res, values)
    print_frame(_weights_table(res), title="Study weights")
    if sub is not None:
        print_subgroups(sub)


@main.command()
@json_option
def validate(as_json):
    """Reproduce every pooled result of Wang et al. 2026 with the paper's method."""
    table = reproduce(load_dataset())
    if as_json:
        dump_json(table.to_dict(orient="records"))
        return
    print_frame(table.drop(columns=["method"]), title="Published (Wang 2026) vs reproduced", digits=4)
    failed = table[table["within_margin"] == False]  # noqa: E712
    if not failed.empty:
        raise UserError(f"outside the validation margins: {', '.join(failed['result'])}")


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
    print_frame(frequentist_headline(data, spec),
                title=f"Frequentist pooled estimates (values: {spec.values}; Wang 2026 alongside)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
