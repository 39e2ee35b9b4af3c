"""Data-dependent output sizes: each op against onnxruntime at several sizes from one compile,
the empty result included, at O0 and O2 (``runtime/segments.py``, ``runtime/hostops.py``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import cortado
from cortado.testing.reference import assert_close, run_onnxruntime

import data_dependent_models as dm


TARGET = "interpreter"      # and "cpu": every test here runs on both host targets
pytestmark = pytest.mark.usefixtures("every_host_target")


LEVELS = [0, 2]


def check(model, feeds_list, opt_level):
    """Compile once, then every feed against onnxruntime (all outputs, exact shapes)."""
    m = cortado.compile(model, target=TARGET, opt_level=opt_level)
    steps = m.plan["steps"]
    first_host = next(i for i, s in enumerate(steps) if "host" in s)
    names = [o.name for o in model.graph.output]
    for feeds in feeds_list:
        want = run_onnxruntime(model, feeds)
        got = m.run(feeds)
        for name, exp in zip(names, want):
            assert got[name].dtype == exp.dtype, name
            assert_close(got[name], exp, exp.dtype.name, what=f"{name} at {[a.shape for a in feeds.values()]}")
    return m, first_host


def _sparse(rng, shape, zero_below):
    x = rng.standard_normal(shape).astype(np.float32)
    x[x < zero_below] = 0
    return x


@pytest.mark.parametrize("opt_level", LEVELS)
def test_nonzero(opt_level):
    rng = np.random.default_rng(0)
    feeds = [{"x": _sparse(rng, (n, 5), 0.2)} for n in (1, 4, 9)] + [{"x": np.zeros((3, 5), np.float32)}]
    m, first_host = check(dm.nonzero_model(), feeds, opt_level)
    assert any("kernel" in s for s in m.plan["steps"][first_host + 1:]), "no kernel runs after the host step"
    assert m.plan["dynamic_symbols"] and not set(m.plan["dynamic_symbols"]) & set(m.plan["symbols"])


@pytest.mark.parametrize("opt_level", LEVELS)
def test_topk_with_k_an_input(opt_level):
    rng = np.random.default_rng(1)
    feeds = [{"x": rng.standard_normal((n, 8)).astype(np.float32), "k": np.array([k], np.int64)}
             for n, k in ((2, 3), (5, 8), (1, 1), (3, 0))]
    check(dm.topk_model(), feeds, opt_level)


def test_topk_k_out_of_range_is_a_clear_error():
    m = cortado.compile(dm.topk_model(), target=TARGET, opt_level=0)
    with pytest.raises(cortado.errors.InputError, match="K is 9"):
        m.run({"x": np.ones((2, 8), np.float32), "k": np.array([9], np.int64)})


def _boxes(rng, n, center):
    if center:
        xy = rng.uniform(0, 4, (1, n, 2))
        wh = rng.uniform(0.5, 2, (1, n, 2))
        return np.concatenate([xy, wh], -1).astype(np.float32)
    a = rng.uniform(0, 4, (1, n, 2))
    b = a + rng.uniform(-2, 2, (1, n, 2))          # corners in either order
    return np.concatenate([a, b], -1).astype(np.float32)


@pytest.mark.parametrize("center", [0, 1])
@pytest.mark.parametrize("opt_level", LEVELS)
def test_non_max_suppression(opt_level, center):
    rng = np.random.default_rng(2 + center)
    feeds = []
    for n, max_out, iou, thr in ((6, 3, 0.5, 0.2), (13, 10, 0.3, 0.0), (9, 2, 0.7, 0.5), (5, 4, 0.5, 2.0)):
        feeds.append({"boxes": _boxes(rng, n, center), "scores": rng.uniform(0, 1, (1, 3, n)).astype(np.float32),
                      "max_out": np.array([max_out], np.int64), "iou": np.array([iou], np.float32),
                      "thr": np.array([thr], np.float32)})
    m, _ = check(dm.nms_model(center), feeds, opt_level)
    assert m.run(feeds[-1])["sel"].shape == (0, 3)      # a threshold above every score: nothing selected


@pytest.mark.parametrize("axis", [None, 0])
@pytest.mark.parametrize("opt_level", LEVELS)
def test_unique(opt_level, axis):
    rng = np.random.default_rng(4)
    shapes = [(n,) if axis is None else (n, 3) for n in (1, 7, 12)]
    feeds = [{"x": rng.integers(0, 3, s).astype(np.float32)} for s in shapes]
    check(dm.unique_model(axis), feeds, opt_level)


def test_unique_unsorted():
    rng = np.random.default_rng(5)
    check(dm.unique_model(None, sorted_=0), [{"x": rng.integers(0, 4, (n,)).astype(np.float32)} for n in (3, 9)], 0)


@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("opt_level", LEVELS)
def test_compress(opt_level, axis):
    rng = np.random.default_rng(6)
    feeds = []
    for n in (2, 5):
        x = rng.standard_normal((4, 3) if axis is None else (n, 3 if axis == 0 else 5)).astype(np.float32)
        length = 12 if axis is None else (n if axis == 0 else 5)
        feeds.append({"x": x, "c": rng.uniform(size=length) < 0.5})
    feeds.append({"x": feeds[0]["x"], "c": np.zeros_like(feeds[0]["c"])})     # nothing kept
    check(dm.compress_model(axis), feeds, opt_level)


@pytest.mark.parametrize("opt_level", LEVELS)
def test_compress_then_unique_two_segments(opt_level):
    rng = np.random.default_rng(8)
    feeds = [{"x": rng.integers(0, 4, n).astype(np.float32), "c": rng.uniform(size=n) < 0.6} for n in (3, 10)]
    feeds.append({"x": np.ones(4, np.float32), "c": np.zeros(4, bool)})
    m, _ = check(dm.compress_unique_model(), feeds, opt_level)
    assert sum("host" in s for s in m.plan["steps"]) == 2


@pytest.mark.parametrize("opt_level", LEVELS)
def test_detector_nms_head(opt_level):
    rng = np.random.default_rng(9)
    feeds = [{"feat": rng.standard_normal((1, 8, 4, 4)).astype(np.float32)} for _ in range(3)]
    m, _ = check(dm.detector_head(), feeds, opt_level)
    sizes = {m.run(f)["sel"].shape[0] for f in feeds}
    assert sizes != {0}


def test_keep_returns_values_of_every_segment():
    m = cortado.compile(dm.nonzero_model(), target=TARGET, opt_level=0)
    x = _sparse(np.random.default_rng(10), (3, 5), 0.0)
    kept = m.run({"x": x}, keep=True)
    np.testing.assert_array_equal(kept["nz"], np.array(np.nonzero(x)))


def test_concurrent_calls_of_different_sizes():
    """Calls at once with different data-dependent sizes each get their own late buffers."""
    from concurrent.futures import ThreadPoolExecutor

    m = cortado.compile(dm.nonzero_model(), target=TARGET, opt_level=2)
    rng = np.random.default_rng(11)
    xs = [_sparse(rng, (n, 5), t) for n, t in ((2, 0.0), (6, 1.0), (4, -1.0), (5, 0.5))] * 2
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda x: m.run({"x": x})["y"], xs))
    for x, y in zip(xs, outs):
        np.testing.assert_array_equal(y, 2 * np.array(np.nonzero(x), np.float32))


def test_o3_skips_autotuning_for_data_dependent_sizes():
    m = cortado.compile(dm.nonzero_model(), target=TARGET, opt_level=3)
    assert "depend on its data" in m.stats["autotune"]
    x = _sparse(np.random.default_rng(12), (3, 5), 0.0)
    np.testing.assert_array_equal(m.run({"x": x})["nz"], np.array(np.nonzero(x)))


def test_debug_numerics_checks_the_kernels_around_host_steps():
    from cortado.debug_numerics import check_numerics, render_text

    feeds = {"feat": np.random.default_rng(13).standard_normal((1, 8, 4, 4)).astype(np.float32)}
    text = render_text(check_numerics(dm.detector_head(), target=TARGET, feeds=feeds))
    assert "kernels match the reference" in text, text


def test_refused_forms_say_why():
    from onnx import TensorProto as T
    from onnx import helper

    node = helper.make_node("Compress", ["x", "c"], ["y"], axis=1)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", T.FLOAT, [2, 3]),
                                        helper.make_tensor_value_info("c", T.BOOL, [5])],
                          [helper.make_tensor_value_info("y", T.FLOAT, None)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(cortado.errors.UnsupportedOpError, match="condition has 5 entries for an axis of 3"):
        cortado.compile(model, target=TARGET)


def test_cli_run_with_a_bad_k_exits_2(tmp_path):
    import subprocess
    import sys

    import onnx

    path = tmp_path / "topk.onnx"
    onnx.save(dm.topk_model(), path)
    np.save(tmp_path / "x.npy", np.ones((2, 8), np.float32))
    np.save(tmp_path / "k.npy", np.array([11], np.int64))
    r = subprocess.run([sys.executable, "-m", "cortado.cli", "run", str(path), "--target", "interpreter",
                        "--input", f"x={tmp_path / 'x.npy'}", "--input", f"k={tmp_path / 'k.npy'}"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "K is 11" in r.stderr, r.stderr
