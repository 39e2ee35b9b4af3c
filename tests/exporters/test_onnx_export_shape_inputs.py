"""Export of IR ops whose ONNX form takes shape-like inputs (reductions, slicing, padding,
indexing, scans, resize, generators), each run in onnxruntime against the numpy reference.
Each test needs its IR op registered and skips, saying so, until it is."""

from __future__ import annotations

import numpy as np
import pytest

from cortado.exporters import export_onnx
from cortado.ir import DType, Graph, Sym, TensorType
from cortado.ops import apply, evaluate, get_op
from cortado.testing.reference import assert_close, run_onnxruntime


def needs(*names):
    missing = []
    for n in names:
        try:
            get_op(n)
        except KeyError:
            missing.append(n)
    return pytest.mark.skipif(bool(missing), reason=f"IR op(s) {', '.join(missing)} not registered yet")


def run_both(op, inputs, attrs, *, feeds=None, outputs=1, opset=None):
    """One-node graph over inputs given as arrays (graph inputs) or ("const", array)."""
    g = Graph(f"one_{op}")
    vals, feeds = [], dict(feeds or {})
    for i, a in enumerate(inputs):
        if isinstance(a, tuple) and a[0] == "const":
            vals.append(g.add_constant(a[1], name=f"c{i}"))
        else:
            v = g.add_input(f"x{i}", TensorType(a.shape, DType.from_numpy(a.dtype)))
            vals.append(v)
            feeds[v.name] = a
    node = apply(g, op, vals, **attrs)
    for i in range(outputs):
        g.add_output(node.outputs[i], f"y{i}")
    model = export_onnx(g, opset=opset)
    expected = evaluate(g, feeds)
    for name, got in zip(g.output_names, run_onnxruntime(model, feeds)):
        assert_close(got, expected[name], what=f"{op}:{name}")
    return model


X = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)


@needs("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
       "ReduceLogSumExp", "ReduceSumSquare")
@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"])
@pytest.mark.parametrize("axes, keepdims", [((1,), 1), ((0, 2, 3), 0)])
def test_reductions(op, axes, keepdims):
    x = np.abs(X) + 0.5 if op == "ReduceLogSum" else X
    run_both(op, [x], {"axes": axes, "keepdims": keepdims})
    run_both(op, [x], {"axes": axes, "keepdims": keepdims}, opset=18)


@needs("ArgMax", "ArgMin")
def test_arg_reductions():
    x = np.round(X * 2)     # ties
    for op in ("ArgMax", "ArgMin"):
        for last in (0, 1):
            run_both(op, [x], {"axis": 2, "keepdims": last, "select_last_index": last})


@needs("Slice")
@pytest.mark.parametrize("starts, ends, steps", [
    ((0, 1, 0, 0), (2, 3, 4, 5), (1, 1, 1, 1)),
    ((1, 0, 3, 4), (2, 3, 0, 0), (1, 1, -1, -2)),
    ((0, 2, 3, 4), (2, -1, -1, -1), (1, -1, -2, -1)),      # negative steps through index 0
    ((0, 0, 0, 0), (2, 3, 4, 5), (1, 1, 1, 1)),
])
def test_slice(starts, ends, steps):
    run_both("Slice", [X], {"starts": starts, "ends": ends, "steps": steps})


@needs("Slice")
def test_slice_to_the_end_of_a_symbolic_dim():
    g = Graph("sym_slice")
    x = g.add_input("x", TensorType((Sym("N"), 6), "float32"))
    g.add_output(apply(g, "Slice", [x], starts=(0, 2), ends=(Sym("N"), 6), steps=(1, 1)).outputs[0], "y")
    model = export_onnx(g)
    for n in (1, 3):
        v = np.arange(6 * n, dtype=np.float32).reshape(n, 6)
        np.testing.assert_array_equal(run_onnxruntime(model, {"x": v})[0], v[:, 2:])


@needs("Pad")
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad(mode):
    run_both("Pad", [X], {"pads": (0, 1, 2, 0, 0, 2, 1, -1), "mode": mode, "value": 1.5})


@needs("Tile", "Expand", "Trilu", "DepthToSpace", "SpaceToDepth")
def test_tile_expand_trilu_blocks():
    run_both("Tile", [X], {"repeats": (1, 2, 1, 3)})
    run_both("Expand", [X[:, :1]], {"shape": (2, 3, 4, 5)})
    run_both("Expand", [X[0, 0, :, :1]], {"shape": (3, 4, 5)})
    for upper in (0, 1):
        run_both("Trilu", [X], {"upper": upper, "k": 1})
    run_both("DepthToSpace", [np.random.default_rng(1).standard_normal((1, 8, 2, 3)).astype(np.float32)],
             {"blocksize": 2, "mode": "CRD"})
    run_both("SpaceToDepth", [X[:, :, :4, :4]], {"blocksize": 2})


