"""Binding a call's arguments: which are traced arrays, which are static, and the cache key.

Arrays (numpy arrays, and DLPack tensors from torch/cupy/jax) are traced: the compiled
version depends only on their dtypes and shapes. Everything else — Python and numpy scalars,
strings, tuples, None, and any argument named in ``static_argnames`` — is *static*: its value
is part of the cache key and the function sees it as is, so Python control flow over it
simply unrolls. A static numpy array is keyed by its contents and becomes a constant.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cortado.runtime.dtypes import dtype_name

from .dlpack import DeviceArray, is_dlpack
from .errors import JitError, user_location

__all__ = ["ArrayArg", "BoundCall", "bind_call"]


@dataclass
class ArrayArg:
    name: str                 # the graph input name (the parameter name; *args get _0, _1...)
    host: np.ndarray | None   # the numpy view of the data, when it lives on the host
    device: DeviceArray | None = None   # a CUDA tensor given through DLPack
    source: Any = None        # the object the user passed (to return results of the same kind)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.host.shape) if self.host is not None else self.device.shape

    @property
    def dtype(self) -> np.dtype:
        return self.host.dtype if self.host is not None else self.device.dtype


@dataclass
class BoundCall:
    arguments: dict                      # parameter name -> value, with defaults applied
    arrays: list[ArrayArg]
    paths: list[tuple]                   # where each array sits: (param,), (param, index) or (param, key)
    static_key: tuple
    foreign: Any = None                  # a DLPack-capable input whose kind results are returned as
    extras: dict = field(default_factory=dict)


def _freeze(value, name: str):
    """A hashable key for a static argument; lists and dicts become tuples."""
    if isinstance(value, np.ndarray):
        digest = hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()
        return ("ndarray", value.shape, value.dtype.str, digest)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_freeze(v, name) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, _freeze(v, name)) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0])))
    try:
        hash(value)
    except TypeError:
        raise JitError(f"argument {name!r} of type {type(value).__name__} is neither an array nor hashable, "
                       "so it can be neither traced nor used as a static argument", where=user_location(),
                       hint="pass arrays as numpy arrays, and configuration as ints, floats, strings or tuples") \
            from None
    return (type(value).__name__, value)


def _as_array(value):
    """The ArrayArg pieces for a traced argument, or None when ``value`` is not an array."""
    if isinstance(value, np.ndarray):
        return value, None, None
    if isinstance(value, np.generic):
        return None
    if is_dlpack(value):
        dev = DeviceArray.from_object(value)
        if dev.on_host:
            return np.from_dlpack(value), None, value
        return None, dev, value
    return None


def bind_call(sig: inspect.Signature, args, kwargs, static_argnames: frozenset) -> BoundCall:
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise JitError(f"the arguments do not match the function's signature: {e}", where=user_location()) from None
    bound.apply_defaults()
    arrays: list[ArrayArg] = []
    paths: list[tuple] = []
    static: list = []
    foreign = None
    for pname, value in bound.arguments.items():
        kind = sig.parameters[pname].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            items = [((pname, i), f"{pname}_{i}", v) for i, v in enumerate(value)]
        elif kind is inspect.Parameter.VAR_KEYWORD:
            items = [((pname, k), k, v) for k, v in value.items()]
        else:
            items = [((pname,), pname, value)]
        for path, name, v in items:
            if name in static_argnames or pname in static_argnames:
                static.append((name, _freeze(v, name)))
                continue
            got = _as_array(v)
            if got is None:
                static.append((name, _freeze(v, name)))
                continue
            host, dev, src = got
            if src is not None and foreign is None:
                foreign = src
            arrays.append(ArrayArg(name, host, dev, src))
            paths.append(path)
    for a in arrays:
        if dtype_name(a.dtype) is None:
            raise JitError(f"argument {a.name!r} has dtype {a.dtype}, which Cortado does not support",
                           where=user_location(),
                           hint="use float32/float16/bfloat16/float64, int8..int64, uint8..uint64 or bool")
        if any(d == 0 for d in a.shape):
            raise JitError(f"argument {a.name!r} has an empty dim {a.shape}; Cortado needs non-empty arrays",
                           where=user_location())
    return BoundCall(dict(bound.arguments), arrays, paths, tuple(static), foreign)


def substitute(sig: inspect.Signature, call: BoundCall, replacements: list) -> tuple[list, dict]:
    """The call's (args, kwargs) with each traced array replaced (by its tracer)."""
    arguments = {k: (list(v) if isinstance(v, tuple) and sig.parameters[k].kind is inspect.Parameter.VAR_POSITIONAL
                     else dict(v) if isinstance(v, dict) and sig.parameters[k].kind is inspect.Parameter.VAR_KEYWORD
                     else v) for k, v in call.arguments.items()}
    for path, new in zip(call.paths, replacements):
        if len(path) == 1:
            arguments[path[0]] = new
        else:
            arguments[path[0]][path[1]] = new
    args, kwargs = [], {}
    for pname, value in arguments.items():
        kind = sig.parameters[pname].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            kwargs.update(value)
        elif kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[pname] = value
        else:
            args.append(value)
    return args, kwargs
