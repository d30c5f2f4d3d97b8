"""The ``bayes-prrt`` commands: each parses its options, calls the library and prints."""

from __future__ import annotations

import sys

import json
import time
from pathlib import Path

import click
import pandas as pd

from .. import __version__
from ..data.audit import audit
from .interrupts import Interrupted, interrupt_pending, interrupted_detail, interruptible, watch_output
from ..report.console import console, fmt, plain, print_frame
from ..data.dataset import VALUE_POLICIES, Dataset, load_csv, load_dataset
from ..errors import BayesPrrtError
from ..effects import BINARY_MEASURES, MEDIAN_MEASURES, study_effects
from ..freq.pool import single_study, subgroups
from ..freq.pool import pool as freq_pool
from ..analysis.validate import reproduce
from ..bayes.fit import ENGINES, bayes_pool
from ..bayes.joint import joint_response
from ..bayes.sampling import SAMPLERS, Settings
from ..bayes.statements import probabilities
from ..files import check_writable, scratch_tempdir, write_atomic, write_netcdf
from ..plots.sensitivity import plot_sensitivity
from ..report.text import (print_bayes, print_joint, print_pooled, print_probabilities, print_sensitivity,
                     print_subgroups)
from ..sensitivity.analysis import spec_sensitivity
from ..analysis.pipeline import run_analysis
from .progress import progress_display
from ..analysis.spec import read_spec
from ..report.writer import check_destination, write_run
from ..data.summary import dataset_summary


class UserError(click.ClickException):
    exit_code = 2


