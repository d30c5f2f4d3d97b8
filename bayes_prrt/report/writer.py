"""Write an analysis run: tables/*.csv, figures/*.png, posterior/*.nc, run.json, report.html.

Everything is written into a temporary folder beside ``out`` and moved into place at the
end, so an interrupted run leaves no half-written results; an existing ``out`` is replaced
only with ``force``, only if it is a bayes-prrt results folder that holds none of the inputs,
and only once the new results are complete. A symbolic link ``out`` is followed: its target is
replaced and the link keeps pointing at the results. The temporary folders are marked with the
writing process, so that the next run removes those a killed run left behind. Every blank
number in a table is explained by the row's ``note`` (or, in the validation table, ``reason``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import signal
from importlib import metadata
from pathlib import Path

import pandas as pd

from ..errors import BayesPrrtError
from ..bayes.store import fit_inference_data
from ..files import (MKDTEMP_SUFFIX, check_space, check_writable, mark, marked_tempdir, netcdf_bytes, safe_slug,
                     stale_tempdirs, unmark, write_csv)
from ..jsonio import dumps
from ..sensitivity.scenarios import scenario_shift_table
from ..processes import hold_signals, release_signals
from .figures import Drawing, figure_jobs
from .html import render_report
from .summary import published_pooled

PACKAGES = ("bayes-prrt", "numpy", "scipy", "pandas", "pymc", "pytensor", "nutpie", "numba", "arviz", "matplotlib",
            "jinja2")


FIGURE_BYTES = 100_000  # a generous size of one PNG figure (30-40 kB), for the free-space check
TABLES_BYTES = 500_000  # all tables and run.json, generously (about 15 kB)


def destination(out: Path, out_name: str = "out") -> Path:
    """``out`` as an absolute path; a symbolic link is followed to its target (which is what gets
    replaced: the link stays, and shows the new results)."""
    out = Path(os.path.abspath(out))
    if not out.is_symlink():
        return out
    try:
        return out.resolve(strict=False)
    except (OSError, RuntimeError) as err:
        raise BayesPrrtError(f"{out_name} {out}: the symbolic link cannot be followed ({err})") from None


def check_destination(out: Path, force: bool, inputs=(), names=("out", "force=True")) -> None:
    """Fail, before any fit, unless ``out`` can be written: its parent is writable, and an existing
    ``out`` is replaced only with ``force``, only if it is a bayes-prrt results folder (its run.json
    lists bayes-prrt among the versions) and holds neither an input file nor the current folder.
    ``names``: how the caller calls ``out`` and ``force`` (the CLI: its flags)."""
    out_name, force_name = names
    out = destination(out, out_name)
    check_writable(out, out_name, folder=True)
    if not out.exists():
        return
    if not force:
        raise BayesPrrtError(f"{out} exists; give {force_name} to replace it, or choose another {out_name}")
    if not _is_results_folder(out):
        raise BayesPrrtError(f"{force_name} refuses to replace {out}: it is not a bayes-prrt results folder (no "
                             f"run.json written by bayes-prrt); choose another {out_name}")
    held = [str(p) for p in (*inputs, Path.cwd()) if p is not None and _inside(p, out)]
    if held:
        raise BayesPrrtError(f"{force_name} refuses to replace {out}: it holds {', '.join(held)}; choose another "
                             f"{out_name}")


def _inside(path, folder: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _is_results_folder(folder: Path) -> bool:
    try:
        meta = json.loads((folder / "run.json").read_text())
        return "bayes-prrt" in meta["versions"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def tables(run) -> dict[str, pd.DataFrame]:
    """Every number the report shows, as data frames (pure: no I/O)."""
    t = {}
    t["headline"] = pd.DataFrame([{
        "outcome": o.outcome, "k": o.bayes.k, "bayes_median": o.bayes.pooled["median"],
        "bayes_ci_low": o.bayes.pooled["ci_low"], "bayes_ci_high": o.bayes.pooled["ci_high"],
        "bayes_pop_average": o.bayes.pop_average["median"] if o.bayes.pop_average else None,
        "bayes_pi_low": o.bayes.predictive["ci_low"], "bayes_pi_high": o.bayes.predictive["ci_high"],
        "tau_median": o.bayes.tau["median"], "freq_measure": o.freq.measure, "freq_tau2_method": o.freq.tau2_method,
        "freq_estimate": o.freq.estimate, "freq_ci_low": o.freq.ci_low, "freq_ci_high": o.freq.ci_high,
        "freq_I2": o.freq.I2, "published": _published(run, o.outcome), "converged": o.bayes.converged,
        "note": _headline_note(run, o),
    } for o in run.outcomes])
    t["studies"] = pd.concat([o.bayes.studies.assign(outcome=o.outcome) for o in run.outcomes], ignore_index=True)
    t["subgroups"] = pd.DataFrame([{"outcome": o.outcome, "covariate": c, "level": lv,
                                    **{k: s[k] for k in ("k", "median", "ci_low", "ci_high")}, "note": ""}
                                   for o in run.outcomes for c, fit in o.subgroups.items()
                                   for lv, s in fit.levels.items()]
                                  + [{"outcome": o.outcome, "covariate": c, "level": None, "k": None, "median": None,
                                      "ci_low": None, "ci_high": None, "note": f"no subgroup model: {reason}"}
                                     for o in run.outcomes for c, reason in o.refused.items()])
    t["contrasts"] = pd.DataFrame([{"outcome": o.outcome, "covariate": c, "contrast": name,
                                    **{k: s[k] for k in ("median", "ci_low", "ci_high", "p_gt_0")}}
                                   for o in run.outcomes for c, fit in o.subgroups.items()
                                   for name, s in fit.contrasts.items()])
    t["statements"] = pd.DataFrame([{"outcome": o.outcome, **s} for o in run.outcomes for s in o.statements])
    t["sensitivity_priors"] = _sens(run, "priors", "prior")
    t["sensitivity_scenarios"] = _sens(run, "scenarios", "scenario")
    t["verdicts"] = pd.DataFrame([{"outcome": o.outcome, "statement": text, "verdict": v["wording"],
                                   "overall": v["overall"], "priors": v["priors"]["verdict"],
                                   "data": v["scenarios"]["verdict"]}
                                  for o in run.outcomes for text, v in o.sensitivity.verdicts.items()])
    t["influence"] = pd.DataFrame([{"outcome": o.outcome, "study": s, **v, "note": _influence_note(v)}
                                   for o in run.outcomes for s, v in o.sensitivity.loo.items()])
    t["small_study"] = pd.DataFrame([_small_study_row(o) for o in run.outcomes if o.small_study is not None])
    if run.data.embedded:
        t["scenario_shift"] = scenario_shift_table(run.data)
    t["psens"] = pd.DataFrame([{"outcome": o.outcome, "parameter": p, **v}
                               for o in run.outcomes for p, v in o.sensitivity.psens.items()])
    t["diagnostics"] = pd.DataFrame([{"outcome": o.outcome, **row} for o in run.outcomes for row in _diagnostics(o)])
    t["agreement"] = pd.DataFrame([{"outcome": o.outcome, **row} for o in run.outcomes for row in o.agreement],
                                  columns=["outcome", "model", "quantity", "quantile", "exact", "mcmc", "mcse", "z",
                                           "agrees"])
    t["audit"] = pd.DataFrame([f.to_dict() for f in run.findings])
    if run.validation is not None:
        t["validation"] = run.validation
    return t


def _headline_note(run, o) -> str:
    notes = []
    if o.bayes.pop_average is None:
        notes.append("bayes_pop_average: defined for proportions only")
    if _published(run, o.outcome) is None:
        notes.append("published: no published pooled value for this outcome")
    return "; ".join(notes)


def _influence_note(v: dict) -> str:
    freq = v.get("freq_shift")
    if freq is None or (isinstance(freq, float) and math.isnan(freq)):
        return "freq_shift: no frequentist leave-one-out (it needs 3 or more poolable studies)"
    return ""


def _row_notes(notes: list[str], label: str) -> str:
    """The sensitivity notes about one grid entry or scenario (they start with its label)."""
    return "; ".join(n[len(label) + 2:] for n in notes if n.startswith(f"{label}: "))


def _published(run, outcome):
    pub = published_pooled(run, outcome)
    return None if pub is None else f"{pub[0]:g} ({pub[1]:g}-{pub[2]:g})"


def _sens(run, key, label) -> pd.DataFrame:
    return pd.DataFrame([{"outcome": o.outcome, label: r[label], "k": r["k"], "estimate": r["estimate"],
                          "ci_low": r["ci_low"], "ci_high": r["ci_high"], "tau_median": r["tau_median"],
                          **{f"P({t})": p for t, p in r["statements"].items()},
                          "note": _row_notes(o.sensitivity.notes, r[label])}
                         for o in run.outcomes for r in getattr(o.sensitivity, key)])


def _small_study_row(o) -> dict:
    """Egger, rank correlation and trim-and-fill (frequentist) beside the exact Bayesian PET model."""
    s, pet = o.small_study, o.pet
    row = {"outcome": o.outcome, "measure": s.measure, "k": s.k, "egger_z": s.egger.z, "egger_p": s.egger.p,
           "egger_limit": s.limit[0], "egger_limit_low": s.limit[1], "egger_limit_high": s.limit[2],
           "kendall_tau": s.rank.tau, "rank_p": s.rank.p, "trimfill_k0": s.trimfill.k0, "trimfill_side": s.trimfill.side,
           "trimfill_estimate": s.filled[0], "trimfill_low": s.filled[1], "trimfill_high": s.filled[2]}
    if pet is None:
        return row | {"pet_p_inflation": None, "pet_limit": None, "pet_limit_low": None, "pet_limit_high": None,
                      "note": f"pet: {o.refused.get('Bayesian small-study model', 'not fitted')}"}
    return row | {"pet_p_inflation": pet.p_inflation, "pet_limit": pet.limit["median"],
                  "pet_limit_low": pet.limit["ci_low"], "pet_limit_high": pet.limit["ci_high"], "note": ""}


EXACT_NOTE = ("exact posterior, no MCMC; error_bound: the largest relative change of a reported 2.5%, 50% or 97.5% "
              "quantile on a twice-finer integration rule")


def _diagnostics(o):
    """One row per Bayesian fit of the outcome: MCMC fits with R-hat, ESS and divergences, exact fits with
    their error bound."""
    fits = [("overall", o.bayes), *((f"by {c}", fit) for c, fit in o.subgroups.items())]
    fits += [(f"{'overall' if m == 'overall' else f'by {m}'} (MCMC check)", fit) for m, fit in o.mcmc.items()]
    for model, fit in fits:
        if fit.diagnostics is not None:
            yield {"model": model, "engine": "mcmc", **fit.diagnostics.to_dict(), "error_bound": None,
                   "note": "error_bound: an MCMC fit (its Monte Carlo error is in R-hat and ESS)"}
        else:
            yield {"model": model, "engine": "exact", "converged": True, "error_bound": fit.exact.error_bound,
                   "note": EXACT_NOTE}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def inputs(run) -> tuple:
    """The files a run read: its spec and, unless embedded, its data."""
    return run.spec.path, None if run.data.embedded else run.data.source


def write_run(run, out: Path, force: bool, timings: dict, command: str | None = None,
              drawing: Drawing | None = None) -> None:
    """Write the results folder ``out`` (see the module docstring); ``command`` is the command line that
    reproduces it; ``drawing``: the figures' ``Drawing``, if started already (it is closed here). A full disk
    or any other failure to write is a one-line ``BayesPrrtError``, and leaves ``out`` as it was."""
    out = destination(out)
    check_destination(out, force, inputs(run))
    remove_stale(out)
    drawing = drawing or Drawing()  # its helper process imports meanwhile, and draws once the run is sent
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # an interrupt between creating the folder and entering the try that removes it would leave it behind
        held = hold_signals({signal.SIGINT, signal.SIGTERM})
        try:
            tmp = marked_tempdir(f".{out.name}.", out.parent)
        except BaseException:
            release_signals(held)
            raise
        old = tmp.with_name(tmp.name + ".old")  # where a replaced ``out`` waits until the new one is in place
        try:
            release_signals(held)  # a signal that came meanwhile is handled here, and the folder removed below
            (tmp / "figures").mkdir()
            drawing.send(run, tmp / "figures")  # the helper draws while the rest is computed here
            posteriors = {o.outcome: netcdf_bytes(fit_inference_data(o.bayes)) for o in run.outcomes}
            check_space(out.parent, sum(map(len, posteriors.values()))
                        + int(2.4 * FIGURE_BYTES * len(figure_jobs(run))) + TABLES_BYTES)
            _write_contents(run, tmp, timings, posteriors, command, drawing)
            _replace(tmp, out, old)
        except OSError as err:
            raise BayesPrrtError(f"cannot write the results to {out}: {err.strerror or err}"
                                 f"{f' ({err.filename})' if err.filename else ''}; nothing was changed") from None
        finally:
            drawing.close()  # before the temporary folder goes: the helper may still be writing into it
            _remove(tmp)
            if out.exists():  # else the swap failed and could not put the old results back: keep them
                _remove(old)
    finally:
        drawing.close()
    unmark(out)  # the marker moved in with the results


def _write_contents(run, tmp: Path, timings: dict, posteriors: dict[str, bytes], command: str | None,
                    drawing: Drawing) -> None:
    for sub in ("tables", "posterior"):
        (tmp / sub).mkdir()
    frames = tables(run)
    for name, frame in frames.items():
        write_csv(frame, tmp / "tables" / f"{name}.csv", index=False, float_format="%.6g")
    captions = drawing.finish()
    for outcome, content in posteriors.items():
        (tmp / "posterior" / f"{safe_slug(outcome)}.nc").write_bytes(content)
    meta = {"versions": versions(), "seed": run.seed, "data": {"source": run.data.source,
            "sha256": run.data.sha256}, "spec": run.spec.path,
            "command": command or f"bayes-prrt run --spec {run.spec.path} --seed {run.seed}",
            "timings_s": timings, "counts": run.counts,
            "diagnostics": frames["diagnostics"].to_dict(orient="records"),
            "converged": bool(frames["diagnostics"]["converged"].all())}
    (tmp / "run.json").write_text(dumps(meta))
    (tmp / "report.html").write_text(render_report(run, frames, captions, tmp / "figures", meta))


def remove_stale(out: Path) -> None:
    """Clear what killed runs left beside ``out``: their temporary folders ``.NAME.XXXXXXXX``
    (marked, with a dead process) go; a previous ``out`` that such a run had moved aside
    (``.NAME.XXXXXXXX.old``) goes back to ``out`` if the run was killed before the new results
    were in place, and goes if they were."""
    pattern = re.escape(f".{out.name}.") + MKDTEMP_SUFFIX + r"(\.old)?"
    for folder in stale_tempdirs(out.parent, pattern):
        if folder.name.endswith(".old") and not out.exists():
            unmark(folder)
            folder.rename(out)
        else:
            _remove(folder)


def _replace(tmp: Path, out: Path, old: Path) -> None:
    """Move ``tmp`` to ``out``. An existing ``out`` is moved aside first and put back if the move
    fails, so ``out`` always holds either the previous results or the new ones, complete."""
    try:
        if out.exists():
            out.rename(old)
            mark(old)  # a run killed from here on leaves it for the next run to restore or remove
        tmp.rename(out)
    except BaseException:
        if old.exists() and not out.exists():
            old.rename(out)
            unmark(out)
        raise


def _remove(path: Path) -> None:
    """Delete a folder completely; an interrupt meanwhile (KeyboardInterrupt, the CLI's SIGTERM
    handling) is re-raised once it is gone, so no half-deleted folder is left behind."""
    pending = None
    while path.exists():
        try:
            shutil.rmtree(path)
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            break
        except BaseException as err:
            if isinstance(err, Exception):
                raise
            pending = pending or err
    if pending is not None:
        raise pending

