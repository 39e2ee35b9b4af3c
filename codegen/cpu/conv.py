"""Conv: padded windows and one matmul per call, written into the output buffer
(``helpers.conv``); depthwise convolutions as one product per kernel tap. ConvTranspose: one
matmul for every tap's contribution, each added at its strided place."""

from __future__ import annotations

from cortado.ir import Op

from .render import Expr, cpu_op


@cpu_op(Op.CONV)
def conv(w, node, xs):
    a = node.attrs
    x, wt, b = (list(xs) + [None])[:3]
    return Expr(f"{w.use('conv')}({x}, {wt}, {b}, {w.lit(a.strides)}, {w.lit(a.pads)}, {w.lit(a.dilations)}, "
                f"{a.group})", True, f"{w.use('conv')}",
                f"{x}, {wt}, {b}, {w.lit(a.strides)}, {w.lit(a.pads)}, {w.lit(a.dilations)}, {a.group}")


@cpu_op(Op.CONV_TRANSPOSE)
def conv_transpose(w, node, xs):
    a = node.attrs
    x, wt, b = (list(xs) + [None])[:3]
    return Expr(f"{w.use('conv_transpose')}({x}, {wt}, {b}, {w.lit(a.strides)}, {w.lit(a.pads)}, "
                f"{w.lit(a.dilations)}, {a.group}, {w.lit(a.output_padding)})", True)
