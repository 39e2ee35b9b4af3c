"""cortado.jit on plain numpy functions: an MLP, softmax, layer norm and attention.

    python examples/jit_demo.py            # runs on the GPU when one is usable, else on the CPU

Each function is ordinary numpy. The first call traces it, compiles fused Triton kernels and
caches them; later calls with the same shapes (or, with dynamic=True, any batch size) only
launch the kernels. The script checks every result against numpy and prints the kernel count
and the generated kernel of the softmax.
"""

from __future__ import annotations

import math
import time

import numpy as np

import cortado
from cortado.jit import UnsupportedFunctionError


@cortado.jit(dynamic=True)            # the leading (batch) dim stays symbolic
def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0.0)   # bias + ReLU ride on the first matmul's kernel
    return h @ w2 + b2


@cortado.jit
def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@cortado.jit
def layer_norm(x, gamma, beta, eps=1e-5):   # eps is a Python float: a static argument
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


@cortado.jit
def attention(q, k, v):
    scores = q @ k.T * (1.0 / math.sqrt(q.shape[-1]))   # math.sqrt keeps float32 (np.sqrt would not)
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (p / p.sum(axis=-1, keepdims=True)) @ v


def numpy_version(f):
    return f.__wrapped__


def check(name, f, *args):
    """Run f compiled and as plain numpy; report the match, the kernels and the time."""
    try:
        low = f.lower(*args)
    except UnsupportedFunctionError as e:
        if e.missing_op is None:
            raise
        print(f"{name:<12} skipped: needs the IR op {e.missing_op.value}, which this build does not have")
        return None
    t0 = time.perf_counter()
    got = f(*args)
    ms = (time.perf_counter() - t0) * 1e3
    want = numpy_version(f)(*args)
    err = float(np.max(np.abs(got - want)))
    print(f"{name:<12} {low.stats['kernels']} kernel(s) on {low.compiled.target}, max |error| vs numpy "
          f"{err:.2e}, {ms:.1f} ms")
    assert err < 1e-3, f"{name} differs from numpy by {err}"
    return low


def main():
    rng = np.random.default_rng(0)

    def rand(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    w = (rand(64, 128), rand(128), rand(128, 10), rand(10))
    check("mlp", mlp, rand(32, 64), *w)
    for batch in (1, 7, 100):                       # new batch sizes: nothing is compiled again
        mlp(rand(batch, 64), *w)
    info = mlp.cache_info()
    print(f"{'':<12} after batches 32, 1, 7, 100: {info.misses} compile(s), {info.hits} cache hit(s)")

    low = check("softmax", softmax, rand(16, 1000))
    check("layer_norm", layer_norm, rand(16, 256), rand(256), rand(256))
    check("attention", attention, rand(64, 32), rand(80, 32), rand(80, 32))
    if low is not None:
        print("\nThe softmax kernel (traced from five numpy operations):\n")
        start = low.source.index("# reduction kernel") if "# reduction kernel" in low.source else 0
        print(low.source[start:])


if __name__ == "__main__":
    main()
