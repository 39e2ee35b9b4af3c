"""Repro bundles: each distinct kernel of a compiled model as a standalone script.

``cortado compile MODEL --repro DIR`` writes, per distinct kernel, ``DIR/<kernel>.py`` and
``DIR/<kernel>.npz``. The script holds the kernel's source and the prelude helpers it calls
(copied from the model's generated module), the launch grid and size arguments of the
kernel's first launch, and a comparison; the ``.npz`` holds that launch's inputs and the
expected outputs. Inputs are the values the kernel sees inside the model when the model runs
on seeded random inputs, and the expected outputs are what Cortado's numpy reference
evaluator computes for the group's values on those inputs — so a script isolates one kernel
with realistic data, and the reference needs neither the model nor the compiler to replay.

A script runs on whatever the machine has (``--target auto``: a usable CUDA GPU, else Triton's
CPU interpreter), prints the max abs/rel error per output and exits 1 on a mismatch. It needs
numpy, triton and Cortado's ``runtime`` package (for device memory and launches), not the
compiler. Outputs start as NaN (or the most negative integer), so a kernel that skips
elements fails. Values stored into a placed concat's buffer are addressed with that buffer's
strides; the script allocates the whole buffer, filled with the reference concat result, and
reads the box back.
"""

from __future__ import annotations

import ast
import inspect
import io
from pathlib import Path
from typing import Mapping

import numpy as np

from cortado.ops import evaluate
from cortado.runtime import sizes
from cortado.runtime.errors import CortadoError
from cortado.runtime.loader import write_atomic

# (rtol, atol) by output dtype; atol is relative to the output's largest magnitude.
TOLERANCES = {"float64": (1e-9, 1e-9), "float32": (1e-4, 1e-4), "float16": (1e-2, 1e-2),
              "bfloat16": (5e-2, 5e-2)}
TF32_TOLERANCE = (1e-2, 1e-2)      # fp32 dots with tf32 inputs on GPUs that have it


def tolerance(dtype: str, family: str = "interpreter", configs: Mapping | None = None) -> tuple[float, float]:
    """(rtol, atol) for a kernel output of ``dtype`` run on ``family`` with launch ``configs``."""
    if dtype in ("bool",) or dtype.startswith(("int", "uint")):
        return (0.0, 0.0)
    tol = TOLERANCES.get(dtype, (1e-4, 1e-4))
    if family == "cuda" and (configs or {}).get("PRECISION") == "tf32":
        tol = max(tol, TF32_TOLERANCE)
    return tol


def compare(actual, expected, rtol: float, atol: float) -> dict:
    """Elementwise check ``|a - e| <= atol * scale + rtol * |e|`` (scale: max |e|, at least 1e-30).

    NaN must meet NaN and infinities must match exactly. ``max_rel`` is ``|a - e|`` divided by
    ``max(|e|, atol * scale)``, so elements near zero do not report huge relative errors."""
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.shape != e.shape:
        return {"ok": False, "max_abs": float("inf"), "max_rel": float("inf"), "bad": int(e.size),
                "nan": 0, "note": f"shape {a.shape} != expected {e.shape}"}
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        diff = np.abs(a.astype(np.int64) - e.astype(np.int64)) if a.size else np.zeros(0)
        bad = int(np.count_nonzero(diff))
        mx = float(diff.max()) if diff.size else 0.0
        return {"ok": bad == 0, "max_abs": mx, "max_rel": mx, "bad": bad, "nan": 0, "note": ""}
    a = a.astype(np.float64)
    e = e.astype(np.float64)
    a_nan, e_nan = np.isnan(a), np.isnan(e)
    nan_bad = a_nan != e_nan
    finite = np.isfinite(e) & np.isfinite(a)
    inf_bad = ~finite & ~a_nan & ~e_nan & (a != e)
    mag = np.abs(e[np.isfinite(e)])
    scale = max(float(mag.max()) if mag.size else 0.0, 1e-30)
    diff = np.where(finite, np.abs(a - e), 0.0)
    limit = atol * scale + rtol * np.abs(np.where(finite, e, 0.0))
    bad = (diff > limit) | nan_bad | inf_bad
    max_abs = float(diff.max()) if diff.size else 0.0
    rel = diff / np.maximum(np.abs(np.where(finite, e, 0.0)), max(atol * scale, 1e-30))
    max_rel = float(rel.max()) if rel.size else 0.0
    if nan_bad.any() or inf_bad.any():
        max_abs = max_rel = float("inf")
    nbad = int(np.count_nonzero(bad))
    note = f"{int(np.count_nonzero(nan_bad))} NaN mismatch(es)" if nan_bad.any() else ""
    return {"ok": nbad == 0, "max_abs": max_abs, "max_rel": max_rel, "bad": nbad,
            "nan": int(np.count_nonzero(nan_bad)), "note": note}


