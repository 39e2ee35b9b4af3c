"""Graph, Node and Value: a small SSA IR that keeps its own use-def chains.

Every edge lives in two places (``node.inputs`` and ``value.uses``), so the only way to
change an edge is through methods here (``Node.replace_input``,
``Value.replace_all_uses_with``, ``Graph.remove``): user passes cannot let the two drift
apart. Values have identity semantics (two values with equal names are still different
values); names are kept unique per graph for printing and for the runtime's buffer names.

``graph.nodes`` is always a topological order: nodes are appended after their inputs'
producers, ``insert_before`` places a node in front of its first user, and
``toposort()`` restores the order after a pass rewires edges freely.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .dtypes import DType
from .opnames import Op
from .types import TensorType

__all__ = ["Graph", "Node", "Value", "IRError"]


class IRError(ValueError):
    """A structural misuse of the IR (an edge that would dangle, a cycle, a reused name)."""


class Value:
    """A tensor produced by one node output, a graph input, or a constant (initializer)."""

    __slots__ = ("name", "type", "_producer", "_index", "_uses", "const", "graph", "__weakref__")

    def __init__(self, name: str, type: TensorType, const: np.ndarray | None = None):
        self.name = name
        self.type = type
        self._producer: Node | None = None
        self._index = 0
        self._uses: list[tuple[Node, int]] = []
        self.const = const
        self.graph: Graph | None = None

    @property
    def producer(self) -> "Node | None":
        return self._producer

    @property
    def output_index(self) -> int:
        return self._index

    @property
    def uses(self) -> tuple[tuple["Node", int], ...]:
        """(consumer node, input position) pairs, in the order the edges were made."""
        return tuple(self._uses)

    @property
    def users(self) -> list["Node"]:
        seen: dict[int, Node] = {}
        for node, _ in self._uses:
            seen.setdefault(id(node), node)
        return list(seen.values())

    @property
    def is_constant(self) -> bool:
        return self.const is not None

    @property
    def is_graph_input(self) -> bool:
        return self.graph is not None and self in self.graph.inputs

    @property
    def is_graph_output(self) -> bool:
        return self.graph is not None and any(v is self for v in self.graph.outputs)

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    def replace_all_uses_with(self, new: "Value", *, outputs: bool = True) -> None:
        """Point every consumer (and, with ``outputs``, every graph output) at ``new``."""
        if new is self:
            return
        for node, i in list(self._uses):
            node.replace_input(i, new)
        if outputs and self.graph is not None:
            g = self.graph
            for i, v in enumerate(g.outputs):
                if v is self:
                    g.set_output(i, new)

    def __repr__(self) -> str:
        return f"%{self.name}: {self.type}"


class Node:
    """One operator application. ``inputs`` may hold None for an omitted optional input."""

    __slots__ = ("op", "name", "attrs", "_inputs", "_outputs", "graph", "meta", "__weakref__")

    def __init__(self, op: Op | str, inputs: Sequence[Value | None], outputs: Sequence[Value],
                 attrs: Any = None, name: str = ""):
        self.op = Op(op)
        self.name = name
        self.attrs = attrs
        self._inputs: tuple[Value | None, ...] = ()
        self._outputs: tuple[Value, ...] = tuple(outputs)
        self.graph: Graph | None = None
        # Free-form provenance (source layer, prototxt line); never read by passes.
        self.meta: dict[str, Any] = {}
        for i, out in enumerate(self._outputs):
            if out._producer is not None:
                raise IRError(f"value {out.name!r} already has a producer ({out._producer.name})")
            out._producer = self
            out._index = i
        for i, v in enumerate(inputs):
            self._attach(i, v)
        self._inputs = tuple(inputs)

    def _attach(self, i: int, v: Value | None) -> None:
        if v is not None:
            v._uses.append((self, i))

    def _detach(self, i: int, v: Value | None) -> None:
        if v is not None:
            v._uses.remove((self, i))

    @property
    def inputs(self) -> tuple[Value | None, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[Value, ...]:
        return self._outputs

    @property
    def output(self) -> Value:
        """The single output (most ops have exactly one)."""
        if len(self._outputs) != 1:
            raise IRError(f"node {self.name} ({self.op}) has {len(self._outputs)} outputs")
        return self._outputs[0]

    def replace_input(self, i: int, new: Value | None) -> None:
        old = self._inputs[i]
        if old is new:
            return
        self._detach(i, old)
        self._attach(i, new)
        self._inputs = self._inputs[:i] + (new,) + self._inputs[i + 1:]

    def set_inputs(self, inputs: Sequence[Value | None]) -> None:
        for i, v in enumerate(self._inputs):
            self._detach(i, v)
        for i, v in enumerate(inputs):
            self._attach(i, v)
        self._inputs = tuple(inputs)

    def _drop_inputs(self) -> None:
        self.set_inputs(())

    def __repr__(self) -> str:
        ins = ", ".join("None" if v is None else f"%{v.name}" for v in self._inputs)
        outs = ", ".join(f"%{v.name}" for v in self._outputs)
        return f"{outs} = {self.op.value}({ins})  # {self.name}"


class Graph:
    """An ordered list of nodes with named inputs, outputs and constants."""

    def __init__(self, name: str = "graph"):
        self.name = name
        self.inputs: list[Value] = []
        self._outputs: list[Value] = []
        self.output_names: list[str] = []
        self._nodes: list[Node] = []
        self.constants: dict[str, Value] = {}
        self._names: set[str] = set()
        self._counter = 0
        # Free-form facts a frontend records for users (source format, opset, symbols).
        self.meta: dict[str, Any] = {}

    # -- names ---------------------------------------------------------------------------
    def unique_name(self, hint: str) -> str:
        hint = hint or "v"
        if hint not in self._names:
            self._names.add(hint)
            return hint
        while True:
            self._counter += 1
            name = f"{hint}_{self._counter}"
            if name not in self._names:
                self._names.add(name)
                return name

    def _claim(self, value: Value) -> Value:
        if value.graph is not None and value.graph is not self:
            raise IRError(f"value {value.name!r} belongs to another graph")
        if value.graph is None:
            if value.name in self._names:
                value.name = self.unique_name(value.name)
            else:
                self._names.add(value.name)
            value.graph = self
        return value

    # -- building ------------------------------------------------------------------------
    def add_input(self, name: str, type: TensorType) -> Value:
        if name in self._names:
            raise IRError(f"graph input name {name!r} is already used")
        v = self._claim(Value(name, type))
        self.inputs.append(v)
        return v

    def add_constant(self, array: np.ndarray, name: str = "const", dtype: DType | None = None) -> Value:
        array = np.asarray(array)
        if dtype is not None:
            array = array.astype(DType(dtype).numpy)
        array = np.ascontiguousarray(array).reshape(array.shape)  # keeps 0-d arrays 0-d
        array.setflags(write=False)  # constants are shared: never overwrite one in place
        t = TensorType(array.shape, DType.from_numpy(array.dtype))
        v = Value(self.unique_name(name), t, const=array)
        v.graph = self
        self.constants[v.name] = v
        return v

    def add_output(self, value: Value, name: str | None = None) -> None:
        self._outputs.append(value)
        self.output_names.append(name or value.name)

    @property
    def outputs(self) -> tuple[Value, ...]:
        return tuple(self._outputs)

    def set_output(self, i: int, value: Value) -> None:
        self._outputs[i] = value

    def new_value(self, hint: str, type: TensorType) -> Value:
        v = Value(self.unique_name(hint), type)
        v.graph = self
        return v

    def add_node(self, op: Op | str, inputs: Sequence[Value | None], output_types: Sequence[TensorType],
                 attrs: Any = None, name: str = "", output_names: Sequence[str] | None = None,
                 before: Node | None = None) -> Node:
        """Create a node whose outputs have the given types and place it in the graph.

        Without ``before`` the node is appended (its inputs must already be defined); with it,
        the node goes right before that node. ``cortado.ops.apply`` infers the types for you.
        """
        op = Op(op)
        for v in inputs:
            if v is not None and v.graph is not self:
                raise IRError(f"input {v.name!r} of new {op.value} node is not in graph {self.name!r}")
        base = name or op.value.lower()
        names = list(output_names) if output_names else [base if len(output_types) == 1 else f"{base}_{i}"
                                                           for i in range(len(output_types))]
        outs = [Value(self.unique_name(n), t) for n, t in zip(names, output_types)]
        for o in outs:
            o.graph = self
        node = Node(op, inputs, outs, attrs, name=self.unique_name(name or base))
        node.graph = self
        if before is None:
            self._nodes.append(node)
        else:
            self._nodes.insert(self._nodes.index(before), node)
        return node

    # -- queries -------------------------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        """Nodes in topological order (a copy: safe to iterate while mutating)."""
        return list(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes))

    def __len__(self) -> int:
        return len(self._nodes)

    def values(self) -> Iterator[Value]:
        """Every value: inputs, constants, then node outputs in order."""
        yield from self.inputs
        yield from self.constants.values()
        for n in self._nodes:
            yield from n.outputs

    def find_node(self, name: str) -> Node | None:
        for n in self._nodes:
            if n.name == name:
                return n
        return None

    def find_value(self, name: str) -> Value | None:
        for v in self.values():
            if v.name == name:
                return v
        return None

    def position(self, node: Node) -> int:
        return self._nodes.index(node)

    # -- mutation ------------------------------------------------------------------------
    def remove(self, node: Node) -> None:
        """Remove a node whose outputs are unused; refuses otherwise (say which use remains)."""
        for out in node.outputs:
            if out._uses:
                user = out._uses[0][0]
                raise IRError(f"cannot remove {node.name} ({node.op.value}): its output {out.name!r} "
                              f"is still used by {user.name} ({user.op.value}); "
                              "replace_all_uses_with first")
            if out.is_graph_output:
                raise IRError(f"cannot remove {node.name}: its output {out.name!r} is a graph output")
        node._drop_inputs()
        self._nodes.remove(node)
        node.graph = None

    def remove_unused(self) -> int:
        """Dead-code elimination: drop nodes and constants nothing reaches. Returns count."""
        live: set[int] = {id(v) for v in self._outputs}
        removed = 0
        for node in reversed(self._nodes):
            if any(id(o) in live for o in node.outputs):
                live.update(id(v) for v in node.inputs if v is not None)
                continue
            node._drop_inputs()
            node.graph = None
            removed += 1
        self._nodes = [n for n in self._nodes if n.graph is self]
        for name, c in list(self.constants.items()):
            if not c._uses and not c.is_graph_output:
                del self.constants[name]
        return removed

    def toposort(self) -> None:
        """Reorder nodes topologically, stable with respect to the current order."""
        order = {id(n): i for i, n in enumerate(self._nodes)}
        pending = {id(n): sum(1 for v in n.inputs if v is not None and v.producer is not None
                               and id(v.producer) in order) for n in self._nodes}
        import heapq

        ready = [(order[id(n)], n) for n in self._nodes if pending[id(n)] == 0]
        heapq.heapify(ready)
        out: list[Node] = []
        while ready:
            _, n = heapq.heappop(ready)
            out.append(n)
            for o in n.outputs:
                for user, _ in o._uses:
                    if id(user) in pending:
                        pending[id(user)] -= 1
                        if pending[id(user)] == 0:
                            heapq.heappush(ready, (order[id(user)], user))
        if len(out) != len(self._nodes):
            stuck = [n.name for n in self._nodes if pending[id(n)] > 0][:5]
            raise IRError(f"graph {self.name!r} has a cycle through {', '.join(stuck)}")
        self._nodes = out

    def __repr__(self) -> str:
        from .printer import format_graph

        return format_graph(self)


def iter_inputs(nodes: Iterable[Node]) -> Iterator[Value]:
    for n in nodes:
        for v in n.inputs:
            if v is not None:
                yield v
