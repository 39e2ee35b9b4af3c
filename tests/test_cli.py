"""The command line: the README's main job works, and user errors exit 2 with one message."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "examples" / "tiny_cnn.onnx"


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cortado.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT)


def test_compile_then_run_artifact(tmp_path):
    out = tmp_path / "tiny.cortado"
    r = cli("compile", TINY, "-o", out, "--target", "interpreter", "-q")
    assert r.returncode == 0, r.stderr
    assert "kernels" in r.stdout and (out / "manifest.json").exists()
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = cli("run", out, "--input", f"image={tmp_path / 'x.npy'}", "--save-outputs", tmp_path / "outs",
                "--target", "interpreter", "-q")
    assert r.returncode == 0, r.stderr
    probs = np.load(tmp_path / "outs" / "probs.npy")
    assert probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_run_model_directly_with_random_inputs():
    r = cli("run", TINY, "--target", "interpreter", "-q")
    assert r.returncode == 0, r.stderr
    assert "probs: float32[1, 10]" in r.stdout


@pytest.mark.parametrize("args,message", [
    (("run", "missing.onnx"), "model file not found"),
    (("compile", ROOT / "README.md"), "not a valid ONNX model"),
    (("compile", TINY, "--shape", "image=1x-3x32x32"), "is not a positive integer"),
    (("compile", TINY, "--shape", "image=1x3x32"), "rank 3, but the model declares rank 4"),
    (("compile", TINY, "--shape", "nope=1x3x32x32"), "no input of"),
    (("compile", TINY, "--shape", "image=1x3x1x1", "-o", "never-written.cortado"), "window of 2 does not fit"),
    (("run", TINY, "--input", "image=missing.npy"), "input file not found"),
    (("run", TINY, "--input", "nope=random"), "has no input 'nope'"),
    (("compile", TINY, "--arch", "sm_42"), "unknown GPU architecture"),
    (("compile", TINY, "--disable", "layuot"), "unknown pass name.*layuot"),
    (("compile", TINY, "--dump-after", "cse,nope"), "unknown pass name.*nope"),
])
def test_user_errors_exit_2_without_traceback(tmp_path, args, message):
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert not list(tmp_path.iterdir()), "a failed command must not leave files behind"
    assert "Traceback" not in r.stderr
    message_lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("[")]   # not progress
    assert len(message_lines) <= 3
    import re
    assert re.search(message, r.stderr), r.stderr


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    r = cli("run", TINY, "--input", f"image={tmp_path / 'obj.npy'}")
    assert r.returncode == 2 and "not a readable .npy" in r.stderr


def test_wrong_input_shape_at_run_time(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 16, 16), np.float32))
    r = cli("run", TINY, "--input", f"image={tmp_path / 'x.npy'}", "--target", "interpreter")
    assert r.returncode == 2 and "'image' expects shape (N, 3, 32, 32), got (1, 3, 16, 16)" in r.stderr


def test_dtype_and_no_tf32_are_recorded_in_the_plan(tmp_path):
    import json

    import cortado

    out = tmp_path / "tiny16.cortado"
    r = cli("compile", TINY, "-o", out, "--target", "interpreter", "--dtype", "float16", "--no-tf32", "-q")
    assert r.returncode == 0, r.stderr
    plan = json.loads((out / "manifest.json").read_text())["plan"]
    assert plan["precision"] == {"dtype": "float16", "allow_tf32": False}
    assert [i["dtype"] for i in plan["inputs"]] == ["float32"], "half models keep float32 inputs"
    dots = [s["configs"] for s in plan["steps"] if "PRECISION" in s["configs"]["cuda"]]
    assert dots and {c["cuda"]["PRECISION"] for c in dots} == {"ieee"}
    # the default keeps tf32 for float32 dots on GPUs; the interpreter is always exact
    default = cortado.compile(str(TINY), target="interpreter").plan
    assert default["precision"] == {"dtype": "float32", "allow_tf32": True}
    steps = [s["configs"] for s in default["steps"] if "PRECISION" in s["configs"]["cuda"]]
    assert {c["cuda"]["PRECISION"] for c in steps} == {"tf32"}
    assert {c["interpreter"]["PRECISION"] for c in steps} == {"ieee"}


def test_convert_caffe_to_onnx(tmp_path, shared_dir):
    import onnx

    caffe = shared_dir / "models" / "caffe"
    out = tmp_path / "lenet.onnx"
    r = cli("convert", caffe / "mnist__lenet.prototxt", "--weights", caffe / "mnist__lenet_iter_10000.caffemodel",
                "-o", out)
    assert r.returncode == 0, r.stderr
    onnx.checker.check_model(onnx.load(str(out)))
    r = cli("convert", caffe / "mnist__lenet.prototxt", "-o", tmp_path / "no.onnx")
    assert r.returncode == 2 and "no weights were given" in r.stderr
    assert not (tmp_path / "no.onnx").exists()


def test_check_lists_every_op_and_exits_1_on_unsupported(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    r = cli("check", TINY)
    assert r.returncode == 0 and "10 of 10 nodes supported" in r.stdout and "Conv" in r.stdout
    node = helper.make_node("Bernoulli", ["x"], ["y"], name="coin")      # random ops are not supported
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    path = tmp_path / "nz.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    r = cli("check", path)
    assert r.returncode == 1 and "unsupported" in r.stdout and "Bernoulli" in r.stdout


def test_bench_against_onnxruntime():
    r = cli("bench", TINY, "--against", "onnxruntime", "--target", "interpreter", "--runs", "2",
                "--warmup", "0", "-q")
    assert r.returncode == 0, r.stderr
    assert "onnxruntime" in r.stdout and "largest output difference" in r.stdout
    diff = float(r.stdout.strip().splitlines()[-1].split(":")[-1])
    assert diff < 1e-4


def test_disable_and_dump_after_passes(tmp_path):
    """--disable fold_batchnorm keeps the BatchNormalization (one more node, fused as the conv's
    epilogue); --dump-after prints the graph after the named pass to stderr, and the artifact is
    still written."""
    counts = {}
    for flags in ((), ("--disable", "fold_batchnorm,horizontal")):
        out = tmp_path / f"tiny{len(flags)}.cortado"
        r = cli("compile", TINY, "-o", out, "--target", "interpreter", "-q", "--dump-after", "optimize", *flags)
        assert r.returncode == 0, r.stderr
        assert "// graph after optimize" in r.stderr and "graph tiny_cnn(" in r.stderr
        counts[bool(flags)] = int(r.stdout.split("nodes ")[1].split(" -> ")[1].split(",")[0])
        assert (out / "manifest.json").exists()
        assert ("BatchNormalization" in r.stderr) == bool(flags)
    assert counts[True] == counts[False] + 1
