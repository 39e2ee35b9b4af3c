"""Views as index arithmetic: a consumer reads a view's input at a remapped index.

Nothing here moves data; each lowering maps the index of the view's output to the index of
its input (with a guard where some outputs come from another input or from padding).
"""

from __future__ import annotations

from cortado.ir import Op

from . import exprs
from . import index as ix
from .writer import broadcast_index, lowering


@lowering(Op.RESHAPE)
def _reshape(w, node, value, index, guard):
    src = node.inputs[0]
    linear = ix.ravel(index, value.shape)
    return w.value_at(src, ix.unravel(linear, src.shape), guard)


@lowering(Op.TRANSPOSE)
def _transpose(w, node, value, index, guard):
    src = node.inputs[0]
    at = [None] * len(index)
    for k, p in enumerate(node.attrs.perm):
        at[p] = index[k]
    return w.value_at(src, tuple(at), guard)


@lowering(Op.CONCAT)
def _concat(w, node, value, index, guard):
    axis = node.attrs.axis % value.type.rank
    pieces = []
    start = 0
    inputs = [v for v in node.inputs if v is not None]
    for k, src in enumerate(inputs):
        size = src.shape[axis]
        if size == 0:
            continue
        local = ix.sub(index[axis], ix.dim(start))
        at = tuple(local if a == axis else i for a, i in enumerate(index))
        last = k == len(inputs) - 1
        cond = None
        lo = start != 0
        hi = not last
        if lo or hi:
            cond = w.bound_check(local, size, lower=lo, upper=hi)
        g = w.guard(guard, cond)
        pieces.append((cond and g, w.value_at(src, at, g)))
        start = start + size
    expr = pieces[-1][1]
    for cond, val in reversed(pieces[:-1]):
        # no condition: the index always falls in this piece (a constant index)
        expr = val if cond is None else f"tl.where({cond}, {val}, {expr})"
        if len(pieces) > 8:
            # one line per piece: Python refuses source nested 200 parentheses deep
            expr = w.assign("x", expr)
    return expr


@lowering(Op.CONSTANT_OF_SHAPE)
def _constant_of_shape(w, node, value, index, guard):
    return w.full(node.attrs.value, value.dtype)


# -- slicing, broadcasting, padding ---------------------------------------------------------
@lowering(Op.SLICE)
def _slice(w, node, value, index, guard):
    a = node.attrs
    at = tuple(ix.add(ix.mul(i, st), s) for i, s, st in zip(index, a.starts, a.steps))
    return w.value_at(node.inputs[0], at, guard)


@lowering(Op.EXPAND)
def _expand(w, node, value, index, guard):
    src = node.inputs[0]
    return w.value_at(src, broadcast_index(index, value.shape, src.shape), guard)


@lowering(Op.TILE)
def _tile(w, node, value, index, guard):
    src = node.inputs[0]
    at = tuple(ix.mod(i, d) if r > 1 else i for i, d, r in zip(index, src.shape, node.attrs.repeats))
    return w.value_at(src, at, guard)


def _as_var(w, text: str):
    return ix.var(w.assign("i", text))


@lowering(Op.PAD)
def _pad(w, node, value, index, guard):
    a = node.attrs
    src = node.inputs[0]
    r = len(index)
    at, conds = [], []
    for k in range(r):
        b, e, d = a.pads[k], a.pads[r + k], src.shape[k]
        s = ix.sub(index[k], b)
        if b == 0 and e == 0 or (b <= 0 and e <= 0):
            at.append(s)
            continue
        if a.mode == "constant":
            cond = w.bound_check(s, d, lower=b > 0, upper=e > 0)
            if cond is not None:         # None: a constant index inside the source
                conds.append(cond)
            at.append(s)
        elif a.mode == "edge":
            at.append(ix.minimum(ix.maximum(s, 0), ix.sub(d, 1)))
        elif a.mode == "wrap":
            t = w.idx(s)
            at.append(_as_var(w, f"(({t} % {w.dim(d)}) + {w.dim(d)}) % {w.dim(d)}"))
        else:   # reflect: mirror without repeating the edge
            t = w.idx(s)
            m = w.assign("i", f"tl.abs({t})")
            at.append(_as_var(w, f"tl.where({m} >= {w.dim(d)}, 2 * ({w.dim(d)} - 1) - {m}, {m})"))
    g = w.guard(guard, *conds)
    v = w.value_at(src, tuple(at), g)
    if a.mode == "constant" and conds:
        return f"tl.where({g}, {v}, {exprs.literal(a.value, value.dtype)})"
    return v


@lowering(Op.TRILU)
def _trilu(w, node, value, index, guard):
    a = node.attrs
    x = w.value_at(node.inputs[0], index, guard)
    diff = w.idx(ix.sub(index[-1], index[-2]))
    cond = f"({diff} >= {a.k})" if a.upper else f"({diff} <= {a.k})"
    zero = exprs.literal(0, value.dtype)
    return f"tl.where({cond}, {x}, {zero})"


@lowering(Op.RANGE)
def _range(w, node, value, index, guard):
    a = node.attrs
    cd = exprs.compute_dtype(value.dtype)
    i = w.idx(index[0])
    start = w.dim(a.start) if not isinstance(a.start, float) else repr(a.start)
    return f"(({i}).to({cd}) * {exprs.literal(a.delta, value.dtype)} + {start})"


