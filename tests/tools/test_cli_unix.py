"""The CLI behaves as a Unix tool: a closed pipe and Ctrl-C end it quietly (no traceback, no
partial file), a missing optional dependency is one line naming the extra, warnings are
one-line notices (silent under -q), hints speak CLI, and ``--help`` imports nothing heavy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import onnx
import pytest
from onnx import TensorProto, helper

from cortado.commands.messages import to_cli


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "cortado.cli", *map(str, args)], **kw)


def _relu_chain(path, n: int, dims=(4, 8)):
    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"], name=f"relu{i}") for i in range(n)]
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("v0", TensorProto.FLOAT, list(dims))],
                          [helper.make_tensor_value_info(f"v{n}", TensorProto.FLOAT, list(dims))])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_closed_pipe_ends_quietly(tmp_path):
    model = _relu_chain(tmp_path / "long.onnx", 300)
    p = _cli("check", model, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()           # the reader is gone before the first line is written, as with `| head -0`
    _, err = p.communicate(timeout=120)
    err = err.decode()
    assert p.returncode == 141, (p.returncode, err)
    assert "Broken pipe" not in err and "Traceback" not in err and "error" not in err


def test_ctrl_c_ends_with_130_and_no_partial_file(tmp_path):
    model = _relu_chain(tmp_path / "m.onnx", 300)     # seconds of passes, whatever the machine's load
    out = tmp_path / "m.cortado"
    p = _cli("compile", model, "-o", out, "--target", "interpreter", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
             text=True)
    seen = ""
    while "optimizing" not in seen:        # interrupt inside the compile, not before or after it
        line = p.stderr.readline()
        assert line, f"the compile ended before it optimized: {seen}"
        seen += line
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    err = seen + err
    if p.returncode == 0:
        pytest.skip("the compile finished before the interrupt arrived (a very fast machine)")
    assert p.returncode == 130, (p.returncode, err)
    assert "Traceback" not in err and "interrupted" in err
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.onnx"], "no partial artifact"


def test_missing_onnxruntime_is_one_line_before_any_work(tmp_path, tiny):
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "from cortado.cli import main\n"
            f"sys.exit(main(['bench', {str(tiny)!r}, '--against', 'onnxruntime', '--target', 'interpreter']))")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "cortado bench: error: --against onnxruntime needs onnxruntime: pip install 'cortado[bench]'"]
    assert r.stdout == "" and time.perf_counter() - t0 < 30, "it must not compile or time first"


def test_bench_honours_runs_on_the_interpreter(cortado, tmp_path):
    model = _relu_chain(tmp_path / "m.onnx", 1)
    r = cortado("bench", model, "--runs", "10", "--warmup", "0", "--target", "interpreter", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[-1] == "10"


def test_warnings_are_one_line_notices_or_silent(cortado, tmp_path):
    proto = tmp_path / "fc.prototxt"
    proto.write_text('name: "fc"\nlayer { name: "data" type: "Input" top: "data" input_param { shape: { dim: 1 '
                     'dim: 4 } } }\nlayer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" '
                     'inner_product_param { num_output: 2 } }\n')
    r = cortado("convert", proto, "--random-weights", "-o", tmp_path / "fc.onnx")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cortado: note: fc.prototxt: using seeded random weights")
    assert "UserWarning" not in r.stderr and "warnings.warn" not in r.stderr


def test_quiet_ahead_of_time_compile_prints_nothing_on_stderr(cortado, tmp_path):
    model = _relu_chain(tmp_path / "m.onnx", 1)
    r = cortado("compile", model, "--arch", "sm_90", "-q", "-o", tmp_path / "m.cortado", "--target", "interpreter")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr


def test_hints_use_cli_syntax(cortado, tmp_path, tiny):
    r = cortado("run", tiny, "--target", "cuda")
    if r.returncode == 0:
        pytest.skip("this machine has a GPU, so --target cuda is not refused")
    assert r.returncode == 2 and "--target cpu" in r.stderr and "target='" not in r.stderr
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "noshape.onnx")
    r = cortado("compile", tmp_path / "noshape.onnx", "-o", tmp_path / "x.cortado")
    assert r.returncode == 2 and "--shape x=" in r.stderr and "input_shapes" not in r.stderr


@pytest.mark.parametrize("python,cli", [
    ("use target='interpreter' or 'auto'", "use --target interpreter or --target auto"),
    ("pass input_shapes={'x': (...)} (CLI: --shape x=1x3x224x224)", "pass --shape x=1x3x224x224"),
    ("pass weights=NET.caffemodel (CLI --weights), or random_weights=True (CLI --random-weights) to try it",
     "pass --weights NET.caffemodel, or --random-weights to try it"),
    ("a binary .caffemodel goes in weights= / --weights; the model is the .prototxt",
     "a binary .caffemodel goes in --weights; the model is the .prototxt"),
])
def test_library_hints_translate_to_flags(python, cli):
    assert to_cli(python) == cli


def test_help_imports_nothing_heavy():
    code = ("import sys\nfrom cortado.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = ('numpy', 'onnx', 'onnxruntime', 'triton', 'networkx', 'lark', 'ml_dtypes')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
    code = ("import sys\nfrom cortado.cli import main\n"
            f"main(['check', {os.fspath(os.path.join(os.path.dirname(__file__), '..', '..', 'examples', 'tiny_cnn.onnx'))!r}])\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'triton', 'onnxruntime', 'networkx', 'lark'}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]", "cortado check compiles nothing: no triton, no networkx"
