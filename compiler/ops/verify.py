"""The full IR verifier: structure (``cortado.ir.verify_structure``) plus types re-inferred.

The pass manager runs it after every pass in tests and debug mode.
"""

from __future__ import annotations

from ..ir import Graph
from ..ir.verify import VerificationError, verify_structure
from .registry import get_op, infer_types
from cortado.runtime.errors import CortadoError


def verify(graph: Graph) -> None:
    verify_structure(graph)
    for node in graph.nodes:
        d = get_op(node.op)
        if not isinstance(node.attrs, d.attrs):
            raise VerificationError(f"node {node.name} ({node.op.value}) has attrs of type "
                                    f"{type(node.attrs).__name__}, expected {d.attrs.__name__}; "
                                    "build attrs with cortado.ops.make_attrs")
        try:
            types = infer_types(node.op, node.attrs, [None if v is None else v.type for v in node.inputs])
        except CortadoError as e:
            raise VerificationError(f"node {node.name} ({node.op.value}) no longer type-checks: {e.message}") from None
        if len(types) != len(node.outputs):
            raise VerificationError(f"node {node.name} ({node.op.value}) has {len(node.outputs)} outputs, "
                                    f"its op infers {len(types)}")
        for out, t in zip(node.outputs, types):
            if out.type != t:
                raise VerificationError(f"output %{out.name} of {node.name} ({node.op.value}) is stored as "
                                        f"{out.type} but re-infers as {t}; update value.type after changing inputs")
