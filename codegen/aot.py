"""Ahead-of-time compilation of generated kernels for NVIDIA architectures, with no GPU.

Triton compiles for any ``GPUTarget`` on a machine without a GPU. Every kernel of a launch plan
is compiled once per distinct CUDA launch configuration (block sizes are constexprs) and per
architecture. The suite uses this to prove generated code is valid for real GPUs, and
``cortado compile --arch`` stores the cubins in the artifact. Compiles run in worker
processes: Triton's compiler holds the GIL, so threads would not overlap.

Built binaries are cached on disk (``$CORTADO_CACHE_DIR/cubins``), keyed by what determines
them: the kernel's own source and the module's shared helpers (not the rest of the model),
its parameter types, the launch config, the architecture and Triton's version. So compiling a
model again builds nothing, and a second model that shares kernels with the first builds
only its new ones.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from cortado.runtime.errors import CortadoError, OutputError
from cortado.runtime.loader import cache_dir, write_atomic

ARCHS = {"sm_80": 80, "sm_86": 86, "sm_89": 89, "sm_90": 90}


class AotError(CortadoError):
    """A generated kernel failed to compile for a GPU architecture."""


@dataclass(frozen=True)
class Job:
    source: str        # the whole generated module
    kernel: str
    signature: tuple   # ((param, triton type), ...)
    config: tuple      # ((key, value), ...) including num_warps / num_stages
    arch: str


@dataclass
class CompiledKernel:
    arch: str
    kernel: str
    config: dict
    cubin: bytes
    metadata: dict


def parse_archs(text: str) -> list[str]:
    archs = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in archs if a not in ARCHS]
    if bad or not archs:
        raise CortadoError(f"unknown GPU architecture(s) {', '.join(bad) or text!r}",
                           hint=f"choose from {', '.join(ARCHS)}")
    return archs


def config_key(config: dict) -> str:
    return json.dumps({k: config[k] for k in sorted(config)}, sort_keys=True)


def launch_configs(plan: dict) -> dict[str, list[dict]]:
    """kernel name -> the distinct CUDA configs its launches use."""
    out: dict[str, dict[str, dict]] = {}
    for step in plan["steps"]:
        if "host" in step:
            continue                 # numpy between segments: nothing to build
        cfg = step["configs"]["cuda"]
        out.setdefault(step["kernel"], {})[config_key(cfg)] = cfg
    return {k: list(v.values()) for k, v in out.items()}


def jobs_for(source: str, plan: dict, archs: list[str]) -> list[Job]:
    signatures = {k["name"]: tuple(k["signature"].items()) for k in plan["kernels"]}
    return [Job(source, name, signatures[name], tuple(sorted(cfg.items())), arch)
            for name, configs in launch_configs(plan).items() for cfg in configs for arch in archs]


def _build(job: Job) -> CompiledKernel:
    # lazy: triton's compiler and the kernel loader load only for ahead-of-time builds, so
    # that importing codegen (every compile) does not pay for them
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from cortado.runtime.loader import load_kernels

    module = load_kernels(job.source, interpret=False)
    fn = getattr(module, job.kernel)
    cfg = dict(job.config)
    constexprs = {k: v for k, v in cfg.items() if k not in ("num_warps", "num_stages")}
    signature = dict(job.signature)
    signature.update({k: "constexpr" for k in constexprs})
    src = ASTSource(fn=fn, signature=signature, constexprs=constexprs)
    options = {"num_warps": cfg.get("num_warps", 4), "num_stages": cfg.get("num_stages", 1)}
    try:
        k = triton.compile(src, target=GPUTarget("cuda", ARCHS[job.arch], 32), options=options)
    except Exception as e:   # triton raises many exception types for kernels it rejects
        raise AotError(f"kernel {job.kernel} with {cfg} does not compile for {job.arch}: "
                       f"{type(e).__name__}: {str(e)[:2000]}") from None
    md = k.metadata
    meta = {"name": md.name, "num_warps": md.num_warps, "shared": md.shared,
            "global_scratch_size": getattr(md, "global_scratch_size", 0) or 0,
            "profile_scratch_size": getattr(md, "profile_scratch_size", 0) or 0}
    return CompiledKernel(job.arch, job.kernel, cfg, k.asm["cubin"], meta)


_KERNEL_NAME = re.compile(r"_kernel_\d+$")     # module.py names kernels f"{what}_kernel_{n}"


def _kernel_text(source: str, kernel: str) -> str:
    """The module's shared part (imports and helper functions) plus ``kernel``'s own source:
    what a binary of ``kernel`` depends on, without the model's other kernels or docstring."""
    return "\n".join(text for name, text in _top_level_parts(source)
                     if name is None or not _KERNEL_NAME.search(name) or name == kernel)


