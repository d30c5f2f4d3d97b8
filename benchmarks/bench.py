"""The benchmark suite of bayes-prrt: writes benchmarks/results.md (run from the repository root).

    make bench                       # all sections, about 25 minutes on 2 cores
    .venv/bin/python benchmarks/bench.py --only quadrature scaling

Sections (issue 7): the full `run` cold and warm with peak memory; the naive baseline (PyMC's
own sampler, a fresh model and compilation per fit); effective samples per second per sampler;
the quadrature engine; scaling in k; the marginal cost of an extra prior in the sensitivity grid.
Every figure is the median of REPEATS runs unless the table says otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"run_warm_s": 60.0, "run_cold_s": 120.0, "speedup": 3.0, "quadrature_ms": 50.0, "extra_prior_s": 1.0}


def _median_time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


# --- 1 and 2: the whole run, cold, warm and naive ------------------------------------------------

def _run_once(out: Path, compiledir: Path, sampler: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `bayes-prrt run` in a fresh process."""
    # PyTensor's compile cache and numba's own (bayes-prrt's numba functions): both empty for a cold run
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compiledir}",
           "NUMBA_CACHE_DIR": str(compiledir / "numba")}
    cmd = [sys.executable, "-m", "bayes_prrt.cli", "run", "--out", str(out), "--force", "--quiet",
           "--sampler", sampler]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bayes-prrt run failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB; max over children so far
    return wall, peak


