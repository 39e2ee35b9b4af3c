"""KernelWriter: emits one kernel's body by evaluating IR values at index expressions.

A kernel generator (pointwise, reduction, gemm, conv) sets up the tile — program ids, index
variables, the domain mask — and then asks the writer for the values it needs at some index:
``writer.value_at(v, index)``. Values produced inside the group are lowered recursively
(elementwise ops through ``exprs``, views and windows through ``lowerings``); everything else
is a load from a pointer argument. Each (value, index, guard) is computed once per scope, and
index arithmetic is simplified by ``index`` before it is written, so fused views cost only the
div/mod they really need.

Pointer arguments are named by role (``x_ptr``, ``in1_ptr``, ``out_ptr``), not by model value,
so that identical kernels in one model are generated once and launched many times.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from cortado.ir import DType, Node, Op, Value
from cortado.ir.dims import Dim, SymExpr
from cortado.ops import Category, get_op

from . import exprs
from . import index as ix
from .loop_motion import WORDS, LoopMotion
from .lowering import LoweringKind, register, section
from .text import IndentedBuffer

Index = tuple  # tuple of index expressions, one per axis of the value


@dataclass
class Param:
    name: str
    kind: str          # "ptr" | "size"
    ref: object        # Value for ptr; the Dim (int or symbolic) a size argument carries
    dtype: DType | None = None


@dataclass
class KernelSource:
    """One generated kernel, before de-duplication and naming in the module."""

    what: str                       # short description for the kernel name ("conv_relu")
    body: str                       # source of the kernel with NAME in place of its name
    params: list[Param]
    grid: tuple[str, ...]           # expressions over symbols and constexpr config keys
    configs: dict[str, dict]        # per target family: constexprs plus num_warps / num_stages
    nodes: list[Node]
    inputs: list[Value]
    outputs: list[Value]
    helpers: set[str] = field(default_factory=set)
    bytes_moved: Dim = 0
    flops: Dim = 0
    kind: str = "pointwise"


_LOWERINGS: dict = section(LoweringKind.INDEX)


def lowering(*ops):
    """Register how a non-elementwise op computes its output at an index (views, windows)."""
    return register(LoweringKind.INDEX, *ops)


def has_lowering(op) -> bool:
    return op in _LOWERINGS


# value name -> element strides for values stored as strided boxes of another buffer (the
# inputs of a placed Concat). Set by ``generate.generate_kernel`` around one kernel's
# generation and read once, when a writer is created.
LAYOUTS: contextvars.ContextVar[dict] = contextvars.ContextVar("LAYOUTS", default={})

_LOCAL = re.compile(r"^(x|i|g|k|t|y|acc|cnt|r)\d*$")


def _ident(name: str) -> str:
    s = re.sub(r"\W", "_", name).strip("_").lower() or "v"
    return s if not s[0].isdigit() else "v" + s


class KernelWriter:
    def __init__(self, nodes: Iterable[Node], *, tile: str, mask: str = "mask"):
        self.body = IndentedBuffer(1)
        self.params: list[Param] = []
        self.nodes = list(nodes)
        self._inside = {id(n) for n in self.nodes}
        self._ptr: dict[int, str] = {}
        self.roles: dict[int, str] = {}       # value id -> the role its pointer is named by
        self._sizes: dict[object, str] = {}
        self._names: set[str] = set()
        self._scopes: list[dict] = [{}]
        self._counters: dict[str, int] = {}
        self.helpers: set[str] = set()
        self.seeds: dict[int, tuple[Index, str]] = {}
        self.tile = tile          # tile shape as source text, e.g. "[BLOCK]" or "[BM, BN]"
        self.mask = mask          # the domain mask expression (None: no mask needed)
        self.loads: list[Value] = []
        self.stores: list[Value] = []
        # tile variables -> the tile axis they vary along, and the shape stores must cover
        self.axes: dict[str, int] = {"offs": 0}
        self.store_shape = tile
        # names of scalar (non-tile) variables: program ids and loop counters
        self.scalars: set[str] = {"pid", "pid_m", "pid_n", "pid_b", "pid_g"}
        self._scalar_conds: set[str] = set()   # conditions over scalar variables only
        self.layouts: dict[str, tuple] = LAYOUTS.get()
        self.zero_outside: dict[str, str | None] = {}   # load variables -> the guard they honour
        self._motion = LoopMotion(self.body)     # where loop-invariant code may be placed

    # -- names and parameters ----------------------------------------------------------------
    def fresh(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0)
        self._counters[prefix] = n + 1
        return f"{prefix}{n}"

    def line(self, text: str) -> None:
        self._motion.define(text)
        self.body.line(text)

    @property
    def depth(self) -> int:
        """How many scopes (loops) the next line is inside."""
        return len(self._scopes) - 1

    def assign(self, prefix: str, expr: str) -> str:
        name = self.fresh(prefix)
        self.line(f"{name} = {expr}")
        return name

    # -- loop-invariant code motion (loop_motion.py) ---------------------------------------
    def _level_of_text(self, text: str) -> int:
        """The depth a computation over the names in ``text`` can move out to."""
        return self._motion.level_of(WORDS.findall(text))

    def _level_of_expr(self, e) -> int:
        return self._motion.level_of(ix.variables(e))

    def _assign_at(self, level: int, prefix: str, expr: str) -> str:
        """``prefix<n> = expr`` at scope depth ``level``: here, or just before the header of
        the loop at ``level + 1`` when that loop does not change what ``expr`` reads."""
        if level >= self.depth:
            return self.assign(prefix, expr)
        name = self.fresh(prefix)
        self._motion.place(level, f"{name} = {expr}")
        return name

    def _name_of_upto(self, level: int):
        """``name_of`` for rendering at scope depth ``level``: only names defined there or
        outside (an inner loop's variable is not defined before that loop)."""
        def name_of(e):
            if e[0] == "sizetext":
                return self.dim(e[1])
            for s in self._scopes[: level + 1][::-1]:
                found = s.get(("ix", e))
                if found is not None:
                    return found
            return None
        return name_of

    def _claim(self, base: str) -> str:
        name, k = base, 1
        while name in self._names:
            name = f"{base[:-4]}{k}_ptr" if base.endswith("_ptr") else f"{base}{k}"
            k += 1
        self._names.add(name)
        return name

    def name_roles(self, **values: Value | None) -> None:
        """Name the pointers of these values by role: ``name_roles(x=x, w=weight, bias=b)``
        gives ``x_ptr``, ``w_ptr``, ``bias_ptr`` (the first name wins for a shared value)."""
        for role, value in values.items():
            # a value the kernel reads through views (Q split into heads) is loaded from the
            # views' source: that buffer gets the role
            while value is not None and value.producer is not None and id(value.producer) in self._inside \
                    and get_op(value.producer.op).category is Category.VIEW and value.producer.inputs:
                value = value.producer.inputs[0]
            if value is not None:
                self.roles.setdefault(id(value), role)

    def ptr(self, value: Value, role: str = "in") -> str:
        """The pointer argument for a buffer, named by role (x_ptr, w_ptr, out_ptr)."""
        key = id(value)
        if key not in self._ptr:
            name = self._claim(f"{_ident(role)}_ptr")
            self._ptr[key] = name
            self.params.append(Param(name, "ptr", value, value.dtype))
        return self._ptr[key]

    def dim(self, d: Dim, hint: str | None = None) -> str:
        """A size from a shape, as a kernel argument (``n``, ``M``, ``s3``).

        Sizes are arguments rather than literals so that kernels of the same structure share
        one compiled binary across layers and batch sizes; 0 and 1 stay literal because they
        change the structure (a broadcast, an empty term).

        A size named by its meaning (``hint``: M, N, K, n_rows) is its own argument even when
        another size has the same value — 16 output channels and a 16-pixel row stay ``N``
        and ``s2``, not one merged argument. A size of no stated meaning (index math) reuses
        the first unnamed argument of its value, never a named one: a 3-pixel output row is
        not spelled ``N`` because there happen to be 3 output channels."""
        if isinstance(d, int) and d in (0, 1):
            return str(d)
        found = self._sizes.get((d, hint))
        if found is not None:
            return found
        base = hint or f"s{len(self._params_of_kind('size'))}"
        if _LOCAL.match(base) and hint is None:
            base = f"s{len(self._params_of_kind('size'))}"
        name = self._claim(base)
        self._sizes[(d, hint)] = name
        self.params.append(Param(name, "size", d))
        return name

    def _params_of_kind(self, kind: str) -> list[Param]:
        return [p for p in self.params if p.kind == kind]

    # -- scoped caches -------------------------------------------------------------------
    @contextlib.contextmanager
    def scope(self):
        """A nested block (a loop body, its ``for`` line just written): values computed inside
        stay inside, and index arithmetic that the loop does not change is computed once,
        before it."""
        self._motion.open_scope()
        self._scopes.append({})
        try:
            with self.body.indent():
                yield
        finally:
            self._scopes.pop()
            self._motion.close_scope()

    @contextlib.contextmanager
    def loop(self, count, prefix: str = "k"):
        """``for k in range(count):`` with its own scope; yields the loop variable."""
        name = self.fresh(prefix)
        self.scalars.add(name)
        self.line(f"for {name} in range({count}):")
        with self.scope():
            yield name

    def _lookup(self, key):
        for s in reversed(self._scopes):
            if key in s:
                return s[key]
        return None

    def _remember(self, key, name: str) -> str:
        self._scopes[-1][key] = name
        return name

    # -- index expressions ---------------------------------------------------------------
    def _name_of(self, e):
        if e[0] == "sizetext":
            return self.dim(e[1])
        return self._lookup(("ix", e))

    def idx(self, e) -> str:
        """Source for an index expression, computing it into a variable once."""
        e = ix.as_expr(e)
        if e[0] in ("const", "var"):
            return ix.render(e, self._name_of)
        if e[0] == "size":
            return self.dim(e[1])
        found = self._lookup(("ix", e))
        if found is not None:
            return found
        level = self._level_of_expr(e)
        for c in ix.children(e):
            # a part that varies less than the whole (the pixel's row under a loop over
            # taps) is computed on its own, outside the loops that do not change it
            if c[0] == "coord" or (c[0] not in ("const", "var", "size") and self._level_of_expr(c) < level):
                self.idx(c)
        text = ix.render(e, self._name_of_upto(level))
        name = self._assign_at(level, "i", text)
        self._scopes[level][("ix", e)] = name
        return name

    def linear(self, value: Value, index: Index):
        """The element offset of ``index`` in ``value``'s buffer (strided for placed slices)."""
        return ix.ravel(index, value.shape, self.layouts.get(value.name))

    def offset(self, value: Value, index: Index) -> str:
        return self.idx(self.linear(value, index))

    def bound_check(self, coord, size: Dim, lower: bool = True, upper: bool = True) -> str | None:
        """``0 <= coord < size`` as source text; None when it always holds, ``False`` when never
        (a constant coordinate is decided now: a Python bool is not a valid mask)."""
        coord = ix.as_expr(coord)
        if coord[0] == "const" and isinstance(size, int):
            ok = (not lower or coord[1] >= 0) and (not upper or coord[1] < size)
            return None if ok else "(offs < 0)" if "offs" in self.axes else "False"
        parts = []
        c = self.idx(coord)
        if lower:
            parts.append(f"({c} >= 0)")
        if upper:
            parts.append(f"({c} < {self.dim(size)})")
        if not parts:
            return None
        text = " & ".join(parts)
        if ix.variables(ix.as_expr(coord)) <= self.scalars:
            # only loop counters, program ids and sizes: a scalar condition. Give it the tile's
            # shape, since Triton's interpreter will not take a Python bool as a mask. (A
            # coordinate over a tile variable outside ``axes``, such as a GEMM's rk, is a tile.)
            text = f"tl.full({self.tile}, 1, tl.int1) & {text}"
        return text

    def and_masks(self, *masks: str | None) -> str | None:
        ms = [m for m in masks if m]
        if not ms:
            return None
        if len(ms) == 1:
            return ms[0]
        text = " & ".join(f"({m})" for m in ms)
        if any(m in self._scalar_conds for m in ms):
            # a condition over loop counters only: Triton's interpreter gives its & with
            # anything an int32 payload that masks reject; != 0 makes it boolean again
            text = f"(({text}) != 0)"
        return text

    def guard(self, *conds: str | None) -> str | None:
        """A named boolean for ``conds`` all holding (None when there is nothing to check).
        Inside loops, the conditions an inner loop does not change are and-ed once outside it."""
        conds = tuple(c for c in conds if c)
        if len(conds) > 1 and self.depth:
            levels = [self._level_of_text(c) for c in conds]
            top = max(levels)
            low = [c for c, lv in zip(conds, levels) if lv < top]
            if low:
                outer = low[0] if len(low) == 1 and low[0].isidentifier() else self.guard(*low)
                conds = (outer,) + tuple(c for c, lv in zip(conds, levels) if lv == top)
        text = self.and_masks(*conds)
        if text is None:
            return None
        found = self._lookup(("guard", text))
        if found:
            return found
        level = self._level_of_text(text)
        name = self._assign_at(level, "g", text)
        self._scopes[level][("guard", text)] = name
        if all(c in self._scalar_conds for c in conds):
            self._scalar_conds.add(name)
        return name

    # -- values ----------------------------------------------------------------------------
    def seed(self, value: Value, index: Index, name: str) -> None:
        """Declare ``value`` already computed (an accumulator) at ``index`` in variable ``name``."""
        self.seeds[id(value)] = (tuple(index), name)

    def is_inside(self, value: Value) -> bool:
        return value.producer is not None and id(value.producer) in self._inside

    def scalar_constant(self, value: Value):
        if value.const is not None and value.const.size == 1:
            return value.const.reshape(()).item()
        return None

    def value_at(self, value: Value, index: Index, guard: str | None = None) -> str:
        index = tuple(ix.as_expr(i) for i in index)
        if id(value) in self.seeds:
            at, name = self.seeds[id(value)]
            if at != index:
                raise AssertionError(f"value {value.name} is only available at its accumulator index")
            return name
        c = self.scalar_constant(value)
        if c is not None:
            return exprs.literal(c, value.dtype)
        key = ("val", id(value), index, guard)
        found = self._lookup(key)
        if found is not None:
            return found
        if self.is_inside(value):
            text = self._lower(value.producer, value, index, guard)
            if text.isidentifier():          # a view forwarded its input's variable: no copy
                return self._remember(key, text)
            name = self.assign("x", text)
        else:
            name = self.assign("x", self.load(value, index, guard))
            if value.type.numel != 1 and ix.variables(self.linear(value, index)):
                # a masked load already reads 0 wherever the guard fails (a one-element or
                # constant-offset load is an unmasked scalar: it does not)
                self.zero_outside[name] = guard
        return self._remember(key, name)

    def load(self, value: Value, index: Index, guard: str | None = None, role: str | None = None,
             raw: bool = False) -> str:
        """Load ``value`` at ``index``; converted to the compute dtype unless ``raw``."""
        p = self.ptr(value, role or self.roles.get(id(value), "in"))
        if value not in self.loads:
            self.loads.append(value)
        if value.type.numel == 1:
            text = f"tl.load({p})"            # one element, read by every lane: always in bounds
        else:
            linear = self.linear(value, index)
            off = self.idx(linear)
            # an offset with no variables is one in-bounds element: a scalar load, no mask; one
            # over scalar variables only (loop counters) is widened to the tile to take the mask
            names = ix.variables(linear)
            m = self.and_masks(self.mask, guard) if names else None
            other = "0.0" if value.dtype.is_float else "0"
            mask_part = f", mask={m}, other={other}" if m else ""
            target = f"{p} + {off}"
            if m and names <= self.scalars:
                target = f"tl.broadcast_to({target}, {self.tile})"
            text = f"tl.load({target}{mask_part})"
        cd = exprs.compute_dtype(value.dtype)
        if cd != value.dtype.triton_lang and not raw:
            text += f".to({cd})"
        return text

    def store(self, value: Value, index: Index, expr: str, mask: str | None = None, role: str = "out") -> None:
        p = self.ptr(value, role)
        if value not in self.stores:
            self.stores.append(value)
        linear = self.linear(value, index)
        off = self.idx(linear)
        cd = exprs.compute_dtype(value.dtype)
        if cd != value.dtype.triton_lang:
            expr = f"{expr}.to({value.dtype.triton_lang})"
        m = self.and_masks(self.mask if mask is None else mask)
        target = f"{p} + {off}"
        covered = {self.axes[v] for v in ix.variables(linear) if v in self.axes}
        wanted = self.store_shape.strip("[]").split(",")
        if len(covered) < sum(1 for d in wanted if d.strip() != "1"):
            # some tile axes have size 1 in this output: widen the pointer to the tile
            target = f"tl.broadcast_to({target}, {self.store_shape})"
        self.line(f"tl.store({target}, {expr}{', mask=' + m if m else ''})")

    def full(self, value, dtype: DType) -> str:
        return f"tl.full({self.tile}, {exprs.literal(value, dtype)}, {exprs.compute_dtype(dtype)})"

    def _lower(self, node: Node, value: Value, index: Index, guard: str | None) -> str:
        fn = _LOWERINGS.get(node.op)
        if fn is not None:
            return fn(self, node, value, index, guard)
        d = get_op(node.op)
        if d.category is not Category.ELEMENTWISE or not exprs.has_lowering(node.op):
            raise NotImplementedError(f"no Triton lowering for {node.op.value} inside a fused kernel")
        # one entry per input position, None for an absent optional input: a lowering reads
        # its operands by position (Clip's max is args[2] whether or not min is given)
        args, dtypes, consts = [], [], []
        for pos, v in enumerate(node.inputs):
            if v is None:
                args.append(None)
                dtypes.append(None)
                consts.append(None)
                continue
            if node.op is Op.BATCH_NORMALIZATION and pos > 0:
                at = (index[1],)          # per-channel parameters
            else:
                at = broadcast_index(index, value.shape, v.shape)
            args.append(self.value_at(v, at, guard))
            dtypes.append(v.dtype)
            consts.append(self.scalar_constant(v))
        call = exprs.Call(args, dtypes, consts, value.dtype, node.attrs, self.helpers)
        return exprs.lower(node.op, call)

    # -- assembling --------------------------------------------------------------------------
    def signature(self, constexprs: Sequence[str]) -> str:
        """Pointers first, then sizes, then constexprs (reorders ``params`` to match)."""
        self.params.sort(key=lambda p: p.kind != "ptr")
        names = [p.name for p in self.params] + [f"{c}: tl.constexpr" for c in constexprs]
        return ", ".join(names)


def broadcast_index(index: Index, out_shape: Sequence[Dim], in_shape: Sequence[Dim]) -> Index:
    """The index of an input that numpy-broadcasts to ``out_shape``."""
    r, ri = len(out_shape), len(in_shape)
    out = []
    for k in range(ri):
        d = in_shape[k]
        broadcast = d == 1 and out_shape[r - ri + k] != 1
        out.append(ix.const(0) if broadcast else index[r - ri + k])
    return tuple(out)


def tensor_bytes(values: Iterable[Value]) -> Dim:
    total: Dim = 0
    for v in values:
        total = total + v.type.nbytes
    return total


def elementwise_flops(nodes: Iterable[Node]) -> Dim:
    total: Dim = 0
    for n in nodes:
        if get_op(n.op).category is Category.ELEMENTWISE:
            total = total + n.outputs[0].type.numel
    return total


def is_symbolic(d: Dim) -> bool:
    return isinstance(d, SymExpr)
