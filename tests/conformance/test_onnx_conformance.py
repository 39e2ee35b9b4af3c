"""onnx's own backend test cases through compile + run on each host target, the interpreter and
cpu (``python -m cortado.conformance``): every case passes, or is rejected with the
unsupported-operator error — never a crash — and at least 95% of the node cases of supported
operators pass (leaving out cases about element types Cortado does not have, such as float8)."""

from __future__ import annotations

import numpy as np
import pytest

from cortado import conformance as conf
from cortado.testing.reference import HOST_TARGETS


@pytest.fixture(scope="module", params=HOST_TARGETS)
def report(request):
    return conf.run(jobs=2, target=request.param)


@pytest.mark.slow
def test_no_case_crashes(report):
    errors = [f"{r.source}/{r.name}: {r.detail}" for r in report.results if r.status == "error"]
    assert not errors, "\n".join(errors)


@pytest.mark.slow
def test_supported_ops_pass(report):
    passed, total = report.supported_pass_rate(exclude_types=True)
    assert total > 900
    assert passed / total >= 0.95, conf.format_report(report)


@pytest.mark.slow
def test_no_case_computes_wrong_numbers(report):
    fails = [r for r in report.results if r.status == "fail"]
    assert not fails, "\n".join(f"{r.name}: {r.detail}" for r in fails)


@pytest.mark.slow
def test_report_tables(report):
    text = conf.format_report(report, markdown=True)
    assert "| Conv |" in text and "node cases of supported ops" in text
    skipped = [r for r in report.results if r.status == "skipped"]
    assert all("elements" in r.detail for r in skipped)


def test_compare_rules():
    a = np.array([1.0, np.nan, 3.0], np.float32)
    assert conf.compare(a, a.copy()) is None
    assert "dtype" in conf.compare(a, a.astype(np.float64))
    assert "shape" in conf.compare(a, a[:2])
    assert "differ" in conf.compare(a, a + 1)
    assert "differ" in conf.compare(np.array([1, 2]), np.array([1, 3]))


def test_single_cases_and_input_binding():
    cases = conf.collect(("node",), r"^test_reduce_sum_keepdims_example$|^test_relu$")
    results = {c.name: conf.run_case(c) for c in cases}
    assert {r.status for r in results.values()} == {"pass"}
    # the axes of ReduceSum-13 are a graph input in onnx's case: bound as a constant first
    assert results["test_reduce_sum_keepdims_example"].frozen == ("axes",)
    assert results["test_relu"].frozen == ()
