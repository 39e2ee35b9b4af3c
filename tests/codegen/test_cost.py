"""Per-kernel stats: bytes read only where strided windows touch, honest FLOPs, node sources.

The byte model is checked against the kernels themselves: elements the model says a kernel
does not read are set to NaN, and the kernel's output must still be finite and right.
"""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado.codegen.cost import touched
from cortado import ops
from cortado.ir import Graph, Sym, TensorType
from cortado.testing.reference import assert_close


def _conv(g, x, w, stride, pad):
    k = w.shape[2:]
    return ops.apply(g, "Conv", [x, w, None], kernel_shape=k, strides=(stride,) * 2, pads=(pad,) * 4,
                     dilations=(1, 1), group=1).output


def _pool(g, x, k, s, pad=0, op="MaxPool"):
    return ops.apply(g, op, [x], kernel_shape=(k, k), strides=(s, s), pads=(pad,) * 4, dilations=(1, 1)).output


@pytest.mark.parametrize("n,k,s,p,expect", [
    (8, 1, 2, 0, [0, 2, 4, 6]),              # 1x1 stride 2: every other row
    (8, 3, 2, 1, None),                      # 3x3 stride 2 pad 1: all rows
    (9, 2, 3, 0, [0, 1, 3, 4, 6, 7]),        # windows with gaps
    (7, 2, 2, 0, [0, 1, 2, 3, 4, 5]),        # the last row is never covered
])
def test_touched_rows(n, k, s, p, expect):
    out = (n + 2 * p - k) // s + 1
    mask = touched(None, out, n, k, s, p, 1)
    assert (mask is None) == (expect is None)
    if expect is not None:
        assert list(np.nonzero(mask)[0]) == expect


def _only_touched(x: np.ndarray, mask_rows) -> np.ndarray:
    """x with every element the byte model says is not read replaced by NaN."""
    bad = np.ones(x.shape[2], bool)
    bad[mask_rows] = False
    y = x.copy()
    y[:, :, bad, :] = np.nan
    y[:, :, :, bad] = np.nan
    return y


def test_strided_1x1_conv_reads_a_quarter_of_its_input(rng):
    g = Graph()
    x = g.add_input("x", TensorType((1, 4, 8, 8), "float32"))
    w = g.add_constant(rng.standard_normal((6, 4, 1, 1)).astype(np.float32))
    h = ops.apply(g, "Relu", [x]).output                  # a prologue reads x at the strided taps too
    g.add_output(ops.apply(g, "Relu", [_conv(g, h, w, 2, 0)]).output, "y")
    m = cortado.compile(g, target="interpreter")
    (k,) = m.stats["per_kernel"]
    assert k["kind"] == "conv"
    assert k["bytes_read"] == 4 * 4 * 4 * 4 + 6 * 4 * 4      # a quarter of x, all of w
    assert k["bytes_written"] == 6 * 4 * 4 * 4
    assert k["bytes"] == k["bytes_read"] + k["bytes_written"]
    assert k["flops"] >= 2 * 16 * 6 * 4
    xv = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    ref = ops.evaluate(g, {"x": xv})["y"]
    got = m.run({"x": _only_touched(xv, [0, 2, 4, 6])})["y"]
    assert np.isfinite(got).all(), "the kernel read elements the byte model says it does not"
    assert_close(got, ref)


def test_pooling_reads_only_covered_rows_and_counts_taps(rng):
    g = Graph()
    x = g.add_input("x", TensorType((1, 3, 9, 9), "float32"))
    g.add_output(_pool(g, ops.apply(g, "Neg", [x]).output, 2, 3), "y")
    m = cortado.compile(g, target="interpreter")
    (k,) = m.stats["per_kernel"]
    assert k["bytes_read"] == 3 * 6 * 6 * 4 and k["bytes_written"] == 3 * 3 * 3 * 4
    assert k["flops"] == 3 * 9 * 9 + 3 * 3 * 3 * 4         # Neg per element of x, 4 taps per output
    xv = rng.standard_normal((1, 3, 9, 9)).astype(np.float32)
    got = m.run({"x": _only_touched(xv, [0, 1, 3, 4, 6, 7])})["y"]
    assert np.isfinite(got).all()
    assert_close(got, ops.evaluate(g, {"x": xv})["y"])


def test_full_windows_and_symbolic_batch_stay_polynomials(rng):
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 2, 8, 8), "float32"))
    w = g.add_constant(rng.standard_normal((4, 2, 3, 3)).astype(np.float32))
    g.add_output(_conv(g, x, w, 2, 1), "y")
    m = cortado.compile(g, target="interpreter")
    (k,) = m.stats["per_kernel"]
    n = Sym("N")
    assert k["bytes_read"] == n * 2 * 8 * 8 * 4 + 4 * 2 * 9 * 4
    assert k["bytes_written"] == n * 4 * 4 * 4 * 4
    assert m.stats["est_hbm_bytes_expr"] == str(k["bytes"])
    assert m.stats["est_hbm_bytes"] == k["bytes"].evaluate({"N": 1}) and m.stats["dims"] == {"N": 1}
    assert m.stats["kernels"] == 1


def test_per_kernel_entries_name_sources_and_caffe_layers(rng):
    g = Graph()
    x = g.add_input("x", TensorType((1, 2, 6, 6), "float32"))
    w = g.add_constant(rng.standard_normal((2, 2, 3, 3)).astype(np.float32))
    c = _conv(g, x, w, 1, 1)
    c.producer.meta.update(layer="conv1", prototxt_line=12)
    r = ops.apply(g, "Relu", [c]).output
    g.add_output(_pool(g, r, 2, 2), "y")
    m = cortado.compile(g, target="interpreter")
    first, second = m.stats["per_kernel"]
    assert first["kernel"].startswith("conv_relu_kernel") and first["kind"] == "conv"
    assert first["nodes"] == [c.producer.name, r.producer.name]
    assert first["sources"][0] == {"name": c.producer.name, "op": "Conv", "layer": "conv1", "prototxt_line": 12}
    assert first["sources"][1] == {"name": r.producer.name, "op": "Relu"}
    assert second["why_not"] and all(line.startswith(second["nodes"][0]) for line in second["why_not"])
    lines = m.stats["why_not_fused"]
    assert len(lines) == len(set(lines)) and set(second["why_not"]) <= set(lines)
    assert "reads" in m.source and "writes" in m.source     # the kernel header shows the split


def test_caffe_layers_and_prototxt_lines_reach_the_stats(shared_dir):
    proto = shared_dir / "models" / "caffe" / "mnist__lenet.prototxt"
    weights = shared_dir / "models" / "caffe" / "mnist__lenet_iter_10000.caffemodel"
    m = cortado.compile(str(proto), weights=str(weights), target="interpreter")
    lines = proto.read_text().splitlines()
    layers = [s for k in m.stats["per_kernel"] for s in k["sources"]]
    assert {s["layer"] for s in layers} >= {"conv1", "pool1", "conv2", "ip1", "relu1", "ip2", "prob"}
    for s in layers:
        # the recorded line opens the layer's block, whose name follows
        block = "\n".join(lines[s["prototxt_line"] - 1:s["prototxt_line"] + 2])
        assert f'name: "{s["layer"]}"' in block, (s, block)
