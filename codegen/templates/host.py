"""Host steps: the data-dependent ops (NonZero, NonMaxSuppression, Unique, TopK with a run-time
K, SSD's DetectionOutput) get no kernel. Each stands alone in a group of this kind, which the launch plan turns into a
host step (``codegen.module``) that the runtime runs with numpy between segments
(``runtime/hostops.py``, ``runtime/segments.py``).

The group reads its inputs from memory as they are (no views inlined, no prologues) and writes
its outputs to storage of their own (never into a placed Concat's slice), because the runtime
copies whole arrays in and out.
"""

from __future__ import annotations

from cortado.ir import Node, Op
from cortado.kernel_groups import Kind, Template
from cortado.ops import Category, get_op
from cortado.runtime.hostops import HOST_OPS

# IR op -> the runtime's host op (runtime/hostops.py HOST_OPS)
HOST_NAMES = {Op.NON_ZERO: "NonZero", Op.NON_MAX_SUPPRESSION: "NonMaxSuppression", Op.UNIQUE: "Unique",
              Op.TOP_K_RUNTIME: "TopK", Op.DETECTION_OUTPUT: "DetectionOutput", Op.IF: "If", Op.LOOP: "Loop",
              Op.SCAN: "Scan"}


class HostTemplate(Template):
    """A host step of the launch plan: no kernel, storage for its outputs."""

    name = "host"
    has_kernel = False
    fills_concat_slices = False

    def anchors(self, node: Node) -> bool:
        return get_op(node.op).category is Category.HOST


HOST = Kind.register(HostTemplate())


def has_host_step(op: Op) -> bool:
    """Does ``op`` run as a host step that this runtime has (``runtime.hostops.HOST_OPS``)?"""
    return HOST_NAMES.get(op) in HOST_OPS
