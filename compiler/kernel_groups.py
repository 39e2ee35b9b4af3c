"""Kernel groups and the registry of kernel kinds, shared by fusion, the memory plan and codegen.

This module sits beside ``cortado.ir`` and ``cortado.ops`` in the layering (it imports nothing
else), so that ``cortado.passes`` and ``cortado.codegen`` both import it and neither imports the
other for it.

A kernel kind is a ``Template``: one object that says which nodes anchor it, which neighbours
it can absorb (or why not), which typed roles its groups carry and how it renders a group into
a kernel. The fusion driver in ``cortado.passes.fusion`` asks the registered templates; it does
not know the kinds. The templates that render kernels live in ``cortado.codegen.templates``
(one file each) and register themselves there; the two bookkeeping kinds that never get a
kernel (``ALIAS``, ``PLACED``) are defined here, because the memory plan needs them without
codegen.

``Kind`` is that registry: ``Kind.CONV`` is the conv template, ``Kind("conv")`` looks it up by
name, ``list(Kind)`` lists them in registration order, ``Kind.anchoring(node)`` is the template
a node anchors when it stands alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from cortado.ir import Node, Op, Value
from cortado.runtime.errors import CortadoError

MAX_GROUP_NODES = 48          # keeps generated kernels small enough to compile quickly


class Template:
    """One kernel kind. Subclasses set ``name`` and override what they support.

    The fusion-facing rules take the fusion driver's view of the partition (``fusion``: its
    ``escaping``, ``reaches``, ``consumers``, ``is_inline``, ``is_output`` helpers) and return
    ``None`` to accept or a short reason that becomes a "why not fused" line. The driver keeps
    the cycle check and the size caps; a template only says what its kernel can compute.
    """

    name: str = ""
    has_kernel = True             # ALIAS and PLACED groups are bookkeeping, not launches
    anchored = True               # the group has an anchor node (pointwise groups do not)
    reads_through_views = False   # reads its inputs through inline views' index math
    fills_concat_slices = True    # can store its output straight into a placed Concat's slice
    takes_epilogues = False       # absorbs elementwise consumers of its result
    takes_prologues = False       # absorbs elementwise producers of its operands
    prologue_limit = MAX_GROUP_NODES   # most producer ops recomputed inside one kernel
    chains = False                # merges with producers of its own kind (pointwise chains)
    takes_siblings = False        # accumulates a sibling of its kind inside its kernel (shortcut convs)
    absorbable = False            # other kernels absorb it; fusion explains when they do not

    # -- identity: a template is its kind; ``.value`` keeps the spelling stats and messages use
    @property
    def value(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Kind.{self.name.upper()}"

    def __str__(self) -> str:
        return self.name

    # -- what anchors it --------------------------------------------------------------------
    def anchors(self, node: Node) -> bool:
        """Does ``node`` standing alone make a group of this kind?"""
        return False

    def pattern_root(self, node: Node) -> bool:
        """Does a multi-node pattern of this kind (attention) start its search at ``node``?"""
        return False

    def match(self, fusion: Any, root: Node):
        """The pattern rooted at ``root``: ``(members, anchor, roles)`` or None."""
        return None

    # -- what it absorbs ----------------------------------------------------------------------
    def epilogue_refusal(self, fusion: Any, group: Any, consumer: Any) -> str | None:
        return f"{consumer.kind.value} kernel cannot be an epilogue of {group.anchor.name}"

    def prologue_refusal(self, fusion: Any, producer: Any, group: Any) -> str | None:
        return f"{producer.kind.value} kernel cannot be a prologue"

    def sibling_refusal(self, fusion: Any, group: Any, sibling: Any, result: Value) -> str | None:
        """May ``sibling`` (a group of this kind whose one escaping value ``result`` is read
        only by ``group``'s epilogue) accumulate inside ``group``'s kernel?"""
        return "no sibling accumulation"

    # -- roles ----------------------------------------------------------------------------------
    def roles(self, found: Any = None, siblings: tuple[Node, ...] = ()) -> Any:
        """The typed roles of a finished group: what ``match`` found plus absorbed siblings."""
        return found

    # -- rendering ------------------------------------------------------------------------------
    def generate(self, group: "KernelGroup") -> Any:
        raise CortadoError(f"{self.name} groups have no kernel of their own",
                           hint="this is a compiler bug: such groups are handled by the memory plan")


class _Bookkeeping(Template):
    has_kernel = False
    fills_concat_slices = False


class AliasTemplate(_Bookkeeping):
    """A Reshape of contiguous data: a free view of its input's buffer."""

    name = "alias"


class PlacedTemplate(_Bookkeeping):
    """A Concat whose inputs are written straight into their slices of its buffer."""

    name = "placed"


class KindRegistry:
    """The registered templates, by name (``Kind.CONV``, ``Kind("conv")``)."""

    def __init__(self) -> None:
        self._by_name: dict[str, Template] = {}

    def register(self, template: Template) -> Template:
        if not template.name:
            raise ValueError(f"{type(template).__name__} has no name")
        old = self._by_name.get(template.name)
        if old is not None and type(old) is not type(template):
            raise ValueError(f"kernel kind {template.name!r} is registered twice "
                             f"({type(old).__name__}, {type(template).__name__})")
        if old is None:
            self._by_name[template.name] = template
        return self._by_name[template.name]

    def __getattr__(self, attr: str) -> Template:
        if attr.startswith("_"):
            raise AttributeError(attr)
        try:
            return self._by_name[attr.lower()]
        except KeyError:
            raise AttributeError(f"no kernel kind {attr!r} is registered; known: {', '.join(self._by_name)} "
                                 "(kernel templates register when cortado.codegen.templates is imported)") from None

    def __call__(self, name: str) -> Template:
        return getattr(self, str(name))

    def __iter__(self) -> Iterator[Template]:
        return iter(list(self._by_name.values()))

    def __contains__(self, template: object) -> bool:
        return any(t is template for t in self._by_name.values())

    def anchoring(self, node: Node) -> Template:
        """The kind a node anchors when it stands alone."""
        for t in self._by_name.values():
            if t.anchors(node):
                return t
        raise CortadoError(f"no kernel template anchors {node.op.value} (node {node.name!r})",
                           hint="import cortado.codegen.templates, which registers every kernel kind")


Kind = KindRegistry()
Kind.register(AliasTemplate())
Kind.register(PlacedTemplate())


@dataclass
class KernelGroup:
    kind: Template
    nodes: list[Node]                  # topological order
    anchor: Node | None = None         # the template/reduction node, None for pointwise
    outputs: list[Value] = field(default_factory=list)   # values written to memory
    why_not: list[str] = field(default_factory=list)     # fusion refusals, for stats
    roles: Any = None                                     # the kind's typed roles (attention: scores, softmax)

    @property
    def name(self) -> str:
        return self.nodes[0].name if len(self.nodes) == 1 else f"{self.nodes[0].name}..{self.nodes[-1].name}"


def kind_of(node: Node) -> Template:
    """The kernel kind a node anchors when it stands alone."""
    return Kind.anchoring(node)


def is_depthwise(node: Node) -> bool:
    """A Conv whose every group sees one input channel: lowered as a window op, not a GEMM."""
    return node.op is Op.CONV and node.inputs[1].shape[1] == 1 and node.attrs.group > 1


def is_alias(node: Node) -> bool:
    """A Reshape reads its input's buffer as is: row-major order is unchanged."""
    return node.op is Op.RESHAPE
