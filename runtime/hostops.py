"""Host steps: the ops whose output size depends on the data, run with numpy between segments.

A launch plan is cut into segments at these steps. The runtime runs a segment's kernels, waits
for them, copies the host step's inputs to the host, runs the op below, binds the fresh size
symbols its outputs carry (``binds``: symbol -> output and axis), allocates what the next
segment needs at those sizes and copies the results in. Kernels take sizes as arguments, so
nothing recompiles for a new size.

Each op is plain numpy that follows onnxruntime's results (order, ties, thresholds), and is
also the numpy reference of the compiler's IR op of the same name (``cortado.ops.dynamic``),
so the compiler and the runtime compute the same thing by construction; the tests check both
against onnxruntime. Plans are data: a plan names an op of ``HOST_OPS`` by its name and gives
its attributes as JSON, which ``plan_check`` checks against ``HostOp.attrs`` before anything
runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import InputError

__all__ = ["HOST_OPS", "HostOp", "run_host_op"]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _flag(v) -> bool:
    return _is_int(v) and v in (0, 1)


def _axis_or_none(v) -> bool:
    return v is None or _is_int(v)


@dataclass(frozen=True)
class HostOp:
    name: str
    fn: Callable[..., list]
    min_inputs: int
    max_inputs: int
    outputs: int
    attrs: Mapping[str, Callable[[Any], bool]]     # attribute name -> validity check (plan_check)
    doc: str = ""


HOST_OPS: dict[str, HostOp] = {}


def host_op(name: str, *, inputs: tuple[int, int], outputs: int, attrs: Mapping[str, Callable[[Any], bool]]):
    def deco(fn):
        if name in HOST_OPS:
            raise RuntimeError(f"host op {name} is registered twice")
        HOST_OPS[name] = HostOp(name, fn, inputs[0], inputs[1], outputs, dict(attrs), (fn.__doc__ or "").strip())
        return fn
    return deco


def run_host_op(name: str, attrs: Mapping[str, Any], arrays: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    """Run the host op ``name`` on host arrays (None for an omitted optional input)."""
    return list(HOST_OPS[name].fn(dict(attrs), *arrays))


def _scalar(a, what: str, default, cast):
    """A scalar from an optional one-element input (onnx allows shape () or (1,))."""
    if a is None or np.asarray(a).size == 0:
        return default
    a = np.asarray(a)
    if a.size != 1:
        raise InputError(f"{what} must hold one value, got shape {a.shape}")
    return cast(a.reshape(-1)[0])


# -- NonZero --------------------------------------------------------------------------------
@host_op("NonZero", inputs=(1, 1), outputs=1, attrs={})
def nonzero(attrs, x):
    """The indices of the non-zero elements, one row per axis, in row-major order (int64)."""
    return [np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)]


# -- TopK with a run-time K -------------------------------------------------------------------
def topk_indices(x: np.ndarray, k: int, axis: int, largest: int) -> np.ndarray:
    """The first ``k`` positions along ``axis`` ordered best first; ties keep the lower index."""
    key = x
    if largest:
        key = -(x.astype(np.float64)) if x.dtype.kind in "ub" else -x
    order = np.argsort(key, axis=axis, kind="stable")
    return np.take(order, np.arange(k), axis=axis)


@host_op("TopK", inputs=(2, 2), outputs=2, attrs={"axis": _is_int, "largest": _flag, "sorted": _flag})
def topk(attrs, x, k):
    """The K largest (smallest) elements along ``axis`` and their int64 indices, K read at run
    time. Sorted best first in either case (onnxruntime's order for ``sorted=0`` too)."""
    axis = attrs["axis"]
    n = x.shape[axis]
    kk = _scalar(k, "TopK's K", None, int)
    if kk is None or not 0 <= kk <= n:
        raise InputError(f"TopK's K is {kk}, but the axis has {n} elements", hint=f"feed a K in [0, {n}]")
    idx = topk_indices(x, kk, axis, attrs["largest"])
    return [np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)]


# -- NonMaxSuppression ------------------------------------------------------------------------
def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """(x_min, y_min, x_max, y_max) per box, float32 as onnxruntime computes them."""
    b = boxes.astype(np.float32)
    if center_point_box:
        hw, hh = b[:, 2] / np.float32(2), b[:, 3] / np.float32(2)
        return np.stack([b[:, 0] - hw, b[:, 1] - hh, b[:, 0] + hw, b[:, 1] + hh], axis=1)
    # [y1, x1, y2, x2], corners in either order
    return np.stack([np.minimum(b[:, 1], b[:, 3]), np.minimum(b[:, 0], b[:, 2]),
                     np.maximum(b[:, 1], b[:, 3]), np.maximum(b[:, 0], b[:, 2])], axis=1)


