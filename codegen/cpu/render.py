"""Render one kernel group as a numpy function (the ``cpu`` target).

The Triton templates tile a group's work per program; on a CPU the fastest plain-Python form
of the same group is a few whole-tensor numpy operations: a convolution is its windows and
one matmul, a GEMM is ``np.matmul``, epilogues and prologues are ufuncs over whole tensors,
reductions keep their dims. So a group renders node by node, in order, each node one
statement over the values it reads; what leaves the group is written into the planned
buffers (``out=`` where a ufunc or matmul can write there directly).

A function takes the group's inputs, then its outputs (arrays of the values' shapes; a value
stored in a placed Concat's buffer comes as the flat buffer from its first element and is
boxed with the buffer's strides), then the symbolic sizes it uses. Each op's
emitter is registered with ``cpu_op`` (``codegen/cpu/*.py``); an op without one makes the
group ``Unsupported``, and the runtime runs that group's Triton kernel on the interpreter.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass, field
from typing import Callable

from cortado.ir import DType, Node, Op, Value
from cortado.kernel_groups import KernelGroup

from .helpers import ORDER as HELPERS

__all__ = ["CPU_OPS", "Expr", "FnWriter", "Unsupported", "cpu_op", "render_group", "ufunc"]

CPU_OPS: dict[Op, Callable] = {}
# storage types numpy computes as the kernels do; half types go to the interpreter
CPU_DTYPES = {"float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "bool"}
# names a value may not take: the module's helpers and imports, and Python's builtins
_RESERVED = set(HELPERS) | {"np", "as_strided", "itertools", "inspect", "math"} | set(dir(builtins))


class Unsupported(Exception):
    """The cpu target has no numpy form of this group (the reason says what is missing)."""


def cpu_op(*ops: Op):
    """Decorator: ``fn(w, node, xs) -> Expr | str | list`` emits ``ops`` (``xs``: the input
    expressions, None for absent optional inputs)."""
    def deco(fn):
        for op in ops:
            if op in CPU_OPS:
                raise ValueError(f"{op.value} has two cpu emitters")
            CPU_OPS[op] = fn
        return fn
    return deco


@dataclass
class Expr:
    """A numpy expression. ``fresh``: a new array nothing else holds, so later nodes may write
    into it. ``func``/``args``: a call that takes ``out=`` (a ufunc, ``np.matmul``)."""

    text: str
    fresh: bool = False
    func: str | None = None
    args: str = ""
    elementwise: bool = False   # func reads each element where it writes it: may run in place


def ufunc(func: str, *args: str) -> Expr:
    a = ", ".join(args)
    return Expr(f"{func}({a})", True, func, a, elementwise=True)


@dataclass
class FnWriter:
    """The state of one function being rendered: names, symbols and helpers used."""

    layouts: dict
    lines: list[str] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    symbols: set[str] = field(default_factory=set)
    helpers: set[str] = field(default_factory=set)
    ntmp: int = 0

    def ident(self, text: str) -> str:
        base = re.sub(r"\W", "_", text) or "v"
        if base[0].isdigit() or keyword.iskeyword(base) or base in _RESERVED or base.startswith("cpu_"):
            base = "v_" + base
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def tmp(self) -> str:
        self.ntmp += 1
        return self.ident(f"t{self.ntmp}")

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def use(self, helper: str) -> str:
        self.helpers.add(helper)
        return helper

    def dim(self, d) -> str:
        if isinstance(d, bool):
            return str(int(d))
        if isinstance(d, int):
            return str(d)
        self.symbols |= d.symbols()
        return f"({d.render()})"

    def shape(self, dims) -> str:
        parts = [self.dim(d) for d in dims]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

    def lit(self, x) -> str:
        """A Python literal of an attribute value (tuples of dims included)."""
        if isinstance(x, (tuple, list)):
            parts = [self.lit(e) for e in x]
            return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        if isinstance(x, float):
            return repr(x) if x == x and abs(x) != float("inf") else f"float({str(x)!r})"
        if isinstance(x, (int, str)) or x is None:
            return self.dim(x) if isinstance(x, int) else repr(x)
        if isinstance(x, DType):
            return self.dtype(x)
        if hasattr(x, "symbols"):
            return self.dim(x)
        raise Unsupported(f"attribute value {x!r} has no literal form")

    @staticmethod
    def dtype(dt: DType) -> str:
        return f"np.{DType(dt).numpy.name}"


def _check_types(values) -> None:
    for v in values:
        if v.dtype.value not in CPU_DTYPES:
            raise Unsupported(f"{v.name} is {v.dtype.value}, which the cpu target leaves to the interpreter")


def render_group(group: KernelGroup, layouts: dict, fname: str, reshaped=frozenset()) -> tuple[str, list[dict], set[str]]:
    """(source of ``def fname``, the launch arguments, helpers used) for ``group``; raises
    ``Unsupported`` naming the op or type it cannot express. ``reshaped``: names of values
    that arrive in another shape (stored straight into a model output of another shape)."""
    nodes = group.nodes
    for n in nodes:
        if n.op not in CPU_OPS:
            raise Unsupported(f"{n.op.value} ({group.kind.value} kernel) has no numpy form yet")
    produced = {id(v) for n in nodes for v in n.outputs}
    external: list[Value] = []
    seen: set[int] = set()
    for n in nodes:
        for v in n.inputs:
            if v is not None and id(v) not in produced and id(v) not in seen:
                seen.add(id(v))
                external.append(v)
    outputs = list(group.outputs)
    _check_types(external + outputs + [v for n in nodes for v in n.outputs])
    w = FnWriter(dict(layouts or {}))
    out_ids = {id(v) for v in outputs}
    uses: dict[int, int] = {}
    for n in nodes:
        for v in n.inputs:
            if v is not None:
                uses[id(v)] = uses.get(id(v), 0) + 1
    params = []
    for v in external + outputs:
        name = w.ident(v.name)
        w.names[id(v)] = name
        params.append(name)
        if v.name in w.layouts:
            w.emit(f"{name} = {w.use('box')}({name}, {w.shape(v.shape)}, {w.shape(w.layouts[v.name])})")
        elif v.name in reshaped:
            w.emit(f"{name} = {name}.reshape({w.shape(v.shape)})")
    fresh: set[int] = set()
    # the memory plan may give an output the buffer of an input the kernel has read (a Triton
    # program loads before it stores): outputs computed before the last read of an input are
    # stored at the end
    ext_ids = {id(v) for v in external}
    last_read = max((i for i, n in enumerate(nodes) if any(v is not None and id(v) in ext_ids for v in n.inputs)),
                    default=-1)
    deferred: list[tuple[str, str]] = []
    out_keep = frozenset(out_ids)
    for i, n in enumerate(nodes):
        xs = [None if v is None else w.names[id(v)] for v in n.inputs]
        result = CPU_OPS[n.op](w, n, xs)
        results = result if isinstance(result, list) else [result]
        for v, e in zip(n.outputs, results):
            e = e if isinstance(e, Expr) else Expr(e)
            if id(v) in out_ids and i < last_read:
                dest = w.names[id(v)]
                _assign(w, n, v, e, set(), uses, fresh, name=w.ident(v.name + "_tmp"), keep=out_keep)
                deferred.append((dest, w.names[id(v)]))
            else:
                _assign(w, n, v, e, out_ids, uses, fresh, keep=out_keep)
    for dest, src in deferred:
        w.emit(f"{w.use('store')}({dest}, {src})")
    for v in outputs:          # an output that is an input of the group as is (rare: Identity chains)
        if id(v) not in produced:
            raise Unsupported(f"{v.name} leaves the group without being computed in it")
    sig = ", ".join(params)
    syms = sorted(w.symbols)
    if syms:
        sig += ", " + ", ".join(syms)
    what = ", ".join(n.name for n in nodes[:6]) + (f", +{len(nodes) - 6}" if len(nodes) > 6 else "")
    doc = f'    """{group.kind.value}: {what} -> {", ".join(v.name for v in outputs)}"""'
    body = [doc] + ["    " + line for line in w.lines]
    source = f"def {fname}({sig}):\n" + "\n".join(body) + "\n"
    args = [{"value": v.name} for v in external + outputs] + [{"size": s} for s in syms]
    return source, args, w.helpers


def _assign(w: FnWriter, node: Node, v: Value, e: Expr, out_ids: set, uses: dict, fresh: set,
            name: str | None = None, keep: frozenset = frozenset()) -> None:
    """Emit ``v = e``: into its output array, in place over a temporary nothing else reads
    (``keep``: values stored at the end, which must stay), or as a new temporary."""
    if id(v) in out_ids:
        dest = w.names[id(v)]
        if e.func is not None and node.inputs and node.inputs[0] is not None and \
                node.inputs[0].dtype == v.dtype:
            w.emit(f"{e.func}({e.args}, out={dest})")
        else:
            w.emit(f"{w.use('store')}({dest}, {e.text})")
        return
    # a ufunc over a temporary that this node alone reads, of the same shape and type: in place
    # (not for rank 0: a ufunc over 0-d arrays returns a numpy scalar, which out= refuses)
    if e.func is not None and e.elementwise and len(v.shape) > 0:
        for src in node.inputs[:1]:
            if src is not None and id(src) in fresh and uses.get(id(src)) == 1 and id(src) not in keep and \
                    tuple(src.shape) == tuple(v.shape) and src.dtype == v.dtype:
                name = w.names[id(src)]
                w.emit(f"{e.func}({e.args}, out={name})")
                w.names[id(v)] = name
                fresh.add(id(v))
                return
    name = name or w.ident(v.name)
    w.emit(f"{name} = {e.text}")
    w.names[id(v)] = name
    if e.fresh:
        fresh.add(id(v))
