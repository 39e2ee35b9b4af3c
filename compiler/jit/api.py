"""``cortado.jit``: trace a numpy function, compile it like any model, cache per signature.

    @cortado.jit
    def mlp(x, w1, w2):
        return np.maximum(x @ w1, 0) @ w2

The first call with a new signature (array dtypes and shapes, static argument values) traces
the function with ``Tracer`` arrays into an IR graph, raises numpy idioms into the fused ops
(``raising.py``), and hands the graph to ``cortado.compile`` — the same passes, fusion and
codegen as an imported model. Later calls with that signature run the cached kernels.

With ``dynamic=True`` the leading dim of every array argument starts symbolic (see
``symbolic.py``): the cache entry then serves every size of those dims, and a new batch size
compiles nothing. ``dynamic=("x", "mask")`` limits that to the named arguments.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict, namedtuple
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ..ir import Graph, Sym
from cortado.runtime.devices import resolve_target
from .arguments import BoundCall, bind_call, substitute
from .dlpack import KDL_CUDA, Exported, to_framework
from .errors import JitError, user_location
from .outputs import OutputTree, record_outputs
from .raising import raise_idioms
from .symbolic import Specialize
from .trace import Trace
from .tracer import Tracer
from . import ufunc_dispatch  # noqa: F401  (with functions and indexing: how tracers dispatch)

__all__ = ["jit", "JitFunction", "Lowered", "CacheInfo"]

CacheInfo = namedtuple("CacheInfo", "hits misses maxsize currsize traces")


@dataclass
class Lowered:
    """What ``f.lower(*args)`` returns: the traced IR, the compiled model and its source."""

    graph: Graph          # the traced graph (after idiom raising), before the optimization passes
    compiled: Any         # the CompiledModel (its .graph is the optimized graph, .stats the numbers)
    spec: tuple           # per array argument: its symbolic leading dim, or None when static

    @property
    def source(self) -> str:
        return self.compiled.source

    @property
    def stats(self) -> dict:
        return self.compiled.stats

    def __str__(self) -> str:
        return f"{self.graph!r}\n\n{self.source}"


@dataclass
class _Entry:
    spec: tuple
    graph: Graph
    compiled: Any
    tree: OutputTree


def jit(fn: Callable | None = None, *, static_argnames: Iterable[str] | str = (), dynamic=False,
        target: str = "auto", opt_level: int = 2, maxsize: int | None = 64, allow_tf32: bool = True):
    """Compile a numpy function into fused Triton kernels (decorator, with or without arguments)."""
    if fn is None:
        return lambda f: JitFunction(f, static_argnames=static_argnames, dynamic=dynamic, target=target,
                                     opt_level=opt_level, maxsize=maxsize, allow_tf32=allow_tf32)
    return JitFunction(fn, static_argnames=static_argnames, dynamic=dynamic, target=target,
                       opt_level=opt_level, maxsize=maxsize, allow_tf32=allow_tf32)


class JitFunction:
    def __init__(self, fn: Callable, *, static_argnames=(), dynamic=False, target="auto", opt_level=2,
                 maxsize: int | None = 64, allow_tf32: bool = True):
        if not callable(fn):
            raise JitError(f"cortado.jit needs a function, got {type(fn).__name__}", where=user_location())
        functools.update_wrapper(self, fn)
        self.fn = fn
        self._sig = inspect.signature(fn)
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        params = self._sig.parameters
        has_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for n in names:
            if n not in params and not has_kwargs:
                raise JitError(f"static_argnames names {n!r}, which is not a parameter of {fn.__name__}",
                               where=user_location())
        self.static_argnames = frozenset(names)
        if isinstance(dynamic, str):
            dynamic = (dynamic,)
        self.dynamic = dynamic if isinstance(dynamic, bool) else frozenset(dynamic)
        self.target, self.opt_level, self.allow_tf32 = target, opt_level, allow_tf32
        self.maxsize = maxsize
        self._cache: OrderedDict[tuple, list[_Entry]] = OrderedDict()
        self._lock = threading.RLock()
        self._hits = self._misses = self._traces = 0

    # -- public ---------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if _holds_tracer(args) or _holds_tracer(kwargs.values()):
            return self.fn(*args, **kwargs)      # called inside another trace: inline it
        call = bind_call(self._sig, args, kwargs, self.static_argnames)
        self._check_devices(call)
        entry = self._entry(call)
        return self._run(entry, call)

    def lower(self, *args, **kwargs) -> Lowered:
        """Trace and compile for these arguments (or reuse the cached version) without running."""
        call = bind_call(self._sig, args, kwargs, self.static_argnames)
        entry = self._entry(call)
        return Lowered(entry.graph, entry.compiled, entry.spec)

    def trace(self, *args, **kwargs) -> Graph:
        """The traced IR graph for these arguments, without compiling (nothing is cached)."""
        call = bind_call(self._sig, args, kwargs, self.static_argnames)
        return self._settled_trace(call)[0]

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, self.maxsize, sum(len(v) for v in self._cache.values()),
                             self._traces)

    def cache_clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._hits = self._misses = self._traces = 0

    def __repr__(self) -> str:
        return f"<cortado.jit of {self.fn.__qualname__}>"

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    # -- cache ----------------------------------------------------------------------------------
    def _is_dynamic(self, name: str) -> bool:
        return self.dynamic is True or (not isinstance(self.dynamic, bool) and name in self.dynamic)

    def _key(self, call: BoundCall) -> tuple:
        arrays = tuple((a.name, a.dtype.str, len(a.shape),
                        a.shape[1:] if self._is_dynamic(a.name) and a.shape else a.shape) for a in call.arrays)
        return call.static_key, arrays

    @staticmethod
    def _matches(spec: tuple, call: BoundCall) -> bool:
        env: dict[str, int] = {}
        for s, a in zip(spec, call.arrays):
            if isinstance(s, str):
                if env.setdefault(s, a.shape[0]) != a.shape[0]:
                    return False
            elif s is not None and a.shape[0] != s:
                return False
        return True

    def _entry(self, call: BoundCall) -> _Entry:
        key = self._key(call)
        with self._lock:
            entries = self._cache.get(key, [])
            for e in entries:
                if self._matches(e.spec, call):
                    self._hits += 1
                    self._cache.move_to_end(key)
                    return e
            entry = self._compile(call)
            self._misses += 1
            self._cache.setdefault(key, []).append(entry)
            self._cache.move_to_end(key)
            while self.maxsize is not None and sum(len(v) for v in self._cache.values()) > self.maxsize:
                oldest = next(iter(self._cache))
                self._cache[oldest].pop(0)
                if not self._cache[oldest]:
                    del self._cache[oldest]
            return entry

    # -- tracing --------------------------------------------------------------------------------
    def _initial_spec(self, call: BoundCall) -> list:
        spec = []
        for a in call.arrays:
            if self._is_dynamic(a.name) and a.shape:
                spec.append(f"N{len([s for s in spec if isinstance(s, str)]) or ''}")
            else:
                spec.append(None)
        return spec

    def _compile(self, call: BoundCall) -> _Entry:
        import cortado

        graph, tree, final = self._settled_trace(call)
        compiled = cortado.compile(graph, target=self.target, opt_level=self.opt_level,
                                    allow_tf32=self.allow_tf32, name=self.fn.__name__)
        return _Entry(final, graph, compiled, tree)

    def _settled_trace(self, call: BoundCall) -> tuple[Graph, OutputTree, tuple]:
        """Trace, narrowing the symbolic dims until the trace needs no more specialization."""
        spec = self._initial_spec(call)
        for _ in range(len(spec) + 2):
            try:
                graph, tree = self._trace(call, spec)
                break
            except Specialize as s:
                new = [None if x in s.static else x for x in spec]
                for keep, drop in s.merge:
                    new = [keep if x == drop else x for x in new]
                if new == spec:
                    raise JitError("tracing did not settle on the shapes of the arguments (a bug in cortado.jit)",
                                   where=user_location()) from None
                spec = new
        else:
            raise JitError("tracing did not settle on the shapes of the arguments", where=user_location())
        final = tuple(s if isinstance(s, str) else (a.shape[0] if self._is_dynamic(a.name) and a.shape else None)
                      for s, a in zip(spec, call.arrays))
        return graph, tree, final

    def _trace(self, call: BoundCall, spec: list) -> tuple[Graph, OutputTree]:
        self._traces += 1
        env = {s: a.shape[0] for s, a in zip(spec, call.arrays) if isinstance(s, str)}
        t = Trace(getattr(self.fn, "__name__", "jit"), env)
        tracers = []
        for s, a in zip(spec, call.arrays):
            shape = ((Sym(s),) + tuple(a.shape[1:])) if isinstance(s, str) else tuple(a.shape)
            if not shape:     # the runtime passes 0-d arrays as shape (1,): reshape inside the graph
                tracers.append(Tracer(t, t.reshape(t.add_input(a.name, (1,), a.dtype), ())))
                continue
            tracers.append(Tracer(t, t.add_input(a.name, shape, a.dtype)))
        args, kwargs = substitute(self._sig, call, tracers)
        result = self.fn(*args, **kwargs)
        tree = record_outputs(t, result)
        if not t.graph.outputs:
            raise JitError(f"{self.fn.__name__} returns no traced array, so there is nothing to compile",
                           where=user_location(), hint="return the arrays computed from the arguments")
        raise_idioms(t.graph)
        t.graph.remove_unused()
        return t.graph, tree

    # -- running --------------------------------------------------------------------------------
    def _check_devices(self, call: BoundCall) -> None:
        """CUDA tensors need the cuda target (checked before anything is compiled)."""
        on_device = [a for a in call.arrays if a.device is not None]
        if not on_device:
            return
        target = resolve_target(self.target)[0] if self.target != "interpreter" else "interpreter"
        if target != "cuda":
            raise JitError(f"argument {on_device[0].name!r} is a CUDA tensor, but {self.fn.__name__} runs on "
                           f"the {target} target", where=user_location(),
                           hint="pass numpy arrays, or use target='cuda' (or 'auto') on a machine with a GPU")
        for a in on_device:
            if a.device.device_id != 0:
                raise JitError(f"argument {a.name!r} is on CUDA device {a.device.device_id}; Cortado runs on "
                               "device 0", where=user_location(), hint="move it to device 0 (cuda:0)")

    def _run(self, entry: _Entry, call: BoundCall):
        model = entry.compiled
        on_device = [a for a in call.arrays if a.device is not None]
        feeds = {a.name: (a.source if a.device is not None else a.host.reshape(1) if a.host.ndim == 0 else a.host)
                 for a in call.arrays}
        if on_device:
            # device arrays are used in place; results stay on the device and go back to the
            # inputs' framework through DLPack (no host copy either way)
            outs = model.run(feeds, outputs="device")
            results = [to_framework(call.foreign, Exported(t.ptr, t.shape, t.dtype, KDL_CUDA, 0, owner=t))
                       for t in (outs[n] for n in model.output_names)]
            return entry.tree.build(results)
        outs = model.run(feeds)
        results = [outs[n] for n in model.output_names]
        results = [r[()] if r.ndim == 0 else r for r in results]
        if call.foreign is not None:      # CPU DLPack tensors in: the same kind of tensors out
            results = [to_framework(call.foreign, Exported.from_numpy(np.ascontiguousarray(r))) for r in results]
        return entry.tree.build(results)


def _holds_tracer(values) -> bool:
    for v in values:
        if isinstance(v, Tracer):
            return True
        if isinstance(v, (tuple, list)) and _holds_tracer(v):
            return True
        if isinstance(v, dict) and _holds_tracer(v.values()):
            return True
    return False
