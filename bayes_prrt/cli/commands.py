"""The ``bayes-prrt`` commands: each parses its options, calls the library and prints.

The engines (pandas, SciPy, PyMC, ArviZ, matplotlib) are imported inside the commands that use
them, so that ``--help`` and the frequentist commands start quickly.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .. import __version__
from ..errors import BayesPrrtError, plain
from ..files import scratch_tempdir
from ..names import (BINARY_MEASURES, DEFAULT_MEDIAN_LIKELIHOOD, DEFAULT_SEED, ENGINES, MEDIAN_LIKELIHOODS,
                     MEDIAN_MEASURES, MEDIAN_SE_RULES, SAMPLERS, TAU2_CHOICES)
from .interrupts import Interrupted, interrupt_pending, interrupted_detail, interruptible, watch_output
from .params import SEED


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
                           help="Data file (long or wide; CSV or .xlsx) instead of the embedded dataset.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
values_option = click.option("--values", default="published", show_default=True,
                             help="Which figures to use when a study has several: published, table2, primary, "
                                  "corrected or living (see docs/data.md).")
seed_option = click.option("--seed", type=SEED, default=DEFAULT_SEED, show_default=True,
                           help="Seed of every random stream (a whole number from 0 to 2^32 - 1).")
sampler_option = click.option(
    "--sampler", type=click.Choice(SAMPLERS), default=SAMPLERS[0], show_default=True,
    help="NUTS implementation: nutpie (compiled once per model structure, reused) or pymc (pm.sample per fit).")


def open_data(path: str | None):
    from ..data.dataset import load_csv, load_dataset

    return load_dataset() if path is None else load_csv(path)


def save_figure(fig, path: str) -> None:
    """Write a matplotlib figure atomically, in the format of the path's suffix (PNG by default)."""
    import matplotlib.pyplot as plt

    from ..files import write_atomic

    write_atomic(Path(path), lambda tmp: fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".") or "png"))
    plt.close(fig)


def dump_json(obj) -> None:
    from ..jsonio import dumps

    click.echo(dumps(obj))


@click.group(cls=Cli)
@click.version_option(__version__, prog_name="bayes-prrt")
def main() -> None:
    """Bayesian evidence synthesis of 177Lu-PRRT in neuroendocrine tumours."""


@main.command()
@data_option
@json_option
def summary(data_path, as_json):
    """Describe the dataset: studies, patients and values per outcome."""
    from ..data.summary import dataset_summary

    data = open_data(data_path)
    frame = dataset_summary(data)
    if as_json:
        dump_json({"source": data.source, "sha256": data.sha256, "outcomes": frame.to_dict(orient="records")})
    else:
        from ..report.text import print_dataset_summary

        print_dataset_summary(data, frame)


@main.command(name="audit")
@data_option
@json_option
def audit_command(data_path, as_json):
    """Data-quality audit: the named rules of docs/data.md (rules the data lacks inputs for are skipped)."""
    from ..data.audit import audit_record, run_audit

    data = open_data(data_path)
    result = run_audit(data)
    if as_json:
        dump_json(audit_record(data, result))
    else:
        from ..report.text import print_audit

        print_audit(result)