@functools.lru_cache(maxsize=8)
def _top_level_parts(source: str) -> tuple[tuple[str | None, str], ...]:
    """Each top-level statement of ``source`` but its docstring, decorators included, with its
    name when it defines a function. Parsed once per source: a plan builds one key per kernel,
    config and architecture from the same module."""
    lines = source.splitlines()
    parts = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue                                          # the module docstring
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])
        name = node.name if isinstance(node, ast.FunctionDef) else None
        parts.append((name, "\n".join(lines[first - 1:node.end_lineno])))
    return tuple(parts)


def cache_key(job: Job) -> str:
    import triton

    text = json.dumps([_kernel_text(job.source, job.kernel), job.kernel, list(job.signature), list(job.config),
                       job.arch, triton.__version__])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cache_folder():
    return cache_dir() / "cubins"


def _cached(key: str) -> tuple[bytes, dict] | None:
    folder = _cache_folder()
    try:
        meta = json.loads((folder / f"{key}.json").read_text())
        return (folder / f"{key}.cubin").read_bytes(), meta
    except (OSError, ValueError):
        return None


def _store(key: str, built: CompiledKernel) -> None:
    folder = _cache_folder()
    try:       # the binary first: a reader that finds the metadata finds the binary
        write_atomic(folder / f"{key}.cubin", built.cubin)
        write_atomic(folder / f"{key}.json", json.dumps(built.metadata).encode())
    except OutputError:
        pass   # a read-only cache is no cache, not an error


def compile_jobs(jobs: list[Job], *, workers: int | None = None, cache: bool = True) -> list[CompiledKernel]:
    """Compile every job (those cached on disk are read back, the rest built in parallel
    worker processes); raises AotError naming the first kernel that fails."""
    results: list[CompiledKernel | None] = [None] * len(jobs)
    keys = [cache_key(j) for j in jobs] if cache else [None] * len(jobs)
    todo = []
    for i, (job, key) in enumerate(zip(jobs, keys)):
        hit = _cached(key) if key else None
        if hit is not None:
            results[i] = CompiledKernel(job.arch, job.kernel, dict(job.config), hit[0], hit[1])
        else:
            todo.append(i)
    n = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    if n == 1:
        built = [_build(jobs[i]) for i in todo]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            built = list(pool.map(_build, [jobs[i] for i in todo], chunksize=max(1, len(todo) // (4 * n))))
    for i, b in zip(todo, built):
        results[i] = b
        if keys[i]:
            _store(keys[i], b)
    return results


def compile_module(source: str, plan: dict, archs: list[str], *, workers: int | None = None) -> list[CompiledKernel]:
    return compile_jobs(jobs_for(source, plan, archs), workers=workers)


def attach_cubins(model, archs: list[str], *, workers: int | None = None) -> int:
    """Compile every kernel of ``model`` for ``archs`` and store the binaries in it, indexed by
    (arch, kernel, config) so that ``runtime`` can launch them on a matching GPU with no JIT."""
    built = compile_module(model.source, model.plan, archs, workers=workers)
    for k in built:
        cfg = config_key(k.config)
        file = f"{k.kernel}.{hashlib.sha1(cfg.encode()).hexdigest()[:10]}.cubin"
        model.cubins[(k.arch, file)] = k.cubin
        model.cubin_index.append({"arch": k.arch, "kernel": k.kernel, "config": cfg, "file": file,
                                  "meta": k.metadata})
    return len(built)
