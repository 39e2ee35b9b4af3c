"""MatMul and Gemm: ``np.matmul`` (numpy's BLAS, which releases the GIL)."""

from __future__ import annotations

from cortado.ir import Op

from .render import Expr, cpu_op


@cpu_op(Op.MATMUL)
def matmul(w, node, xs):
    a, b = xs
    if node.inputs[0].dtype.is_float:
        return Expr(f"np.matmul({a}, {b})", True, "np.matmul", f"{a}, {b}")
    return Expr(f"np.matmul({a}, {b})", True)


@cpu_op(Op.GEMM)
def gemm(w, node, xs):
    at = node.attrs
    a, b, c = (list(xs) + [None])[:3]
    if c is None and at.alpha == 1.0:
        args = f"{a}.T" if at.transA else a, f"{b}.T" if at.transB else b
        return Expr(f"np.matmul({args[0]}, {args[1]})", True, "np.matmul", ", ".join(args))
    return Expr(f"{w.use('gemm')}({a}, {b}, {c}, {w.lit(float(at.alpha))}, {w.lit(float(at.beta))}, "
                f"{bool(at.transA)}, {bool(at.transB)})", True)
