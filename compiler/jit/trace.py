"""The trace under construction: the IR graph a traced function builds, and the few value-level
builders (constants, casts, reshapes, broadcasts) every numpy handler shares.

One ``Trace`` exists per tracing of a function; tracers hold a reference to it, so there is no
ambient "current graph". Every node records the user's ``file:line`` in ``node.meta["source"]``
and every error names the numpy function being traced (``trace.function``) and that line.
"""

from __future__ import annotations

import contextlib
from typing import Mapping, Sequence

import numpy as np

from .. import ops
from ..ir import DType, Graph, Op, TensorType, Value
from ..ir.dims import Dim, prod
from cortado.runtime.errors import CortadoError, ShapeError

from .errors import UnsupportedFunctionError, user_location
from .symbolic import Specialize, broadcast_dims, hint, symbols_of
from .tracer import Tracer

__all__ = ["Trace", "ir_dtype"]


def ir_dtype(dtype, trace: "Trace | None" = None) -> DType:
    """The IR element type of a numpy dtype; complex, string and object dtypes are refused."""
    try:
        return DType.from_numpy(np.dtype(dtype))
    except (ValueError, TypeError):
        where = trace.where() if trace else user_location()
        fn = trace.function if trace else "cortado.jit"
        raise UnsupportedFunctionError(fn, where, f"arrays of dtype {np.dtype(dtype)} are not supported",
                                       hint="use float32/float16/bfloat16/float64, int8..int64, uint8..uint64 "
                                            "or bool") from None


class Trace:
    def __init__(self, name: str, env: Mapping[str, int]):
        self.graph = Graph(name)
        self.env = dict(env)                 # symbol -> its size in this call
        self.function = "cortado.jit"       # the numpy function being traced, for messages
        self._scalars: dict[tuple, Value] = {}
        self._arrays: dict[int, tuple[np.ndarray, Value]] = {}

    # -- context for messages ------------------------------------------------------------------
    @contextlib.contextmanager
    def calling(self, name: str):
        saved, self.function = self.function, name
        try:
            yield
        finally:
            self.function = saved

    def where(self) -> str:
        return user_location(2)

    def unsupported(self, reason: str = "", hint: str | None = None):
        raise UnsupportedFunctionError(self.function, self.where(), reason, hint)

    def shape_error(self, message: str):
        raise ShapeError(f"{self.function}: {message}", where=self.where())

    # -- building --------------------------------------------------------------------------------
    def tracer(self, value: Value):
        return Tracer(self, value)

    def add_input(self, name: str, shape: Sequence[Dim], dtype) -> Value:
        return self.graph.add_input(name, TensorType(tuple(shape), ir_dtype(dtype, self)))

    def apply_node(self, op: Op, inputs: Sequence[Value | None], **attrs):
        try:
            ops.get_op(op)
        except KeyError:
            err = UnsupportedFunctionError(self.function, self.where(),
                                           f"it needs the IR operator {Op(op).value}, which this build of "
                                           "Cortado does not register yet")
            err.missing_op = Op(op)
            raise err from None
        try:
            node = ops.apply(self.graph, op, list(inputs), **attrs)
        except CortadoError as e:
            syms = symbols_of([d for v in inputs if v is not None for d in v.shape])
            if syms:   # a symbolic dim the op cannot reason about: retry with it concrete
                raise Specialize(static=syms) from None
            raise ShapeError(f"{self.function}: {e.message}", where=self.where()) from None
        node.meta["source"] = self.where()
        node.meta["function"] = self.function
        return node

    def apply(self, op: Op, inputs: Sequence[Value | None], **attrs) -> Value:
        return self.apply_node(op, inputs, **attrs).outputs[0]

    def constant(self, array: np.ndarray) -> Value:
        """A numpy array captured by the function (a global weight, a literal) as a constant.

        The same array object captured twice becomes one constant; 0-d values are shared by value."""
        array = np.asarray(array)
        ir_dtype(array.dtype, self)
        if array.ndim == 0:
            key = (array.dtype.str, array.tobytes())
            v = self._scalars.get(key)
            if v is None:
                v = self._scalars[key] = self.graph.add_constant(array, name="scalar")
            return v
        hit = self._arrays.get(id(array))
        if hit is not None and hit[0] is array:
            return hit[1]
        v = self.graph.add_constant(array.copy(), name="const")
        self._arrays[id(array)] = (array, v)
        return v

    def scalar(self, value, dtype) -> Value:
        with np.errstate(all="ignore"):
            return self.constant(np.asarray(value, dtype=np.dtype(dtype)))

    def cast(self, v: Value, dtype) -> Value:
        target = ir_dtype(dtype, self)
        if v.dtype is target:
            return v
        if v.is_constant:
            with np.errstate(all="ignore"):
                return self.constant(v.const.astype(target.numpy))
        return self.apply(Op.CAST, [v], to=target)

    def reshape(self, v: Value, shape: Sequence[Dim]) -> Value:
        shape = tuple(shape)
        if tuple(v.shape) == shape:
            return v
        if v.is_constant and shape and all(isinstance(d, int) for d in shape):   # (0-d stays a node)
            return self.constant(v.const.reshape(shape))
        if prod(shape) != v.type.numel:
            syms = symbols_of(tuple(v.shape) + shape)
            if syms and hint(prod(shape), self.env) == hint(v.type.numel, self.env):
                raise Specialize(static=syms)
            self.shape_error(f"cannot reshape an array of shape {_fmt(v.shape)} into shape {_fmt(shape)}")
        return self.apply(Op.RESHAPE, [v], shape=shape)

    def transpose(self, v: Value, perm: Sequence[int]) -> Value:
        perm = tuple(perm)
        if perm == tuple(range(len(perm))):
            return v
        if v.is_constant:
            return self.constant(np.ascontiguousarray(np.transpose(v.const, perm)))
        return self.apply(Op.TRANSPOSE, [v], perm=perm)

    def broadcast_shape(self, *shapes: Sequence[Dim]) -> tuple[Dim, ...]:
        rank = max((len(s) for s in shapes), default=0)
        out: list[Dim] = []
        for axis in range(rank):
            result: Dim = 1
            for s in shapes:
                i = len(s) - rank + axis
                if i < 0:
                    continue
                b = broadcast_dims(result, s[i], self.env)
                if b is None:
                    self.shape_error("operands could not be broadcast together with shapes "
                                     + " ".join(_fmt(s) for s in shapes))
                result = b
            out.append(result)
        return tuple(out)

    def numpy_shaped(self, v: Value, operands) -> Value:
        """``v`` with the broadcast shape numpy gives for ``operands``. Scalar constants are stored
        with shape (1,) (``Graph.add_constant`` keeps ndim >= 1), so an op whose other operands
        are all 0-d would come out as (1,) instead of numpy's 0-d; this reshapes it back."""
        shapes = [tuple(o._value.shape) if hasattr(o, "_value") else np.shape(o) for o in operands]
        want = self.broadcast_shape(*shapes)
        return v if tuple(v.shape) == want else self.reshape(v, want)

    def broadcast_to(self, v: Value, shape: Sequence[Dim]) -> Value:
        shape = tuple(shape)
        if tuple(v.shape) == shape:
            return v
        if self.broadcast_shape(v.shape, shape) != shape:
            self.shape_error(f"cannot broadcast an array of shape {_fmt(v.shape)} to {_fmt(shape)}")
        if v.is_constant and all(isinstance(d, int) for d in shape):
            return self.constant(np.ascontiguousarray(np.broadcast_to(v.const, shape)))
        return self.apply(Op.EXPAND, [v], shape=shape)


def _fmt(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
