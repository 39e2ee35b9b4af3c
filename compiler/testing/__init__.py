"""Testing support that users share with Cortado's own suite.

``cortado.testing.strategies`` draws random valid graphs (and inputs for them) for
hypothesis; ``check_pass`` property-tests a graph pass with them (semantics and IR invariants
preserved, shrunk counterexample on failure). ``cortado.testing.models`` builds real-model
test inputs (the ONNX light architectures with seeded random weights);
``cortado.testing.reference`` runs the independent references (onnxruntime,
``onnx.reference``) and compares with dtype-aware tolerances.
"""

from . import strategies
from .check import PassCheckError, UntestedPassError, check_pass, check_pass_on, compare_outputs, structure_key
from .targets import pass_targets

__all__ = ["strategies", "check_pass", "check_pass_on", "compare_outputs", "PassCheckError", "UntestedPassError",
           "pass_targets", "structure_key"]