# -- reading the generated module -----------------------------------------------------------
def kernel_sources(module_source: str) -> dict[str, tuple[str, list[str]]]:
    """kernel name -> (its source with the comment header above it, helper names it calls)."""
    tree = ast.parse(module_source)
    lines = module_source.splitlines()
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}

    def segment(fn: ast.FunctionDef, with_header: bool) -> str:
        start = min([fn.lineno] + [d.lineno for d in fn.decorator_list]) - 1
        if with_header:
            while start > 0 and lines[start - 1].startswith("#"):
                start -= 1
        return "\n".join(lines[start:fn.end_lineno])

    def calls(fn: ast.FunctionDef) -> set[str]:
        return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id in funcs and n.id != fn.name}

    out = {}
    for name, fn in funcs.items():
        if name.startswith("_"):
            continue
        needed, stack = [], sorted(calls(fn))
        while stack:
            h = stack.pop(0)
            if h not in needed:
                needed.append(h)
                stack.extend(sorted(calls(funcs[h])))
        # dependencies first, as in the module
        needed.sort(key=lambda h: funcs[h].lineno)
        out[name] = (segment(fn, True), [segment(funcs[h], False) for h in needed])
    return out


# -- building the bundle ----------------------------------------------------------------------
def reference_values(model, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every value of the model's graph on ``feeds``: inputs, weights and node outputs, by name."""
    graph = model.graph
    if graph is None:
        raise CortadoError("repro bundles and numerics checks need a model compiled in this process "
                           "(a loaded artifact has no graph)", hint="run it on the model file, not the artifact")
    values = dict(evaluate(graph, feeds, keep=True))
    for out_name in graph.output_names:     # keep=True adds outputs by output name; drop those
        if out_name not in {v.name for v in graph.values()}:
            values.pop(out_name, None)
    for v in graph.inputs:
        values[v.name] = np.asarray(feeds[v.name])
    for name, c in graph.constants.items():
        values[name] = c.const
    return values


def symbol_env(model, feeds: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray] | None = None
               ) -> dict[str, int]:
    """The plan's symbols bound from ``feeds``; with ``values`` (``reference_values``) also the
    data-dependent sizes its host steps bind, read from the reference results."""
    env: dict[str, int] = {}
    for spec in model.plan["inputs"]:
        for d, got in zip(spec["shape"], np.shape(feeds[spec["name"]])):
            if isinstance(d, str) and d.isidentifier():
                env[d] = int(got)
    for step in model.plan["steps"] if values is not None else ():
        for sym, pos, axis in step.get("binds", ()):
            env[sym] = int(np.shape(values[step["outputs"][pos]])[axis])
    return env


def launch_data(model, step: dict, env: Mapping[str, int]) -> dict:
    """One step of the plan with every size evaluated: pointers, sizes, boxes, grids, configs."""
    plan = model.plan
    kernel = next(k for k in plan["kernels"] if k["name"] == step["kernel"])
    written = set(step.get("outputs", ()))
    pointers, size_args, boxes = [], {}, {}
    for pname, arg in zip(kernel["params"], step["args"]):
        if "value" in arg:
            name = arg["value"]
            info = plan["values"][name]
            shape = [sizes.evaluate(d, env) for d in info["shape"]]
            pointers.append((pname, name, info["dtype"], shape, "out" if name in written else "in"))
            s = plan["slices"].get(name)
            if s is not None:
                root_shape = [sizes.evaluate(d, env) for d in plan["values"][s["root"]]["shape"]]
                boxes[pname] = (s["root"], root_shape, sizes.evaluate(s["offset"], env))
        else:
            size_args[pname] = sizes.evaluate(arg["size"], env)
    grids, configs = {}, {}
    for family, cfg in step["configs"].items():
        genv = dict(env)
        genv.update({k: v for k, v in cfg.items() if isinstance(v, int)})
        grids[family] = tuple(max(1, sizes.evaluate(g, genv)) for g in step["grid"])
        configs[family] = dict(cfg)
    return {"pointers": pointers, "sizes": size_args, "boxes": boxes, "grids": grids, "configs": configs}


