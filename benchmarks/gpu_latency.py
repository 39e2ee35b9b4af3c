"""GPU latency of Cortado's cuda target against onnxruntime, torch eager and torch.compile.

    python benchmarks/gpu_latency.py [--models resnet50,mobilenet_v2,bert_encoder]
                                     [--batches 1,32] [--dtypes float32,float16]
                                     [--warmup 10] [--iters 50] [--no-tf32]

Every backend runs the same ONNX model (seeded random weights) on the same inputs. Each call
is timed with a synchronized wall clock after warm-up; the table shows the median in ms.
The main columns keep inputs and outputs in GPU memory, so they time the model itself;
the host→host columns pass numpy arrays in and out, transfers included (the plain
``CompiledModel.run(numpy)`` call). Backends:

* Cortado, ``target="cuda"``, O2, ``dtype`` as given (float16 keeps float32 inputs and
  outputs and accumulates in float32); device-resident inputs via ``device.from_host`` and
  ``run(..., outputs="device")``; "+ CUDA graph" replays the whole plan as one graph
  (``use_cuda_graph()``). The last column is its max error against onnxruntime's float32
  result (CPU), as a fraction of the output's scale.
* onnxruntime with the CUDA execution provider when installed (``onnxruntime-gpu``; device
  mode through I/O binding), else the CPU provider (the column header says which). float16
  runs a model converted by ``onnxconverter-common`` (float32 inputs and outputs kept) when
  that package is present.
* torch eager and ``torch.compile`` on the ONNX model converted by ``onnx2torch``, when
  torch (with CUDA) and onnx2torch are installed; float16 is ``module.half()``. torch is
  imported here only, never by Cortado itself.

The roofline column divides the bytes Cortado's plan moves (``stats["est_hbm_bytes"]``, the
cost model's estimate) by the device-resident median time: achieved GB/s, and its fraction of
an H200's 4.8 TB/s peak (``--peak-tbps`` for another GPU). It is an upper bound on how close a
memory-bound model runs to the hardware; compute-bound layers (large GEMMs) sit far below it
by nature.

A backend that is missing or fails shows ``n/a`` or the error in its cell, and a missing peer
is reported once on stderr with the reason. Without a usable CUDA GPU the script prints why
and exits 0. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

DEFAULT_MODELS = "resnet50,mobilenet_v2,bert_encoder"


def gpu_unavailable_reason() -> str | None:
    """None when Cortado's cuda target can run here, else why not."""
    from cortado.runtime.devices import cuda_available

    if not cuda_available():
        return "no usable CUDA GPU (needs an NVIDIA GPU, its driver and cuda-core: pip install -e '.[cuda]')"
    return None


def device_name() -> str:
    try:
        from cuda.core import Device

        return str(Device(0).name)
    except Exception:   # the name is decoration; never fail the run for it
        return "GPU"