def _suppresses(c: np.ndarray, i: int, js: np.ndarray, iou_threshold: np.float32) -> bool:
    """Does box ``i`` overlap any of the selected ``js`` by more than the threshold?"""
    if js.size == 0:
        return False
    a, b = c[i], c[js]
    ix0, iy0 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    ix1, iy1 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = (ix1 - ix0) * (iy1 - iy0)
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    ok = (ix1 > ix0) & (iy1 > iy0) & (inter > 0) & (area_a > 0) & (area_b > 0) & (union > 0)
    with np.errstate(all="ignore"):
        iou = np.where(ok, inter / np.where(union > 0, union, 1), 0)
    return bool(np.any(ok & (iou > iou_threshold)))


@host_op("NonMaxSuppression", inputs=(2, 5), outputs=1, attrs={"center_point_box": _flag})
def non_max_suppression(attrs, boxes, scores, max_output=None, iou_threshold=None, score_threshold=None):
    """Greedy NMS per batch and class, as onnxruntime: candidates scoring above
    ``score_threshold`` (all when it is omitted) best first (ties: lower box index first); a
    candidate is kept unless its IoU with a kept box exceeds ``iou_threshold``; at most
    ``max_output_boxes_per_class`` per class (0 or omitted: none). Rows
    ``[batch, class, box]`` (int64) by batch, class, then selection order."""
    max_out = _scalar(max_output, "max_output_boxes_per_class", 0, int)
    iou = np.float32(_scalar(iou_threshold, "iou_threshold", 0.0, float))
    has_thr = score_threshold is not None and np.asarray(score_threshold).size > 0
    thr = np.float32(_scalar(score_threshold, "score_threshold", 0.0, float))
    if not 0.0 <= iou <= 1.0:
        raise InputError(f"NonMaxSuppression's iou_threshold must be in [0, 1], got {iou}")
    nb, nc, n = scores.shape
    if boxes.shape[0] != nb or boxes.shape[1] != n or boxes.shape[2] != 4:
        raise InputError(f"NonMaxSuppression boxes {boxes.shape} do not match scores {scores.shape}")
    rows: list[tuple[int, int, int]] = []
    if max_out > 0:
        for b in range(nb):
            c = _corners(boxes[b], attrs["center_point_box"])
            for k in range(nc):
                s = scores[b, k].astype(np.float32)
                cand = np.nonzero(s > thr)[0] if has_thr else np.arange(n)
                cand = cand[np.argsort(-s[cand], kind="stable")]
                kept: list[int] = []
                for i in cand:
                    if len(kept) >= max_out:
                        break
                    if not _suppresses(c, int(i), np.asarray(kept, dtype=np.int64), iou):
                        kept.append(int(i))
                rows.extend((b, k, i) for i in kept)
    return [np.array(rows, dtype=np.int64).reshape(-1, 3)]


# -- Unique -----------------------------------------------------------------------------------
@host_op("Unique", inputs=(1, 1), outputs=4, attrs={"axis": _axis_or_none, "sorted": _flag})
def unique(attrs, x):
    """Distinct elements (or slices along ``axis``), sorted or in order of first occurrence,
    with the first index of each, the inverse map back to the input and the counts (int64)."""
    axis = attrs["axis"]
    data = x.reshape(-1) if axis is None else x
    y, first, inverse, counts = np.unique(data, return_index=True, return_inverse=True, return_counts=True,
                                          axis=None if axis is None else axis)
    inverse = inverse.reshape(-1)
    if not attrs["sorted"]:
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        y = np.take(y, order, axis=0 if axis is None else axis)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    return [y, first.astype(np.int64), inverse.astype(np.int64), counts.astype(np.int64)]


# -- SSD's DetectionOutput --------------------------------------------------------------------
def _real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))


def _count_or_all(v) -> bool:
    return _is_int(v) and v >= -1


def _box_sizes(b: np.ndarray) -> np.ndarray:
    """Caffe's BBoxSize on normalized boxes: width * height, 0 for an inverted box."""
    w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    return np.where((w < 0) | (h < 0), np.float32(0), w * h)


def _overlap_ok(b: np.ndarray, size: np.ndarray, i: int, js: np.ndarray, threshold: np.float32) -> np.ndarray:
    """For each of boxes ``js``: is its Jaccard overlap with box ``i`` at most ``threshold``?
    Caffe's JaccardOverlap in float32 (an empty or inverted intersection overlaps 0); it is
    symmetric, so testing the kept box against later candidates decides as Caffe does."""
    a, c = b[i], b[js]
    w = np.minimum(a[2], c[:, 2]) - np.maximum(a[0], c[:, 0])
    h = np.minimum(a[3], c[:, 3]) - np.maximum(a[1], c[:, 1])
    inter = np.where((w < 0) | (h < 0), np.float32(0), w * h)
    with np.errstate(all="ignore"):
        iou = np.where(inter > 0, inter / (size[i] + size[js] - inter), np.float32(0))
    return iou <= threshold


