"""Ahead-of-time compilation of generated kernels for NVIDIA architectures, with no GPU.

Triton compiles for any ``GPUTarget`` on a machine without a GPU. Every kernel of a launch plan
is compiled once per distinct CUDA launch configuration (block sizes are constexprs) and per
architecture. The suite uses this to prove generated code is valid for real GPUs, and
``cortado compile --arch`` stores the cubins in the artifact. Compiles run in worker
processes: Triton's compiler holds the GIL, so threads would not overlap.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from cortado.runtime.errors import CortadoError

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


def compile_jobs(jobs: list[Job], *, workers: int | None = None) -> list[CompiledKernel]:
    """Compile every job; raises AotError naming the first kernel that fails."""
    n = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if n == 1:
        return [_build(j) for j in jobs]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        return list(pool.map(_build, jobs, chunksize=max(1, len(jobs) // (4 * n))))


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
