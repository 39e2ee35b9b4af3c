"""O3 autotuning: on a GPU, time each template kernel's candidate configs and keep the fastest.

Each GEMM/conv launch in the plan lists candidate block configs (``step["tune"]``). The tuner
binds the model to random inputs, runs every candidate of a launch a few times between CUDA
events, and writes the winner into the step's cuda config. Results are cached on disk, keyed
by the kernel's source, its size arguments, the candidate list and the GPU (name and
architecture), so a second compile of the same model (or a model sharing its layers) tunes
nothing. The candidates carry the precision a compile allows (tf32 or not), so a choice made
with ``allow_tf32=True`` can never be taken by a compile that forbids tf32; an entry records
the architecture it was tuned on and its winner must still be one of the candidates.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace

import numpy as np

from cortado.ir.dims import representative_sizes
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


def cache_key(model, step: dict, launch, device) -> str:
    """The autotune cache key of one launch: kernel text, sizes, candidates and GPU."""
    src = json.dumps({"kernel": _kernel_text(model.source, step["kernel"]),
                      "sizes": [a for a in launch.args if not hasattr(a, "data_ptr")],
                      "candidates": step["tune"], "device": device.device_name, "arch": device.arch},
                     sort_keys=True)
    return hashlib.sha256(src.encode()).hexdigest()


def cached_config(entry, step: dict, device):
    """The cached winner when ``entry`` is usable here: tuned on this architecture, and still
    one of this compile's candidates (anything else, such as an older format, is re-tuned)."""
    if not isinstance(entry, dict) or entry.get("arch") != device.arch:
        return None
    cfg = entry.get("config")
    return cfg if cfg in step["tune"] else None


def autotune(model, *, inputs=None) -> dict:
    """Tune ``model`` (target cuda) in place; returns {"tuned": n, "cached": n, "seconds": s}."""
    import time

    t0 = time.perf_counter()
    dev = model.device
    rep = representative_sizes(i["shape"] for i in model.inputs)     # timed at representative sizes
    feeds = inputs or {i["name"]: np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else rep.get(d, 1) for d in i["shape"]]).astype(i["dtype"]) for i in model.inputs}
    arrays, env = model._check_inputs(feeds)
    model._prepare()
    in_tensors = {n: dev.from_host(a) for n, a in arrays.items()}
    out_tensors = [dev.empty(o["dtype"], model._shape(o["shape"], env)) for o in model.plan["outputs"]]
    launches, copies = model.bind(env, in_tensors, out_tensors)
    model.execute(launches, copies)       # compiles the defaults; fills buffers with real data
    dev.synchronize()
    cache = _load_cache()
    tuned = cached = 0
    for launch in launches:           # steps with an empty grid have no launch
        step = model.plan["steps"][launch.step]
        candidates = step.get("tune")
        if not candidates:
            continue
        key = cache_key(model, step, launch, dev)
        hit = cached_config(cache.get(key), step, dev)
        if hit is not None:
            step["configs"]["cuda"] = hit
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
                ms = dev.time_ms(lambda: dev.launch(trial), REPEATS)
            except Exception:   # a config that fails to compile or launch (e.g. too much shared memory)
                continue
            if ms < best_ms:
                best, best_ms = cfg, ms
        if best is not None:
            step["configs"]["cuda"] = best
            cache[key] = {"config": best, "arch": dev.arch, "device": dev.device_name, "ms": best_ms / REPEATS}
            tuned += 1
    write_atomic(_cache_path(), json.dumps(cache).encode())
    launches, copies = model.bind(env, in_tensors, out_tensors)   # the tuned plan runs once more
    model.execute(launches, copies)
    dev.synchronize()      # before the launches (and the buffers they hold) are dropped
    return {"tuned": tuned, "cached": cached, "seconds": time.perf_counter() - t0}
