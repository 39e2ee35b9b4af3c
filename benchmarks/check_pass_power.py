"""How often ``check_pass`` catches a broken pass, and how often it accuses a correct one.

    python benchmarks/check_pass_power.py                      # every mutant x 100 seeds, 2 workers
    python benchmarks/check_pass_power.py --seeds 20 --workers 8 --pass-seeds 20
    python benchmarks/check_pass_power.py --mutants sub_swapped,times_zero_folded --passes none

Every mutant of ``tests/testing/mutants.py`` (a deliberately broken pass) goes through
``check_pass`` at its default budget (hypothesis's default example count, the default
strategy, targets read from the pass) once per seed: a fresh hypothesis seed, no example
database, no derandomization. Its detection rate is the share of seeds on which
``check_pass`` raised ``PassCheckError``; a run that ends with ``UntestedPassError`` (the pass
never changed a graph) counts as an escape. Cortado's own passes go through the same runs:
any ``PassCheckError`` there is a false alarm (or a real bug in the pass: the message says).

The shrink phase is skipped: it starts only after a failure was found, so it changes what
is reported, not whether. Runs are spread over ``--workers`` processes; expect minutes per
hundred runs per core.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def own_passes() -> dict:
    """Cortado's passes, by name, as the pipeline runs them."""
    from cortado.passes.algebraic import simplify
    from cortado.passes.batchnorm import fold_batchnorm
    from cortado.passes.constant_folding import fold_constants
    from cortado.passes.cse import cse
    from cortado.passes.dce import dce
    from cortado.passes.horizontal import fuse_siblings
    from cortado.passes.layout import assign_layout
    from cortado.passes.shape_folding import fold_shapes
    from cortado.passes.transpose_sinking import sink_transposes

    return {f.__name__: f for f in (dce, cse, fold_constants, fold_shapes, simplify, fold_batchnorm, assign_layout,
                                    sink_transposes, fuse_siblings)}


def run_settings():
    from hypothesis import HealthCheck, Phase, settings

    return settings(database=None, derandomize=False, deadline=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))


def one_run(job: tuple[str, str, int]) -> tuple[str, str, int, str, float, str]:
    """(kind, name, seed) -> (kind, name, seed, outcome, seconds, first line of the report);
    outcome is caught, untested or passed."""
    warnings.filterwarnings("ignore")
    from cortado.testing import PassCheckError, UntestedPassError, check_pass

    kind, name, seed = job
    if kind == "mutant":
        from tests.testing.mutants import BY_NAME

        fn = BY_NAME[name].fn
    else:
        fn = own_passes()[name]
    start = time.perf_counter()
    try:
        check_pass(fn, settings=run_settings(), seed=seed)
        outcome, line = "passed", ""
    except UntestedPassError as e:
        outcome, line = "untested", str(e).splitlines()[0]
    except PassCheckError as e:
        outcome, line = "caught", str(e).splitlines()[0]
    return kind, name, seed, outcome, time.perf_counter() - start, line[:160]


def table(results, kind: str, names: list[str]) -> list[str]:
    rows = []
    for name in names:
        mine = [r for r in results if r[0] == kind and r[1] == name]
        if not mine:
            continue
        caught = sum(r[3] == "caught" for r in mine)
        untested = sum(r[3] == "untested" for r in mine)
        secs = sum(r[4] for r in mine) / len(mine)
        if kind == "mutant":
            rows.append(f"| {name} | {caught}/{len(mine)} | {100 * caught / len(mine):.0f}% | {untested} | {secs:.1f} |")
        else:
            example = next((r for r in mine if r[3] == "caught"), None)
            note = f"seed {example[2]}: {example[5]}" if example else ""
            rows.append(f"| {name} | {caught}/{len(mine)} | {untested} | {secs:.1f} | {note} |")
    return rows


def main(argv=None) -> int:
    from tests.testing.mutants import MUTANTS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=100, help="seeds per mutant (default 100)")
    ap.add_argument("--pass-seeds", type=int, default=None, help="seeds per own pass (default: --seeds)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mutants", default="all", help="comma-separated names, 'all' or 'none'")
    ap.add_argument("--passes", default="all", help="comma-separated names, 'all' or 'none'")
    ap.add_argument("--log", default=None, help="append one line per finished run to this file")
    args = ap.parse_args(argv)

    def pick(spec, known):
        if spec == "all":
            return list(known)
        if spec == "none":
            return []
        unknown = [n for n in spec.split(",") if n not in known]
        if unknown:
            ap.error(f"unknown: {', '.join(unknown)}; known: {', '.join(known)}")
        return spec.split(",")

    mutants = pick(args.mutants, [m.name for m in MUTANTS])
    passes = pick(args.passes, list(own_passes()))
    pass_seeds = args.seeds if args.pass_seeds is None else args.pass_seeds
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [("mutant", m, s) for s in seeds for m in mutants]
    jobs += [("pass", p, s) for s in range(args.first_seed, args.first_seed + pass_seeds) for p in passes]
    results = []
    start = time.perf_counter()
    log = open(args.log, "a") if args.log else None
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for r in pool.imap_unordered(one_run, jobs):
            results.append(r)
            if log:
                log.write("\t".join(map(str, r)) + "\n")
                log.flush()
    print(f"{len(jobs)} runs in {time.perf_counter() - start:.0f} s on {args.workers} workers\n")
    if mutants:
        print("| mutant | caught | rate | untested | s/run |\n| --- | --- | --- | --- | --- |")
        print("\n".join(table(results, "mutant", mutants)))
    if passes:
        print("\n| own pass | false alarms | untested | s/run | first alarm |\n| --- | --- | --- | --- | --- |")
        print("\n".join(table(results, "pass", passes)))
    weak = [m for m in mutants if sum(r[3] == "caught" for r in results if r[1] == m) < 0.99 * len(seeds)]
    alarms = sum(r[3] == "caught" for r in results if r[0] == "pass")
    print(f"\nmutants below 99%: {', '.join(weak) or 'none'}; false alarms: {alarms}")
    return 1 if weak or alarms else 0


if __name__ == "__main__":
    sys.exit(main())
