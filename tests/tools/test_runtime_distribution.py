"""The runtime installs on its own: ``runtime/pyproject.toml`` builds ``cortado-runtime``, a
wheel holding only ``cortado/runtime/`` (never ``cortado/__init__.py``, which belongs to the full
distribution), and a fresh venv with nothing but that wheel and its dependencies (numpy, triton,
ml_dtypes, safetensors) loads a saved artifact and runs it, matching onnxruntime."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

RUN = """
import importlib.util, sys
import numpy as np
absent = [m for m in ("onnx", "networkx", "lark", "hypothesis", "onnxruntime") if importlib.util.find_spec(m)]
assert not absent, f"the runtime venv has compiler dependencies: {absent}"
from cortado import runtime
m = runtime.load(sys.argv[1], target="interpreter")
out = m.run({"image": np.load(sys.argv[2])})
np.save(sys.argv[3], out["probs"])
heavy = sorted({n.split(".")[0] for n in sys.modules} & {"onnx", "networkx", "lark"})
assert not heavy, heavy
import cortado
assert not hasattr(cortado, "__file__") or cortado.__file__ is None, "cortado is a namespace package here"
print("ran", out["probs"].shape)
"""


def test_runtime_dependencies_match_the_main_distribution():
    main = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    rt = tomllib.loads((ROOT / "runtime" / "pyproject.toml").read_text())
    deps = rt["project"]["dependencies"]
    assert {d.split(">")[0].split("<")[0].split("=")[0] for d in deps} == {"numpy", "triton", "ml_dtypes",
                                                                            "safetensors"}
    assert set(deps) <= set(main), "the same version bounds as the full distribution"
    pkgs = rt["tool"]["setuptools"]["packages"]
    on_disk = {".".join(("cortado.runtime", *i.parent.relative_to(ROOT / "runtime").parts))
               for i in (ROOT / "runtime").rglob("__init__.py")}
    assert set(pkgs) == on_disk


@pytest.mark.slow
def test_fresh_venv_with_only_the_runtime_runs_an_artifact(tmp_path, tiny):
    import onnxruntime as ort

    import cortado

    art = tmp_path / "tiny.cortado"
    cortado.compile(str(tiny), target="interpreter").save(art)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)

    # build from a copy: an in-tree build would leave build/ folders inside runtime/
    src = tmp_path / "src"
    shutil.copytree(ROOT / "runtime", src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wheel = next(wheels.glob("cortado_runtime-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"cortado"}
    assert all(n.startswith("cortado/runtime/") for n in names if ".dist-info/" not in n)
    assert "cortado/__init__.py" not in names and "cortado/runtime/model.py" in names

    venv = tmp_path / "venv"
    # a plain venv (no system site-packages); this pip installs into it, sparing it a pip of its own
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (tmp_path / "run.py").write_text(RUN)
    r = subprocess.run([str(py), str(tmp_path / "run.py"), str(art), str(tmp_path / "x.npy"),
                        str(tmp_path / "probs.npy")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "ran (2, 10)" in r.stdout

    want = ort.InferenceSession(str(tiny), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    np.testing.assert_allclose(np.load(tmp_path / "probs.npy"), want, rtol=1e-4, atol=1e-5)
