"""benchmarks/: the model table on one small model, the CPU table on the tiny CNN, the torch-free
ResNet-18 it builds, and the GPU latency script's paths that a CPU machine can run (the no-GPU
skip, and the whole script on the interpreter)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from benchmarks import cpu_table, gpu_latency, model_set, model_table

ROOT = Path(__file__).resolve().parents[2]


def _table_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and not line.startswith(("| model", "| ---"))]


def test_model_table_on_squeezenet(capsys):
    assert model_table.main(["--models", "squeezenet"]) == 0
    out = capsys.readouterr().out
    assert "| model | nodes in | kernels O0 | kernels O2 | est. HBM O0 | est. HBM O2 | HBM O2/O0 |" in out
    (row,) = _table_rows(out)
    cells = dict(zip(model_table.COLUMNS, row))
    assert cells["model"] == "squeezenet" and int(cells["nodes in"]) == 68
    assert int(cells["kernels O2"]) < int(cells["kernels O0"])
    hbm0, hbm2 = (float(cells[k].split()[0]) for k in ("est. HBM O0", "est. HBM O2"))
    assert 0 < hbm2 < hbm0 and abs(float(cells["HBM O2/O0"]) - hbm2 / hbm0) < 0.01
    assert float(cells["compile O2 (s)"]) > 0


def test_model_table_half_moves_fewer_bytes_and_reports_unsupported_models():
    model = model_set.build("squeezenet")
    f32, f16 = model_table.measure("squeezenet", model), model_table.measure("squeezenet", model, "float16")
    assert f16["kernels O2"] == f32["kernels O2"]
    assert 0.45 < f16["est. HBM O2"] / f32["est. HBM O2"] < 0.6, "half storage halves the traffic (float32 I/O)"
    text = model_table.markdown([{"model": "x", "error": "unsupported: Foo"}])
    assert _table_rows(text)[0][:3] == ["x", "", "unsupported: Foo"]


def test_gpu_latency_skips_cleanly_without_a_gpu():
    env = dict(os.environ, CORTADO_DISABLE_CUDA="1")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_latency.py")], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("gpu_latency: skipped: no usable CUDA GPU")
    assert "Traceback" not in r.stderr


def _tiny(batch: int) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3, "w")
    nodes = [helper.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["out"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [batch, 4, 1, 1])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


HEADS = ["model", "batch", "dtype", "Cortado", "Cortado + CUDA graph", "onnxruntime CPU EP", "torch eager",
         "torch.compile", "Cortado host→host", "onnxruntime host→host", "Cortado max err / scale",
         "Cortado roofline (est. bytes / time)"]


def test_gpu_latency_runs_end_to_end_on_the_interpreter(monkeypatch, capsys):
    """The whole script — build, reference, every backend, the table — with a tiny model on
    the CPU interpreter; backends that need a GPU or missing packages say n/a."""
    monkeypatch.setattr(model_set, "build", lambda name, batch=1, seed=0: _tiny(batch))
    rc = gpu_latency.main(["--target", "interpreter", "--models", "resnet50", "--batches", "1,2",
                           "--dtypes", "float32,float16", "--warmup", "1", "--iters", "2"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "CPU interpreter: latency in ms" in out and "| onnxruntime CPU EP |" in out
    rows = [dict(zip(HEADS, r)) for r in _table_rows(out)]
    assert [(r["batch"], r["dtype"]) for r in rows] == [("1", "float32"), ("1", "float16"), ("2", "float32"),
                                                        ("2", "float16")]
    for r in rows:
        for col in ("Cortado", "Cortado + CUDA graph", "Cortado host→host"):
            assert float(r[col]) > 0, (col, r)
        assert float(r["Cortado max err / scale"]) <= (1e-5 if r["dtype"] == "float32" else 1e-2), r
        assert r["torch eager"].startswith(("n/a", "error")) or float(r["torch eager"]) > 0
        assert r["Cortado roofline (est. bytes / time)"].endswith("%)"), r
    assert float(rows[0]["onnxruntime CPU EP"]) > 0 and float(rows[0]["onnxruntime host→host"]) > 0


def test_median_seconds_warms_up_then_times_each_call():
    calls, syncs = [], []
    t = gpu_latency.median_seconds(lambda: calls.append(1), lambda: syncs.append(1), warmup=3, iters=5)
    assert len(calls) == 8 and len(syncs) == 6 and t >= 0


def test_cpu_table_on_the_tiny_cnn_times_every_system_and_checks_the_output(capsys):
    assert cpu_table.main(["--models", "tiny_cnn_b8", "--repeat", "2"]) == 0
    (row,) = _table_rows(capsys.readouterr().out)
    name, ort, cpu, _, interp, _, diff = row
    assert name == "tiny_cnn_b8" and float(ort) > 0 and float(cpu) > 0 and float(interp.replace(",", "")) > 0
    assert float(diff) < 1e-4


def test_the_torch_free_resnet18_has_resnet18s_shape():
    """ResNet-18: 20 convolutions (17 + 3 projection shortcuts), 11.7 M parameters, 1000 logits."""
    model = cpu_table.resnet18()
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 20 and ops.count("Add") == 8 and ops[-1] == "Gemm"
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer if not t.name.startswith(("mean", "var")))
    assert 11.6e6 < params < 11.8e6, params
