"""Sweeps of mechanical damage: every truncation point and many seeded bit flips of valid files.

A damaged file may still be valid (a flip inside a weight value changes only a number), so each
mutant must either load or raise a ``CortadoError`` — never another exception, never a hang.
The corpus (test_corpus.py) pins one deterministic instance of each with its exact error.
"""

from __future__ import annotations

import numpy as np
import pytest

from cortado.errors import CortadoError
from robust_cases import time_limit, tiny_onnx
from corpus_caffe import NET, caffemodel


def survives(call) -> str:
    """'ok' or the error class name; anything but a CortadoError propagates (and fails)."""
    with time_limit(20):
        try:
            call()
        except CortadoError as e:
            return type(e).__name__
    return "ok"


def mutants(data: bytes, seed: int, truncations: int, flips: int):
    rng = np.random.default_rng(seed)
    for cut in np.linspace(0, len(data) - 1, truncations).astype(int):
        yield f"cut {cut}", data[:cut]
    for _ in range(flips):
        b = bytearray(data)
        for at in rng.integers(0, len(b), rng.integers(1, 4)):
            b[at] ^= 1 << int(rng.integers(0, 8))
        yield "flip", bytes(b)


def test_onnx_truncations_and_bit_flips(tmp_path):
    from cortado import load_graph

    outcomes = {}
    for label, data in mutants(tiny_onnx().SerializeToString(), 0, truncations=40, flips=80):
        path = tmp_path / "m.onnx"
        path.write_bytes(data)
        outcomes[survives(lambda: load_graph(path))] = label
    assert "ModelLoadError" in outcomes and len(outcomes) >= 2, outcomes


def test_caffemodel_truncations_and_bit_flips(tmp_path):
    from cortado import load_graph

    proto = tmp_path / "net.prototxt"
    proto.write_text(NET)
    outcomes = {}
    for label, data in mutants(caffemodel(), 1, truncations=30, flips=60):
        (tmp_path / "w.caffemodel").write_bytes(data)
        outcomes[survives(lambda: load_graph(proto, weights=tmp_path / "w.caffemodel", quiet=True))] = label
    assert "ModelLoadError" in outcomes, outcomes


def test_prototxt_character_damage(tmp_path):
    """Deleted, doubled and swapped characters anywhere in a valid net."""
    from cortado import load_graph

    rng = np.random.default_rng(2)
    outcomes = {}
    for i in range(80):
        text = list(NET)
        at = int(rng.integers(0, len(text)))
        kind = i % 3
        if kind == 0:
            del text[at]
        elif kind == 1:
            text.insert(at, text[at])
        else:
            text[at] = "{}<>:\"#-9x\n"[int(rng.integers(0, 11))]
        (tmp_path / "net.prototxt").write_text("".join(text))
        outcomes[survives(lambda: load_graph(tmp_path / "net.prototxt", random_weights=True, quiet=True))] = i
    assert "ModelFormatError" in outcomes, outcomes


@pytest.mark.parametrize("suffix", [".zip", ".cortado"])
def test_artifact_byte_damage(tmp_path, suffix):
    """Any changed byte of any file of an artifact is refused when it loads."""
    from cortado import runtime
    from robust_cases import fresh_artifact

    path = fresh_artifact(tmp_path, "m" + suffix)
    files = [path] if suffix == ".zip" else sorted(p for p in path.rglob("*") if p.is_file())
    rng = np.random.default_rng(3)
    for i in range(24):
        f = files[i % len(files)]
        original = f.read_bytes()
        damaged = bytearray(original)
        damaged[int(rng.integers(0, len(damaged)))] ^= 1 << int(rng.integers(0, 8))
        f.write_bytes(bytes(damaged))
        outcome = survives(lambda: runtime.load(path, target="interpreter"))
        f.write_bytes(original)
        if suffix == ".cortado":   # in a folder every byte is covered by a hash or is the manifest
            assert outcome == "ArtifactError", (f.name, outcome)