@needs("Range")
def test_range():
    run_both("Range", [], {"start": 2.0, "delta": 3.0, "size": 5, "dtype": DType.INT64})
    run_both("Range", [], {"start": 1.0, "delta": -0.5, "size": 4, "dtype": DType.FLOAT32})


@needs("Gather", "GatherElements", "GatherND", "OneHot")
def test_indexing():
    idx = np.array([[2, 0], [1, -1]], np.int64)
    run_both("Gather", [X, ("const", idx)], {"axis": 2})
    gi = np.random.default_rng(2).integers(0, 3, (2, 2, 4, 5)).astype(np.int64)
    run_both("GatherElements", [X, ("const", gi)], {"axis": 1})
    run_both("GatherND", [X, ("const", np.array([[0, 1], [1, 2]], np.int64))], {"batch_dims": 0})
    run_both("OneHot", [("const", np.array([0, 2, -1, 5], np.int64)), ("const", np.array([0.0, 3.0], np.float32))],
             {"axis": 1, "depth": 4})


@needs("ScatterElements", "ScatterND")
@pytest.mark.parametrize("reduction", ["none", "add", "max"])
def test_scatter(reduction):
    data = np.zeros((3, 4), np.float32)
    run_both("ScatterElements", [data, ("const", np.array([[1, 0, 2]], np.int64)),
                                 ("const", np.array([[1.0, 2.0, 3.0]], np.float32))],
             {"axis": 0, "reduction": reduction})
    run_both("ScatterND", [data, ("const", np.array([[1], [2]], np.int64)),
                           ("const", np.ones((2, 4), np.float32))], {"axis": 0, "reduction": reduction})


@needs("CumSum", "TopK")
def test_scans():
    for exclusive in (0, 1):
        run_both("CumSum", [X], {"axis": 2, "exclusive": exclusive, "reverse": 1 - exclusive})
    run_both("TopK", [X], {"k": 3, "axis": 3, "largest": 1, "sorted": 1}, outputs=2)
    run_both("TopK", [X], {"k": 2, "axis": 1, "largest": 0, "sorted": 1}, outputs=2)


@needs("Resize")
@pytest.mark.parametrize("mode, ctm", [("nearest", "asymmetric"), ("linear", "half_pixel"),
                                       ("cubic", "align_corners")])
def test_resize(mode, ctm):
    sizes = (2, 3, 7, 9)
    scales = tuple(o / i for o, i in zip(sizes, X.shape))
    run_both("Resize", [X], {"sizes": sizes, "scales": scales, "mode": mode, "coordinate_transformation_mode": ctm,
                             "nearest_mode": "floor"})


@needs("Shape", "Size", "Hardmax", "LayerNormalization", "InstanceNormalization", "LpNormalization",
       "MeanVarianceNormalization")
def test_plain_newer_ops():
    g = Graph("shape")
    x = g.add_input("x", TensorType((Sym("N"), 3), "float32"))
    g.add_output(apply(g, "Shape", [x], start=0, end=2).outputs[0], "s")
    g.add_output(apply(g, "Size", [x]).outputs[0], "n")
    model = export_onnx(g)
    s, n = run_onnxruntime(model, {"x": np.zeros((4, 3), np.float32)})
    assert s.tolist() == [4, 3] and int(n) == 12
    run_both("Hardmax", [X], {"axis": 2})
    c = ("const", np.linspace(0.5, 1.5, 5).astype(np.float32))
    run_both("LayerNormalization", [X, c, c], {"axis": 3, "epsilon": 1e-4})
    s3 = ("const", np.linspace(0.5, 1.5, 3).astype(np.float32))
    run_both("InstanceNormalization", [X, s3, s3], {"epsilon": 1e-4})
    run_both("LpNormalization", [X], {"axis": 1, "p": 1})
    run_both("MeanVarianceNormalization", [X], {"axes": (0, 2, 3)})


@needs("GroupNormalization")
def test_group_normalization_uses_opset_21():
    s3 = ("const", np.linspace(0.5, 1.5, 4).astype(np.float32))
    x = np.random.default_rng(4).standard_normal((2, 4, 3, 3)).astype(np.float32)
    model = run_both("GroupNormalization", [x, s3, s3], {"num_groups": 2, "epsilon": 1e-4})
    assert model.opset_import[0].version == 21
