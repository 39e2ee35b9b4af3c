"""Outputs are whole or absent: a save that fails (or is killed) part-way leaves neither a partial
file nor a stray temporary behind, and never damages what was there before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cortado import runtime
from cortado.errors import CortadoError
from robust_cases import ROOT, cli_in_process, fresh_artifact, snapshot, tiny_model, tiny_onnx, write_model
from corpus_caffe import NET


class DiskFull(OSError):
    def __init__(self):
        super().__init__(28, "No space left on device")


def fail_after(monkeypatch, target, name: str, calls: int):
    """Make ``target.name`` raise ``DiskFull`` from its ``calls``-th call on."""
    real = getattr(target, name)
    count = {"n": 0}

    def wrapper(*args, **kwargs):
        count["n"] += 1
        if count["n"] >= calls:
            raise DiskFull()
        return real(*args, **kwargs)
    monkeypatch.setattr(target, name, wrapper)


@pytest.mark.parametrize("suffix", [".cortado", ".zip"])
@pytest.mark.parametrize("existing", [False, True])
def test_failed_artifact_save_leaves_old_or_nothing(tmp_path, monkeypatch, suffix, existing):
    import cortado.runtime.artifact as artifact
    import zipfile

    path = tmp_path / f"m{suffix}"
    if existing:
        tiny_model().save(path)
    before = snapshot(tmp_path)
    if suffix == ".zip":
        fail_after(monkeypatch, zipfile.ZipFile, "writestr", 2)
    else:
        fail_after(monkeypatch, artifact, "_write_file", 2)
    with pytest.raises(CortadoError, match="cannot write the artifact.*No space left"):
        tiny_model().save(path)
    assert snapshot(tmp_path) == before
    if existing:
        x = np.ones((3, 4), np.float32)
        np.testing.assert_array_equal(runtime.load(path, target="interpreter")(x), tiny_model()(x))


def test_failed_compile_save_on_the_command_line(tmp_path, monkeypatch):
    import cortado.runtime.artifact as artifact

    write_model(tmp_path, tiny_onnx())
    before = snapshot(tmp_path)
    fail_after(monkeypatch, artifact, "_write_file", 3)
    code, _, err = cli_in_process(["compile", "model.onnx", "-o", "out.cortado", "--target", "interpreter", "-q"],
                                  tmp_path)
    assert code == 2 and "cannot write the artifact" in err, err
    assert snapshot(tmp_path) == before


def test_failed_save_outputs_leaves_no_partial_file(tmp_path, monkeypatch):
    import cortado.runtime.loader as loader

    art = fresh_artifact(tmp_path)
    before = snapshot(tmp_path)
    real_fdopen = os.fdopen

    class ShortWrite:
        """A file whose write fails half-way, as on a full disk."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise DiskFull()

    monkeypatch.setattr(loader.os, "fdopen", lambda fd, mode="r", *a, **k: ShortWrite(real_fdopen(fd, mode, *a, **k)))
    code, _, err = cli_in_process(["run", art.name, "--save-outputs", "outs", "--target", "interpreter", "-q"],
                                  tmp_path)
    assert code == 2 and "cannot write outs" in err and "No space left" in err, err
    after = snapshot(tmp_path)
    assert after - before <= {"outs"}, after - before      # at most the (empty) folder it was asked for
    assert not any((tmp_path / "outs").iterdir())


def test_failed_convert_leaves_no_partial_file(tmp_path, monkeypatch):
    (tmp_path / "net.prototxt").write_text(NET)
    before = snapshot(tmp_path)
    fail_after(monkeypatch, os, "fsync", 1)
    code, _, err = cli_in_process(["convert", "net.prototxt", "--random-weights", "-o", "net.onnx"], tmp_path)
    assert code == 2, err
    assert "Traceback" not in err and "net.onnx" in err, err
    assert snapshot(tmp_path) == before


KILLED_SAVER = """
import sys, cortado
sys.path.insert(0, {tests!r})
from robust_cases import tiny_onnx
m = cortado.compile(tiny_onnx("N"), target="interpreter")
m.constants["pad"] = __import__("numpy").zeros(2_000_000, "float32")   # a few MB per save
print("ready", flush=True)
while True:
    m.save({path!r})
"""


@pytest.mark.parametrize("suffix", [".cortado", ".zip"])
def test_killed_saver_never_leaves_a_partial_artifact(tmp_path, suffix):
    """SIGKILL a process that saves an artifact over and over: what is at the path is always a
    complete artifact (a killed process may leave its hidden temporary, never a partial one)."""
    path = tmp_path / f"m{suffix}"
    code = KILLED_SAVER.format(tests=str(Path(__file__).parent), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        for delay in (0.3, 0.2, 0.45):
            time.sleep(delay)
            if path.exists():
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert path.exists(), "the saver never finished one save"
    runtime.load(path, target="interpreter")          # complete, and its hashes hold
    visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert visible == [path.name]


def test_written_files_have_the_usual_permissions(tmp_path):
    """Atomic writes go through private temporaries; what lands keeps the mode a plain write
    would give (an artifact shared with a serving account must stay readable)."""
    import stat

    from cortado.runtime.loader import _UMASK, write_atomic

    tiny_model().save(tmp_path / "m.cortado")
    tiny_model().save(tmp_path / "m.zip")
    write_atomic(tmp_path / "o.npy", b"x")
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)
    assert mode(tmp_path / "m.cortado") == 0o777 & ~_UMASK
    assert mode(tmp_path / "m.cortado" / "manifest.json") == 0o666 & ~_UMASK
    assert mode(tmp_path / "m.zip") == mode(tmp_path / "o.npy") == 0o666 & ~_UMASK