def bench_run(repeats: int, naive_repeats: int) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    cold, warm, naive = [], [], []
    try:
        for i in range(repeats):
            compiledir = work / f"cache{i}"  # empty: nothing compiled yet
            cold.append(_run_once(work / "out", compiledir, "nutpie")[0])
            warm.append(_run_once(work / "out", compiledir, "nutpie")[0])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        for _ in range(naive_repeats):
            naive.append(_run_once(work / "out", work / "cache0", "pymc")[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c, w, n = statistics.median(cold), statistics.median(warm), statistics.median(naive)
    return [
        "## 1-2. `bayes-prrt run` on the embedded data",
        "",
        "All 4 outcomes: frequentist pooling, every posterior exact (overall, by grade, by site) with the 4 "
        "overall models cross-checked by MCMC, 3 statements, the sensitivity analysis (9 priors, 7 data scenarios "
        "with their subgroup fits, leave-one-out, power-scaling), 34 figures and the HTML report. Each run is a "
        "fresh process; *cold* starts with "
        "empty compile caches (`PYTENSOR_FLAGS=base_compiledir=<empty dir>`, `NUMBA_CACHE_DIR=<empty dir>`), *warm* "
        "repeats it with the cache the cold run filled. The naive baseline is the same analysis with "
        "`--sampler pymc`: PyMC's default NUTS through `pm.sample`, a fresh model and compilation per fit.",
        "",
        "| configuration | runs | wall time, median (s) | all runs (s) | target | met |",
        "|---|---|---|---|---|---|",
        f"| nutpie, compiled models reused, cold cache | {len(cold)} | {c:.1f} | {_list(cold)} | "
        f"<= {TARGETS['run_cold_s']:.0f} s | {_met(c <= TARGETS['run_cold_s'])} |",
        f"| nutpie, compiled models reused, warm cache | {len(warm)} | {w:.1f} | {_list(warm)} | "
        f"<= {TARGETS['run_warm_s']:.0f} s | {_met(w <= TARGETS['run_warm_s'])} |",
        f"| naive: `pm.sample` per fit (warm cache) | {len(naive)} | {n:.1f} | {_list(naive)} | | |",
        "",
        f"Speed-up over the naive baseline: **{n / w:.1f}x** warm, {n / c:.1f}x cold "
        f"(target >= {TARGETS['speedup']:.0f}x: {_met(n / w >= TARGETS['speedup'])}). "
        f"Peak resident memory of the nutpie runs: {peak:.0f} MiB.",
        "",
    ]


# --- 3: effective samples per second per sampler --------------------------------------------------

def bench_ess(repeats: int) -> list[str]:
    import arviz as az

    import bayes_prrt
    from bayes_prrt.bayes import compiled
    from bayes_prrt.bayes.fit import model_data as prepare
    from bayes_prrt.bayes.sampling import Settings, sample
    from bayes_prrt.priors import resolve_priors

    data = bayes_prrt.load_dataset()
    lines = ["## 3. Effective samples per second (4 chains x 1000 draws after 1000 tuning, 2 cores)", "",
             "Sampling time only (the model compiled beforehand); first-fit time adds the compilation "
             "(nutpie, once per model structure per process) or `pm.sample`'s own set-up. ESS is the "
             "bulk ESS of ArviZ; the median over runs with seeds 1, 2, 3...", "",
             "| model (outcome, k) | sampler | compile + first fit (s) | sampling (s) | ESS mu | ESS tau | "
             "ESS/s mu | ESS/s tau |", "|---|---|---|---|---|---|---|---|"]
    for outcome in ("DCR", "PFS"):
        rows = data.select(outcome)
        model_data, _, _ = prepare(rows, resolve_priors(rows["kind"].iloc[0]))
        label = f"{'binomial' if model_data.kind == 'binary' else 'log-median'} ({outcome}, k = {model_data.k})"
        for sampler in ("nutpie", "pymc"):
            compiled.clear()
            start = time.perf_counter()
            sample(model_data, Settings(sampler=sampler, seed=0))
            first = time.perf_counter() - start
            rows = []
            for seed in range(1, repeats + 1):
                start = time.perf_counter()
                idata, _ = sample(model_data, Settings(sampler=sampler, seed=seed))
                seconds = time.perf_counter() - start
                ess = az.ess(idata, var_names=["mu", "tau"])
                rows.append((seconds, float(ess["mu"]), float(ess["tau"])))
            sec, e_mu, e_tau = (statistics.median(r[i] for r in rows) for i in range(3))
            e_mu_s = statistics.median(r[1] / r[0] for r in rows)
            e_tau_s = statistics.median(r[2] / r[0] for r in rows)
            lines.append(f"| {label} | {sampler} | {first:.1f} | {sec:.2f} | {e_mu:.0f} | {e_tau:.0f} | "
                         f"{e_mu_s:.0f} | {e_tau_s:.0f} |")
    lines += ["", "numpyro is not offered: it needs JAX, which bayes-prrt does not depend on.", ""]
    return lines


# --- 4: the quadrature engine ----------------------------------------------------------------------

def bench_quadrature(repeats: int) -> list[str]:
    import bayes_prrt
    from bayes_prrt.bayes import quadrature
    from bayes_prrt.bayes.fit import bayes_pool

    data = bayes_prrt.load_dataset()
    lines = ["## 4. The quadrature engine (exact posterior, no MCMC)", "",
             "`bayes_pool(rows, engine=\"quadrature\")`: the complete pooled analysis (posterior, summaries, "
             "predictive distribution, study table). *New data* rebuilds the binomial likelihood grid; "
             "*new prior* reuses it, as the sensitivity grid does.", "",
             f"| outcome (k) | new data, median of {repeats} (ms) | new prior (ms) | target | met |",
             "|---|---|---|---|---|"]
    for outcome in ("DCR", "ORR", "PFS", "OS"):
        rows = data.select(outcome)

        def fresh():
            quadrature._likelihood.cache_clear()
            bayes_pool(rows, engine="quadrature")

        new_data, _ = _median_time(fresh, repeats)
        new_prior, _ = _median_time(lambda: bayes_pool(rows, engine="quadrature",
                                                        priors={"tau": "halfcauchy:0.5"}), repeats)
        ms = 1000 * new_data
        lines.append(f"| {outcome} ({len(rows)}) | {ms:.1f} | {1000 * new_prior:.1f} | "
                     f"< {TARGETS['quadrature_ms']:.0f} ms | {_met(ms < TARGETS['quadrature_ms'])} |")
    return lines + [""]


# --- 5: scaling in k -------------------------------------------------------------------------------

def _synthetic(k: int, kind: str, rng):
    import pandas as pd

    studies = [f"s{i:05d}" for i in range(k)]
    if kind == "binary":
        n = rng.integers(20, 400, k)
        events = rng.binomial(n, 1 / (1 + np.exp(-(0.8 + 0.5 * rng.standard_normal(k)))))
        return pd.DataFrame({"study": studies, "outcome": "DCR", "kind": "binary", "events": events, "n": n})
    median = np.exp(3 + 0.3 * rng.standard_normal(k))
    half = 1.96 * rng.uniform(0.1, 0.4, k)
    return pd.DataFrame({"study": studies, "outcome": "PFS", "kind": "median", "median": median,
                         "ci_low": median * np.exp(-half), "ci_high": median * np.exp(half),
                         "n": rng.integers(20, 400, k)})


MCMC_MAX_K = 1000  # beyond this one MCMC fit takes minutes (k latent effects), see the note below


def bench_scaling(ks: list[int]) -> list[str]:
    from bayes_prrt.bayes import compiled, quadrature
    from bayes_prrt.bayes.fit import bayes_pool
    from bayes_prrt.bayes.sampling import Settings
    from bayes_prrt.freq.pool import pool

    rng = np.random.default_rng(7)
    methods = [
        ("frequentist DL (PFT)", "binary", lambda r: pool(r, "PFT", "DL")),
        ("frequentist REML (PFT)", "binary", lambda r: pool(r, "PFT", "REML")),
        ("GLMM (ML, adaptive GH)", "binary", lambda r: pool(r, "GLMM", "ML")),
        ("quadrature, binomial", "binary", lambda r: (quadrature._likelihood.cache_clear(),
                                                     bayes_pool(r, engine="quadrature"))),
        ("quadrature, log-median", "median", lambda r: bayes_pool(r, engine="quadrature")),
        ("MCMC nutpie, binomial", "binary", lambda r: bayes_pool(r, settings=Settings(seed=1))),
        ("MCMC nutpie, log-median", "median", lambda r: bayes_pool(r, settings=Settings(seed=1))),
    ]
    data = {(kind, k): _synthetic(k, kind, rng) for k in ks for kind in ("binary", "median")}
    lines = ["## 5. Scaling: seconds per fit for k synthetic studies", "",
             "One fit per cell (MCMC: 4 chains x 1000 draws, compilation excluded: each padded shape is "
             "compiled once beforehand). The last column is the cost ratio between the largest and the "
             "smallest k divided by the ratio of the k: 1 means linear growth, below 1 sub-linear "
             "(fixed costs dominate at small k).", "",
             "| method | " + " | ".join(f"k = {k:,}" for k in ks) + " | growth vs linear |",
             "|---|" + "---|" * (len(ks) + 1)]
    for label, kind, fn in methods:
        cells = []
        for k in ks:
            rows = data[(kind, k)]
            if label.startswith("MCMC"):
                if k > MCMC_MAX_K:
                    break
                fn(rows)  # compile this bucket's model
            start = time.perf_counter()
            fn(rows)
            cells.append(time.perf_counter() - start)
        growth = (cells[-1] / cells[0]) / (ks[len(cells) - 1] / ks[0])
        shown = [f"{c:.3f}" for c in cells] + ["not run"] * (len(ks) - len(cells))
        lines.append(f"| {label} | " + " | ".join(shown) + f" | {growth:.2f} |")
    compiled.clear()
    return lines + ["", f"MCMC is run up to k = {MCMC_MAX_K:,}: the binomial model has one latent effect per "
                    "study, and a fit of 10,000 studies takes many minutes; the growth column is then measured "
                    f"from k = {ks[0]} to {MCMC_MAX_K:,}.", ""]


# --- 6: an extra prior in the sensitivity grid -----------------------------------------------------

def bench_extra_prior() -> list[str]:
    import bayes_prrt
    from bayes_prrt.bayes.sampling import Settings
    from bayes_prrt.sensitivity.analysis import spec_sensitivity
    from bayes_prrt.analysis.spec import read_spec

    data, spec = bayes_prrt.load_dataset(), read_spec(None)
    lines = ["## 6. Sensitivity grid: marginal time per extra prior (models already compiled and fitted)", "",
             "Per prior: the exact quadrature posterior of the overall model and, for statements about "
             "subgroups, the covariate model's draws moved to the prior by PSIS (refitted by MCMC only "
             "when Pareto k > 0.7). Median over the grid's priors after the first.", "",
             "| outcome | priors | first prior (s) | extra prior, median (s) | target | met |", "|---|---|---|---|---|---|"]
    for outcome in ("DCR", "ORR", "PFS", "OS"):
        result, _ = spec_sensitivity(data, spec, outcome, Settings())
        t = result.timing
        lines.append(f"| {outcome} | {len(result.priors)} | {t['first_prior_s']:.3f} | {t['extra_prior_median_s']:.3f} "
                     f"| < {TARGETS['extra_prior_s']:.0f} s | {_met(t['extra_prior_median_s'] < TARGETS['extra_prior_s'])} |")
    return lines + [""]


# --- 7: fits reused (issue 12) ---------------------------------------------------------------------

def bench_reuse() -> list[str]:
    """The default analysis in one process, with the fit memo and without it (every covariate model with its own
    overall MCMC fit and every data scenario refitted, as the pipeline did before), after a warm-up run that
    compiles the models."""
    import bayes_prrt
    from bayes_prrt.analysis.pipeline import run_analysis
    from bayes_prrt.analysis.spec import read_spec
    from bayes_prrt.bayes.sampling import Settings

    data, spec = bayes_prrt.load_dataset(), read_spec(None)
    run_analysis(spec, data, Settings())  # compiles every model structure
    rows = {}
    for reuse in (True, False):
        start = time.perf_counter()
        result = run_analysis(spec, data, Settings(), reuse=reuse)
        rows[reuse] = (time.perf_counter() - start, result.counts)
    (t_on, c_on), (t_off, c_off) = rows[True], rows[False]
    return ["## 7. Fits made once and reused (`run_analysis` of the default spec, models compiled)", "",
            "Both in one process, one after the other; `reuse=False` refits as the pipeline did before the fit memo.",
            "", "| pipeline | seconds | MCMC fits | refits | fits reused |", "|---|---|---|---|---|",
            f"| fit memo (now) | {t_on:.1f} | {c_on['mcmc_fits']} | {c_on['mcmc_refits']} | {c_on['fits_reused']} |",
            f"| no reuse (before) | {t_off:.1f} | {c_off['mcmc_fits']} | {c_off['mcmc_refits']} | 0 |",
            "", f"Saved: {t_off - t_on:.1f} s ({100 * (1 - t_on / t_off):.0f}% of the analysis), "
            f"{c_off['mcmc_fits'] - c_on['mcmc_fits']} MCMC fits.", ""]


# --- 8: start-up (issue 12) ------------------------------------------------------------------------

STARTUP = {"--help": ["--help"], "summary": ["summary"], "audit": ["audit"], "validate": ["validate"],
           "pool --method freq": ["pool", "--outcome", "DCR"]}


def bench_startup(repeats: int) -> list[str]:
    """Wall time of each light command in a fresh process, as a ratio to `python -c "import pandas"` timed in the
    same run (interleaved, median of the repeats), and the same ratio of CPU time (less sensitive to other load).
    Bytecode is cached as for an installed package (a private PYTHONPYCACHEPREFIX, filled by one untimed run of
    each), so that the figure is start-up, not the compilation of the sources."""
    cache = tempfile.mkdtemp(prefix="bench-pyc-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": cache}
    commands = {"baseline": ["-c", "import pandas"],
                **{name: ["-m", "bayes_prrt.cli", *args] for name, args in STARTUP.items()}}

    def timed(args):
        before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=True, env=env)
        wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime

    try:
        for args in commands.values():
            timed(args)  # fills the bytecode cache
        times = {name: [] for name in commands}
        for _ in range(repeats):
            for name, args in commands.items():
                times[name].append(timed(args))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    wall = {name: statistics.median(t[0] for t in ts) for name, ts in times.items()}
    cpu = {name: statistics.median(t[1] for t in ts) for name, ts in times.items()}
    lines = ["## 8. Start-up of the light commands", "",
             f"Fresh process each, median of {repeats} interleaved runs, bytecode cached as installed; baseline "
             f"`python -c \"import pandas\"` = {wall['baseline']:.2f} s wall, {cpu['baseline']:.2f} s CPU in the same "
             f"run. Target: at most 2x the baseline (wall).", "",
             "| command | seconds | ratio | CPU ratio | met |", "|---|---|---|---|---|"]
    for name in STARTUP:
        ratio = wall[name] / wall["baseline"]
        lines.append(f"| `bayes-prrt {name}` | {wall[name]:.2f} | {ratio:.2f} | {cpu[name] / cpu['baseline']:.2f} | "
                     f"{_met(ratio <= 2)} |")
    return lines + [""]


# --- 9: the targets of issue 13 (exact engine, run time in naive PyMC fits) -----------------------------

NAIVE_FIT = """
import time, pymc as pm, bayes_prrt
from bayes_prrt.bayes.fit import model_data
from bayes_prrt.bayes.models import hierarchical_model
from bayes_prrt.priors import resolve_priors
rows = bayes_prrt.load_dataset().select("DCR")
data, _, _ = model_data(rows, resolve_priors("binary"))
pm.sample(model=hierarchical_model(data), draws=1000, tune=1000, chains=4, cores=2, random_seed=1, progressbar=False)
"""


def bench_targets(repeats: int) -> list[str]:
    """Warm and cold `run` of the default spec as multiples of one naive PyMC fit (`pm.sample` of the DCR model in
    a fresh process, compile cache warm), all timed in this run; the exact covariate fits; peak memory."""
    from bench_exact import best_of, exact_cases

    work = Path(tempfile.mkdtemp(prefix="bench-targets-"))
    try:
        naive = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", NAIVE_FIT], check=True, capture_output=True)
            naive.append(time.perf_counter() - start)
        cold, warm = [], []
        for i in range(repeats):
            compiledir = work / f"cache{i}"
            cold.append(_run_once(work / "out", compiledir, "nutpie")[0])
            warm.append(_run_once(work / "out", compiledir, "nutpie")[0])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n, w, c = statistics.median(naive), statistics.median(warm), statistics.median(cold)
    exact = {name: best_of(fn) for name, fn in exact_cases().items()}
    by_grade, k1000 = exact["exact ORR by grade (k=12)"], exact["exact binomial by 3 levels (k=1000)"]
    return ["## 9. Issue 13 targets: the default `run` in naive PyMC fits, and the exact engine", "",
            f"Naive fit: `pm.sample` of the DCR binomial model (4 chains x 1000 draws after 1000 tuning) in a fresh "
            f"process, median of {repeats}: {n:.1f} s ({_list(naive)}). `run` as in section 1-2 (fresh process; "
            "cold: empty compile cache).", "",
            "| quantity | measured | ratio | target | met |", "|---|---|---|---|---|",
            f"| warm `run` | {w:.1f} s | {w / n:.2f} naive fits | <= 2 | {_met(w / n <= 2)} |",
            f"| cold `run` | {c:.1f} s | {c / n:.2f} naive fits | <= 4 | {_met(c / n <= 4)} |",
            f"| exact ORR by grade (k = 12) | {1000 * by_grade:.0f} ms | | < 100 ms | {_met(by_grade < 0.1)} |",
            f"| exact binomial, 3 levels, k = 1,000 | {k1000:.2f} s | | < 2 s | {_met(k1000 < 2)} |",
            f"| peak memory of `run` | {peak:.0f} MiB | | < 1024 MiB | {_met(peak < 1024)} |", ""]


def _list(values) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _header() -> list[str]:
    cpu = "unknown"
    if Path("/proc/cpuinfo").exists():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in
                         ("bayes-prrt", "pymc", "pytensor", "nutpie", "numba", "arviz", "numpy", "scipy"))
    return ["# bayes-prrt benchmarks", "", f"Written by `benchmarks/bench.py` on {time.strftime('%Y-%m-%d %H:%M')}.", "",
            f"- Machine: {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}",
            f"- Python {platform.python_version()}; {versions}", ""]


