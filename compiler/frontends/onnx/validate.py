"""Each node checked against its ONNX operator schema before an importer reads it.

Importers read ``node.input[1]`` and ``attrs["blocksize"]`` as the operator's definition says
they may. A damaged or hand-edited model can break that promise (an input missing, an
attribute absent or of the wrong type), and the importer would then fail with an
``IndexError`` deep inside. ``onnx.checker.check_node`` knows every operator's input counts
and attribute types for the model's opset, so one check here turns all of those into a
``ModelFormatError`` naming the node. Value errors (an axis out of range, a kernel larger
than its input) remain the importers' and the shape inference's to report.
"""

from __future__ import annotations

import onnx
from onnx import checker

from runtime.errors import ModelFormatError

__all__ = ["NodeChecker"]


class NodeChecker:
    """``check(node, label, where, opset)`` for the nodes of one model (its opsets and IR
    version; ``opset`` is the default domain's where the node is, e.g. inside a function)."""

    def __init__(self, model: onnx.ModelProto):
        self.ir_version = model.ir_version or onnx.IR_VERSION
        self.imports = {o.domain: int(o.version) for o in model.opset_import}
        self._contexts: dict[int, checker.C.CheckerContext] = {}

    def _context(self, opset: int) -> checker.C.CheckerContext:
        ctx = self._contexts.get(opset)
        if ctx is None:
            ctx = checker.C.CheckerContext()
            ctx.ir_version = self.ir_version
            ctx.opset_imports = {**self.imports, "": opset}
            self._contexts[opset] = ctx
        return ctx

    def check(self, node: onnx.NodeProto, label: str, where: str | None, opset: int) -> None:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            return   # subgraphs see outer-scope names the checker cannot know about here
        try:
            onnx.defs.get_schema(node.op_type, opset, node.domain)
        except onnx.defs.SchemaError:
            return   # no definition at this opset: the importer reports what it cannot import
        try:
            checker.check_node(node, self._context(opset))
        except (checker.ValidationError, onnx.defs.SchemaError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelFormatError(f"node {label!r} ({node.op_type}) does not follow the ONNX definition of "
                                   f"{node.op_type}: {reason}", where=where,
                                   hint="the model is malformed (onnx.checker.check_model reports it too)") \
                from None
