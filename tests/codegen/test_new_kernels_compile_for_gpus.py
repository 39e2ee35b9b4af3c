"""The kernels of every new op kind compile for sm_80 and sm_90 (no GPU needed), so code that
only Triton's interpreter accepts cannot land — and they stay free of ``@triton.jit`` library
calls, which are built for one mode only.

One small model per kernel family: row reductions and normalizations (with the interpreter's
TREE path compiled out), scans (CumSum, CumProd, TopK), scatters, ConvTranspose, shape
kernels over symbolic sizes, the pointwise views (gathers, pads, resizes, one-hot...), and
convolutions in their tap-major form.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import cortado

triton = pytest.importorskip("triton")


def _model(nodes, inputs, outputs, inits=None, opset=18):
    g = helper.make_graph(nodes, "zoo", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                          [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outputs],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    return helper.make_model(g, opset_imports=[helper.make_operatorsetid("", opset)])


F, I64 = TensorProto.FLOAT, TensorProto.INT64
R = np.random.default_rng(0)


def _reductions():
    nodes = [helper.make_node("ReduceSum", ["x", "ax"], ["s"], keepdims=0),
             helper.make_node("ArgMax", ["x"], ["am"], axis=1, select_last_index=1),
             helper.make_node("ReduceLogSumExp", ["x", "ax"], ["lse"]),
             helper.make_node("ReduceMin", ["xi", "ax"], ["imin"]),
             helper.make_node("LayerNormalization", ["x", "g", "b"], ["ln"], axis=-1),
             helper.make_node("GroupNormalization", ["x4", "c4", "c4b"], ["gn"], num_groups=2),
             helper.make_node("LpNormalization", ["x"], ["lp"], axis=0, p=2),
             helper.make_node("Hardmax", ["x"], ["hm"], axis=-1),
             helper.make_node("ReduceMean", ["big", "ax"], ["long"]),
             helper.make_node("ReduceMean", ["xs", "ax"], ["smean"])]     # a row of symbolic (maybe 0) length
    return _model(nodes, [("x", F, ["N", 37]), ("xi", TensorProto.INT32, [5, 6]), ("x4", F, [2, 4, 3, 3]),
                          ("big", F, [2, 9000]), ("xs", F, [3, "S"])],
                  ["s", "am", "lse", "imin", "ln", "gn", "lp", "hm", "long", "smean"],
                  {"ax": np.array([1], np.int64), "g": R.random(37, np.float32), "b": R.random(37, np.float32),
                   "c4": R.random(4, np.float32), "c4b": R.random(4, np.float32)})


def _scans():
    nodes = [helper.make_node("CumSum", ["x", "a1"], ["cs"], exclusive=1, reverse=1),
             helper.make_node("CumProd", ["x", "a1"], ["cp"], exclusive=1),
             helper.make_node("TopK", ["x", "k"], ["tv", "ti"], axis=-1, largest=0),
             helper.make_node("CumSum", ["xi", "a0"], ["csi"])]
    return _model(nodes, [("x", F, ["N", 40]), ("xi", I64, [7, 3])], ["cs", "cp", "tv", "ti", "csi"],
                  {"a1": np.array(1, np.int64), "a0": np.array(0, np.int64), "k": np.array([3], np.int64)}, opset=26)


def _scatters_and_conv_transpose():
    nodes = [helper.make_node("ScatterND", ["x", "i", "u"], ["snd"], reduction="mul"),
             helper.make_node("ScatterElements", ["x", "ie", "ue"], ["se"], axis=1, reduction="add"),
             helper.make_node("ConvTranspose", ["img", "w", "bias"], ["ct"], strides=[2, 2], pads=[1, 1, 0, 0],
                              output_padding=[1, 1], group=2)]
    return _model(nodes, [("x", F, [6, 5]), ("img", F, ["N", 4, 5, 5])], ["snd", "se", "ct"],
                  {"i": np.array([[1], [4]], np.int64), "u": R.random((2, 5), np.float32),
                   "ie": np.array([[0, 4], [2, 2]], np.int64), "ue": R.random((2, 2), np.float32),
                   "w": R.random((4, 3, 3, 3), np.float32), "bias": R.random(6, np.float32)})


def _views():
    nodes = [helper.make_node("Shape", ["x"], ["shp"]),
             helper.make_node("Size", ["x"], ["sz"]),
             helper.make_node("Gather", ["shp", "zero"], ["n"]),
             helper.make_node("Range", ["zero", "n", "one"], ["rng"]),
             helper.make_node("Gather", ["x", "gi"], ["g"], axis=1),
             helper.make_node("GatherElements", ["x", "gei"], ["ge"], axis=1),
             helper.make_node("GatherND", ["x4", "ndi"], ["gnd"], batch_dims=1),
             helper.make_node("Pad", ["x4", "pads"], ["pr"], mode="reflect"),
             helper.make_node("Pad", ["x4", "pads"], ["pw"], mode="wrap"),
             helper.make_node("Resize", ["x4", "", "scales"], ["rc"], mode="cubic", exclude_outside=1),
             helper.make_node("Resize", ["x4", "", "scales"], ["rl"], mode="linear",
                              coordinate_transformation_mode="tf_crop_and_resize"),
             helper.make_node("OneHot", ["oh", "depth", "vals"], ["o"], axis=-1),
             helper.make_node("Trilu", ["x"], ["tri"], upper=0),
             helper.make_node("DepthToSpace", ["x4", ], ["d2s"], blocksize=2, mode="CRD"),
             helper.make_node("Tile", ["x", "reps"], ["tile"]),
             helper.make_node("Slice", ["x", "st", "en", "axs", "stp"], ["sl"]),
             helper.make_node("Expand", ["col", "eshape"], ["ex"]),
             helper.make_node("BitCast", ["x"], ["bits"], to=TensorProto.INT32),
             helper.make_node("GridSample", ["x4", "grid"], ["gs"], mode="cubic", padding_mode="reflection"),
             helper.make_node("GridSample", ["x4", "grid"], ["gsn"], mode="nearest", padding_mode="zeros")]
    resize_roi = {"roi": np.array([0, 0, 0.1, 0.2, 1, 1, 0.9, 0.8], np.float32)}
    nodes[10] = helper.make_node("Resize", ["x4", "roi", "scales"], ["rl"], mode="linear",
                                 coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-1.0)
    return _model(nodes, [("x", F, ["N", 6]), ("x4", F, [1, 4, 4, 6]), ("oh", I64, ["N", 3])],
                  ["shp", "sz", "rng", "g", "ge", "gnd", "pr", "pw", "rc", "rl", "o", "tri", "d2s", "tile", "sl", "ex",
                   "bits", "gs", "gsn"],
                  {"zero": np.array(0, np.int64), "one": np.array(1, np.int64), "gi": np.array([5, -1], np.int64),
                   "gei": np.array([[0, 5, 2]], np.int64).repeat(1, 0), "ndi": np.array([[[1, 2]]], np.int64),
                   "pads": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64),
                   "scales": np.array([1, 1, 1.5, 0.5], np.float32), "depth": np.array(5, np.int64),
                   "vals": np.array([0, 3], np.float32), "reps": np.array([2, 3], np.int64),
                   "st": np.array([1, -1], np.int64), "en": np.array([2**62, -7], np.int64),
                   "axs": np.array([0, 1], np.int64), "stp": np.array([1, -2], np.int64),
                   "col": np.ones((3, 1), np.float32), "eshape": np.array([2, 3, 4], np.int64),
                   "grid": R.uniform(-1.2, 1.2, (1, 3, 2, 2)).astype(np.float32), **resize_roi},
                  opset=26)


def _tap_major_convs():
    """Convs with 16+ input channels per group: the template's tap-major loop (taps outside,
    channel chunks inside), with padding, strides, groups, a 1x1 and a one-pixel output."""
    w = lambda *s: R.standard_normal(s).astype(np.float32)   # noqa: E731
    return _model([helper.make_node("Conv", ["x", "w3", "b"], ["c3"], pads=[1, 1, 1, 1]),
                   helper.make_node("Conv", ["c3", "w1"], ["c1"], strides=[2, 2]),
                   helper.make_node("Conv", ["c1", "wg"], ["cg"], group=2, strides=[2, 1], pads=[0, 1, 2, 0]),
                   helper.make_node("Conv", ["x1", "w3"], ["cp"], pads=[1, 1, 1, 1])],
                  [("x", F, [2, 16, 8, 8]), ("x1", F, [1, 16, 1, 1])], ["cg", "cp"],
                  {"w3": w(16, 16, 3, 3), "b": w(16), "w1": w(32, 16, 1, 1), "wg": w(8, 16, 3, 3)})


MODELS = {"reductions": _reductions, "scans": _scans, "scatter_convtranspose": _scatters_and_conv_transpose,
          "views": _views, "tap_major_convs": _tap_major_convs}
_BANNED = re.compile(r"\btl\.(sum|max|min|zeros|zeros_like|cdiv|sort|softmax|argmax|argmin|cumsum|cumprod|"
                     r"xor_sum|flip|ravel|sigmoid)\(")


def _kernels(model):
    from cortado.runtime.loader import load_kernels

    m = cortado.compile(model, target="interpreter", opt_level=0)
    mod = load_kernels(m.source, interpret=False)
    for k in m.plan["kernels"]:
        step = next(s for s in m.plan["steps"] if s["kernel"] == k["name"])
        yield m, getattr(mod, k["name"]), dict(k["signature"]), step["configs"]["cuda"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_generated_source_uses_no_jit_library_functions(name):
    m = cortado.compile(MODELS[name](), target="interpreter", opt_level=0)
    assert not _BANNED.findall(m.source), _BANNED.findall(m.source)


@pytest.mark.parametrize("arch", [80, 90])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_kernels_compile_for_gpu_targets(name, arch):
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    count = 0
    for m, fn, sig, cfg in _kernels(MODELS[name]()):
        constexprs = {p: cfg[p] for p in fn.arg_names if p not in sig}
        sig.update({p: "constexpr" for p in constexprs})
        src = ASTSource(fn, sig, constexprs)
        compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32),
                                  options={"num_warps": cfg.get("num_warps", 4), "num_stages": cfg.get("num_stages", 1)})
        assert compiled.asm.get("cubin") or compiled.asm.get("ptx")
        count += 1
    assert count >= 3
