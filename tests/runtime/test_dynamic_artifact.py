"""Artifacts of models with data-dependent sizes: they run after ``runtime.load`` in a process
that never imports the compiler, and the plan checker refuses forged host steps."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest

import cortado
from cortado import runtime
from cortado.errors import ArtifactError
from cortado.runtime.plan_check import check_plan
from cortado.testing.reference import run_onnxruntime

import data_dependent_models as dm
from compiler_free import run_without_the_compiler


@pytest.fixture(scope="module")
def nms_model():
    return dm.nms_model(0), cortado.compile(dm.nms_model(0), target="interpreter", opt_level=2)


def test_saved_dynamic_model_runs_without_the_compiler(tmp_path, nms_model):
    onnx_model, m = nms_model
    path = tmp_path / "nms.cortado"
    m.save(path)
    rng = np.random.default_rng(0)
    feeds = []
    for n, thr in ((7, 0.1), (12, 0.3), (5, 5.0)):           # the last selects nothing
        b = rng.uniform(0, 4, (1, n, 2))
        feeds.append({"boxes": np.concatenate([b, b + rng.uniform(0.5, 2, (1, n, 2))], -1).astype(np.float32),
                      "scores": rng.uniform(0, 1, (1, 3, n)).astype(np.float32),
                      "max_out": np.array([3], np.int64), "iou": np.array([0.5], np.float32),
                      "thr": np.array([thr], np.float32)})
    cases = [(f, dict(zip(["sel", "picked"], run_onnxruntime(onnx_model, f)))) for f in feeds]
    run_without_the_compiler(path, cases, tmp_path, rtol=1e-6, then="assert out['sel'].shape == (0, 3)\n")


def _forged(m, edit):
    plan = copy.deepcopy(m.plan)
    edit(plan)
    return plan


def _host(plan) -> dict:
    return next(s for s in plan["steps"] if "host" in s)


def _edit_attr(plan):
    _host(plan)["attrs"]["center_point_box"] = "corners"


def _late_use(plan):
    steps = plan["steps"]
    i = steps.index(_host(plan))
    steps.append(steps.pop(i))          # the host step after the kernels that use its size


@pytest.mark.parametrize("edit, message", [
    (lambda p: _host(p).update(host="Eval"), "host op 'Eval', which this runtime does not have"),
    (_edit_attr, "not a valid value"),
    (lambda p: _host(p)["attrs"].update(code="import os"), "NonMaxSuppression takes"),
    (lambda p: _host(p).update(binds=[["N", 0, 0]]), "not a fresh run-time symbol"),
    (lambda p: _host(p)["binds"][0].__setitem__(2, 1), "is not the dim"),
    (lambda p: _host(p).update(inputs=["nowhere", "scores"]), "has no storage"),
    (lambda p: p.update(dynamic_symbols=p["dynamic_symbols"] + ["N"]), "distinct identifiers"),
    (_late_use, "before a host step binds it"),
])
def test_forged_host_steps_are_refused(nms_model, edit, message):
    m = nms_model[1]
    check_plan(m.plan, m.constants, m.source)            # the real one passes
    with pytest.raises(ArtifactError, match=message):
        check_plan(_forged(m, edit), m.constants, m.source)


def _reseal(path, edit):
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    manifest["manifest_sha256"] = hashlib.sha256(canon).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_version_1_artifacts_still_load(tmp_path):
    """A static model saved by the previous format (version 1, plan format 1) loads and runs."""
    from cortado.ir import Graph, Sym, TensorType
    from cortado import ops

    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 3), "float32"))
    g.add_output(ops.apply(g, "Tanh", [x]).output, "y")
    m = cortado.compile(g, target="interpreter")
    path = tmp_path / "old.cortado"
    m.save(path)

    def old(manifest):
        manifest["version"] = 1
        manifest["plan"]["format"] = 1
        del manifest["plan"]["dynamic_symbols"]
        manifest["plan_sha256"] = hashlib.sha256(json.dumps(manifest["plan"], sort_keys=True,
                                                            separators=(",", ":")).encode()).hexdigest()
    _reseal(path, old)
    loaded = runtime.load(path, target="interpreter")
    xs = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(loaded(xs), np.tanh(xs), rtol=1e-6)


def test_dynamic_model_refuses_bind_and_cuda_graphs(nms_model):
    m = nms_model[1]
    with pytest.raises(cortado.errors.CortadoError, match="depend on its data"):
        m.bind({"N": 3}, {}, [])
    assert m.use_cuda_graph()._graph is None