# -- data-dependent indexing ------------------------------------------------------------------
def _data_index(w, indices, at, guard, size):
    """A loaded index (negative ones wrapped) as an index expression, plus a guard that keeps
    out-of-range indices from touching memory."""
    c = w.scalar_constant(indices)
    if c is not None and isinstance(size, int):
        c = int(c)
        return ix.const(c + size if c < 0 else c), guard
    raw = w.value_at(indices, at, guard)
    n = w.dim(size)
    i = w.assign("i", f"tl.where({raw} < 0, {raw} + {n}, {raw})")
    cond = f"({i} >= 0) & ({i} < {n})"
    if indices.type.numel == 1 or not any(ix.variables(ix.as_expr(e)) - w.scalars for e in at):
        # one index for the whole tile (a one-element index tensor is an unmasked scalar load)
        w.scalars.update((raw, i))
        w._scalar_conds.add(cond)
    return ix.var(i), w.guard(guard, cond)


@lowering(Op.GATHER)
def _gather(w, node, value, index, guard):
    data, indices = node.inputs
    a = node.attrs.axis
    q = indices.type.rank
    i, g = _data_index(w, indices, tuple(index[a:a + q]), guard, data.shape[a])
    return w.value_at(data, tuple(index[:a]) + (i,) + tuple(index[a + q:]), g)


@lowering(Op.GATHER_ELEMENTS)
def _gather_elements(w, node, value, index, guard):
    data, indices = node.inputs
    a = node.attrs.axis
    i, g = _data_index(w, indices, index, guard, data.shape[a])
    return w.value_at(data, tuple(index[:a]) + (i,) + tuple(index[a + 1:]), g)


@lowering(Op.GATHER_ND)
def _gather_nd(w, node, value, index, guard):
    data, indices = node.inputs
    b = node.attrs.batch_dims
    k = indices.shape[-1]
    q = indices.type.rank - 1            # index tuples live in the first q axes of the output
    lead = tuple(index[:q])
    at, g = list(index[:b]), guard
    for m in range(k):
        i, g = _data_index(w, indices, lead + (ix.const(m),), g, data.shape[b + m])
        at.append(i)
    at.extend(index[q:])
    return w.value_at(data, tuple(at), g)


@lowering(Op.ONE_HOT)
def _one_hot(w, node, value, index, guard):
    indices, values = node.inputs
    a = node.attrs
    at = tuple(index[:a.axis]) + tuple(index[a.axis + 1:])
    raw = w.value_at(indices, at, guard)
    if indices.dtype.is_float:
        raw = w.assign("i", f"{raw}.to(tl.int64)")
    i = w.assign("i", f"tl.where({raw} < 0, {raw} + {a.depth}, {raw})")
    off = w.value_at(values, (ix.const(0),), guard)
    on = w.value_at(values, (ix.const(1),), guard)
    return f"tl.where({w.idx(index[a.axis])} == {i}, {on}, {off})"


# -- channel <-> space blocks --------------------------------------------------------------
@lowering(Op.DEPTH_TO_SPACE)
def _depth_to_space(w, node, value, index, guard):
    b = node.attrs.blocksize
    n, c, h, x = index
    c_out = value.shape[1]
    bh, bw = ix.mod(h, b), ix.mod(x, b)
    if node.attrs.mode == "DCR":
        ch = ix.add(ix.mul(ix.add(ix.mul(bh, b), bw), c_out), c)
    else:
        ch = ix.add(ix.add(ix.mul(c, b * b), ix.mul(bh, b)), bw)
    return w.value_at(node.inputs[0], (n, ch, ix.floordiv(h, b), ix.floordiv(x, b)), guard)


@lowering(Op.SPACE_TO_DEPTH)
def _space_to_depth(w, node, value, index, guard):
    b = node.attrs.blocksize
    n, ch, h, x = index
    c_in = node.inputs[0].shape[1]
    if node.attrs.mode == "DCR":
        c, blk = ix.mod(ch, c_in), ix.floordiv(ch, c_in)
    else:
        c, blk = ix.floordiv(ch, b * b), ix.mod(ch, b * b)
    at = (n, c, ix.add(ix.mul(h, b), ix.floordiv(blk, b)), ix.add(ix.mul(x, b), ix.mod(blk, b)))
    return w.value_at(node.inputs[0], at, guard)


# -- shape queries -------------------------------------------------------------------------
@lowering(Op.SHAPE)
def _shape(w, node, value, index, guard):
    dims = list(node.inputs[0].shape[node.attrs.start:node.attrs.end])
    i = w.idx(index[0])
    expr = f"tl.full({w.tile}, {w.dim(dims[-1])}, tl.int64)"
    for k in range(len(dims) - 2, -1, -1):
        expr = f"tl.where({i} == {k}, {w.dim(dims[k])}, {expr})"
    return expr


@lowering(Op.SIZE)
def _size(w, node, value, index, guard):
    return f"tl.full({w.tile}, {w.dim(node.inputs[0].type.numel)}, tl.int64)"


@lowering(Op.TENSOR_SCATTER)
def _tensor_scatter(w, node, value, index, guard):
    """The update where it lands (sequence position minus the batch entry's write index,
    wrapped for circular caches), the cache everywhere else."""
    cache, upd = node.inputs[0], node.inputs[1]
    idx = node.inputs[2] if len(node.inputs) > 2 else None
    a = node.attrs
    n, s = cache.shape[a.axis], upd.shape[a.axis]
    p = w.idx(index[a.axis])
    start = "0" if idx is None else w.value_at(idx, (index[0],), guard)
    rel = w.assign("i", f"{p} - {start}")
    if a.mode == "circular":
        rel = w.assign("i", f"(({rel} % {w.dim(n)}) + {w.dim(n)}) % {w.dim(n)}")
    lands = w.guard(f"({rel} >= 0) & ({rel} < {w.dim(s)})")
    at = tuple(ix.var(rel) if k == a.axis else e for k, e in enumerate(index))
    new = w.value_at(upd, at, w.guard(guard, lands))
    old = w.value_at(cache, index, guard)
    return f"tl.where({lands}, {new}, {old})"
