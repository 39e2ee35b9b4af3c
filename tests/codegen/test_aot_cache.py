"""Cubins are cached on disk by kernel source, arch and config: a second compile builds none,
and a kernel's key ignores the model's other kernels (a second model sharing it builds none)."""

from __future__ import annotations

from pathlib import Path

import pytest

import cortado
from cortado.codegen import aot

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CORTADO_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_a_second_build_is_read_from_the_cache(cache, monkeypatch):
    m = cortado.compile(str(TINY), target="cpu")
    jobs = aot.jobs_for(m.source, m.plan, ["sm_80"])[:1]
    (first,) = aot.compile_jobs(jobs, workers=1)
    assert list((cache / "cubins").glob("*.cubin"))

    def no_build(job):
        raise AssertionError(f"{job.kernel} was built again")

    monkeypatch.setattr(aot, "_build", no_build)
    (again,) = aot.compile_jobs(jobs, workers=1)
    assert again.cubin == first.cubin and again.metadata == first.metadata
    other_arch = [aot.Job(jobs[0].source, jobs[0].kernel, jobs[0].signature, jobs[0].config, "sm_90")]
    with pytest.raises(AssertionError, match="built again"):       # another arch is another binary
        aot.compile_jobs(other_arch, workers=1)


KERNEL = "@triton.jit\ndef relu_kernel_{i}(x_ptr, BLOCK: tl.constexpr):\n    pass\n"


def test_the_key_is_the_kernel_and_the_shared_helpers_not_the_other_kernels():
    head = '"""model {name}"""\nimport triton\nimport triton.language as tl\n\n'
    a = head.format(name="a") + KERNEL.format(i=0) + "\n" + KERNEL.format(i=1).replace("pass", "x = 1")
    b = head.format(name="b") + KERNEL.format(i=0) + "\n" + KERNEL.format(i=1).replace("pass", "x = 2")
    job = lambda src, k: aot.Job(src, k, (("x_ptr", "*fp32"),), (("BLOCK", 64),), "sm_80")
    assert aot.cache_key(job(a, "relu_kernel_0")) == aot.cache_key(job(b, "relu_kernel_0"))
    assert aot.cache_key(job(a, "relu_kernel_1")) != aot.cache_key(job(b, "relu_kernel_1"))
    helper = "@triton.jit\ndef _helper(x):\n    return x\n\n"
    assert aot.cache_key(job(a, "relu_kernel_0")) != aot.cache_key(job(a.replace(KERNEL.format(i=0),
                                                                                helper + KERNEL.format(i=0)),
                                                                      "relu_kernel_0"))
