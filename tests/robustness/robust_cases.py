"""The shape of a malformed-input case, and the helpers the corpus generators share.

A :class:`Case` is one *kind* of bad input: a generator that writes the bad files into a
fresh folder and returns a :class:`Bad` (the Python call that must fail, and the ``cortado``
command line that must fail), the ``CortadoError`` subclass expected, and fragments (regular
expressions) of the message: what went wrong, and where (node, layer, file:line:column).

Nothing here is a stored binary: every bad file is generated, seeded, on each run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
API_SECONDS = 20       # a Python call that takes longer counts as a hang
CLI_SECONDS = 60       # the command line (includes starting Python and importing triton)


@dataclass
class Bad:
    """How to feed one bad input: ``api`` must raise, ``argv`` (run in the case's folder) must
    exit 2. Either may be None when that surface cannot express the input."""

    api: Callable[[], object] | None
    argv: Sequence[str] | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Bad]
    error: type
    message: str            # regex: names the problem
    where: str = ""         # regex: names its location (node, layer, file, line:column)

    def __str__(self) -> str:
        return self.name


# -- time bounds ---------------------------------------------------------------------------

class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int):
    """Fail with ``Hang`` when the block runs longer than ``seconds`` (SIGALRM: main thread)."""
    def on_alarm(signum, frame):
        raise Hang(f"no result after {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
            timeout: int = CLI_SECONDS) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "cortado.cli", *map(str, argv)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def cli_in_process(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
                   timeout: int = API_SECONDS) -> tuple[int, str, str]:
    """``cortado ARGV`` through ``cortado.cli.main`` in this process: (exit code, stdout,
    stderr). An exception escaping ``main`` is what a user would see as a traceback, so it
    propagates (and fails the test); ``SystemExit`` (argparse) becomes its code."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from cortado.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_cwd, old_env = Path.cwd(), dict(os.environ)
    os.environ.update(env or {})
    os.chdir(cwd)
    try:
        with time_limit(timeout), redirect_stdout(out), redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
    return code, out.getvalue(), err.getvalue()


def snapshot(folder: Path) -> set[str]:
    """Every path under ``folder`` (files, folders, links), relative."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


# -- ONNX building blocks ---------------------------------------------------------------------

F32 = TensorProto.FLOAT


def vi(name: str, shape, elem: int = F32) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def onnx_model(nodes, inputs, outputs, inits=(), opset: int = 17) -> onnx.ModelProto:
    g = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def tiny_onnx(batch: int | str = 2) -> onnx.ModelProto:
    """x[batch, 4] -> MatMul(w) -> Relu -> y: small, valid, with one initializer."""
    w = numpy_helper.from_array(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), "w")
    return onnx_model([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                       helper.make_node("Relu", ["h"], ["y"], name="relu")],
                      [vi("x", [batch, 4])], [vi("y", [batch, 3])], [w])


def write_model(folder: Path, model, name: str = "model.onnx") -> Path:
    path = folder / name
    path.write_bytes(model if isinstance(model, (bytes, bytearray)) else model.SerializeToString())
    return path


def compile_api(path: Path, **kwargs) -> Callable[[], object]:
    def call():
        import cortado

        return cortado.compile(path, target="interpreter", **kwargs)
    return call


def compile_argv(path: Path, *extra: str) -> list[str]:
    return ["compile", path.name, "-o", "out.cortado", "--target", "interpreter", "-q", *extra]


def model_case(folder: Path, model, *extra_argv: str, name: str = "model.onnx", **api_kwargs) -> Bad:
    """The usual pair for a bad model file: compile it in Python, and with ``cortado compile``."""
    path = write_model(folder, model, name)
    return Bad(compile_api(path, **api_kwargs), compile_argv(path, *extra_argv))


# -- a compiled artifact to damage -------------------------------------------------------------

_ARTIFACT: dict[str, Path] = {}
_MODEL: dict[str, object] = {}


def tiny_model():
    """``tiny_onnx`` with a dynamic batch, compiled once per process for the interpreter."""
    if "m" not in _MODEL:
        import cortado

        _MODEL["m"] = cortado.compile(tiny_onnx("N"), target="interpreter")
    return _MODEL["m"]


def fresh_artifact(folder: Path, name: str = "m.cortado") -> Path:
    """A copy of a small compiled artifact (``tiny_onnx`` with a dynamic batch N, compiled
    once per process) in ``folder``."""
    if "dir" not in _ARTIFACT:
        src = Path(tempfile.mkdtemp(prefix="cortado-robust-")) / "m.cortado"
        tiny_model().save(src)
        _ARTIFACT["dir"] = src
    dst = folder / name
    if name.endswith(".zip"):
        shutil.make_archive(str(dst.with_suffix("")), "zip", _ARTIFACT["dir"])
    else:
        shutil.copytree(_ARTIFACT["dir"], dst)
    return dst


def load_api(path: Path, feeds: dict | None = None) -> Callable[[], object]:
    def call():
        from cortado import runtime
        m = runtime.load(path, target="interpreter")
        return m.run(feeds if feeds is not None else {"x": np.ones((2, 4), np.float32)})
    return call


def run_argv(path: Path, *extra: str) -> list[str]:
    return ["run", path.name, "--target", "interpreter", "-q", *extra]


def seeded_bytes(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
