"""Every kind of bad input in the corpus, through the Python API and the command line.

Python: exactly the expected ``CortadoError`` subclass, a message naming the problem and its
location, within a time bound. Command line: exit code 2, one ``cortado CMD: error:`` message
(no traceback) naming the problem and its location, within a time bound, and the folder it ran
in holds exactly what it held before (no partly written output, no stray temporary file).
"""

from __future__ import annotations

import re

import pytest

from cortado.errors import CortadoError
from robust_cases import API_SECONDS, cli_in_process, run_cli, snapshot, time_limit

import corpus_artifacts
import corpus_caffe
import corpus_onnx
import corpus_runtime

CASES = corpus_onnx.CASES + corpus_caffe.CASES + corpus_runtime.CASES + corpus_artifacts.CASES
REAL_PROCESS_CASES = {"onnx_truncated", "onnx_absurd_input", "onnx_over_configured_limit", "caffe_syntax_error",
                      "caffemodel_truncated", "run_wrong_dtype", "artifact_kernels_tampered",
                      "compile_output_parent_is_file"}


def test_the_corpus_has_at_least_40_distinct_kinds():
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names), "case names must be unique"
    assert len(CASES) >= 40, len(CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_python_api(case, tmp_path):
    bad = case.make(tmp_path)
    if bad.api is None:
        pytest.skip("this input has no Python-API form")
    with time_limit(API_SECONDS), pytest.raises(CortadoError) as info:
        bad.api()
    err = info.value
    assert type(err) is case.error, f"{type(err).__name__} instead of {case.error.__name__}: {err}"
    text = str(err)
    assert re.search(case.message, text, re.S), text
    assert re.search(case.where, text, re.S), f"no location {case.where!r} in: {text}"


def check_cli_result(case, argv, code: int, stderr: str) -> None:
    assert code == 2, (code, stderr)
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith(("[", "cortado: note:"))]
    assert lines and lines[0].startswith(f"cortado {argv[0]}: error:"), stderr
    assert re.search(case.message, stderr, re.S), stderr
    assert re.search(case.where, stderr, re.S), f"no location {case.where!r} in: {stderr}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_command_line(case, tmp_path):
    """``cortado.cli.main`` in this process (what the ``cortado`` script runs): an exception
    escaping it would be a traceback, so it fails the test."""
    bad = case.make(tmp_path)
    if bad.argv is None:
        pytest.skip("this input has no command-line form")
    before = snapshot(tmp_path)
    code, _, stderr = cli_in_process(bad.argv, tmp_path, bad.env)
    check_cli_result(case, bad.argv, code, stderr)
    assert snapshot(tmp_path) == before, f"files changed: {snapshot(tmp_path) ^ before}"


# A few cases of each family also run as a real ``cortado`` process: the exit status, stderr and
# the folder are what a shell user sees (starting Python per case for all of them costs too much).

@pytest.mark.parametrize("case", [c for c in CASES if c.name in REAL_PROCESS_CASES], ids=str)
def test_real_process(case, tmp_path):
    bad = case.make(tmp_path)
    before = snapshot(tmp_path)
    r = run_cli(bad.argv, tmp_path, bad.env)
    check_cli_result(case, bad.argv, r.returncode, r.stderr)
    assert snapshot(tmp_path) == before, f"files changed: {snapshot(tmp_path) ^ before}"