def bayes_options(func):
    """Options shared by the commands that fit the Bayesian models."""
    options = [
        click.option("--engine", type=click.Choice(ENGINES), default="mcmc", show_default=True,
                     help="MCMC (NUTS) or the exact engine (no covariate, one categorical or one numeric covariate)."),
        sampler_option,
        click.option("--prior-mu", default=None, help="Prior for mu, e.g. normal:0,2 [default by outcome kind]."),
        click.option("--prior-tau", default=None, help="Prior for tau, e.g. halfnormal:0.5 or lognormal:M,S (tau2)."),
        click.option("--prior-beta", default=None, help="Prior for covariate effects, e.g. normal:0,1."),
        click.option("--covariate", "covariates", multiple=True,
                     help="Bayesian meta-regression on this column (numeric or categorical); repeatable."),
        click.option("--reference", default=None, help="Reference level of --by (default: first in sorted order)."),
        click.option("--separate-tau", is_flag=True,
                     help="With --by: a separate mean and tau per level (exact), not one tau shared by all levels."),
        click.option("--draws", type=click.IntRange(100), default=1000, show_default=True, help="Draws per chain."),
        click.option("--chains", type=click.IntRange(2), default=4, show_default=True),
        seed_option,
        click.option("--allow-unconverged", is_flag=True, help="Exit 0 even if a fit fails the convergence checks."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _bayes(data, outcome, values, by, opts):
    from ..api import pool as api_pool

    return api_pool(data, outcome, "bayes", values=values, by=by, covariates=list(opts["covariates"]),
                    reference=opts["reference"], engine=opts["engine"], sampler=opts["sampler"], draws=opts["draws"],
                    chains=opts["chains"], seed=opts["seed"], median_se=opts.get("median_se", "ci"),
                    separate_tau=opts["separate_tau"],
                    median_likelihood=opts.get("median_likelihood", DEFAULT_MEDIAN_LIKELIHOOD),
                    priors={"mu": opts["prior_mu"], "tau": opts["prior_tau"], "beta": opts["prior_beta"]})


def _check_idata(idata_path, separate_tau: bool = False) -> None:
    if idata_path and separate_tau:
        raise UserError("--idata saves a fit with one shared tau; the --separate-tau fit is exact and is not saved")
    if idata_path:
        from ..files import check_writable

        check_writable(Path(idata_path), "--idata")


def _save(fit, idata_path) -> None:
    if idata_path:
        fit.to_netcdf(idata_path)


def _gate(fit, allow_unconverged: bool) -> None:
    if not fit.converged and not allow_unconverged:
        raise UserError("the fit did not pass the convergence checks (R-hat <= 1.01, ESS >= 400, no "
                        "divergences) even after a refit; the results above are UNRELIABLE. Rerun with more "
                        "--draws, or pass --allow-unconverged to accept them")


@main.command()
@data_option
@click.option("--outcome", required=True, help="Outcome to pool (DCR, ORR, PFS, OS or one in --data).")
@click.option("--method", type=click.Choice(["freq", "bayes"]), default="freq", show_default=True)
@click.option("--measure", type=click.Choice(list(BINARY_MEASURES + MEDIAN_MEASURES), case_sensitive=False),
              default=None, help="Effect measure (freq) [default: PFT for proportions, LOGMEDIAN for medians].")
@click.option("--tau2", "tau2_method", type=click.Choice(list(TAU2_CHOICES), case_sensitive=False),
              default="DL", show_default=True, help="tau2 estimator (freq); FE for the common-effect model.")
@click.option("--hksj", is_flag=True, help="Knapp-Hartung (HKSJ) adjustment of the CI (freq).")
@click.option("--median-se", type=click.Choice(list(MEDIAN_SE_RULES)), default="ci", show_default=True,
              help="Medians without a CI: left out (ci) or SE c/sqrt(n) from n (ci+n; docs/bayes.md).")
@click.option("--median-likelihood", type=click.Choice(list(MEDIAN_LIKELIHOODS)), default=DEFAULT_MEDIAN_LIKELIHOOD,
              show_default=True, help="A median's 95% CI: split normal, each half its own SE, a lower bound only "
                                      "one-sided (split; freq: ML), or one symmetric SE (normal; docs/bayes.md).")
@click.option("--by", default=None, help="Covariate column: subgroups by its levels and their comparison.")
@values_option
@bayes_options
@click.option("--idata", "idata_path", type=click.Path(dir_okay=False), default=None,
              help="Save the Bayesian fit to this netCDF file (bayes_prrt.load_fit and prob --idata read it back).")
@json_option
def pool(data_path, outcome, method, measure, tau2_method, hksj, by, values, as_json, allow_unconverged, idata_path,
         **opts):
    """Pool one outcome: frequentist random effects (--method freq) or the hierarchical model (bayes)."""
    _check_idata(idata_path, opts["separate_tau"])
    data = open_data(data_path)
    if method == "bayes":
        fit = _bayes(data, outcome, values, by, opts)
        if as_json:
            dump_json(fit.to_dict())
        elif opts["separate_tau"]:
            click.echo(str(fit))
        else:
            from ..report.text import print_bayes

            print_bayes(fit, values)
        _save(fit, idata_path)
        _gate(fit, allow_unconverged)
        return
    from ..api import pool as api_pool

    fit = api_pool(data, outcome, "freq", values=values, by=by, covariates=list(opts["covariates"]),
                   reference=opts["reference"], measure=measure, tau2=tau2_method, hksj=hksj,
                   median_se=opts["median_se"], median_likelihood=opts["median_likelihood"])
    if as_json:
        dump_json(fit.to_dict())
    else:
        from ..report.text import print_freq

        print_freq(fit)


@main.command()
@data_option
@click.option("--outcome", required=True, help="Outcome the statements are about.")
@click.option("--by", default=None, help="Covariate whose levels the statements compare.")
@values_option
@bayes_options
@click.option("--idata", "idata_path", type=click.Path(dir_okay=False), default=None,
              help="A fit saved with pool --idata: answer from it without sampling. A file that does not exist yet "
                   "is written with the new fit.")
@json_option
@click.argument("statements", nargs=-1, required=True)
def prob(data_path, outcome, by, values, allow_unconverged, idata_path, as_json, statements, **opts):
    """Posterior probabilities, e.g.  prob --outcome ORR --by grade "G1-2 > G2-3" "> 0.30"."""
    from ..bayes.statements import check_levels, parse

    parsed = [parse(text, outcome) for text in statements]
    saved = bool(idata_path) and Path(idata_path).exists()
    if saved:
        from ..api import load_fit

        fit = load_fit(idata_path)
        if fit.outcome != outcome or fit.by != by:
            raise UserError(f"{idata_path} holds a fit of {fit.outcome}" + (f" by {fit.by}" if fit.by else "")
                            + f", not of {outcome}" + (f" by {by}" if by else ""))
    else:
        _check_idata(idata_path, opts["separate_tau"])
        data = open_data(data_path)
        rows = data.select(outcome, values)
        if by is not None and by not in rows.columns:
            raise UserError(f"--by {by}: no such column; covariates: {', '.join(data.covariates)}")
        for st in parsed:  # before any sampling
            check_levels(st, by, rows[by].dropna().astype(str).unique() if by else [])
        fit = _bayes(data, outcome, values, by, opts)
        _save(fit, idata_path)
    answers = [fit.prob(st) for st in parsed]
    if as_json:
        dump_json({"outcome": outcome, "engine": fit.engine, "priors": {k: str(v) for k, v in fit.priors.items()},
                   "converged": fit.converged, "diagnostics": fit.to_dict()["diagnostics"], "statements": answers,
                   "answered_from": f"saved fit {idata_path}" if saved else "new fit"})
    else:
        from ..report.text import print_probabilities

        print_probabilities(fit, answers)
    _gate(fit, allow_unconverged)


@main.command()
@data_option
@values_option
@click.option("--prior-mu", default=None, help="Prior for muR and muS (logit scale).")
@click.option("--prior-tau", default=None, help="Prior for the two study-effect SDs.")
@click.option("--draws", type=click.IntRange(100), default=1000, show_default=True)
@seed_option
@click.option("--allow-unconverged", is_flag=True)
@json_option
def joint(data_path, values, prior_mu, prior_tau, draws, seed, allow_unconverged, as_json):
    """Joint ORR/DCR model (responders and stable disease), compared with the separate models."""
    from ..bayes.joint import joint_response
    from ..bayes.sampling import Settings

    data = open_data(data_path)
    res = joint_response(data, values, {"mu": prior_mu, "tau": prior_tau}, Settings(draws=draws, tune=draws, seed=seed))
    if as_json:
        dump_json({"values": values, "data_sha256": data.sha256, "seed": seed, **res.to_dict()})
    else:
        from ..report.text import print_joint

        print_joint(res)
    _gate(res, allow_unconverged)


@main.command()
@click.option("--outcome", default=None, help="One outcome (default: every outcome of the spec).")
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), default=None,
              help="Analysis spec with statements and the [sensitivity] grid; default models/prrt_default.toml.")
