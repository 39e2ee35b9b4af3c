"""O3 autotuning: on a GPU, time each template kernel's candidate configs and keep the fastest.

Each GEMM/conv launch in the plan lists candidate block configs (``step["tune"]``). The tuner
binds the model to random inputs, runs every candidate of a launch a few times between CUDA
events, and writes the winner into the step's cuda config. Results are cached on disk, keyed
by the kernel's source, its size arguments and the device name, so a second compile of the
same model (or a model sharing its layers) tunes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace

import numpy as np

from cortado.runtime import sizes
from cortado.runtime.loader import cache_dir, write_atomic

REPEATS = 10


def _kernel_text(source: str, name: str) -> str:
    m = re.search(rf"def {name}\(.*?(?=\n\n\n|\Z)", source, re.S)
    return m.group(0) if m else name


def _cache_path():
    return cache_dir() / "autotune.json"


def _load_cache() -> dict:
    try:
        return json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}


def autotune(model, *, inputs=None) -> dict:
    """Tune ``model`` (target cuda) in place; returns {"tuned": n, "cached": n, "seconds": s}."""
    import time

    from cuda.bindings import driver as cu

    from cortado.runtime.devices.cuda import _check

    t0 = time.perf_counter()
    dev = model.device
    device_name = getattr(dev._dev, "name", "cuda")
    feeds = inputs or {i["name"]: np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i["shape"]]).astype(i["dtype"]) for i in model.inputs}
    arrays, env = model._check_inputs(feeds)
    model._prepare()
    in_tensors = {n: dev.from_host(a) for n, a in arrays.items()}
    out_tensors = [dev.empty(o["dtype"], model._shape(o["shape"], env)) for o in model.plan["outputs"]]
    launches, copies = model.bind(env, in_tensors, out_tensors)
    model.execute(launches, copies)       # compiles the defaults; fills buffers with real data
    dev.synchronize()
    cache = _load_cache()
    tuned = cached = 0
    (start,) = _check(cu.cuEventCreate(0))
    (stop,) = _check(cu.cuEventCreate(0))
    for launch, step in zip(launches, model.plan["steps"]):
        candidates = step.get("tune")
        if not candidates:
            continue
        key_src = json.dumps([_kernel_text(model.source, step["kernel"]), [a for a in launch.args if not hasattr(a, "data_ptr")],
                              device_name], sort_keys=True)
        key = hashlib.sha256(key_src.encode()).hexdigest()
        if key in cache:
            step["configs"]["cuda"] = cache[key]
            cached += 1
            continue
        best, best_ms = None, float("inf")
        for cfg in candidates:
            genv = dict(env)
            genv.update({k: v for k, v in cfg.items() if isinstance(v, int)})
            grid = tuple(max(1, sizes.evaluate(g, genv)) for g in step["grid"])
            trial = replace(launch, grid=grid, config=cfg, step=-1 - launch.step)
            try:
                dev.launch(trial)                 # compile + warm up
                dev.synchronize()
                _check(cu.cuEventRecord(start, 0))
                for _ in range(REPEATS):
                    dev.launch(trial)
                _check(cu.cuEventRecord(stop, 0))
                _check(cu.cuEventSynchronize(stop))
                (ms,) = _check(cu.cuEventElapsedTime(start, stop))
            except Exception:   # a config that fails to compile or launch (e.g. too much shared memory)
                continue
            if ms < best_ms:
                best, best_ms = cfg, ms
        if best is not None:
            step["configs"]["cuda"] = best
            cache[key] = best
            tuned += 1
    write_atomic(_cache_path(), json.dumps(cache).encode())
    model.execute(*model.bind(env, in_tensors, out_tensors))   # the tuned plan runs once more
    dev.synchronize()
    return {"tuned": tuned, "cached": cached, "seconds": time.perf_counter() - t0}
