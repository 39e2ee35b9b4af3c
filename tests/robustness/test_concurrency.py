"""Processes sharing a kernel cache folder, or an artifact path, never corrupt each other.

Two workers start together (a barrier file), each compiling the same models and some of its
own into one ``CORTADO_CACHE_DIR``, loading and running every kernel module, and saving to
one shared artifact path. Afterwards every cached module is whole (its content hash is its
name), no temporary file is left, both workers computed the right numbers, and the shared
artifact is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from robust_cases import ROOT

WORKER = r"""
import json, os, sys, time
import numpy as np
sys.path.insert(0, {tests!r})
from onnx import helper, numpy_helper
import cortado
from cortado import runtime
from robust_cases import onnx_model, vi

def model(k):
    w = numpy_helper.from_array(np.linspace(-1, 1, 4 * k, dtype=np.float32).reshape(4, k), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["t"]),
             helper.make_node("Softmax", ["t"], ["y"], axis=-1)]
    return onnx_model(nodes, [vi("x", ["N", 4])], [vi("y", None)], [w])

while not os.path.exists({go!r}):       # start together
    time.sleep(0.005)
results = {{}}
x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
for k in {sizes}:
    m = cortado.compile(model(k), target="interpreter", opt_level=k % 3)
    results[k] = m.run({{"x": x}})["y"].tolist()
    m.save({artifact!r})
    runtime.load({artifact!r}, target="interpreter")
print(json.dumps(results))
"""


def expected(k: int) -> np.ndarray:
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    t = np.tanh(x @ np.linspace(-1, 1, 4 * k, dtype=np.float32).reshape(4, k))
    e = np.exp(t - t.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_two_processes_share_a_cache_dir_and_an_artifact_path(tmp_path):
    cache = tmp_path / "cache"
    go = tmp_path / "go"
    artifact = tmp_path / "shared.cortado"
    env = dict(os.environ, CORTADO_CACHE_DIR=str(cache))
    plans = [[3, 5, 7], [3, 5, 9]]          # mostly the same kernels, one each of its own
    procs = [subprocess.Popen([sys.executable, "-c", WORKER.format(tests=str(Path(__file__).parent), go=str(go),
                                                                   sizes=sizes, artifact=str(artifact))],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for sizes in plans]
    time.sleep(0.5)
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    for sizes, results in zip(plans, outs):
        for k in sizes:
            np.testing.assert_allclose(np.array(results[str(k)]), expected(k), rtol=1e-4, atol=1e-6)

    modules = sorted((cache / "kernels").glob("k_*.py"))
    assert modules, "nothing was cached"
    for path in modules:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
        assert path.name == f"k_{digest}.py", f"{path.name} does not hold the source it is named after"
    leftovers = [p.name for p in (cache / "kernels").iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    assert not leftovers, leftovers

    from cortado import runtime
    runtime.load(artifact, target="interpreter")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_saves_and_loads_racing_on_one_path(tmp_path, monkeypatch):
    """Threads saving one artifact path over and over while another loads it, with and without
    the atomic folder swap: every load sees a whole artifact, every save succeeds."""
    import threading

    from cortado import runtime
    import cortado.runtime.artifact as artifact
    from robust_cases import tiny_model

    model = tiny_model()
    path = tmp_path / "m.cortado"
    model.save(path)
    errors = []

    def saver():
        try:
            for _ in range(8):
                model.save(path)
        except Exception as e:   # collected: the assertion below names it
            errors.append(e)

    def loader():
        try:
            for _ in range(12):
                runtime.load(path, target="interpreter")
        except Exception as e:
            errors.append(e)

    for swap in (True, False):
        if not swap:
            monkeypatch.setattr(artifact, "_exchange", lambda a, b: False)
        threads = [threading.Thread(target=f) for f in (saver, saver, loader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
    runtime.load(path, target="interpreter")
    assert [p.name for p in tmp_path.iterdir()] == ["m.cortado"]
