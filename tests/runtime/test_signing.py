"""Signed artifacts: ``cortado sign`` and ``runtime.load(path, trusted_keys=...)`` refuse
unsigned, foreign-signed, re-edited and padded artifacts before any of their content is
parsed, and still load unsigned ones by default."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="signing needs the serve extra: pip install -e '.[serve]'")

import cortado  # noqa: E402
from cortado import runtime  # noqa: E402
from cortado.errors import ArtifactError, CortadoError  # noqa: E402
from cortado.ir import Graph, Sym, TensorType  # noqa: E402
from cortado import ops  # noqa: E402
from cortado.runtime import artifact as artifact_module, artifact_signing, signing  # noqa: E402


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 5), "float32"))
    w = g.add_constant(rng.standard_normal((5, 2)).astype(np.float32), "w")
    g.add_output(ops.apply(g, "Relu", [ops.apply(g, "MatMul", [x, w]).output]).output, "y")
    return cortado.compile(g, target="interpreter")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    a = signing.generate_key(d / "a.key")
    b = signing.generate_key(d / "b.key")
    return {"a": a, "b": b}


@pytest.fixture(params=[".cortado", ".zip"])
def signed(request, tmp_path, model, keys):
    path = tmp_path / f"m{request.param}"
    model.save(path)
    artifact_signing.sign_artifact(path, keys["a"][0])
    return path


def _no_parsing(monkeypatch):
    """Make any parsing of artifact content fail loudly: refusals must come first."""
    def boom(*a, **k):
        raise AssertionError("the artifact's content was parsed before its signature was checked")
    monkeypatch.setattr(artifact_module, "_load_weights", boom)
    monkeypatch.setattr("cortado.runtime.plan_check.check_plan", boom)


def test_signed_artifact_loads_with_its_key_and_runs(signed, model, keys):
    m = runtime.load(signed, target="interpreter", trusted_keys=[keys["a"][1]])
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_array_equal(m(x), model(x))
    assert runtime.load(signed, target="interpreter")(x).shape == (3, 2)   # unsigned loading still default


def test_foreign_key_is_refused_before_anything_is_parsed(signed, keys, monkeypatch):
    _no_parsing(monkeypatch)
    with pytest.raises(ArtifactError, match="signed by a key that is not trusted"):
        runtime.load(signed, trusted_keys=[keys["b"][1]])


def test_unsigned_artifact_is_refused(tmp_path, model, keys, monkeypatch):
    path = tmp_path / "plain.cortado"
    model.save(path)
    _no_parsing(monkeypatch)
    with pytest.raises(ArtifactError, match="not signed") as e:
        runtime.load(path, trusted_keys=[keys["a"][1]])
    assert "cortado sign" in str(e.value)


def test_manifest_edited_after_signing_is_refused(tmp_path, model, keys):
    path = tmp_path / "m.cortado"
    model.save(path)
    artifact_signing.sign_artifact(path, keys["a"][0])
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["stats"]["note"] = "edited"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="does not match the manifest"):
        runtime.load(path, trusted_keys=[keys["a"][1]])


def test_kernels_edited_after_signing_are_refused(tmp_path, model, keys):
    path = tmp_path / "m.cortado"
    model.save(path)
    artifact_signing.sign_artifact(path, keys["a"][0])
    (path / "kernels.py").write_text((path / "kernels.py").read_text() + "\nimport os\n")
    with pytest.raises(ArtifactError, match="kernels.py does not match its recorded hash"):
        runtime.load(path, trusted_keys=[keys["a"][1]])


def test_files_the_manifest_does_not_list_are_refused(tmp_path, model, keys):
    path = tmp_path / "m.zip"
    model.save(path)
    artifact_signing.sign_artifact(path, keys["a"][0])
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("cubins/sm_80/extra.cubin", b"\0" * 16)
    with pytest.raises(ArtifactError, match="does not list: cubins/sm_80/extra.cubin"):
        runtime.load(path, trusted_keys=[keys["a"][1]])


def test_bad_key_inputs_are_clear(tmp_path, signed, keys):
    with pytest.raises(ArtifactError, match="trusted_keys is empty"):
        runtime.load(signed, trusted_keys=[])
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key")
    with pytest.raises(CortadoError, match="not a PEM public key"):
        runtime.load(signed, trusted_keys=[junk])
    with pytest.raises(CortadoError, match="refusing to overwrite"):
        signing.generate_key(keys["a"][0])


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cortado.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_cli_sign_and_serve_refuses_untrusted_before_starting(tmp_path, model, keys):
    path = tmp_path / "m.cortado"
    model.save(path)
    r = _cli("sign", "--generate-key", tmp_path / "k")
    assert r.returncode == 0 and (tmp_path / "k.pub").exists(), r.stderr
    r = _cli("sign", path, "--key", tmp_path / "k")
    assert r.returncode == 0, r.stderr
    assert runtime.load(path, trusted_keys=[tmp_path / "k.pub"]).output_names == ["y"]
    from cortado.runtime.serve.local import free_port

    ports = [str(free_port()) for _ in range(3)]
    r = _cli("serve", path, "--trusted-key", keys["b"][1], "--port", ports[0], "--grpc-port", ports[1],
             "--metrics-port", ports[2], "-q")
    assert r.returncode == 2 and "not trusted" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = _cli("sign", path)
    assert r.returncode == 2 and "--key" in r.stderr