def median_seconds(fn: Callable[[], object], sync: Callable[[], None], warmup: int, iters: int) -> float:
    """Median wall time of ``fn(); sync()`` over ``iters`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def scale_error(got: np.ndarray, ref: np.ndarray) -> float:
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(got - ref))) / scale


# -- backends -------------------------------------------------------------------------------------
# Each backend returns {mode: (run once, wait for the device)} plus a function giving its
# outputs as numpy arrays. Modes: "device" (inputs already in GPU memory, outputs left there)
# and "host" (numpy in, numpy out, transfers included).
def cortado_runner(model, feeds, dtype: str, allow_tf32: bool, target: str = "cuda"):
    import cortado

    m = cortado.compile(model, target=target, dtype=dtype, opt_level=2, allow_tf32=allow_tf32)
    dev = m.device
    on_device = {n: dev.from_host(a) for n, a in feeds.items()} if target == "cuda" else feeds
    modes = {
        "device": (lambda: m.run(on_device, outputs="device"), dev.synchronize),
        "host": (lambda: m.run(feeds), dev.synchronize),
    }
    return m, modes, (lambda: [m.run(feeds)[o] for o in m.output_names])


def ort_providers(allow_tf32: bool = True) -> tuple[list, str]:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        return [("CUDAExecutionProvider", {"use_tf32": "1" if allow_tf32 else "0"}), "CPUExecutionProvider"], "CUDA EP"
    return ["CPUExecutionProvider"], "CPU EP"


def ort_runner(model, feeds, dtype: str, allow_tf32: bool):
    import onnxruntime as ort

    if dtype == "float16":
        try:
            from onnxconverter_common import float16
        except ImportError:
            raise RuntimeError("n/a (pip install onnxconverter-common)") from None
        model = float16.convert_float_to_float16(model, keep_io_types=True)
    elif dtype != "float32":
        raise RuntimeError("n/a")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    providers, label = ort_providers(allow_tf32)
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=providers)
    modes = {"host": (lambda: sess.run(None, feeds), lambda: None)}
    if label == "CUDA EP":
        binding = sess.io_binding()
        resident = [ort.OrtValue.ortvalue_from_numpy(a, "cuda", 0) for a in feeds.values()]
        for name, value in zip(feeds, resident):
            binding.bind_ortvalue_input(name, value)
        for out in sess.get_outputs():
            binding.bind_output(out.name, "cuda")
        def run_bound(values=resident):   # keeps the device inputs alive as long as the closure
            sess.run_with_iobinding(binding)

        modes["device"] = (run_bound, binding.synchronize_outputs)
    else:
        modes["device"] = modes["host"]       # the CPU provider has no device memory
    return sess, modes, (lambda: sess.run(None, feeds))


def torch_runner(model, feeds, dtype: str, compiled: bool, allow_tf32: bool):
    try:
        import torch
        from onnx2torch import convert
    except ImportError:
        raise RuntimeError("n/a (needs torch and onnx2torch)") from None
    if not torch.cuda.is_available():
        raise RuntimeError("n/a (torch without CUDA)")
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    wanted = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    module = convert(model).eval().to("cuda", dtype=wanted)
    if compiled:
        module = torch.compile(module)
    args = [torch.from_numpy(a).to("cuda").to(wanted) for a in feeds.values()]

    @torch.inference_mode()
    def call():
        return module(*args)

    @torch.inference_mode()
    def outputs():
        out = call()
        return [o.float().cpu().numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]

    return module, {"device": (call, torch.cuda.synchronize)}, outputs


# -- the table -------------------------------------------------------------------------------------
COLUMNS = (("cortado", "device"), ("cortado graph", "device"), ("onnxruntime", "device"),
           ("torch eager", "device"), ("torch.compile", "device"), ("cortado", "host"), ("onnxruntime", "host"))


def _cell_error(e: Exception) -> str:
    if type(e).__name__ == "UnsupportedOpError" and hasattr(e, "items"):
        return "unsupported: " + ", ".join(sorted({op for op, _, _ in e.items}))
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return msg if msg.startswith("n/a") else f"error: {type(e).__name__}: {msg[:80]}"


_REPORTED: set = set()


def report_skip(backend: str, e: Exception) -> None:
    """Say once, on stderr, why a peer backend has no numbers (not installed, no CUDA)."""
    msg = _cell_error(e)
    if msg.startswith("n/a") and (backend, msg) not in _REPORTED:
        _REPORTED.add((backend, msg))
        print(f"{backend}: skipped: {msg[3:].strip(' ()') or 'not available'}", file=sys.stderr, flush=True)


def roofline(hbm_bytes, seconds: float, peak_tbps: float) -> str:
    """Achieved GB/s over the plan's estimated bytes, and its share of the peak bandwidth."""
    if not isinstance(hbm_bytes, (int, float)) or not hbm_bytes or seconds <= 0:
        return "n/a"
    gbps = hbm_bytes / seconds / 1e9
    return f"{gbps:.0f} GB/s ({gbps / (peak_tbps * 1e3):.1%})"


