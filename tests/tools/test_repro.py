"""``cortado compile --repro``: every kernel as a standalone script that runs and checks itself."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import cortado
from cortado.codegen.repro import compare, write_repro
from cortado import ops
from cortado.ir import Graph, TensorType



@pytest.fixture(scope="module")
def bundle(tmp_path_factory, cortado, tiny):
    tmp = tmp_path_factory.mktemp("repro")
    r = cortado("compile", tiny, "--shape", "image=2x3x32x32", "-o", tmp / "tiny.cortado", "--repro",
                tmp / "repro", "--target", "interpreter", "-q")
    assert r.returncode == 0, r.stderr
    return tmp / "repro", r.stdout


def test_one_script_per_distinct_kernel(bundle, tiny):
    folder, stdout = bundle
    m = cortado.compile(str(tiny), input_shapes={"image": (2, 3, 32, 32)}, target="interpreter")
    names = {k["name"] for k in m.plan["kernels"]}
    assert {p.stem for p in folder.glob("*.py")} == names
    assert {p.stem for p in folder.glob("*.npz")} == names
    assert f"wrote {len(names)} kernel repro script(s)" in stdout
    readme = (folder / "README.md").read_text()
    assert all(f"`{n}.py`" in readme for n in names)
    # the script is the kernel's own source, not a re-generation
    for n in names:
        text = (folder / f"{n}.py").read_text()
        start = m.source.index(f"def {n}(")
        end = m.source.find("\n\n\n", start)
        body = m.source[start:end if end >= 0 else None].rstrip()
        assert body in text


def test_a_script_runs_standalone_from_anywhere(bundle, tmp_path):
    folder, _ = bundle
    script = sorted(folder.glob("conv_*.py"))[0]
    r = subprocess.run([sys.executable, str(script), "--target", "interpreter"], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "max abs error" in r.stdout and "ok" in r.stdout
    needed = {m for m in _imports(script) if m.startswith("cortado")}
    assert all(m.startswith("cortado.runtime") for m in needed), f"repros must not need the compiler: {needed}"


def _imports(path):
    import ast

    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module


def test_every_script_passes_and_a_wrong_expectation_fails(bundle, tmp_path, run_script):
    folder, _ = bundle
    for script in sorted(folder.glob("*.py")):
        code, out = run_script(script, "--target", "interpreter")
        assert code == 0, out
        assert out.count("max abs error") >= 1
    # tamper with one expected output: the script must notice and exit 1
    script = sorted(folder.glob("softmax_*.py"))[0]
    for f in (script, script.with_suffix(".npz")):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    data = dict(np.load(tmp_path / script.with_suffix(".npz").name))
    key = next(k for k in data if k.startswith("expected_"))
    data[key] = data[key] * 1.01
    np.savez(tmp_path / script.with_suffix(".npz").name, **data)
    code, out = run_script(tmp_path / script.name, "--target", "interpreter")
    assert code == 1 and "MISMATCH" in out, out


def test_placed_concat_boxes(tmp_path, rng, run_script):
    """Producers that store into a concat's buffer are replayed with the buffer's strides."""
    g = Graph("cat")
    x = g.add_input("x", TensorType((2, 3, 5, 4), "float32"))
    a = ops.apply(g, "Relu", [x]).output
    b = ops.apply(g, "Sigmoid", [x]).output
    c = ops.apply(g, "Concat", [a, ops.apply(g, "Relu", [b]).output], axis=1).output
    g.add_output(ops.apply(g, "Tanh", [c]).output, "y")
    m = cortado.compile(g, target="interpreter")
    assert m.plan["slices"], "the concat should be written in place"
    scripts = write_repro(m, tmp_path, {"x": rng.standard_normal((2, 3, 5, 4)).astype(np.float32)}, seed=0)
    assert len(scripts) == len(m.plan["kernels"])
    boxed = [s for s in scripts if "BOXES = {}" not in s.read_text()]
    assert boxed, "some script must replay a store into the concat buffer"
    for s in scripts:
        code, out = run_script(s, "--target", "interpreter")
        assert code == 0, out


def test_compare_catches_nan_shape_and_tolerance():
    e = np.array([1.0, 2.0, np.nan, 0.0], np.float32)
    assert compare(e.copy(), e, 1e-4, 1e-4)["ok"]
    a = e.copy()
    a[3] = np.nan
    assert not compare(a, e, 1e-4, 1e-4)["ok"]
    a = e.copy()
    a[1] = 2.01
    r = compare(a, e, 1e-4, 1e-4)
    assert not r["ok"] and r["bad"] == 1 and abs(r["max_abs"] - 0.01) < 1e-6
    assert not compare(e[:2], e, 1, 1)["ok"]
    assert compare(np.array([1, 2]), np.array([1, 2]), 0, 0)["ok"]
    assert not compare(np.array([1, 3]), np.array([1, 2]), 0, 0)["ok"]
