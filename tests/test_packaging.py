"""The installed layout: one `cortado` namespace, nothing generic at the top of site-packages."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"compiler": "cortado", "passes": "cortado.passes", "codegen": "cortado.codegen",
           "runtime": "cortado.runtime"}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_source_package_is_installed_under_cortado():
    on_disk = {".".join((name, *init.parent.relative_to(ROOT / folder).parts))
               for folder, name in FOLDERS.items() for init in (ROOT / folder).rglob("__init__.py")}
    assert set(_pyproject()["packages"]) == on_disk
    assert _pyproject()["package-dir"] == {name: folder for folder, name in FOLDERS.items()}


def test_the_wheel_puts_only_cortado_at_the_top_level(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wheel = next(tmp_path.glob("cortado-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"cortado"}
    assert "cortado/runtime/model.py" in zipfile.ZipFile(wheel).namelist()


def test_old_spellings_from_a_checkout_alias_the_new_modules_and_warn():
    code = ("import warnings\nwarnings.simplefilter('error', DeprecationWarning)\n"
            "try:\n    import compiler\nexcept DeprecationWarning as e:\n    print('warned:', e)\n"
            "warnings.simplefilter('ignore')\n"
            "import compiler, cortado, runtime.model, cortado.runtime.model as new\n"
            "assert compiler is cortado and runtime.model is new\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert r.returncode == 0, r.stderr
    assert "warned: 'import compiler' is deprecated: write 'import cortado'" in r.stdout


def test_importing_cortado_loads_no_compiler_dependency():
    code = ("import sys, cortado, cortado.runtime\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'onnx', 'networkx', 'lark', 'triton'})\n"
            "assert not heavy, heavy\nprint(cortado.compile.__module__)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cortado.driver"
