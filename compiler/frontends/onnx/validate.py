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

from cortado.runtime.errors import ModelFormatError

__all__ = ["NodeChecker", "blame"]


def blame(model: onnx.ModelProto | None, node: onnx.NodeProto, label: str, where: str | None,
          error: Exception) -> ModelFormatError | None:
    """After an importer failed unexpectedly on ``node``: a ``ModelFormatError`` when ONNX's own
    shape inference finds the model malformed too (a rank an operator cannot take, mismatched
    shapes), else None — the model is valid, and the failure is a bug in Cortado."""
    if model is None:
        return None
    try:
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:   # InferenceError, ValidationError and kin: the model is malformed
        reason = " ".join(str(e).split())[:400]
        return ModelFormatError(f"node {label!r} ({node.op_type}) cannot be imported, and ONNX's shape inference "
                                f"finds the model malformed: {reason}", where=where,
                                hint=f"Cortado's importer stopped with {type(error).__name__}: {error}")
    return None


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
        if not 1 <= opset < 2**31:
            raise ModelFormatError(f"the model imports opset {opset} of the default domain, which is not an "
                                   "ONNX opset", where=where)
        try:
            schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
        except onnx.defs.SchemaError:
            if not onnx.defs.has(node.op_type, node.domain):
                return   # not an ONNX operator: the importer reports it as unsupported
            first = min(s.since_version for s in onnx.defs.get_all_schemas_with_history()
                        if s.name == node.op_type and s.domain == node.domain)
            raise ModelFormatError(f"node {label!r} ({node.op_type}): ONNX defines {node.op_type} from opset "
                                   f"{first}, but the model imports opset {opset}", where=where,
                                   hint="the model's opset_import is wrong for the operators it uses") from None
        if schema.deprecated:
            # the checker refuses deprecated versions (GroupNormalization-18) that runtimes still
            # run; their attributes are checked against the schema here instead
            self._check_attribute_types(node, schema, label, where)
            return
        try:
            checker.check_node(node, self._context(opset))
        except (checker.ValidationError, onnx.defs.SchemaError) as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelFormatError(f"node {label!r} ({node.op_type}) does not follow the ONNX definition of "
                                   f"{node.op_type}: {reason}", where=where,
                                   hint="the model is malformed (onnx.checker.check_model reports it too)") \
                from None

    @staticmethod
    def _check_attribute_types(node: onnx.NodeProto, schema, label: str, where: str | None) -> None:
        for a in node.attribute:
            want = schema.attributes.get(a.name)
            if want is not None and int(want.type) != int(a.type):
                raise ModelFormatError(
                    f"node {label!r} ({node.op_type}): attribute {a.name!r} is "
                    f"{onnx.AttributeProto.AttributeType.Name(a.type)}, ONNX defines it as "
                    f"{onnx.AttributeProto.AttributeType.Name(int(want.type))}", where=where,
                    hint="the model is malformed (onnx.checker.check_model reports it too)")