@data_option
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default="sensitivity.png", show_default=True,
              help="Where to write the figure.")
@click.option("--draws", type=click.IntRange(100), default=1000, show_default=True)
@seed_option
@json_option
def sensitivity(outcome, spec_path, data_path, plot_path, draws, seed, as_json):
    """Prior grid, data scenarios, leave-one-out and power-scaling, with a verdict per statement."""
    from ..analysis.spec import read_spec
    from ..bayes.sampling import Settings
    from ..files import check_writable, write_atomic
    from ..plots.sensitivity import plot_sensitivity
    from ..sensitivity.analysis import spec_sensitivities

    check_writable(Path(plot_path), "--plot")
    spec = read_spec(spec_path)
    data = open_data(data_path)
    results, kinds = spec_sensitivities(data, spec, [outcome] if outcome else spec.outcomes,
                                        Settings(draws=draws, tune=draws, seed=seed))
    write_atomic(Path(plot_path), lambda tmp: plot_sensitivity(results, kinds, tmp))
    if as_json:
        body = results[0].to_dict() if outcome else {"outcomes": {r.outcome: r.to_dict() for r in results}}
        dump_json({**body, "plot": plot_path, "data_sha256": data.sha256, "seed": seed})
        return
    from ..report.text import print_sensitivity

    for res in results:
        print_sensitivity(res)
    click.echo(f"Figure: {plot_path}")


