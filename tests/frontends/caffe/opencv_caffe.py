"""OpenCV's Caffe importer as the independent reference for Caffe nets (fork layers included).

``CaffeCase`` writes a prototxt and a ``.caffemodel`` of seeded random blobs (through the
hand-rolled wire encoder in ``caffe_helpers``, so neither side reads a file the other wrote
for it), then runs the net with ``cv2.dnn.readNetFromCaffe`` and with Cortado compiled for
the interpreter target. OpenCV 4.x (``opencv-python-headless<5``, the ``test`` extra) is
needed; OpenCV 5 dropped the Caffe importer, so without a 4.x the tests skip with a reason.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cortado

import caffe_helpers as wire


def opencv():
    cv2 = pytest.importorskip("cv2", reason="OpenCV 4.x (opencv-python-headless<5) is the Caffe reference")
    if not hasattr(cv2, "dnn") or not hasattr(cv2.dnn, "readNetFromCaffe"):
        pytest.skip(f"OpenCV {cv2.__version__} has no Caffe importer (it was dropped in OpenCV 5)")
    return cv2


def net_text(body: str, inputs: dict[str, tuple]) -> str:
    """A prototxt: one Input layer per entry of ``inputs`` (name -> shape), then ``body``."""
    head = ""
    for name, shape in inputs.items():
        dims = " ".join(f"dim: {d}" for d in shape)
        head += f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}\n'
    return head + body


class CaffeCase:
    """One net in a folder: its prototxt, its random caffemodel, and both forwards."""

    def __init__(self, folder, text: str, blobs: dict[str, tuple[str, list]] | None = None, name: str = "net"):
        self.proto = folder / f"{name}.prototxt"
        self.proto.write_text(text)
        self.model = None
        if blobs:
            self.model = folder / f"{name}.caffemodel"
            self.model.write_bytes(wire.net(*(wire.layer(layer, type_, arrays)
                                              for layer, (type_, arrays) in blobs.items())))

    def _net(self, feeds):
        cv2 = opencv()
        net = cv2.dnn.readNetFromCaffe(str(self.proto), str(self.model) if self.model else None)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        for k, v in feeds.items():
            net.setInput(np.ascontiguousarray(v, dtype=np.float32), k)
        return net

    def opencv(self, feeds: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
        """OpenCV's values of the named blobs (a layer's first top, by the top's name)."""
        got = self._net(feeds).forward(outputs)
        return {k: np.asarray(v) for k, v in zip(outputs, got)}

    def opencv_tops(self, feeds: dict[str, np.ndarray], layer: str) -> list[np.ndarray]:
        """Every top of one layer (OpenCV names only a layer's first top)."""
        return [np.asarray(b) for b in self._net(feeds).forwardAndRetrieve([layer])[0]]

    def compile(self, **kw):
        kw.setdefault("target", "interpreter")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return cortado.compile(str(self.proto), weights=str(self.model) if self.model else None, **kw)

    def cortado(self, feeds: dict[str, np.ndarray], **kw) -> dict[str, np.ndarray]:
        return self.compile(**kw).run(feeds)


def random_blobs(rng: np.random.Generator, *shapes, scale: float = 0.5) -> list[np.ndarray]:
    return [(rng.standard_normal(s) * scale).astype(np.float32) for s in shapes]
