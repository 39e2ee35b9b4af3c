"""The passes that keep every float operation as it is (no re-association) also hold on
graphs with discrete ops: comparisons, logic, Where, integer and bitwise arithmetic."""

import pytest

from cortado.testing import check_pass, strategies
from cortado.passes.algebraic import simplify
from cortado.passes.constant_folding import fold_constants
from cortado.passes.cse import cse
from cortado.passes.dce import dce
from cortado.passes.layout import assign_layout
from cortado.passes.shape_folding import fold_shapes
from cortado.passes.transpose_sinking import sink_transposes

EVERY_OP = strategies.supported_ops() + strategies.supported_ops(strategies.DISCRETE, registered_only=True)


@pytest.mark.parametrize("pass_fn", [dce, cse, fold_constants, fold_shapes, simplify, sink_transposes, assign_layout],
                         ids=lambda f: f.__name__)
def test_exact_passes_on_every_op(pass_fn):
    check_pass(pass_fn, graphs=strategies.graphs(ops=EVERY_OP))
