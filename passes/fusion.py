"""Fusion partitioning: which nodes share a kernel.

At O0 every node is its own kernel (a Reshape is a free alias of its input's buffer). Higher
levels merge producers and consumers into pointwise chains, reductions with prologue and
epilogue, and templates with epilogues.
"""

from __future__ import annotations

from compiler.ir import Graph

from .groups import KernelGroup, Kind, is_alias, kind_of


def partition_unfused(graph: Graph) -> list[KernelGroup]:
    groups = []
    for node in graph.nodes:
        if is_alias(node):
            groups.append(KernelGroup(Kind.ALIAS, [node], node, list(node.outputs)))
            continue
        kind = kind_of(node)
        anchor = None if kind is Kind.POINTWISE else node
        groups.append(KernelGroup(kind, [node], anchor, list(node.outputs)))
    return groups


def partition(graph: Graph, fuse: bool = False) -> list[KernelGroup]:
    return partition_unfused(graph)
