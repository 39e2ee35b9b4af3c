"""Every kernel the nine light architectures produce compiles for sm_80 and sm_90 (no GPU).

Kernels are shape-generic, so the nine models share a few dozen distinct (kernel, config)
pairs; each is compiled once per architecture in worker processes.
"""

from __future__ import annotations

import re

import pytest

import compiler
from codegen.aot import Job, compile_jobs, jobs_for
from compiler.testing.models import LIGHT_MODELS, light_model


def _kernel_text(source: str, name: str) -> str:
    m = re.search(rf"def {name}\(.*?(?=\n\n\n|\Z)", source, re.S)
    return m.group(0).replace(name, "KERNEL")


@pytest.mark.slow
@pytest.mark.parametrize("opt_level", [0])
def test_every_light_model_kernel_compiles_for_sm80_and_sm90(opt_level):
    unique: dict[tuple, Job] = {}
    for name in LIGHT_MODELS:
        m = compiler.compile(light_model(name), target="interpreter", opt_level=opt_level)
        for job in jobs_for(m.source, m.plan, ["sm_80", "sm_90"]):
            key = (_kernel_text(m.source, job.kernel), job.config, job.arch)
            unique.setdefault(key, job)
    assert len(unique) >= 20
    built = compile_jobs(list(unique.values()), workers=2)
    assert all(k.cubin and len(k.cubin) > 1000 for k in built)
    assert {k.arch for k in built} == {"sm_80", "sm_90"}