class Cli(click.Group):
    """Turns the package's own errors into a one-line message and exit status 2, and an interrupt
    (SIGINT, SIGTERM) into one line and status 130 or 143."""

    def main(self, *args, **kwargs):
        try:  # around the handlers' whole lifetime: a signal while they are removed is caught too
            with interruptible(), scratch_tempdir():  # the compilers' temporary files: one folder, removed
                result = super().main(*args, **kwargs)
        except Interrupted as stop:
            signum = stop.signum
        except SystemExit:
            signum = interrupt_pending()
            if signum is None:
                raise
        else:
            signum = interrupt_pending()
            if signum is None:
                return result
        # interrupted (also when the exception was lost on the way: the command never exits 0 then)
        click.echo(f"interrupted; {interrupted_detail()}", err=True)
        if kwargs.get("standalone_mode", True) is False:
            return 128 + signum
        sys.exit(128 + signum)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BayesPrrtError as err:
            raise UserError(plain(err)) from None


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
    console.print(f"Dataset: {data.source}  (sha256 {data.sha256[:16]}, "
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


def _print_single(res, values: str) -> None:
    console.print(f"Single study (k = 1)   outcome {res.outcome}, measure {res.measure}, values: {values}")
    console.print()
    console.print(f"{res.outcome}: {fmt(res.estimate)}  95% CI [{fmt(res.ci_low)}, {fmt(res.ci_high)}]")
    for note in res.notes:
        console.print(f"note: {note}")


def _weights_table(res) -> pd.DataFrame:
    return pd.DataFrame({"study": list(res.weights), "weight_%": list(res.weights.values())})


sampler_option = click.option(
    "--sampler", type=click.Choice(SAMPLERS), default=Settings.sampler, show_default=True,
    help="NUTS implementation: nutpie (compiled once per model structure, reused) or pymc (pm.sample per fit).")


def bayes_options(func):
    """Options shared by the commands that fit the Bayesian models."""
    options = [
        click.option("--engine", type=click.Choice(ENGINES), default="mcmc", show_default=True,
                     help="MCMC (NUTS) or exact quadrature (models without covariates)."),
        sampler_option,
        click.option("--prior-mu", default=None, help="Prior for mu, e.g. normal:0,2 [default by outcome kind]."),
        click.option("--prior-tau", default=None, help="Prior for tau, e.g. halfnormal:0.5 or lognormal:M,S (tau2)."),
        click.option("--prior-beta", default=None, help="Prior for covariate effects, e.g. normal:0,1."),
        click.option("--covariate", "covariates", multiple=True,
                     help="Bayesian meta-regression on this column (numeric or categorical); repeatable."),
        click.option("--reference", default=None, help="Reference level of --by (default: first in sorted order)."),
        click.option("--draws", type=click.IntRange(100), default=1000, show_default=True, help="Draws per chain."),
        click.option("--chains", type=click.IntRange(2), default=4, show_default=True),
        click.option("--seed", type=int, default=Settings.seed, show_default=True),
        click.option("--allow-unconverged", is_flag=True, help="Exit 0 even if a fit fails the convergence checks."),
        click.option("--idata", "idata_path", type=click.Path(dir_okay=False), default=None,
                     help="Write the InferenceData of the overall fit to this netCDF file."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _bayes_fit(rows, by, opts):
    settings = Settings(draws=opts["draws"], tune=opts["draws"], chains=opts["chains"], seed=opts["seed"],
                        sampler=opts["sampler"])
    priors = {"mu": opts["prior_mu"], "tau": opts["prior_tau"], "beta": opts["prior_beta"]}
    return bayes_pool(rows, priors=priors, by=by, engine=opts["engine"], settings=settings,
                      covariates=list(opts["covariates"]) or None, reference=opts["reference"])


def _finish_bayes(res, allow_unconverged, idata_path):
    if idata_path and res.idata is not None:
        write_netcdf(res.idata, Path(idata_path))
    if not res.converged and not allow_unconverged:
        raise UserError("the fit did not pass the convergence checks (R-hat <= 1.01, ESS >= 400, no "
                        "divergences) even after a refit; the results above are UNRELIABLE. Rerun with more "
                        "--draws, or pass --allow-unconverged to accept them")


@main.command()
@data_option
@click.option("--outcome", required=True, help="Outcome to pool (DCR, ORR, PFS, OS or one in --data).")
@click.option("--method", type=click.Choice(["freq", "bayes"]), default="freq", show_default=True)
@click.option("--measure", type=click.Choice(list(BINARY_MEASURES + MEDIAN_MEASURES), case_sensitive=False),
              default=None, help="Effect measure (freq) [default: PFT for proportions, LOGMEDIAN for medians].")
@click.option("--tau2", "tau2_method", type=click.Choice(["DL", "REML", "PM", "ML", "FE"], case_sensitive=False),
              default="DL", show_default=True, help="tau2 estimator (freq); FE for the common-effect model.")
@click.option("--hksj", is_flag=True, help="Knapp-Hartung (HKSJ) adjustment of the CI (freq).")
@click.option("--by", default=None, help="Covariate column: subgroups by its levels and their comparison.")
@click.option("--values", default="published", show_default=True,
              type=click.Choice(list(VALUE_POLICIES)), help="Which figures to use when a study has several.")
@bayes_options
@json_option
def pool(data_path, outcome, method, measure, tau2_method, hksj, by, values, as_json, allow_unconverged, idata_path,
         **opts):
    """Pool one outcome: frequentist random effects (--method freq) or the hierarchical model (bayes)."""
    if idata_path:
        check_writable(Path(idata_path), "--idata")
    data = open_data(data_path)
    rows = data.select(outcome, values)
    if method == "bayes":
        res = _bayes_fit(rows, by, opts)
        if as_json:
            dump_json({"values": values, "data_sha256": data.sha256, "seed": opts["seed"], **res.to_dict()})
        else:
            print_bayes(res, values)
        _finish_bayes(res, allow_unconverged, idata_path)
        return
    measure = (measure or ("PFT" if rows["kind"].iloc[0] == "binary" else "LOGMEDIAN")).upper()
    tau2_method = tau2_method.upper()
    if not by and len(study_effects(rows, measure)[1]) == 1:  # nothing to pool: the study's own summary
        res = single_study(rows, measure)
        if as_json:
            dump_json({"method": method, "values": values, "data_sha256": data.sha256, **res.to_dict()})
        else:
            _print_single(res, values)
        return
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
@data_option
@click.option("--outcome", required=True, help="Outcome the statements are about.")
@click.option("--by", default=None, help="Covariate whose levels the statements compare.")
@click.option("--values", default="published", show_default=True, type=click.Choice(list(VALUE_POLICIES)))
@bayes_options
@json_option
@click.argument("statements", nargs=-1, required=True)
def prob(data_path, outcome, by, values, allow_unconverged, idata_path, as_json, statements, **opts):
    """Posterior probabilities, e.g.  prob --outcome ORR --by grade "G1-2 > G2-3" "> 0.30"."""
    if idata_path:
        check_writable(Path(idata_path), "--idata")
    data = open_data(data_path)
    res = _bayes_fit(data.select(outcome, values), by, opts)
    answers = probabilities(res, statements)
    if as_json:
        dump_json({"outcome": outcome, "engine": opts["engine"], "priors": res.priors, "converged": res.converged,
                   "diagnostics": res.to_dict()["diagnostics"], "statements": answers})
    else:
        print_probabilities(res, answers)
    _finish_bayes(res, allow_unconverged, idata_path)


@main.command()
@data_option
@click.option("--values", default="published", show_default=True, type=click.Choice(list(VALUE_POLICIES)))
@click.option("--prior-mu", default=None, help="Prior for muR and muS (logit scale).")
@click.option("--prior-tau", default=None, help="Prior for the two study-effect SDs.")
@click.option("--draws", type=click.IntRange(100), default=1000, show_default=True)
@click.option("--seed", type=int, default=Settings.seed, show_default=True)
@click.option("--allow-unconverged", is_flag=True)
@json_option
def joint(data_path, values, prior_mu, prior_tau, draws, seed, allow_unconverged, as_json):
    """Joint ORR/DCR model (responders and stable disease), compared with the separate models."""
    data = open_data(data_path)
    res = joint_response(data, values, {"mu": prior_mu, "tau": prior_tau},
                         Settings(draws=draws, tune=draws, seed=seed))
    if as_json:
        dump_json({"values": values, "data_sha256": data.sha256, "seed": seed, **res.to_dict()})
    else:
        print_joint(res)
    _finish_bayes(res, allow_unconverged, None)


@main.command()
@click.option("--outcome", default=None, help="One outcome (default: every outcome of the spec).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), default=None,
              help="Analysis spec with statements and the [sensitivity] grid; default models/prrt_default.toml.")
@data_option
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default="sensitivity.png", show_default=True,
              help="Where to write the figure.")
@click.option("--draws", type=click.IntRange(100), default=1000, show_default=True)
@click.option("--seed", type=int, default=Settings.seed, show_default=True)
@json_option
def sensitivity(outcome, spec_path, data_path, plot_path, draws, seed, as_json):
    """Prior grid, data scenarios, leave-one-out and power-scaling, with a verdict per statement."""
    check_writable(Path(plot_path), "--plot")
    spec = read_spec(spec_path)
    data = open_data(data_path)
    settings = Settings(draws=draws, tune=draws, seed=seed)
    results, kinds = [], {}
    for name in [outcome] if outcome else spec.outcomes:
        res, kinds[name] = spec_sensitivity(data, spec, name, settings)
        results.append(res)
    write_atomic(Path(plot_path), lambda tmp: plot_sensitivity(results, kinds, tmp))
    if as_json:
        body = results[0].to_dict() if outcome else {"outcomes": {r.outcome: r.to_dict() for r in results}}
        dump_json({**body, "plot": plot_path, "data_sha256": data.sha256, "seed": seed})
        return
    for res in results:
        print_sensitivity(res)
    console.print(f"Figure: {plot_path}")


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
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="results", show_default=True)
@click.option("--seed", type=int, default=Settings.seed, show_default=True)
@sampler_option
@click.option("--force", is_flag=True, help="Replace an existing --out folder.")
@click.option("--quiet", is_flag=True, help="No progress display.")
def run(spec_path, data_path, out_dir, seed, sampler, force, quiet):
    """The main job: every analysis of the spec, written as a report with figures and tables."""
    spec = read_spec(spec_path)
    data = open_data(data_path)
    for outcome in spec.outcomes:
        data.select(outcome, spec.values)  # fails early, naming the outcome, if it cannot be pooled
    out = Path(out_dir)
    check_destination(out, force, (spec.path, data_path))
    start = time.perf_counter()
    watch_output(out)
    with progress_display(quiet) as step:
        result = run_analysis(spec, data, Settings(seed=seed, sampler=sampler), step)
        step("writing the report")
        write_run(result, out, force, {**result.timings, "total": time.perf_counter() - start})
    if not quiet:
        console.print(f"Report: {out / 'report.html'}")
    if not all(fit.converged for o in result.outcomes for fit in (o.bayes, *o.subgroups.values())):
        raise UserError(f"some fits did not converge; {out / 'report.html'} marks them UNRELIABLE")

