"""The numpy function suite: plain numpy functions a user would write, each with a recipe for
random inputs. The tests run every one through cortado.jit and compare with numpy itself."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


F32 = np.float32


@dataclass
class Case:
    name: str
    fn: Callable
    make: Callable                     # rng -> tuple of positional arguments
    kwargs: dict = field(default_factory=dict)
    static: tuple = ()


CASES: list[Case] = []


def case(make, static=(), **kwargs):
    def deco(fn):
        CASES.append(Case(fn.__name__, fn, make, kwargs, tuple(static)))
        return fn
    return deco


def r(rng, *shape, dtype=F32, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# -- whole models ------------------------------------------------------------------------------------
def softmax_ref(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@case(lambda g: (r(g, 6, 16), r(g, 16, 32), r(g, 32), r(g, 32, 8), r(g, 8)))
def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    return h @ w2 + b2


@case(lambda g: (r(g, 5, 33, scale=3),))
def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@case(lambda g: (r(g, 5, 33, scale=3),))
def log_softmax(x):
    m = np.max(x, axis=1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))


@case(lambda g: (r(g, 7, 24), r(g, 24), r(g, 24)))
def layer_norm(x, gamma, beta):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * gamma + beta


@case(lambda g: (r(g, 7, 24), r(g, 24)))
def rms_norm(x, weight):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6) * weight


@case(lambda g: (r(g, 4, 50, scale=2),))
def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


@case(lambda g: (r(g, 12, 16), r(g, 10, 16), r(g, 10, 8)))
def attention(q, k, v):
    s = q @ k.T / np.sqrt(q.shape[-1])
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p = p / p.sum(axis=-1, keepdims=True)
    return p @ v


@case(lambda g: (r(g, 2, 6, 16), r(g, 16, 48), r(g, 16, 16)))
def multi_head_attention(x, w_qkv, w_o):
    b, s, d = x.shape
    heads = 4
    qkv = (x @ w_qkv).reshape(b, s, 3, heads, d // heads)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    q, k, v = (np.swapaxes(t, 1, 2) for t in (q, k, v))           # (b, h, s, dh)
    scores = np.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(d // heads)
    scores = scores - scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    out = np.einsum("bhqk,bhkd->bhqd", p, v).transpose(0, 2, 1, 3).reshape(b, s, d)
    return out @ w_o


@case(lambda g: (r(g, 3, 8, 16), r(g, 16, 64), r(g, 64, 16), r(g, 16), r(g, 16)))
def residual_block(x, w1, w2, gamma, beta):
    mu = x.mean(-1, keepdims=True)
    h = (x - mu) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * gamma + beta
    return x + np.maximum(h @ w1, 0.0) @ w2


@case(lambda g: (r(g, 9, 5), r(g, 5), (g.random(9) > 0.5).astype(F32)))
def logistic_loss(x, w, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    return -np.mean(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7))


@case(lambda g: (r(g, 6, 10), np.eye(10, dtype=F32)[g.integers(0, 10, 6)]))
def cross_entropy(logits, onehot):
    m = logits.max(axis=-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))
    return -(onehot * logp).sum(axis=-1).mean()


@case(lambda g: (r(g, 8, 16), r(g, 8, 16)))
def causal_scores(q, k):
    s = q @ k.T
    mask = np.triu(np.ones((8, 8), dtype=bool), k=1)
    s = np.where(mask, -np.inf, s)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# -- elementwise features ------------------------------------------------------------------------------
@case(lambda g: (r(g, 4, 6), r(g, 6)))
def broadcast_arithmetic(x, y):
    return (x + y) * 2 - y / 3 + 1


@case(lambda g: (r(g, 5, 7), r(g, 5, 7)))
def compare_where(x, y):
    return np.where(x > y, x, y * 0.5), (x <= y) | (x == y), np.logical_not(x >= 0)


@case(lambda g: (r(g, 5, 7), r(g, 5, 7)))
def clip_abs_sign(x, y):
    return np.clip(x, -0.5, 0.5) + np.abs(y) * np.sign(x), x.clip(min=0)


@case(lambda g: (r(g, 5, 7), r(g, 5, 7)))
def exp_log_sqrt(x, y):
    return np.log(np.exp(x) + 1.0) + np.sqrt(np.abs(y)), np.log1p(np.abs(x)), np.expm1(x * 0.1)


@case(lambda g: (r(g, 5, 7), r(g, 5, 7)))
def tanh_max_min(x, y):
    return np.maximum(np.tanh(x), np.minimum(y, 0.1)), np.minimum(x, y)


@case(lambda g: (r(g, 5, 7), np.abs(r(g, 5, 7)) + 0.1))
def powers(x, y):
    return x ** 2 + np.power(y, 1.5) - y ** -1 + np.square(x), np.power(y, x)


@case(lambda g: (g.integers(-20, 20, (5, 6)).astype(np.int32), g.integers(1, 6, (5, 6)).astype(np.int32)
                  * np.where(g.random((5, 6)) > 0.5, 1, -1).astype(np.int32)))
def integer_division(a, b):
    return a // b, a % b, a * 3 - b, np.abs(a) & 7


@case(lambda g: (r(g, 5, 6, scale=5), np.where(g.random((5, 6)) > 0.5, 1.5, -0.7).astype(F32)))
def float_floor_mod(x, y):
    return x // y, x % y, np.fmod(x, y), np.floor(x) + np.ceil(y) + np.trunc(x) + np.rint(x)


@case(lambda g: (g.integers(-9, 9, (4, 5)).astype(np.int32), r(g, 4, 5)))
def dtype_promotion(i, x):
    return i / 2, i / i.clip(1, None), i.astype(np.float32) * x, (x * 4).astype(np.int32), i + 1.5


@case(lambda g: (r(g, 4, 5),))
def numpy_scalars(x):
    return x * np.float32(3) + np.float32(1), x * np.pi, np.float32(2) ** x


@case(lambda g: (r(g, 3, 4, 5),))
def reductions(x):
    return (x.sum(axis=0), x.mean(axis=(0, 2), keepdims=True), x.max(-1), np.min(x), np.sum(x, axis=1),
            np.amax(x, axis=(1, 2)), x.min(axis=1, keepdims=True), x.prod(axis=-1), np.sum(x, dtype=np.float64))


@case(lambda g: (r(g, 6, 9),))
def variance_std(x):
    return x.var(axis=-1), np.std(x, axis=0, keepdims=True), x.var()


@case(lambda g: (r(g, 6, 9),))
def argmax_argmin(x):
    return x.argmax(axis=-1), np.argmin(x, axis=0), x.argmax()


@case(lambda g: (r(g, 2, 3, 4, 5), r(g, 5, 6), r(g, 3, 5, 2)))
def batched_matmul(a, b, c):
    return a @ b, np.matmul(a, c)


@case(lambda g: (r(g, 7), r(g, 7), r(g, 3, 7)))
def dot_products(u, v, m):
    return np.dot(u, v), m.dot(u), np.dot(m, m.T), np.inner(u, v), np.outer(u, v)


@case(lambda g: (r(g, 4, 6), r(g, 6, 5), r(g, 2, 4, 6), r(g, 2, 6, 3)))
def einsums(a, b, x, y):
    return (np.einsum("ij,jk->ik", a, b), np.einsum("bij,bjk->bik", x, y), np.einsum("ij->ji", a),
            np.einsum("ij,jk", a, b), np.einsum("...ij,...jk->...ik", x, y))


@case(lambda g: (r(g, 4, 6), r(g, 3, 4, 6)))
def einsum_reductions(a, x):
    return np.einsum("ij->j", a), np.einsum("bij,ij->b", x, a), np.tensordot(x, a, axes=([1, 2], [0, 1]))


@case(lambda g: (r(g, 2, 3, 4),))
def reshape_transpose(x):
    return (x.reshape(6, 4), x.reshape(-1), np.transpose(x, (2, 0, 1)), x.T, x.swapaxes(0, 2),
            x.reshape((4, -1)).T, np.moveaxis(x, 0, -1))


@case(lambda g: (r(g, 3, 1, 4), r(g, 4)))
def expand_squeeze_broadcast(x, v):
    return np.expand_dims(v, 0), x.squeeze(1), np.squeeze(x), np.broadcast_to(v, (3, 4)), v[None, :, None]


@case(lambda g: (r(g, 2, 3), r(g, 2, 3), r(g, 2, 5)))
def concat_stack(a, b, c):
    return np.concatenate([a, b], axis=0), np.concatenate([a, c], axis=1), np.stack([a, b]), \
        np.stack([a, b], axis=-1), np.hstack([a, c]), np.vstack([a, b])


@case(lambda g: (r(g, 4, 5, 6),))
def basic_indexing(x):
    return x[1], x[:, 2:4], x[..., ::2], x[None, 0, :, -1], x[::-1, 1:5:2], x[-1, ..., None], x[1:3].T


@case(lambda g: (r(g, 10, 4), g.integers(0, 10, (3, 2))))
def embedding_gather(table, ids):
    return table[ids], np.take(table, ids[0], axis=0), table[:, np.array([0, 3])]


@case(lambda g: (r(g, 4, 6),))
def cumulative(x):
    return np.cumsum(x, axis=1), x.cumsum(axis=0)


@case(lambda g: (r(g, 5, 5), r(g, 5, 5)))
def logic_and_tests(x, y):
    big = np.abs(x) > 0.5
    return np.isclose(x, x + 1e-9), np.isnan(x / (y * 0)), np.isfinite(x), big & (y > 0), big ^ (x > 0), ~big


@case(lambda g: (r(g, 3, 8), r(g, 8, 8), r(g, 8)), static=("n_layers", "act"), n_layers=3, act="tanh")
def static_control_flow(x, w, b, n_layers, act):
    for i in range(n_layers):                    # unrolled: n_layers is static
        x = x @ w + b * (i + 1)
        x = np.tanh(x) if act == "tanh" else np.maximum(x, 0)
    return x


@case(lambda g: (r(g, 4, 8), r(g, 8)))
def dict_and_list_results(x, v):
    parts = {"norm": np.sqrt((x * x).sum(-1)), "proj": x @ v}
    return parts, [x * 2, None, 3]


@case(lambda g: (r(g, 4, 6),))
def more_movement(x):
    return (np.flip(x, axis=1), np.tile(x, (2, 1)), np.pad(x, ((1, 0), (0, 2))), np.pad(x, 1, mode="edge"),
            np.tril(x), np.triu(x, k=1), np.atleast_3d(x[0]), np.broadcast_arrays(x[:1], x)[0])


@case(lambda g: (r(g, 4, 6), r(g, 6)))
def norms_and_truth(x, v):
    return (np.linalg.norm(v), np.linalg.norm(x, axis=-1, keepdims=True), (x > 0).all(axis=0),
            np.any(x > 1.5, axis=1), (x > -5).all(), np.round(x, 2), np.add.reduce(x, axis=1),
            np.maximum.reduce(x), np.multiply.outer(v, v[:3]))