def run_case(name: str, batch: int, dtype: str, args, reference: list[np.ndarray] | None, model, feeds) -> dict:
    row: dict = {"model": name, "batch": batch, "dtype": dtype}

    def time_modes(backend: str, make) -> None:
        try:
            handle, modes, outputs = make()
        except Exception as e:   # a backend failing must not hide the others' numbers
            for b, mode in COLUMNS:
                if b == backend:
                    row[(b, mode)] = _cell_error(e)
            report_skip(backend, e)
            return handle_failure(backend, e)
        for mode, (fn, sync) in modes.items():
            try:
                seconds = median_seconds(fn, sync, args.warmup, args.iters)
                row[(backend, mode)] = f"{seconds * 1e3:.2f}"
                if backend == "cortado" and mode == "device":
                    row["roofline"] = roofline(handle.stats.get("est_hbm_bytes"), seconds, args.peak_tbps)
            except Exception as e:
                row[(backend, mode)] = _cell_error(e)
                handle_failure(backend, e)
        if backend == "cortado":
            if reference is not None:
                try:
                    row["error"] = f"{max(scale_error(g, r) for g, r in zip(outputs(), reference)):.1e}"
                except Exception as e:
                    row["error"] = _cell_error(e)
                    handle_failure(backend, e)
            try:   # the same model with the whole plan replayed as one CUDA graph
                handle.use_cuda_graph()
                fn, sync = modes["device"]
                row[("cortado graph", "device")] = f"{median_seconds(fn, sync, args.warmup, args.iters) * 1e3:.2f}"
            except Exception as e:
                row[("cortado graph", "device")] = _cell_error(e)
                handle_failure(backend, e)

    def handle_failure(backend: str, e: Exception) -> None:
        if backend == "cortado" and not _cell_error(e).startswith(("unsupported", "n/a")):
            row["cortado failed"] = True

    time_modes("cortado", lambda: cortado_runner(model, feeds, dtype, args.allow_tf32, args.target))
    time_modes("onnxruntime", lambda: ort_runner(model, feeds, dtype, args.allow_tf32))
    time_modes("torch eager", lambda: torch_runner(model, feeds, dtype, False, args.allow_tf32))
    time_modes("torch.compile", lambda: torch_runner(model, feeds, dtype, True, args.allow_tf32))
    return row


def markdown(rows: list[dict], ort_label: str) -> str:
    heads = ["model", "batch", "dtype", "Cortado", "Cortado + CUDA graph", f"onnxruntime {ort_label}",
             "torch eager", "torch.compile", "Cortado host→host", "onnxruntime host→host", "Cortado max err / scale",
             "Cortado roofline (est. bytes / time)"]
    keys = ["model", "batch", "dtype", *COLUMNS, "error", "roofline"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join(" --- " for _ in heads) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated architectures of the model set")
    p.add_argument("--batches", default="1,32")
    p.add_argument("--dtypes", default="float32,float16")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--no-tf32", dest="allow_tf32", action="store_false",
                   help="exact float32 dots for Cortado and torch (tf32 is on by default)")
    p.add_argument("--peak-tbps", type=float, default=4.8, help="peak memory bandwidth for the roofline (H200: 4.8)")
    p.add_argument("--target", default="cuda", choices=["cuda", "interpreter"],
                   help="interpreter: run everything on the CPU (slow; checks the script itself)")
    args = p.parse_args(argv)
    reason = gpu_unavailable_reason() if args.target == "cuda" else None
    if reason:
        print(f"gpu_latency: skipped: {reason}")
        return 0

    from benchmarks.model_set import build, inputs, parse_names
    from cortado.testing.reference import run_onnxruntime

    names = parse_names(args.models)
    batches = [int(b) for b in args.batches.split(",")]
    dtypes = [d.strip() for d in args.dtypes.split(",")]
    rows = []
    for name in names:
        for batch in batches:
            model = build(name, batch)
            feeds = inputs(name, model, batch)
            reference = run_onnxruntime(model, feeds)     # float32, CPU: the accuracy reference
            for dtype in dtypes:
                print(f"timing {name} batch {batch} {dtype} ...", file=sys.stderr, flush=True)
                rows.append(run_case(name, batch, dtype, args, reference, model, feeds))
    where = device_name() if args.target == "cuda" else "CPU interpreter"
    print(f"{where}: latency in ms, median of {args.iters} calls after {args.warmup} warm-up calls, "
          f"inputs and outputs in device memory unless marked host→host (numpy in and out); "
          f"tf32 {'on' if args.allow_tf32 else 'off'} for float32 dots.\n")
    print(markdown(rows, ort_providers()[1]))
    failed = [f"{r['model']} b{r['batch']} {r['dtype']}" for r in rows if r.get("cortado failed")]
    if failed:
        print(f"\nCortado failed on: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
