"""A model computes its sizes once per binding of its symbols and reuses them: calls that
alternate between batch sizes stay right, each binding is computed once, and a size limit
lowered between calls is still enforced."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado.errors import ResourceLimitError
from cortado.testing.reference import HOST_TARGETS, assert_close, run_onnxruntime
from tests.runtime.small_cnn import images, small_cnn


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_alternating_batch_sizes_reuse_their_sizes(target):
    model = cortado.compile(small_cnn(), target=target)
    for batch in (1, 3, 1, 2, 3, 2):
        x = images(batch, seed=batch)
        assert_close(model.run({"image": x})["probs"], run_onnxruntime(small_cnn(), {"image": x})[0])
    assert sorted(model._sizes.bindings) == [(1,), (2,), (3,)]
    sized = model._sizes.at({"N": 3})
    model.run({"image": images(3, seed=9)})
    assert model._sizes.at({"N": 3}) is sized          # not recomputed


def test_a_lowered_limit_is_checked_at_sizes_already_seen():
    model = cortado.compile(small_cnn(), target="cpu")
    model.run({"image": images(2, seed=0)})
    model.max_elements = 100
    with pytest.raises(ResourceLimitError):
        model.run({"image": images(2, seed=0)})
    model.max_elements = None
    np.testing.assert_equal(model.run({"image": images(2, seed=0)})["probs"].shape, (2, 5))
