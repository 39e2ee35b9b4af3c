"""ONNX op importers: one function per ONNX op type, mapping a NodeProto to IR values.

An importer gets the context, the node, its input values (None for omitted optional inputs)
and its attributes as a dict; it returns the node's outputs (None for outputs it does not
produce, which is an error only if something uses them). Opset differences are resolved here,
so the IR sees one canonical form per op.
"""

from __future__ import annotations

from typing import Callable

ImporterFn = Callable[..., list]

ONNX_OPS: dict[str, ImporterFn] = {}


def onnx_op(*names: str):
    def deco(fn: ImporterFn) -> ImporterFn:
        for n in names:
            if n in ONNX_OPS:
                raise RuntimeError(f"ONNX op {n} has two importers")
            ONNX_OPS[n] = fn
        return fn
    return deco


def supported_onnx_ops() -> list[str]:
    return sorted(ONNX_OPS)