def _nms_caffe(b: np.ndarray, size: np.ndarray, s: np.ndarray, confidence: np.float32, threshold: np.float32,
               top_k: int) -> np.ndarray:
    """SSD's ApplyNMSFast (eta 1): the boxes scoring above ``confidence``, best first (ties:
    lower index first), the first ``top_k`` of them (-1: all), then greedy suppression of a box
    whose overlap with a kept, better box exceeds ``threshold``. Kept indices, best first."""
    cand = np.nonzero(s > confidence)[0]
    order = cand[np.argsort(-s[cand], kind="stable")]
    if top_k > -1:
        order = order[:top_k]
    alive = np.ones(order.size, dtype=bool)
    for pos in range(order.size):
        if alive[pos] and pos + 1 < order.size:
            alive[pos + 1:] &= _overlap_ok(b, size, int(order[pos]), order[pos + 1:], threshold)
    return order[alive]


@host_op("DetectionOutput", inputs=(2, 2), outputs=1,
         attrs={"background_label_id": _is_int, "nms_threshold": _real, "top_k": _count_or_all,
                "keep_top_k": _count_or_all, "confidence_threshold": _real})
def detection_output(attrs, boxes, scores):
    """SSD's DetectionOutput after the box decoding (weiliu89/caffe, OpenCV's dnn): ``boxes``
    (N, P, 4) shared by every class or (N, P, C, 4) per class, decoded corners; ``scores``
    (N, P, C). Per image and class other than ``background_label_id``: Caffe's NMS
    (``_nms_caffe``); then the ``keep_top_k`` best of the image over all classes (-1: all).
    Rows ``[image, label, score, xmin, ymin, xmax, ymax]`` (in the scores' type), image by image, each
    image's rows best score first (ties: lower label, then NMS order), as OpenCV orders them."""
    n, p, c = scores.shape
    shared = boxes.ndim == 3
    if boxes.shape[:2] != (n, p) or boxes.shape[-1] != 4 or (not shared and boxes.shape[2] != c):
        raise InputError(f"DetectionOutput boxes {boxes.shape} do not match scores {scores.shape}")
    dtype = scores.dtype            # the rows come back in it; the overlaps are float32 as in Caffe
    boxes = boxes.astype(np.float32)
    scores = scores.astype(np.float32)
    sizes = _box_sizes(boxes)
    confidence, threshold = np.float32(attrs["confidence_threshold"]), np.float32(attrs["nms_threshold"])
    keep_top_k = attrs["keep_top_k"]
    rows = []
    for i in range(n):
        labels, index = [], []
        for k in range(c):
            if k == attrs["background_label_id"]:
                continue
            b, sz = (boxes[i], sizes[i]) if shared else (boxes[i, :, k], sizes[i, :, k])
            kept = _nms_caffe(b, sz, scores[i, :, k], confidence, threshold, attrs["top_k"])
            labels.append(np.full(kept.size, k, dtype=np.int64))
            index.append(kept)
        label = np.concatenate(labels) if labels else np.zeros(0, np.int64)
        idx = np.concatenate(index) if index else np.zeros(0, np.int64)
        score = scores[i, idx, label]
        order = np.argsort(-score, kind="stable")
        if keep_top_k > -1:
            order = order[:keep_top_k]
        label, idx, score = label[order], idx[order], score[order]
        box = boxes[i, idx] if shared else boxes[i, idx, label]
        rows.append(np.concatenate([np.full((idx.size, 1), i, np.float32), label[:, None].astype(np.float32),
                                    score[:, None], box], axis=1))
    return [np.concatenate(rows, axis=0).astype(dtype) if rows else np.zeros((0, 7), dtype)]


# -- run-time control flow (runtime/control.py runs them: they need the model's sub-plans) ----
def _needs_model(attrs, *arrays):
    raise RuntimeError("If and Loop steps run through runtime.control, with the model's sub-plans")


MANY = 1 << 16
CONTROL = {"If": ("then", "else"), "Loop": ("body",), "Scan": ("body",)}   # op -> attributes naming sub-plans


def _ints(v) -> bool:
    return isinstance(v, list) and all(_is_int(x) and x >= 0 for x in v)
HOST_OPS["If"] = HostOp("If", _needs_model, 1, MANY, -1, {"then": _is_int, "else": _is_int},
                        "the then- or else-branch sub-plan on the captured values")
HOST_OPS["Scan"] = HostOp("Scan", _needs_model, 1, MANY, -1,
                          {"body": _is_int, "state": _is_int, "scan_inputs": _is_int, "in_axes": _ints,
                           "in_dirs": _ints, "out_axes": _ints, "out_dirs": _ints},
                          "the body sub-plan once per slice of the scan inputs")
HOST_OPS["Loop"] = HostOp("Loop", _needs_model, 2, MANY, -1, {"body": _is_int, "carried": _is_int},
                          "the body sub-plan while iteration < M and the condition holds")
