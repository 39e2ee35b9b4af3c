"""A readable text form of a graph, for ``repr``, dumps after passes and test failures."""

from __future__ import annotations

import dataclasses

import numpy as np


def _attr_text(attrs) -> str:
    if attrs is None or not dataclasses.is_dataclass(attrs):
        return ""
    parts = [f"{f.name}={getattr(attrs, f.name)!r}" for f in dataclasses.fields(attrs)]
    return " {" + ", ".join(parts) + "}" if parts else ""


def _const_text(v) -> str:
    a = v.const
    if a.size <= 4:
        return np.array2string(a.reshape(-1), separator=",")
    return f"<{a.size} values>"


def format_graph(graph) -> str:
    lines = [f"graph {graph.name}("]
    lines += [f"    %{v.name}: {v.type}," for v in graph.inputs]
    lines.append(") {")
    for v in graph.constants.values():
        lines.append(f"  %{v.name}: {v.type} = const {_const_text(v)}")
    for n in graph.nodes:
        ins = ", ".join("None" if v is None else f"%{v.name}" for v in n.inputs)
        outs = ", ".join(f"%{v.name}: {v.type}" for v in n.outputs)
        lines.append(f"  {outs} = {n.op.value}({ins}){_attr_text(n.attrs)}  # {n.name}")
    outs = ", ".join(f"{name}=%{v.name}" for name, v in zip(graph.output_names, graph.outputs))
    lines.append(f"  return {outs}")
    lines.append("}")
    return "\n".join(lines)
