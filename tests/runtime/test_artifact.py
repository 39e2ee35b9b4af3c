"""Artifacts: save/load round trips (folder and zip), and refusal of damaged ones."""

import json
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import cortado
from cortado import runtime
from cortado.errors import ArtifactError
from cortado.ir import Graph, Sym, TensorType
from cortado import ops
from cortado.testing.reference import HOST_TARGETS


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 6), "float32"))
    w = g.add_constant(rng.standard_normal((6, 3)).astype(np.float32), "w")
    h = ops.apply(g, "MatMul", [x, w]).output
    g.add_output(ops.apply(g, "Tanh", [h]).output, "y")
    return cortado.compile(g, target="interpreter")


@pytest.mark.parametrize("target", HOST_TARGETS)
@pytest.mark.parametrize("suffix", [".cortado", ".zip"])
def test_round_trip(tmp_path, model, suffix, target):
    path = tmp_path / f"m{suffix}"
    model.save(path)
    loaded = runtime.load(path, target=target)
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    if target == model.target:
        np.testing.assert_array_equal(loaded(x), model(x))
    else:        # the same plan, another kernel body: float rounding may differ in the last bit
        np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-6)
    assert loaded.target == target
    assert loaded.input_names == ["x"] and loaded.output_names == ["y"]


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_load_needs_no_compiler(tmp_path, model, target):
    """Neither target imports the compiler; the cpu target, whose every launch here has a
    numpy form, does not even import triton."""
    path = tmp_path / "m.cortado"
    model.save(path)
    banned = ("onnx", "networkx", "lark") + (("triton",) if target == "cpu" else ())
    code = (
        "import sys, numpy as np\nfrom cortado import runtime\n"
        f"m = runtime.load({str(path)!r}, target={target!r})\n"
        "m(np.ones((2, 6), np.float32))\n"
        f"bad = [k for k in sys.modules if k.split('.')[0] in {banned!r}\n"
        "       or (k.startswith('cortado.') and not k.startswith('cortado.runtime'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tampered_kernels_refused(tmp_path, model):
    path = tmp_path / "m.cortado"
    model.save(path)
    k = path / "kernels.py"
    k.write_text(k.read_text() + "\nimport os\n")
    with pytest.raises(ArtifactError, match="kernels.py does not match its recorded hash"):
        runtime.load(path)


def test_tampered_plan_refused(tmp_path, model):
    path = tmp_path / "m.cortado"
    model.save(path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["plan"]["steps"][0]["grid"] = ["1"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="manifest.json does not match its recorded hash"):
        runtime.load(path)


def test_truncated_zip_refused(tmp_path, model):
    path = tmp_path / "m.zip"
    model.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError):
        runtime.load(path)


def test_missing_weights_refused(tmp_path, model):
    path = tmp_path / "m.cortado"
    model.save(path)
    (path / "weights.safetensors").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        runtime.load(path)


def test_future_version_refused(tmp_path, model):
    path = tmp_path / "m.cortado"
    model.save(path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["version"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="version 99"):
        runtime.load(path)


def test_not_an_artifact(tmp_path):
    with pytest.raises(ArtifactError, match="not found"):
        runtime.load(tmp_path / "nope")
    (tmp_path / "dir").mkdir()
    with pytest.raises(ArtifactError, match="no manifest.json"):
        runtime.load(tmp_path / "dir")


def test_save_replaces_artifact_atomically_and_refuses_other_folders(tmp_path, model):
    path = tmp_path / "m.cortado"
    model.save(path)
    model.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.cortado"]
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="not a Cortado artifact"):
        model.save(other)
    assert (other / "cat.jpg").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_artifact_carries_cubins_for_each_architecture(tmp_path):
    """`cortado compile --arch` stores one binary per (kernel, config, arch) with its metadata."""
    from pathlib import Path

    tiny = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"
    out = tmp_path / "t.cortado"
    r = subprocess.run([sys.executable, "-m", "cortado.cli", "compile", str(tiny), "-o", str(out), "-q",
                        "--target", "interpreter", "--arch", "sm_80,sm_90"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    entries = manifest["cubins"]
    kernels = {k["name"] for k in manifest["plan"]["kernels"]}
    assert {e["arch"] for e in entries} == {"sm_80", "sm_90"}
    assert {e["kernel"] for e in entries} == kernels
    for e in entries:
        assert (out / "cubins" / e["arch"] / e["file"]).stat().st_size > 1000
        assert e["meta"]["name"] == e["kernel"] and e["meta"]["num_warps"] >= 1
    loaded = runtime.load(out, target="interpreter")     # hashes cover the cubins too
    assert len(loaded.cubins) == len(entries)
