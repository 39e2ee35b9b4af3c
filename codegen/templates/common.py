"""Pieces every kernel generator shares: the function header and the docstring."""

from __future__ import annotations

from typing import Sequence

from cortado.ir import Node, Value
from cortado.ir.dims import Dim

from ..text import drop_unused_assignments
from ..writer import KernelWriter


def describe(nodes: Sequence[Node]) -> str:
    return ", ".join(f"{n.op.value}" for n in nodes)


def function_source(w: KernelWriter, constexprs: Sequence[str], nodes: Sequence[Node],
                    outputs: Sequence[Value], bytes_moved: Dim, prologue: str = "") -> str:
    """``@triton.jit def NAME(...)`` around the writer's body (NAME is filled in later)."""
    # Shapes and byte counts differ between launches of one kernel; they go in the module's
    # comment above the kernel, not here, so that identical kernels stay identical text.
    signature = w.signature(constexprs)
    # Sizes are not specialized (Triton would otherwise compile a variant per value that is 1
    # or divisible by 16): one binary per kernel serves every batch size.
    sizes = [p.name for p in w.params if p.kind == "size"]
    decorator = f"@triton.jit(do_not_specialize={sizes!r})" if sizes else "@triton.jit"
    lines = [
        decorator,
        f"def NAME({signature}):",
        f'    """{describe(nodes)}."""',
    ]
    if prologue:
        lines += ["    " + ln if ln else "" for ln in prologue.splitlines()]
    head = "\n".join(lines)
    return head + "\n" + drop_unused_assignments(w.body.getvalue(), context=head)


def what(nodes: Sequence[Node], limit: int = 3) -> str:
    """A short name for a kernel from its ops: conv_relu, add_relu, softmax."""
    names = []
    for n in nodes:
        s = n.op.value
        s = "".join("_" + ch.lower() if ch.isupper() and i else ch.lower() for i, ch in enumerate(s))
        if s not in names:
            names.append(s)
    return "_".join(names[:limit]) + ("_etc" if len(names) > limit else "")
