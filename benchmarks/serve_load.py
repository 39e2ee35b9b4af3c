"""Throughput and latency of ``cortado serve`` under concurrent clients, batching on and off.

    python benchmarks/serve_load.py [--model mlp | MODEL.onnx] [--targets interpreter]
                                    [--threads 1,4,16] [--requests 96] [--replicas 2]
                                    [--max-batch-size 8] [--batch-wait-ms 5] [--num-cpus 2]

For each target (``interpreter``, plus ``cuda`` on a GPU machine unless ``--targets`` says
otherwise) and each batching mode (on: ``--max-batch-size``; off: 1) it starts one local
server (``cortado.runtime.serve.local``), warms it up, then for each thread count sends
``--requests`` single-row requests from that many tritonclient HTTP clients (binary tensors),
checks every answer against a direct ``CompiledModel.run`` of the same rows, and prints a
Markdown table: requests/s, p50 and p99 latency in ms. Ray's own start-up is not timed.

The default model, ``mlp``, is a small MLP ([N, 64] -> 128 -> Relu -> 10 -> Softmax) whose
interpreter run takes milliseconds, so the table shows the serving path rather than the
interpreter's speed; ``examples/tiny_cnn.onnx`` takes about a second per run there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

def _mlp(path: Path) -> str:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal(s) * 0.1).astype(np.float32), n)
             for n, s in (("w1", (64, 128)), ("b1", (128,)), ("w2", (128, 10)), ("b2", (10,)))]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["o"]),
             helper.make_node("Add", ["o", "b2"], ["ob"]), helper.make_node("Softmax", ["ob"], ["probs"], axis=1)]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return str(path)


def _targets(text: str | None) -> list[str]:
    if text:
        return [t.strip() for t in text.split(",") if t.strip()]
    from cortado.runtime.devices import cuda_available

    return ["interpreter"] + (["cuda"] if cuda_available() else [])


def _load(url: str, model, threads: int, requests: int) -> tuple[float, list[float]]:
    """(wall seconds, per-request latencies in ms); raises on any wrong answer. Inputs and the
    expected outputs (a direct run of the same artifact) are made before the clock starts."""
    import tritonclient.http as httpclient

    rng = np.random.default_rng(threads)
    work = []
    for _ in range(requests):
        feeds = {i["name"]: rng.standard_normal([1] + [int(d) for d in i["shape"][1:]]).astype(np.float32)
                 for i in model.inputs}
        work.append((feeds, model.local.run(feeds)))
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        client = httpclient.InferenceServerClient(url, network_timeout=120, connection_timeout=120)
        for feeds, want in work[t::threads]:
            inputs = []
            for name, a in feeds.items():
                x = httpclient.InferInput(name, list(a.shape), "FP32")
                x.set_data_from_numpy(a, binary_data=True)
                inputs.append(x)
            t0 = time.perf_counter()
            result = client.infer(model.name, inputs)
            ms = (time.perf_counter() - t0) * 1000
            for name, ref in want.items():
                np.testing.assert_allclose(result.as_numpy(name), ref, rtol=1e-4, atol=1e-4)
            with lock:
                latencies.append(ms)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(worker, t) for t in range(threads)]:
            f.result()
    return time.perf_counter() - t0, latencies


class _Served:
    def __init__(self, name, artifact, target):
        from cortado import runtime

        self.name = name
        self.local = runtime.load(artifact, target=target)
        self.inputs = self.local.inputs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="mlp", help="an ONNX model with a batch dim N, or 'mlp' (default)")
    p.add_argument("--targets", help="comma-separated (default: interpreter, and cuda when a GPU is present)")
    p.add_argument("--threads", default="1,4,16")
    p.add_argument("--requests", type=int, default=96, help="requests per thread count")
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--max-batch-size", type=int, default=8)
    p.add_argument("--batch-wait-ms", type=float, default=5.0)
    p.add_argument("--num-cpus", type=float, default=2, help="CPUs of the local Ray instance")
    args = p.parse_args(argv)

    import cortado
    from cortado.runtime.serve.local import start

    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cortado-serve-bench-") as tmp:
        work = Path(tmp)
        source = _mlp(work / "mlp.onnx") if args.model == "mlp" else args.model
        for target in _targets(args.targets):
            artifact = work / f"model-{target}.cortado"
            cortado.compile(source, target=target).save(artifact)
            model = _Served("bench", str(artifact), target)
            for batching, size in (("on", args.max_batch_size), ("off", 1)):
                server = start([str(artifact), "--name", "bench", "--target", target, "--replicas",
                                str(args.replicas), "--max-batch-size", str(size),
                                "--batch-wait-ms", str(args.batch_wait_ms)], work, num_cpus=args.num_cpus)
                try:
                    _load(server.url, model, 2, 8)                                  # warm-up
                    for n in threads:
                        wall, lat = _load(server.url, model, n, args.requests)
                        q = statistics.quantiles(lat, n=100)
                        rows.append((target, batching, n, len(lat) / wall, statistics.median(lat), q[98]))
                        print(f"  {target} batching {batching} threads {n}: {len(lat) / wall:.1f} req/s",
                              file=sys.stderr, flush=True)
                finally:
                    server.stop()
    print(f"\n`cortado serve` {Path(args.model).name}, {args.replicas} replicas, batch {args.max_batch_size} "
          f"(wait {args.batch_wait_ms} ms), {args.requests} single-row requests per row\n")
    print("| target | batching | client threads | requests/s | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|")
    for target, batching, n, rps, p50, p99 in rows:
        print(f"| {target} | {batching} | {n} | {rps:.1f} | {p50:.1f} | {p99:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