SECTIONS = ("run", "ess", "quadrature", "scaling", "extra_prior", "reuse", "startup", "targets")


def _merged(out: Path, header: list[str], fresh: dict[str, list[str]]) -> str:
    """The results file with the sections just run replacing their earlier versions (matched by heading
    number), the others kept as they were."""
    blocks = {}
    if out.exists():
        for block in out.read_text().split("\n## ")[1:]:
            blocks[block.split(".", 1)[0]] = "## " + block.rstrip("\n")
    for lines in fresh.values():
        blocks[lines[0][3:].split(".", 1)[0]] = "\n".join(lines).rstrip("\n")
    return "\n".join(header) + "\n" + "\n\n".join(blocks[k] for k in sorted(blocks)) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-repeats", type=int, default=2)
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args()
    out = Path(args.out)
    runs = {"run": lambda: bench_run(args.repeats, args.naive_repeats), "ess": lambda: bench_ess(args.repeats),
            "quadrature": lambda: bench_quadrature(max(args.repeats, 20)), "scaling": lambda: bench_scaling(args.ks),
            "extra_prior": bench_extra_prior, "reuse": bench_reuse, "startup": lambda: bench_startup(max(args.repeats, 5)),
            "targets": lambda: bench_targets(args.repeats)}
    fresh = {}
    for name in args.only:
        start = time.perf_counter()
        print(f"benchmark: {name} ...", flush=True)
        fresh[name] = runs[name]()
        print(f"  {time.perf_counter() - start:.0f} s", flush=True)
        out.write_text(_merged(out, _header(), fresh))  # after every section, so a long run keeps what it has
    print(f"written: {out}")


if __name__ == "__main__":
    main()
