"""The code in docs/testing-passes.md runs as written (with the passes it refers to)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cortado import ir
from cortado.ops import apply
from cortado.testing import PassCheckError

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing-passes.md"


def swap_neg_relu(graph: ir.Graph) -> bool:
    """WRONG: Relu(Neg(x)) -> Neg(Relu(x))."""
    changed = False
    for node in graph.nodes:
        src = node.inputs[0].producer if node.op == "Relu" else None
        if src is not None and src.op == "Neg":
            relu = apply(graph, "Relu", [src.inputs[0]], before=node)
            neg = apply(graph, "Neg", [relu.outputs[0]], before=node)
            node.outputs[0].replace_all_uses_with(neg.outputs[0])
            changed = True
    graph.remove_unused()
    return changed


def test_doc_code_blocks_run():
    if not DOC.exists():
        pytest.skip(f"{DOC} is not in this checkout")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 4
    ns: dict = {"swap_neg_relu": swap_neg_relu}
    exec(blocks[0], ns)                              # defines collapse_relus and checks it
    ns["my_pass"] = ns["collapse_relus"]
    for block in blocks[1:]:
        if "swap_neg_relu" in block:
            with pytest.raises(PassCheckError, match="changed what the graph computes"):
                exec(block, ns)
            continue
        exec(block, ns)
        for name, fn in list(ns.items()):
            if name.startswith("test_") and callable(fn):
                fn()
                del ns[name]
