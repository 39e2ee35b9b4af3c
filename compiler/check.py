"""``cortado check MODEL``: which of a model's operators Cortado supports, before compiling.

``check_model(path)`` reads an ONNX model (external data is loaded the same safe way as for
compiling), runs the frontend's importers over every node — nothing is generated or run —
and returns one ``CheckRow`` per node: op type, the opset it is read at, the element type
of its first input, and the status:

- ``supported``: the node imports (possibly through its ONNX function body);
- ``unsupported``: the importer refused it; ``reason`` says why (an attribute value, an
  element type, a shape-like input that depends on tensor data, no importer at all);
- ``blocked``: it reads a value that an unsupported node (named in ``reason``) would make,
  so it could not be checked.

``format_check(rows)`` renders the table and a summary; the CLI prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from cortado.runtime.errors import UnsupportedOpError

__all__ = ["CheckRow", "check_model", "format_check", "summarize"]


@dataclass
class CheckRow:
    index: int          # position in the model's node list
    node: str           # node name (or its first output when unnamed)
    op: str             # op type, domain-qualified outside the default domain
    opset: int | None   # the opset version the node is read at (its domain's import)
    dtype: str          # element type of the first input (or output), "?" when unknown
    status: str         # "supported" | "unsupported" | "blocked"
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "supported"


def _elem_types(model) -> dict[str, str]:
    """value name -> element type name, from the model's declared and inferred types."""
    import onnx

    from .ir import DType

    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False)
    except Exception:   # inference is a convenience here; the declared types still count
        inferred = model
    g = inferred.graph
    out: dict[str, str] = {}

    def name_of(code: int) -> str:
        try:
            return DType.from_onnx(code).value
        except ValueError:
            try:
                return onnx.TensorProto.DataType.Name(code).lower()
            except ValueError:
                return "?"

    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type
        if t.HasField("tensor_type") and t.tensor_type.elem_type:
            out[vi.name] = name_of(t.tensor_type.elem_type)
        elif t.WhichOneof("value"):
            out[vi.name] = t.WhichOneof("value").replace("_type", "")
    for init in g.initializer:
        out[init.name] = name_of(init.data_type)
    return out


def check_model(model, *, input_shapes: Mapping[str, Sequence] | None = None) -> list[CheckRow]:
    """One row per node of an ONNX model (a path, bytes or ModelProto); see the module doc.

    Malformed models raise the same ``CortadoError`` that compiling would."""
    import os

    from .frontends.onnx.importer import _DEFAULT_DOMAINS, import_onnx, node_key, node_label
    from .frontends.onnx.loader import load_model

    proto, _ = load_model(model)
    where = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    statuses: dict = {}
    try:
        import_onnx(proto, input_shapes=input_shapes, name=where, _statuses=statuses)
    except UnsupportedOpError:
        pass
    opsets = {o.domain or "": int(o.version) for o in proto.opset_import}
    types = _elem_types(proto)
    nodes = list(proto.graph.node)
    producer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    labels = [node_label(n) for n in nodes]
    status = {i: statuses.get(node_key(n)) for i, n in enumerate(nodes)}
    rows: list[CheckRow] = []
    for i, node in enumerate(nodes):
        domain = node.domain or ""
        default = domain in _DEFAULT_DOMAINS
        op = node.op_type if default else f"{domain}.{node.op_type}"
        opset = (opsets.get("", opsets.get("ai.onnx"))) if default else opsets.get(domain)
        first = next((v for v in node.input if v), None) or (node.output[0] if node.output else "")
        row = CheckRow(i, labels[i], op, opset, types.get(first, "?"), "supported")
        why = status[i]
        if why:
            row.status, row.reason = "unsupported", why
        elif why is not None:
            row.status, row.reason = "blocked", _upstream(i, nodes, producer, status, labels)
        rows.append(row)
    return rows


def _upstream(i, nodes, producer, status, labels) -> str:
    """The first unsupported node that node ``i`` depends on."""
    seen, stack = set(), [i]
    while stack:
        j = stack.pop()
        for v in nodes[j].input:
            k = producer.get(v)
            if k is None or k in seen:
                continue
            seen.add(k)
            if status.get(k):
                return f"depends on unsupported {nodes[k].op_type} node {labels[k]!r}"
            stack.append(k)
    return "depends on a value Cortado cannot import"


def summarize(rows: Sequence[CheckRow]) -> str:
    ok = sum(r.ok for r in rows)
    bad = sorted({r.op for r in rows if r.status == "unsupported"})
    text = f"{ok} of {len(rows)} nodes supported"
    if bad:
        text += f"; unsupported operators: {', '.join(bad)}"
    return text


def format_check(rows: Sequence[CheckRow], *, only_problems: bool = False) -> str:
    """The table printed by ``cortado check``: one line per node, then a summary."""
    shown = [r for r in rows if not (only_problems and r.ok)]
    head = ("#", "node", "op", "opset", "dtype", "status")
    cells = [(str(r.index), r.node, r.op, "" if r.opset is None else str(r.opset), r.dtype,
              r.status + (f": {r.reason}" if r.reason else "")) for r in shown]
    widths = [max([len(h)] + [min(len(c[k]), 40) for c in cells]) for k, h in enumerate(head[:-1])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head[:-1], widths)) + "  " + head[-1]]
    for c in cells:
        lines.append("  ".join((v if len(v) <= 40 else v[:37] + "...").ljust(w)
                               for v, w in zip(c[:-1], widths)) + "  " + c[-1])
    lines.append("")
    lines.append(summarize(rows))
    return "\n".join(lines)
