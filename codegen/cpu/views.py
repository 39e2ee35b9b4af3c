"""View and data-movement ops: numpy views where numpy has one (reshape, transpose, slice,
broadcast), one copy otherwise (concat, gather, pad, tile)."""

from __future__ import annotations

from cortado.ir import Op

from .render import Expr, cpu_op


@cpu_op(Op.RESHAPE)
def reshape(w, node, xs):
    return Expr(f"{xs[0]}.reshape({w.shape(node.attrs.shape)})")


@cpu_op(Op.TRANSPOSE)
def transpose(w, node, xs):
    return Expr(f"{xs[0]}.transpose({w.lit(tuple(node.attrs.perm))})")


@cpu_op(Op.CONCAT)
def concat(w, node, xs):
    return Expr(f"np.concatenate([{', '.join(xs)}], axis={node.attrs.axis})", True)


@cpu_op(Op.SLICE)
def slice_(w, node, xs):
    a = node.attrs
    parts = []
    for s, e, st in zip(a.starts, a.ends, a.steps):
        end = "None" if isinstance(e, int) and e < 0 else w.dim(e)
        parts.append(f"{w.dim(s)}:{end}:{w.dim(st)}")
    return Expr(f"{xs[0]}[{', '.join(parts) or '...'}{',' if len(parts) == 1 else ''}]")


@cpu_op(Op.EXPAND)
def expand(w, node, xs):
    return Expr(f"np.broadcast_to({xs[0]}, {w.shape(node.attrs.shape)})")


@cpu_op(Op.TILE)
def tile(w, node, xs):
    return Expr(f"np.tile({xs[0]}, {w.lit(tuple(node.attrs.repeats))})", True)


@cpu_op(Op.GATHER)
def gather(w, node, xs):
    axis = node.attrs.axis
    axis = axis + len(node.inputs[0].shape) if axis < 0 else axis
    return Expr(f"{w.use('take')}({xs[0]}, {xs[1]}, {axis})", True)


@cpu_op(Op.PAD)
def pad(w, node, xs):
    a = node.attrs
    x = xs[0]
    r = len(node.inputs[0].shape)
    begins, ends = a.pads[:r], a.pads[r:]
    grow = w.lit(tuple((max(b, 0), max(e, 0)) for b, e in zip(begins, ends)))
    if a.mode == "constant":
        y = f"np.pad({x}, {grow}, mode='constant', constant_values=np.asarray({w.lit(float(a.value))}).astype({x}.dtype))"
    else:
        y = f"np.pad({x}, {grow}, mode={a.mode!r})"
    if any(b < 0 for b in begins) or any(e < 0 for e in ends):
        crop = ", ".join(f"{-min(b, 0)}:{w.dim(d)}+{max(b, 0) + e}" for b, e, d in
                         zip(begins, ends, node.inputs[0].shape))
        y = f"{y}[{crop}]"
    return Expr(y, True)


@cpu_op(Op.DEPTH_TO_SPACE)
def depth_to_space(w, node, xs):
    n, c, h, wd = (w.dim(d) for d in node.inputs[0].shape)
    b = node.attrs.blocksize
    if node.attrs.mode == "DCR":
        t = f"{xs[0]}.reshape({n}, {b}, {b}, {c} // {b * b}, {h}, {wd}).transpose(0, 3, 4, 1, 5, 2)"
    else:
        t = f"{xs[0]}.reshape({n}, {c} // {b * b}, {b}, {b}, {h}, {wd}).transpose(0, 1, 4, 2, 5, 3)"
    return Expr(f"{t}.reshape({n}, {c} // {b * b}, {h} * {b}, {wd} * {b})")


@cpu_op(Op.SPACE_TO_DEPTH)
def space_to_depth(w, node, xs):
    n, c, h, wd = (w.dim(d) for d in node.inputs[0].shape)
    b = node.attrs.blocksize
    perm = (0, 3, 5, 1, 2, 4) if node.attrs.mode == "DCR" else (0, 1, 3, 5, 2, 4)
    return Expr(f"{xs[0]}.reshape({n}, {c}, {h} // {b}, {b}, {wd} // {b}, {b}).transpose{perm}"
                f".reshape({n}, {c} * {b * b}, {h} // {b}, {wd} // {b})")


@cpu_op(Op.TRILU)
def trilu(w, node, xs):
    a = node.attrs
    return Expr(f"np.{'triu' if a.upper else 'tril'}({xs[0]}, {w.dim(a.k)})", True)


@cpu_op(Op.RANGE)
def range_(w, node, xs):
    a = node.attrs
    dt = w.dtype(a.dtype)
    return Expr(f"(np.asarray({w.lit(a.start)}, dtype={dt}) + np.arange({w.dim(a.size)}).astype({dt}) * "
                f"np.asarray({w.lit(a.delta)}, dtype={dt})).astype({dt})", True)
