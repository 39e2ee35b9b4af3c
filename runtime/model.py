"""CompiledModel: a launch plan, its kernels and weights, run on a device.

The same object comes back from ``cortado.compile`` (with ``graph`` and full ``stats``) and
from ``runtime.load`` (plan, kernels and weights only). Running binds the symbolic sizes from
the inputs, takes a set of the planned intermediate buffers for those sizes from a bounded
pool (``buffers.py``), and launches every kernel in order.

One model may be called from any number of threads at once (as ONNX Runtime's
``InferenceSession.run``). What a call writes is its own: its intermediate buffers (lent by
the pool to one call at a time), its outputs (fresh arrays), and on cuda its stream. What is
shared is read-only once built: kernels, weights and cubins are loaded once, under a lock, and
published together. What cannot run concurrently is serialized here, never by the caller:
launches under Triton's interpreter (a process-wide lock, ``devices/interpreter.py``) and
replays of the one captured CUDA graph (a per-model lock).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from . import sizes
from .buffers import BufferPool
from .segments import late_buffers, late_values, run_segments
from .devices import get_device, resolve_target
from .dtypes import numpy_dtype
from .errors import ArtifactError, CortadoError, InputError, KernelLaunchError
from .launch import Launch
from .limits import INDEX_LIMIT, max_elements
from .plan_sizes import PlanSizes

MAX_ELEMENTS = INDEX_LIMIT   # kernels index with 32-bit offsets


class CompiledModel:
    def __init__(self, plan: dict, source: str, constants: Mapping[str, np.ndarray], *, target: str = "auto",
                 stats: dict | None = None, graph: Any = None, cubins: Mapping | None = None,
                 cubin_index: Sequence[dict] | None = None, max_elements: int | None = None,
                 max_buffer_sets: int | None = None):
        self.plan = plan
        self.source = source
        self.constants = dict(constants)
        self.target, self.target_reason = resolve_target(target)
        self.device = get_device(target if not isinstance(target, str) else self.target)   # a name or a device
        self.stats = dict(stats or {})
        self.graph = graph
        self.cubins = dict(cubins or {})
        self._module = None                 # set once, with _weights, under _load_lock
        self._weights: dict[str, Any] | None = None
        self._load_lock = threading.Lock()
        self._env_keys = tuple(plan["symbols"])
        # data-dependent sizes (segments.py): host steps bind symbols; late buffers are per call
        self._host_steps = any("host" in s for s in plan["steps"])
        self._late_buffers = late_buffers(plan)
        self._late_values = late_values(plan)
        self._pool = BufferPool(self._new_buffer_set, max_buffer_sets)
        self.cubin_index = list(cubin_index or [])
        self._graph = None          # CUDA graphs (devices/cuda_graph.py), after use_cuda_graph()
        self.max_elements = max_elements   # None: $CORTADO_MAX_ELEMENTS or the 32-bit bound, read per run
        self._sizes = PlanSizes(plan, self._late_values)    # per binding of the symbols, kept

    # -- signature ----------------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return [i["name"] for i in self.plan["inputs"]]

    @property
    def output_names(self) -> list[str]:
        return [o["output"] for o in self.plan["outputs"]]

    @property
    def inputs(self) -> list[dict]:
        """[{name, shape, dtype}] with symbolic dims as strings."""
        return [dict(i) for i in self.plan["inputs"]]

    @property
    def outputs(self) -> list[dict]:
        return [{"name": o["output"], "shape": o["shape"], "dtype": o["dtype"]} for o in self.plan["outputs"]]

    def __repr__(self) -> str:
        sig = ", ".join(f"{i['name']}: {i['dtype']}{i['shape']}" for i in self.plan["inputs"])
        return f"<CompiledModel ({sig}) -> {len(self.plan['outputs'])} output(s), " \
               f"{len(self.plan['kernels'])} kernels, target={self.target}>"

    # -- running ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if len(args) > len(self.input_names):
            raise InputError(f"model takes {len(self.input_names)} input(s) ({', '.join(self.input_names)}), "
                             f"got {len(args)} positional")
        feeds = dict(zip(self.input_names, args))
        for k, v in kwargs.items():
            if k in feeds:
                raise InputError(f"input {k!r} given twice")
            feeds[k] = v
        outs = self.run(feeds)
        values = [outs[n] for n in self.output_names]
        return values[0] if len(values) == 1 else tuple(values)

    def run(self, inputs: Mapping[str, Any], *, outputs: str = "host", keep=None) -> dict[str, Any]:
        """Run on ``inputs`` (name -> array); returns output name -> array.

        Inputs are numpy arrays, or on the cuda target also device arrays (anything with
        ``__cuda_array_interface__`` or DLPack, e.g. torch/cupy/jax), used without a copy.
        ``outputs="device"`` returns device tensors (``__cuda_array_interface__``) on cuda.

        ``keep`` (True for every value a kernel writes, or an iterable of value names) also
        returns those intermediate values, as numpy arrays by value name, as
        ``cortado.ops.evaluate(..., keep=True)`` does: an output name wins over a value of the
        same name. Each kept value is copied to the host right after the kernel that writes it,
        because the memory plan reuses its buffer later in the run. It is a debugging aid
        (``cortado debug-numerics``): each copy synchronizes, and no CUDA graph is used.

        Safe to call from many threads at once (see the module docstring); the returned arrays
        belong to the caller. Inputs are read while the call runs: do not change them until it
        returns.
        """
        arrays, env = self._check_inputs(inputs)
        wanted = self._kept_names(keep)
        self._record_sizes(env)
        dev = self.device
        if hasattr(dev, "enter_thread"):
            dev.enter_thread()          # cuda: this thread gets the device's context
        self._prepare()
        if self._host_steps:
            return run_segments(self, arrays, env, outputs, wanted)
        graphs = self._graph
        if graphs is not None and not wanted:
            # CUDA graph hook: the graphs own their buffers, serialize their replays and return
            # fresh outputs (devices/cuda_graph.py)
            return self._outputs(graphs.run(self, arrays, env), outputs)
        kept: dict[str, np.ndarray] = {}
        key = tuple(env.get(k) for k in self._env_keys)
        with self._pool.borrow(key) as bufset:
            stream = bufset.stream
            in_tensors = {name: dev.from_host(a) for name, a in arrays.items()}
            out_tensors = [dev.empty(o["dtype"], self._shape(o["shape"], env)) for o in self.plan["outputs"]]
            resolved: dict[str, Any] = {}
            launches, copies = self.bind(env, in_tensors, out_tensors, resolved=resolved, buffers=bufset.buffers)
            try:
                if wanted:
                    for launch in launches:
                        self.execute([launch], [], stream)
                        for name in self.plan["steps"][launch.step]["outputs"]:
                            if name in wanted:
                                kept[name] = self._snapshot(name, resolved[name], env, stream)
                    self.execute([], copies, stream)
                else:
                    self.execute(launches, copies, stream)
            finally:
                # the set goes back to the pool only once the device is done with it
                self._synchronize(stream)
            # views of the set, and the set itself: the pool may drop it for another size the
            # moment it is back, so this frame must not keep it alive while outputs are copied
            del launches, copies, resolved, bufset, stream
        if wanted:
            kept.update(self._outputs(out_tensors, "host"))
            return kept
        return self._outputs(out_tensors, outputs)

    def _outputs(self, tensors: Sequence[Any], outputs: str) -> dict[str, Any]:
        """The call's output tensors by name: as they are (``outputs="device"``) or on the host."""
        names = [o["output"] for o in self.plan["outputs"]]
        if outputs == "device":
            return dict(zip(names, tensors))
        return {name: self.device.to_host(t) for name, t in zip(names, tensors)}

    def _record_sizes(self, env: Mapping[str, int]) -> None:
        """``stats``' sizes (``peak_bytes``, ``est_hbm_bytes``, ``flops``) as plain ints at the
        shapes of this run: each ``*_expr`` beside them evaluated for the run's dims, which
        ``stats["dims"]`` records. Under concurrent calls of different shapes the last one wins."""
        exprs = {k[:-len("_expr")]: v for k, v in self.stats.items() if k.endswith("_expr")}
        if not exprs:
            return
        try:
            update: dict[str, Any] = {k: sizes.evaluate(v, env) for k, v in exprs.items()}
        except CortadoError:     # an expression naming a dim this plan does not bind: keep the old numbers
            return
        update["dims"] = {k: int(env[k]) for k in self.stats.get("dims", {}) if k in env}
        self.stats.update(update)

    async def run_async(self, inputs: Mapping[str, Any], *, outputs: str = "host", keep=None) -> dict[str, Any]:
        """``run`` for asyncio servers: ``await model.run_async(feeds)``.

        The call runs in a worker thread (``asyncio.to_thread``: the event loop's default
        executor), so the event loop keeps serving other requests while kernels run. Any
        number may be awaited at once: each is one ``run`` call with its own buffers.
        Cancelling the await stops waiting, not the run: it completes in its thread and its
        buffers return to the pool. Errors are raised from the ``await`` as ``run`` raises them.
        """
        import asyncio

        return await asyncio.to_thread(self.run, inputs, outputs=outputs, keep=keep)

    def _kept_names(self, keep) -> set[str]:
        """The value names ``run(keep=...)`` copies out, checked against what kernels write."""
        if keep is None or keep is False:
            return set()
        steps = self.plan["steps"]
        if steps and any("outputs" not in s for s in steps):
            raise ArtifactError("this launch plan does not record which values each kernel writes "
                                "(it predates run(keep=...))", hint="compile the model again")
        written = {name for s in steps for name in s["outputs"]}
        if keep is True:
            return written
        names = {keep} if isinstance(keep, str) else set(keep)
        unknown = sorted(names - written)
        if unknown:
            raise InputError(f"keep= names values no kernel writes: {', '.join(map(repr, unknown))}",
                             hint="inputs, weights and free reshapes are not kernel outputs")
        return names

    def _snapshot(self, name: str, t, env: Mapping[str, int], stream=None) -> np.ndarray:
        """A host copy of the value ``name`` held in device tensor ``t``."""
        dev = self.device
        self._synchronize(stream)
        host = dev.to_host(t)
        shape = self._shape(self.plan["values"][name]["shape"], env)
        s = self.plan["slices"].get(name)
        if s is None:
            return np.array(host, copy=True).reshape(shape)
        # a box of a placed concat's buffer: the root's row-major strides, from the offset on
        root_shape = self._shape(self.plan["values"][s["root"]]["shape"], env)
        strides, acc = [], host.itemsize
        for d in reversed(root_shape):
            strides.append(acc)
            acc *= d
        box = np.lib.stride_tricks.as_strided(host.reshape(-1), shape=shape, strides=tuple(reversed(strides)),
                                              writeable=False)
        return np.array(box, copy=True)

    def use_cuda_graph(self, enabled: bool = True) -> "CompiledModel":
        """On cuda, capture the whole launch plan in a CUDA graph at the first run of each input
        size (up to four sizes) and replay it for later runs of that size. A graph owns its
        buffers; inputs are copied in and outputs copied out to fresh device memory."""
        use = enabled and hasattr(self.device, "cuda_graphs") and not self._host_steps   # sizes vary per call
        self._graph = (self._graph if self._graph is not None else self.device.cuda_graphs()) if use else None
        return self

    def _prepare(self) -> None:
        """Load kernels, cubins and weights once. Threads racing on a fresh model wait on the
        lock for the one that loads; the module is published last, so a thread that sees it
        also sees the weights and cubins."""
        if self._module is not None:
            return
        with self._load_lock:
            if self._module is not None:
                return
            dev = self.device
            # the cpu device runs the plan's numpy kernels (plan["cpu"]), others the Triton source
            module = dev.load_plan(self.plan, self.source) if hasattr(dev, "load_plan") else \
                dev.load_kernels(self.source)
            if self.cubins and hasattr(dev, "use_cubins"):
                dev.use_cubins(self.plan, self.cubin_index, self.cubins)
            self._weights = {name: dev.from_host(a) for name, a in self.constants.items()}
            if hasattr(dev, "synchronize"):
                dev.synchronize()          # weight uploads are complete before any stream reads them
            self._module = module

    def bind(self, env: Mapping[str, int], in_tensors: Mapping[str, Any], out_tensors: Sequence[Any],
             resolved: dict | None = None, buffers: Sequence[Any] | None = None):
        """Resolve every launch of the plan to (kernel, grid, args, config) for these buffers.

        ``buffers`` are the intermediate buffers to bind (one per planned buffer); by default
        a fresh set from ``allocate_buffers(env)``, which the returned launches keep alive.
        ``resolved``, when given, receives the tensor of every value the launches use, by name."""
        if self._host_steps:
            raise CortadoError("this model's sizes depend on its data (it has host steps); it runs only "
                               "through run(), which binds them segment by segment")
        dev = self.device
        values = self.plan["values"]
        known = self._sizes.at(env)
        shapes = known.shapes
        bufs = self.allocate_buffers(env) if buffers is None else buffers
        cache: dict[str, Any] = {} if resolved is None else resolved

        def resolve(name: str):
            t = cache.get(name)
            if t is not None:
                return t
            info = values[name]
            shape = shapes[name]
            if name in in_tensors:
                t = in_tensors[name]
            elif name in self._weights:
                t = self._weights[name]
            elif name in self.plan["in_output"]:
                t = out_tensors[self.plan["in_output"][name]]
            elif name in self.plan["slices"]:
                sl = self.plan["slices"][name]
                t = dev.offset_view(resolve(sl["root"]), sizes.evaluate(sl["offset"], env))
            elif name in self.plan["alias_of"]:
                t = dev.reshape(resolve(self.plan["alias_of"][name]), shape)
            else:
                t = dev.view(bufs[self.plan["placement"][name]], info["dtype"], shape)
            cache[name] = t
            return t

        launches = []
        family = dev.family
        for i, step in enumerate(self.plan["steps"]):
            if i in known.empty_steps:
                continue        # every value it writes is empty: nothing to compute, no launch
            if hasattr(dev, "plan_step"):
                step = dev.plan_step(i, step)      # cpu: the launch's numpy function
            cfg = step["configs"][family]
            genv = dict(env)
            genv.update({k: v for k, v in cfg.items() if isinstance(v, int)})
            grid = tuple(sizes.evaluate(g, genv) for g in step["grid"])
            if min(grid, default=1) <= 0:
                continue        # an empty grid: nothing to compute
            args = [resolve(a["value"]) if "value" in a else sizes.evaluate(a["size"], env) for a in step["args"]]
            launches.append(Launch(i, getattr(self._module, step["kernel"]), grid, args, cfg))
        copies = [(out_tensors[pos], resolve(src)) for src, pos in self.plan["copies"]]
        return launches, copies

    def execute(self, launches, copies, stream=None) -> None:
        """Launch ``launches`` then do ``copies``, in order, on ``stream``. A launch that fails
        raises ``KernelLaunchError`` naming the kernel and its source nodes."""
        dev = self.device
        for launch in launches:
            try:
                dev.launch(launch, stream)
            except CortadoError:
                raise
            except Exception as e:
                raise self._launch_error(launch, e) from e
        for dst, src in copies:
            dev.copy(dst, src, stream)

    def _launch_error(self, launch: Launch, error: Exception) -> KernelLaunchError:
        step = self.plan["steps"][launch.step] if 0 <= launch.step < len(self.plan["steps"]) else {}
        kernel = step.get("kernel") or getattr(launch.kernel, "__name__", "?")
        return KernelLaunchError(kernel, list(step.get("nodes", ())), launch.step, error, target=self.target)

    def _shape(self, dims: Sequence, env: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(sizes.evaluate(d, env) for d in dims)

    def allocate_buffers(self, env: Mapping[str, int]) -> list:
        """A fresh set of the plan's intermediate buffers for the sizes ``env``, owned by the
        caller and shared with no run (for a CUDA graph, which replays into fixed addresses).
        A buffer whose size depends on data (``segments.late_buffers``) is None: each call
        allocates it once its size is known."""
        return [None if i in self._late_buffers else self.device.alloc(sizes.evaluate(b["nbytes"], env))
                for i, b in enumerate(self.plan["buffers"])]

    def _new_buffer_set(self, key: tuple) -> "_BufferSet":
        """What the pool lends one call: intermediate buffers for ``key``'s sizes, and on
        devices with streams the stream that call launches on."""
        env = {k: v for k, v in zip(self._env_keys, key) if v is not None}
        owner = self.device.new_stream() if hasattr(self.device, "new_stream") else None
        return _BufferSet(self.allocate_buffers(env), None if owner is None else int(owner), owner)

    def _synchronize(self, stream) -> None:
        """Wait for the work of one call's stream (all work on devices without streams)."""
        dev = self.device
        if stream is not None and hasattr(dev, "sync_stream"):
            dev.sync_stream(stream)
        else:
            dev.synchronize()

    @property
    def max_buffer_sets(self) -> int:
        """At most this many sets of intermediate buffers exist for this model at once (one per
        call in flight; a call beyond that waits for a set). ``max_buffer_sets=`` when building
        the model, else ``$CORTADO_BUFFER_SETS``, else 4. May be set at any time
        (``model.max_buffer_sets = 2``)."""
        return self._pool.capacity

    @max_buffer_sets.setter
    def max_buffer_sets(self, n: int) -> None:
        self._pool.resize(n)

    def _check_inputs(self, inputs: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        if not isinstance(inputs, Mapping):
            raise InputError(f"run() takes a dict of input name -> array, got {type(inputs).__name__}")
        expected = self.input_names
        missing = [n for n in expected if n not in inputs]
        unknown = [n for n in inputs if n not in expected]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(map(repr, missing))}")
            if unknown:
                parts.append(f"unknown {', '.join(map(repr, unknown))}")
            raise InputError(f"inputs do not match the model: {'; '.join(parts)}",
                             hint=f"the model's inputs are {', '.join(map(repr, expected))}")
        env: dict[str, int] = {}
        arrays: dict[str, np.ndarray] = {}
        for spec in self.plan["inputs"]:
            name = spec["name"]
            a = inputs[name]
            info = self.device.array_info(a) if hasattr(self.device, "array_info") else None
            if info is not None:
                shape, dtype = info[0], info[1]        # a device array: used in place
            else:
                a = _host_array(name, a)
                shape, dtype = a.shape, a.dtype
            want = numpy_dtype(spec["dtype"])
            if dtype != want:
                raise InputError(f"input {name!r} expects dtype {spec['dtype']}, got {dtype}",
                                 hint=f"convert with .astype(np.{want.name})" if want.kind != "V" else None)
            if len(shape) != len(spec["shape"]):
                raise InputError(f"input {name!r} expects shape {_fmt_shape(spec['shape'])} (rank {len(spec['shape'])}), "
                                 f"got {tuple(shape)}")
            for axis, (d, got) in enumerate(zip(spec["shape"], shape)):
                if isinstance(d, int):
                    if d != got:
                        raise InputError(f"input {name!r} expects shape {_fmt_shape(spec['shape'])}, "
                                         f"got {tuple(shape)} (axis {axis})")
                elif d.isidentifier():
                    if env.setdefault(d, got) != got:
                        raise InputError(f"dim {d} is {env[d]} in one input but {got} in {name!r} (axis {axis})")
            arrays[name] = a
        # every size is checked before anything is allocated or copied (a broadcast view of
        # 10^12 elements costs nothing until it is made contiguous); once per sizes and limit
        limit = max_elements(self.max_elements)
        self._sizes.check_limit(env, limit)      # values sized by data: checked when bound
        for name, a in arrays.items():
            if isinstance(a, np.ndarray) and not a.flags.c_contiguous:
                arrays[name] = np.ascontiguousarray(a)
        return arrays, env

    # -- saving -------------------------------------------------------------------------------
    def save(self, path, *, archs: Sequence[str] = ()) -> str:
        """Write an ahead-of-time artifact (a folder, or one .zip file); returns its path."""
        from .artifact import save_artifact

        return save_artifact(self, path)


@dataclass
class _BufferSet:
    """One call's intermediate buffers and, on cuda, its stream (lent together by the pool)."""

    buffers: list
    stream: Any = None        # the handle launches take
    stream_owner: Any = None  # keeps the stream alive as long as the set


def _host_array(name: str, a) -> np.ndarray:
    """``a`` as a numpy array without copying it (nested lists and scalars are converted)."""
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, (str, bytes)) or not (hasattr(a, "__array__") or isinstance(a, (list, tuple, int, float, bool))):
        raise InputError(f"input {name!r} must be a numpy array, got {type(a).__name__}")
    try:
        return np.asarray(a)
    except (ValueError, TypeError) as e:
        raise InputError(f"input {name!r} cannot be read as an array ({e})") from None


def _fmt_shape(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"

