"""The IR's numpy references (``cortado.ops.evaluate``) on onnx's own node cases: every case
the frontend imports must evaluate to the case's expected outputs. Passes and constant folding
trust these references, so they are held to the same cases as the kernels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cortado import conformance as conf
from cortado.errors import CortadoError, UnsupportedOpError
from cortado.frontends.onnx import import_onnx
from cortado.ops import evaluate


@pytest.fixture(scope="module")
def cases():
    return conf.collect(("node",))


def _import(case):
    feeds = dict(zip([vi.name for vi in case.model.graph.input if vi.name not in
                      {t.name for t in case.model.graph.initializer}], case.inputs))
    model, frozen = case.model, {}
    for _ in range(4):
        try:
            return import_onnx(model), feeds
        except UnsupportedOpError as e:
            new = conf.inputs_to_bind(e, feeds, frozen)
            if not new:
                return None, feeds
            frozen.update(new)
            model = conf.freeze_inputs(case.model, frozen)
    return None, feeds


@pytest.mark.slow
def test_references_reproduce_the_expected_outputs(cases):
    checked, bad = 0, []
    for case in cases:
        if "bf16" in case.name or "bfloat16" in case.name:
            continue          # references compute in float64 and round once; onnx's bf16 cases do not
        graph, feeds = _import(case)
        if graph is None:
            continue
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                got = evaluate(graph, {v.name: feeds[v.name] for v in graph.inputs})
        except (CortadoError, IndexError) as e:
            bad.append(f"{case.name}: {type(e).__name__}: {e}")
            continue
        checked += 1
        for name, exp in zip(graph.output_names, case.outputs):
            why = conf.compare(got[name], exp) if exp is not None else None
            if why:
                bad.append(f"{case.name}: {name}: {why}")
    assert checked > 900
    assert not bad, "\n".join(bad[:40])