def launch_arrays(launch: dict, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``.npz`` contents: inputs by parameter, ``expected_<param>`` and ``root_<param>``."""
    arrays = {}
    for pname, name, dtype, shape, role in launch["pointers"]:
        if name not in values:
            raise CortadoError(f"no reference value for {name!r}")
        a = np.ascontiguousarray(values[name])
        arrays[("expected_" if role == "out" else "") + pname] = a
        if pname in launch["boxes"]:
            root = launch["boxes"][pname][0]
            arrays["root_" + pname] = np.ascontiguousarray(values[root])
    return arrays


def write_repro(model, out_dir, feeds: Mapping[str, np.ndarray], *, seed: int | None = None,
                progress=None) -> list[Path]:
    """Write one script (+ .npz) per distinct kernel of ``model`` into ``out_dir``; returns the scripts."""
    say = progress or (lambda msg: None)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CortadoError(f"--repro {out} exists and is not a folder")
    say("computing reference values for the repro bundle")
    values = reference_values(model, feeds)
    env = symbol_env(model, feeds, values)
    sources = kernel_sources(model.source)
    steps = model.plan["steps"]
    launches: dict[str, list[int]] = {}
    for i, st in enumerate(steps):
        if "host" in st:
            continue            # a host step (numpy) has no kernel to reproduce
        launches.setdefault(st["kernel"], []).append(i)
    written: list[Path] = []
    rows = []
    for kernel in model.plan["kernels"]:
        name = kernel["name"]
        if name not in launches:
            continue
        say(f"writing repro {name}")
        first = launches[name][0]
        step = steps[first]
        launch = launch_data(model, step, env)
        arrays = launch_arrays(launch, values)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_atomic(out / f"{name}.npz", buf.getvalue())
        text = script_text(model, name, kernel["kind"], sources[name], step, first, len(launches[name]),
                           launch, seed)
        path = out / f"{name}.py"
        write_atomic(path, text.encode())
        written.append(path)
        rows.append(f"| `{name}.py` | {kernel['kind']} | {len(launches[name])} | {', '.join(step['nodes'])} |")
    readme = ["# Kernel repros", "",
              f"One standalone script per distinct kernel of `{_model_name(model)}`; each replays its first",
              "launch on the values the model feeds it and compares with Cortado's numpy reference.", "",
              "    for f in *.py; do python \"$f\" || echo \"MISMATCH: $f\"; done", "",
              "| script | kind | launches | source nodes |", "|---|---|---|---|", *rows, ""]
    write_atomic(out / "README.md", "\n".join(readme).encode())
    return written


def _model_name(model) -> str:
    return getattr(model.graph, "name", None) or "model"


# -- the script ---------------------------------------------------------------------------------
_HARNESS = '''
def _poison(dtype):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return np.nan
    return np.iinfo(dt).min if dt.kind in "iu" else False


def _box(flat, shape, root_shape, itemsize):
    """The elements of a value stored at the start of ``flat`` with the root's row-major strides."""
    strides, acc = [], itemsize
    for d in reversed(root_shape):
        strides.append(acc)
        acc *= d
    return np.lib.stride_tricks.as_strided(flat, shape=shape, strides=tuple(reversed(strides)))


def main() -> int:
    data = np.load(HERE / NPZ, allow_pickle=False)
    dev = get_device(TARGET)
    family = dev.family
    args, outputs = [], []
    for param, value, dtype, shape, role in POINTERS:
        if param in BOXES:
            root = np.array(data["root_" + param])
            _, root_shape, offset = BOXES[param]
            if role == "out":
                _box(root.reshape(-1)[offset:], shape, root_shape, root.itemsize)[...] = _poison(dtype)
            t = dev.from_host(root)
            args.append(dev.offset_view(t, offset))
        elif role == "out":
            t = dev.from_host(np.full(shape, _poison(dtype), dtype=np.dtype(dtype)))
            args.append(t)
        else:
            t = dev.from_host(data[param])
            args.append(t)
        if role == "out":
            outputs.append((param, value, dtype, shape, t))
    args += list(SIZES.values())
    dev.launch(Launch(0, KERNEL, GRIDS[family], args, CONFIGS[family]))
    dev.synchronize()
    failed = 0
    print(f"{KERNEL_NAME} on {TARGET} ({WHY}), grid {GRIDS[family]}")
    for param, value, dtype, shape, t in outputs:
        got = dev.to_host(t)
        if param in BOXES:
            _, root_shape, offset = BOXES[param]
            got = _box(got.reshape(-1)[offset:], shape, root_shape, got.itemsize)
        rtol, atol = TOLERANCE[family][value]
        r = compare(got, data["expected_" + param], rtol, atol)
        status = "ok" if r["ok"] else f"MISMATCH ({r['bad']} element(s) off{'; ' + r['note'] if r['note'] else ''})"
        print(f"  {value} {dtype}{list(shape)}: max abs error {r['max_abs']:.3g}, max rel error {r['max_rel']:.3g} "
              f"(rtol {rtol:g}, atol {atol:g} x max|expected|): {status}")
        failed += not r["ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
'''


def script_text(model, name: str, kind: str, source: tuple[str, list[str]], step: dict, index: int,
                n_launches: int, launch: dict, seed: int | None) -> str:
    kernel_src, helper_srcs = source
    nodes = ", ".join(step["nodes"])
    out_dtypes = {v: dt for _, v, dt, _, role in launch["pointers"] if role == "out"}
    tol = {fam: {v: tolerance(dt, fam, cfg) for v, dt in out_dtypes.items()}
           for fam, cfg in launch["configs"].items()}
    seed_text = f"seed {seed}" if seed is not None else "inputs given to the compile command"
    doc = f'''#!/usr/bin/env python3
"""Standalone repro of kernel {name} ({kind}) of model {_model_name(model)}, written by Cortado.

Source nodes: {nodes}
The model launches this kernel {n_launches} time(s); this script replays launch #{index} with its sizes.

    python {name}.py                       # a usable CUDA GPU, else Triton's CPU interpreter
    python {name}.py --target interpreter

{name}.npz next to this file holds the kernel's inputs (the values it sees inside the model on
random model inputs, {seed_text}) and the expected outputs (Cortado's numpy reference).
The script runs the kernel once, prints the max error per output and exits 1 on a mismatch.
It needs numpy, triton and Cortado's runtime package (device memory and launches).
"""'''
    parts = [doc, '''import argparse
import pathlib
import sys

import numpy as np

from cortado.runtime.devices import get_device, resolve_target
from cortado.runtime.launch import Launch

HERE = pathlib.Path(__file__).resolve().parent
_cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_cli.add_argument("--target", default="auto", choices=["auto", "cuda", "interpreter"])
TARGET, WHY = resolve_target(_cli.parse_args().target)

import triton  # noqa: E402

triton.knobs.runtime.interpret = TARGET == "interpreter"   # @triton.jit reads this when it decorates
import triton.language as tl  # noqa: E402,F401''']
    parts.append("# ---- the kernel, and the prelude helpers it calls, as in the model's module ----")
    parts.extend(helper_srcs)
    parts.append(kernel_src)
    data = f'''# ---- launch #{index} ----
KERNEL = {name}
KERNEL_NAME = {name!r}
NPZ = {name + ".npz"!r}
# pointer arguments: (parameter, value in the model, dtype, shape, "in" read / "out" written)
POINTERS = {_pretty(launch["pointers"])}
# size arguments, in signature order after the pointers
SIZES = {_pretty(launch["sizes"])}
# values stored in a placed concat's buffer: parameter -> (root value, root shape, element offset)
BOXES = {_pretty(launch["boxes"])}
# per target family: constexprs plus num_warps / num_stages, and the launch grid
CONFIGS = {_pretty(launch["configs"])}
GRIDS = {_pretty(launch["grids"])}
# per target family and output: (rtol, atol), atol relative to the output's largest magnitude
TOLERANCE = {_pretty(tol)}'''
    parts.append(data)
    parts.append(inspect.getsource(compare).strip())
    parts.append(_HARNESS.strip())
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


def _pretty(obj) -> str:
    """A Python literal, one entry per line for lists and dicts of more than one entry."""
    if isinstance(obj, dict) and len(obj) > 1:
        inner = ",\n".join(f"    {k!r}: {_plain(v)}" for k, v in obj.items())
        return "{\n" + inner + ",\n}"
    if isinstance(obj, list) and len(obj) > 1:
        return "[\n" + ",\n".join(f"    {_plain(v)}" for v in obj) + ",\n]"
    return _plain(obj)


def _plain(obj) -> str:
    if isinstance(obj, tuple):
        return "(" + ", ".join(_plain(x) for x in obj) + ("," if len(obj) == 1 else "") + ")"
    if isinstance(obj, list):
        return "[" + ", ".join(_plain(x) for x in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{k!r}: {_plain(v)}" for k, v in obj.items()) + "}"
    return repr(obj)
