"""Throughput of one compiled model called from 1, 2, 4 and 8 threads, and from 2 processes.

    python benchmarks/concurrency.py [--model examples/tiny_cnn.onnx] [--batch 1]
                                     [--calls 16] [--threads 1,2,4,8] [--processes 2]
                                     [--targets cpu,interpreter,cuda]

The model is compiled once and saved as an artifact; the threads share one loaded
``CompiledModel`` (the way a web server's worker threads share a model), each process loads
the artifact itself. Every worker runs one warm-up call, all start together (a barrier), and
``--calls`` calls in all are split among them; the wall time from the start to the last
call's end gives calls per second. Every output is compared with the single-threaded
result for the same input (the ``mismatches`` column must be 0).

On the interpreter target, kernel launches in one process are serialized behind a
process-wide lock (Triton's interpreter keeps the running kernel's state in module-level
objects), so threads add little: only the numpy work outside launches overlaps. Processes
each have their own interpreter and scale with the cores. The table makes that cost visible.
The cpu target's numpy kernels take no lock (numpy's BLAS and ufuncs release the GIL), so its
threads overlap; with BLAS itself multithreaded, one call may already use every core.
The cuda target runs when a usable GPU is present (each call on its own stream). Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "examples" / "tiny_cnn.onnx"


def _inputs(model, batch: int, count: int) -> list[dict]:
    rng = np.random.default_rng(0)
    feeds = []
    for _ in range(count):
        feeds.append({i["name"]: rng.standard_normal([batch if isinstance(d, str) else d for d in i["shape"]])
                     .astype(i["dtype"]) for i in model.inputs})
    return feeds


def _share(calls: int, workers: int, w: int) -> range:
    """Call indices of worker ``w``: an even split of ``calls``."""
    return range(w, calls, workers)


def run_threads(model, feeds: list[dict], workers: int) -> tuple[float, list]:
    """(seconds, outputs by call) for ``len(feeds)`` calls from ``workers`` threads."""
    outs: list = [None] * len(feeds)
    barrier = threading.Barrier(workers + 1)
    errors: list = []

    def worker(w):
        try:
            model.run(feeds[w % len(feeds)])          # warm-up (and the first load, for w == 0)
            barrier.wait()
            for i in _share(len(feeds), workers, w):
                outs[i] = model.run(feeds[i])
        except Exception as e:      # reported after the join
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0, outs


def _process_worker(path: str, target: str, feeds: list[dict], indices: list[int], barrier, queue) -> None:
    from cortado import runtime

    model = runtime.load(path, target=target)
    model.run(feeds[indices[0] if indices else 0])     # warm-up
    barrier.wait()
    t0 = time.time()
    outs = {i: model.run(feeds[i]) for i in indices}
    queue.put((t0, time.time(), outs))


def run_processes(path: str, target: str, feeds: list[dict], workers: int) -> tuple[float, list]:
    ctx = mp.get_context("spawn")          # a fresh interpreter each: no fork of Triton state
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_process_worker,
                         args=(path, target, feeds, list(_share(len(feeds), workers, w)), barrier, queue))
             for w in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    outs: list = [None] * len(feeds)
    for _, _, part in results:
        for i, o in part.items():
            outs[i] = o
    return max(r[1] for r in results) - min(r[0] for r in results), outs


def _mismatches(outs: list, reference: list) -> int:
    bad = 0
    for got, ref in zip(outs, reference):
        if got is None or any(not np.allclose(got[k], ref[k], rtol=1e-4, atol=1e-5) for k in ref):
            bad += 1
    return bad


def bench_target(onnx_path: str, target: str, batch: int, calls: int, threads: list[int], processes: list[int]):
    import cortado
    from cortado import runtime

    compiled = cortado.compile(onnx_path, target=target)
    folder = tempfile.mkdtemp(prefix="cortado-bench-")
    path = compiled.save(Path(folder) / "model.cortado")
    model = runtime.load(path, target=target)
    feeds = _inputs(model, batch, calls)
    reference = [model.run(f) for f in feeds]           # single-threaded, also warms up
    rows, base = [], None
    for n in threads:
        seconds, outs = run_threads(model, feeds, n)
        base = base or calls / seconds
        rows.append((target, f"{n} thread{'s' if n > 1 else ''}", calls, seconds, _mismatches(outs, reference)))
    for n in processes:
        seconds, outs = run_processes(path, target, feeds, n)
        rows.append((target, f"{n} processes", calls, seconds, _mismatches(outs, reference)))
    return rows, base


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--calls", type=int, default=16, help="calls per configuration (cuda: times 25)")
    ap.add_argument("--threads", default="1,2,4,8")
    ap.add_argument("--processes", default="2")
    ap.add_argument("--targets", default="cpu,interpreter,cuda")
    args = ap.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t]
    processes = [int(p) for p in args.processes.split(",") if p]

    from cortado.runtime.devices import cuda_available

    print(f"model {Path(args.model).name}, batch {args.batch}\n")
    print("| target | workers | calls | seconds | calls/s | vs 1 thread | mismatches |")
    print("|---|---|---|---|---|---|---|")
    for target in args.targets.split(","):
        if target == "cuda" and not cuda_available():
            print("| cuda | skipped: no usable CUDA GPU | | | | | |")
            continue
        calls = args.calls * (25 if target in ("cuda", "cpu") else 1)
        rows, base = bench_target(args.model, target, args.batch, calls, threads, processes)
        for tgt, workers, n, seconds, bad in rows:
            rate = n / seconds
            print(f"| {tgt} | {workers} | {n} | {seconds:.2f} | {rate:.2f} | {rate / base:.2f}x | {bad} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
