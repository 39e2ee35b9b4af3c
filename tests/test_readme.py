"""The README's promises that a test can hold it to: CI runs its test command, and the tour runs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command():
    setup = _blocks("bash")[0].strip().splitlines()
    assert len(setup) == 2, "the README gives exactly two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert setup[1].strip() in ci, f"{setup[1]!r} is not what .ci/run runs"


def test_the_tour_runs(tmp_path, monkeypatch, capsys):
    tour = _blocks("python")[0].replace('"examples/tiny_cnn.onnx"', repr(str(ROOT / "examples" / "tiny_cnn.onnx")))
    tour = tour.replace('target="auto"', 'target="interpreter"')
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(tour, "README.md (tour)", "exec"), scope)
    assert scope["m"].stats["kernels"] >= 1
    np.testing.assert_allclose(scope["m2"](scope["x"]), scope["probs"], rtol=1e-5, atol=1e-6)


def test_the_pass_example_runs():
    """The user-written pass in the README passes check_pass as the README says it does."""
    (example,) = [b for b in _blocks("python") if "check_pass(collapse_relus" in b]
    exec(compile(example, "README.md (pass example)", "exec"), {})