@main.command()
@json_option
def validate(as_json):
    """Reproduce every pooled result of Wang et al. 2026 with the paper's method."""
    from ..analysis.validate import reproduce
    from ..data.dataset import load_dataset

    table = reproduce(load_dataset())
    if as_json:
        dump_json(table.to_dict(orient="records"))
        return
    from ..report.console import print_frame

    print_frame(table.drop(columns=["method"]), title="Published (Wang 2026) vs reproduced", digits=4)
    failed = table[table["within_margin"] == False]  # noqa: E712
    if not failed.empty:
        raise UserError(f"outside the validation margins: {', '.join(failed['result'])}")


@main.command()
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), default=None,
              help="Analysis spec (TOML); default models/prrt_default.toml.")
@data_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="results", show_default=True)
@seed_option
@sampler_option
@click.option("--force", is_flag=True, help="Replace an existing --out folder.")
@click.option("--quiet", is_flag=True, help="No progress display.")
def run(spec_path, data_path, out_dir, seed, sampler, force, quiet):
    """The main job: every analysis of the spec, written as a report with figures and tables."""
    from ..bayes import background
    from ..report.figures import Drawing

    # one helper process, started first: it imports PyMC while this process imports the rest and reads the
    # data, makes the MCMC fits, then imports matplotlib and draws half of the report's figures
    drawing = Drawing(start=False)
    worker = background.BackgroundFits(then=(drawing.task,)) if drawing.task else None
    drawing.attach(worker.process if worker else None)
    try:
        from ..analysis.pipeline import run_analysis
        from ..analysis.spec import check_against_data, read_spec
        from ..bayes.sampling import Settings
        from ..report.writer import check_destination, write_run
        from .progress import analysis_steps, progress_display

        spec = read_spec(spec_path)
        if spec.mcmc == "none" and worker is not None:  # no MCMC fit to make: the figures get a helper of their own
            worker.close()
            drawing.close()
            worker, drawing = None, Drawing()
        data = open_data(data_path)
        check_against_data(spec, data)  # fails early, naming the spec key, if the data cannot answer it
        out = Path(out_dir)
        check_destination(out, force, (spec.path, data_path), names=("--out", "--force"))
        start = time.perf_counter()
        watch_output(out)  # an interrupt tells whether these were replaced
        with progress_display(quiet, analysis_steps(spec)) as step:
            result = run_analysis(spec, data, Settings(seed=seed, sampler=sampler), step, background=worker)
            step("writing the report")
            write_run(result, out, force, {**result.timings, "total": time.perf_counter() - start},
                      command=_command_line(spec_path, data_path, out_dir, seed, sampler), drawing=drawing)
    finally:
        for helper in [drawing, *([worker] if worker else [])]:
            helper.close()
    from ..report.summary import run_summary
    from ..report.text import print_summary

    if not quiet:
        print_summary(run_summary(result))
        click.echo(f"Report: {out / 'report.html'} (the analysis took {time.perf_counter() - start:.0f} s)")
    if not all(fit.converged for o in result.outcomes for fit in (o.bayes, *o.subgroups.values(), *o.mcmc.values())):
        raise UserError(f"some fits did not converge; {out / 'report.html'} marks them UNRELIABLE")


def _command_line(spec_path, data_path, out_dir, seed, sampler) -> str:
    """The command that reproduces this run, as the report shows it."""
    import shlex

    parts = ["bayes-prrt", "run"]
    for flag, value in (("--spec", spec_path), ("--data", data_path), ("--out", out_dir), ("--seed", seed),
                        ("--sampler", sampler)):
        if value is not None:
            parts += [flag, str(value)]
    return shlex.join(parts + ["--force"])
