"""The trained LeNet (BVLC's MNIST example, 10 000 iterations) through the Caffe frontend.

Checked three ways: its decoded blobs have LeNet's shapes; the compiled model (interpreter
target) agrees with an independent numpy forward pass written here from those blobs; and it
reads digits drawn in this file (anti-aliased strokes rendered with numpy, 20x20 in a 28x28
frame like MNIST) far better than chance.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import cortado
from cortado.frontends.caffe import load_caffemodel
from cortado.testing.reference import HOST_TARGETS

PROTO = "models/caffe/mnist__lenet.prototxt"
WEIGHTS = "models/caffe/mnist__lenet_iter_10000.caffemodel"


def _arc(cx, cy, rx, ry, a0, a1, n=40):
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], 1)


def _line(*points, n=30):
    t = np.linspace(0, 1, n)[:, None]
    return np.concatenate([np.array(p) * (1 - t) + np.array(q) * t for p, q in zip(points[:-1], points[1:])])


# each digit as pen strokes in a unit box (x right, y down)
STROKES = {
    0: [_arc(0.5, 0.5, 0.25, 0.38, 0, 360)],
    1: [_line((0.45, 0.25), (0.55, 0.1), (0.55, 0.9))],
    2: [_arc(0.5, 0.32, 0.24, 0.2, 160, -30), _line((0.7, 0.45), (0.25, 0.88), (0.78, 0.88))],
    3: [_arc(0.48, 0.3, 0.22, 0.19, 150, -90), _arc(0.48, 0.69, 0.25, 0.2, 90, -150)],
    4: [_line((0.62, 0.1), (0.22, 0.62), (0.8, 0.62)), _line((0.62, 0.1), (0.62, 0.9))],
    5: [_line((0.75, 0.1), (0.32, 0.1), (0.28, 0.45)), _arc(0.48, 0.64, 0.27, 0.24, 130, -150)],
    6: [_arc(0.55, 0.45, 0.3, 0.42, 80, 200), _arc(0.5, 0.68, 0.24, 0.21, 0, 360)],
    7: [_line((0.22, 0.12), (0.78, 0.12), (0.42, 0.9))],
    8: [_arc(0.5, 0.3, 0.19, 0.19, 0, 360), _arc(0.5, 0.7, 0.23, 0.2, 0, 360)],
    9: [_arc(0.5, 0.32, 0.22, 0.21, 0, 360), _line((0.72, 0.32), (0.62, 0.9))],
}


def render(digit: int, *, shift=(0.0, 0.0), scale=1.0, slant=0.0, width=1.6) -> np.ndarray:
    """A 28x28 image in [0, 1] (white strokes on black, as LeNet was trained)."""
    pts = (np.concatenate(STROKES[digit]) - 0.5) * scale
    pts[:, 0] -= slant * pts[:, 1]
    pts = pts * 20 + 14 + np.array(shift)
    yy, xx = np.mgrid[0:28, 0:28] + 0.5
    dist = np.sqrt((xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2).min(-1)
    return np.clip(width + 0.5 - dist, 0, 1).astype(np.float32)


def digit_batch():
    styles = [((0, 0), 1.0, 0.0, 1.6), ((1, -1), 0.9, 0.15, 1.3), ((-1, 1), 1.05, -0.1, 2.0)]
    images, labels = [], []
    for d in range(10):
        for shift, scale, slant, width in styles:
            images.append(render(d, shift=shift, scale=scale, slant=slant, width=width))
            labels.append(d)
    return np.stack(images)[:, None], np.array(labels)


def numpy_lenet(x, blobs):
    """LeNet written out in numpy from the decoded blobs (no Cortado code involved)."""
    def conv(x, w, b):
        win = sliding_window_view(x, w.shape[2:], axis=(2, 3))          # N, C, H', W', kh, kw
        return np.einsum("nchwij,ocij->nohw", win, w) + b.reshape(1, -1, 1, 1)

    def pool(x):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    x = x.astype(np.float64)
    x = pool(conv(x, *blobs["conv1"]))
    x = pool(conv(x, *blobs["conv2"]))
    x = x.reshape(x.shape[0], -1) @ blobs["ip1"][0].T + blobs["ip1"][1]
    x = np.maximum(x, 0) @ blobs["ip2"][0].T + blobs["ip2"][1]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module", params=HOST_TARGETS)
def lenet(shared_dir, request):
    blobs = {name: [b.array for b in bs] for name, bs in load_caffemodel(shared_dir / WEIGHTS).items()}
    images, labels = digit_batch()
    model = cortado.compile(str(shared_dir / PROTO), weights=str(shared_dir / WEIGHTS),
                             input_shapes={"data": images.shape}, target=request.param)
    return blobs, images, labels, model


def test_decoded_blobs_have_lenet_shapes(lenet):
    blobs = lenet[0]
    assert {k: [b.shape for b in v] for k, v in blobs.items()} == {
        "conv1": [(20, 1, 5, 5), (20,)], "conv2": [(50, 20, 5, 5), (50,)],
        "ip1": [(500, 800), (500,)], "ip2": [(10, 500), (10,)]}
    assert all(b.dtype == np.float32 and np.isfinite(b).all() and b.std() > 0 for v in blobs.values() for b in v)


def test_compiled_lenet_matches_a_numpy_forward_pass(lenet):
    blobs, images, _, model = lenet
    noise = np.random.default_rng(0).random(images.shape).astype(np.float32)
    for x in (images, noise):
        got = model.run({"data": x})["prob"]
        np.testing.assert_allclose(got, numpy_lenet(x, blobs), rtol=1e-4, atol=1e-6)


def test_lenet_reads_drawn_digits(lenet):
    _, images, labels, model = lenet
    predicted = model.run({"data": images})["prob"].argmax(axis=1)
    accuracy = float((predicted == labels).mean())
    assert accuracy >= 0.8, f"accuracy {accuracy:.2f} on drawn digits (chance is 0.1); predicted {predicted}"
