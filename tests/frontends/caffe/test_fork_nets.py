"""Whole nets of the shapes people download, against OpenCV's Caffe importer.

* A MobileNet-SSD-shaped net: depthwise convolutions (grouped Convolution and the fork's
  ConvolutionDepthwise), an L2 Normalize on the first head, six PriorBox heads, and the
  mbox_loc / mbox_conf / mbox_priorbox concats with Permute, Flatten, Reshape and Softmax —
  everything up to DetectionOutput, compiled once with a symbolic batch and run at batch 1
  and 2 (the net with its DetectionOutput, ``DETECTION``, is in test_detection_output).
* A DenseNet-style net: BatchNorm/Scale/ReLU/Convolution dense layers joined by Concat,
  transitions with average pooling, and the release's ``ceil_mode: false`` pooling, on an
  odd input size where floor and ceil rounding differ.

Weights are seeded random blobs written as a ``.caffemodel`` here.
"""

from __future__ import annotations

import numpy as np
import pytest

from cortado.frontends.caffe import import_caffe

from opencv_caffe import CaffeCase

CLASSES = 3
IMAGE = 48


class NetWriter:
    """Prototxt text and random blobs, layer by layer (He-scaled so activations stay O(1))."""

    def __init__(self, rng, data_shape):
        self.rng = rng
        dims = " ".join(f"dim: {d}" for d in data_shape)
        self.text = [f'layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ {dims} }} }} }}']
        self.blobs: dict[str, tuple[str, list]] = {}
        self.channels = {"data": data_shape[1]}

    def add(self, text: str) -> None:
        self.text.append(text)

    def conv(self, name, bottom, out, k=3, s=1, p=None, group=1, kind="Convolution", relu=True, bn=False):
        cin = self.channels[bottom]
        p = k // 2 if p is None else p
        per_group = 1 if "Depthwise" in kind else cin // group
        fan = per_group * k * k
        w = (self.rng.standard_normal((out, per_group, k, k)) * np.sqrt(2.0 / fan)).astype(np.float32)
        extra = f" group: {group}" if group > 1 else ""
        self.add(f'layer {{ name: "{name}" type: "{kind}" bottom: "{bottom}" top: "{name}" convolution_param {{ '
                 f'num_output: {out} kernel_size: {k} stride: {s} pad: {p}{extra} bias_term: {str(not bn).lower()} }} }}')
        blobs = [w] if bn else [w, (self.rng.standard_normal(out) * 0.1).astype(np.float32)]
        self.blobs[name] = ("", blobs)
        self.channels[name] = out
        top = name
        if bn:
            top = self.bn_scale(name, name)
        if relu:
            self.add(f'layer {{ name: "{name}/relu" type: "ReLU" bottom: "{top}" top: "{top}" }}')
        return top

    def bn_scale(self, name, bottom):
        c = self.channels[bottom]
        mean = (self.rng.standard_normal(c) * 0.1).astype(np.float32)
        var = (self.rng.random(c) + 0.5).astype(np.float32)
        factor = np.array([2.0], np.float32)
        self.add(f'layer {{ name: "{name}/bn" type: "BatchNorm" bottom: "{bottom}" top: "{bottom}" '
                 'batch_norm_param { use_global_stats: true eps: 1e-5 } }')
        self.add(f'layer {{ name: "{name}/scale" type: "Scale" bottom: "{bottom}" top: "{bottom}" '
                 'scale_param { bias_term: true } }')
        self.blobs[f"{name}/bn"] = ("", [mean * 2, var * 2, factor])
        self.blobs[f"{name}/scale"] = ("", [(self.rng.random(c) + 0.5).astype(np.float32),
                                            (self.rng.standard_normal(c) * 0.1).astype(np.float32)])
        return bottom

    def prototxt(self) -> str:
        return "\n".join(self.text) + "\n"


# (feature blob, min_size, max_size, aspect ratios) per head, as in MobileNet-SSD (300x300) scaled to 48x48
HEADS = [("conv3", 5, None, (2,)), ("conv4", 9.6, 17.3, (2, 3)), ("conv5_2", 17.3, 25, (2, 3)),
         ("conv6_2", 25, 32.6, (2, 3)), ("conv7_2", 32.6, 40.3, (2, 3)), ("conv8", 40.3, 48, (2, 3))]


def priors_per_cell(max_size, ratios):
    return 1 + (1 if max_size else 0) + 2 * len(ratios)


def mobilenet_ssd(rng, depthwise_kind: str) -> NetWriter:
    n = NetWriter(rng, (1, 3, IMAGE, IMAGE))
    x = n.conv("conv0", "data", 8, s=2, bn=True)                                    # 24x24
    x = n.conv("conv1/dw", x, 8, group=8, bn=True)
    x = n.conv("conv1", x, 16, k=1)
    x = n.conv("conv2/dw", x, 16, s=2, kind=depthwise_kind)                         # 12x12
    x = n.conv("conv2", x, 16, k=1)
    x = n.conv("conv3/dw", x, 16, s=2, group=16)                                    # 6x6
    n.conv("conv3", x, 24, k=1)
    x = n.conv("conv4/dw", "conv3", 24, s=2, kind=depthwise_kind)                   # 3x3
    n.conv("conv4", x, 32, k=1)
    n.conv("conv5_1", "conv4", 16, k=1)
    n.conv("conv5_2", "conv5_1", 24, s=2)                                           # 2x2
    n.conv("conv6_1", "conv5_2", 16, k=1)
    n.conv("conv6_2", "conv6_1", 24, s=2)                                           # 1x1
    n.conv("conv7_1", "conv6_2", 16, k=1)
    n.conv("conv7_2", "conv7_1", 24, s=2)                                           # 1x1
    n.conv("conv8", "conv7_2", 16, k=1)                                             # 1x1
    scale = (rng.random(24) * 10 + 10).astype(np.float32)
    n.add('layer { name: "conv3_norm" type: "Normalize" bottom: "conv3" top: "conv3_norm" '
          'norm_param { across_spatial: false channel_shared: false scale_filler { type: "constant" value: 20 } } }')
    n.blobs["conv3_norm"] = ("Normalize", [scale])
    n.channels["conv3_norm"] = 24
    locs, confs, priors = [], [], []
    for i, (feat, lo, hi, ratios) in enumerate(HEADS):
        src = "conv3_norm" if feat == "conv3" else feat
        k = priors_per_cell(hi, ratios)
        for what, per in (("loc", 4), ("conf", CLASSES)):
            name = f"{feat}_mbox_{what}"
            n.conv(name, src, k * per, relu=False)
            n.add(f'layer {{ name: "{name}_perm" type: "Permute" bottom: "{name}" top: "{name}_perm" '
                  'permute_param { order: 0 order: 2 order: 3 order: 1 } }')
            n.add(f'layer {{ name: "{name}_flat" type: "Flatten" bottom: "{name}_perm" top: "{name}_flat" '
                  'flatten_param { axis: 1 } }')
            (locs if what == "loc" else confs).append(f"{name}_flat")
        ar = " ".join(f"aspect_ratio: {r}" for r in ratios)
        mx = f"max_size: {hi}" if hi else ""
        clip = "true" if i % 2 else "false"
        n.add(f'layer {{ name: "{feat}_mbox_priorbox" type: "PriorBox" bottom: "{src}" bottom: "data" '
              f'top: "{feat}_mbox_priorbox" prior_box_param {{ min_size: {lo} {mx} {ar} flip: true clip: {clip} '
              'variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 offset: 0.5 } }')
        priors.append(f"{feat}_mbox_priorbox")
    for top, parts, axis in (("mbox_loc", locs, 1), ("mbox_conf", confs, 1), ("mbox_priorbox", priors, 2)):
        bottoms = " ".join(f'bottom: "{p}"' for p in parts)
        n.add(f'layer {{ name: "{top}" type: "Concat" {bottoms} top: "{top}" concat_param {{ axis: {axis} }} }}')
    n.add(f'layer {{ name: "mbox_conf_reshape" type: "Reshape" bottom: "mbox_conf" top: "mbox_conf_reshape" '
          f'reshape_param {{ shape {{ dim: 0 dim: -1 dim: {CLASSES} }} }} }}')
    n.add('layer { name: "mbox_conf_softmax" type: "Softmax" bottom: "mbox_conf_reshape" top: "mbox_conf_softmax" '
          'softmax_param { axis: 2 } }')
    n.add('layer { name: "mbox_conf_flatten" type: "Flatten" bottom: "mbox_conf_softmax" top: "mbox_conf_flatten" '
          'flatten_param { axis: 1 } }')
    return n


SSD_OUTPUTS = ["mbox_loc", "mbox_conf_flatten", "mbox_priorbox"]
DETECTION = '''layer { name: "detection_out" type: "DetectionOutput" bottom: "mbox_loc" bottom: "mbox_conf_flatten"
  bottom: "mbox_priorbox" top: "detection_out" detection_output_param { num_classes: 3 share_location: true
  background_label_id: 0 nms_param { nms_threshold: 0.45 top_k: 100 } code_type: CENTER_SIZE keep_top_k: 100
  confidence_threshold: 0.25 } }
'''


@pytest.mark.slow
def test_mobilenet_ssd_heads_match_opencv_at_batch_1_and_2_from_one_compile(tmp_path):
    rng = np.random.default_rng(7)
    net = mobilenet_ssd(rng, "ConvolutionDepthwise")
    case = CaffeCase(tmp_path, net.prototxt(), net.blobs, name="mobilenet_ssd")
    model = case.compile(input_shapes={"data": ("N", 3, IMAGE, IMAGE)})
    cells = [6 * 6, 3 * 3, 2 * 2, 1, 1, 1]
    boxes = sum(c * priors_per_cell(hi, r) for c, (_, _, hi, r) in zip(cells, HEADS))
    for batch in (1, 2):
        x = rng.standard_normal((batch, 3, IMAGE, IMAGE)).astype(np.float32)
        got = model.run({"data": x})
        ref = case.opencv({"data": x}, SSD_OUTPUTS)
        assert got["mbox_loc"].shape == (batch, boxes * 4)
        assert got["mbox_conf_flatten"].shape == (batch, boxes * CLASSES)
        assert got["mbox_priorbox"].shape == (1, 2, boxes * 4)
        for name in SSD_OUTPUTS:
            assert got[name].shape == ref[name].shape, name
            scale = float(np.abs(ref[name]).max())
            np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, atol=1e-5 * max(scale, 1.0), err_msg=name)
        assert np.allclose(got["mbox_conf_flatten"].reshape(batch, -1, CLASSES).sum(-1), 1.0, atol=1e-5)


def densenet(rng, data_shape, growth=4, layers=(2, 2)) -> NetWriter:
    n = NetWriter(rng, data_shape)
    n.conv("conv1", "data", 8, k=7, s=2, p=3, bn=True)
    n.add('layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" '
          'pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 ceil_mode: false } }')
    n.channels["pool1"] = 8
    x = "pool1"
    for b, count in enumerate(layers, start=1):
        for i in range(1, count + 1):
            name = f"conv{b + 1}_{i}"
            n.add(f'layer {{ name: "{name}/x1/pre" type: "Power" bottom: "{x}" top: "{name}/x1/in" }}')
            n.channels[f"{name}/x1/in"] = n.channels[x]
            y = n.bn_scale(f"{name}/x1", f"{name}/x1/in")
            n.add(f'layer {{ name: "{name}/x1/relu" type: "ReLU" bottom: "{y}" top: "{y}" }}')
            y = n.conv(f"{name}/x1", y, 4 * growth, k=1, relu=False, bn=False)
            y = n.bn_scale(f"{name}/x2", y)
            n.add(f'layer {{ name: "{name}/x2/relu" type: "ReLU" bottom: "{y}" top: "{y}" }}')
            y = n.conv(f"{name}/x2", y, growth, k=3, relu=False)
            n.add(f'layer {{ name: "concat_{b + 1}_{i}" type: "Concat" bottom: "{x}" bottom: "{y}" '
                  f'top: "concat_{b + 1}_{i}" }}')
            n.channels[f"concat_{b + 1}_{i}"] = n.channels[x] + growth
            x = f"concat_{b + 1}_{i}"
        if b < len(layers):
            t = f"conv{b + 1}_blk"
            n.add(f'layer {{ name: "{t}/pre" type: "Power" bottom: "{x}" top: "{t}/in" }}')
            n.channels[f"{t}/in"] = n.channels[x]
            y = n.bn_scale(t, f"{t}/in")
            n.add(f'layer {{ name: "{t}/relu" type: "ReLU" bottom: "{y}" top: "{y}" }}')
            y = n.conv(t, y, n.channels[x] // 2, k=1, relu=False)
            n.add(f'layer {{ name: "pool{b + 1}" type: "Pooling" bottom: "{y}" top: "pool{b + 1}" '
                  'pooling_param { pool: AVE kernel_size: 2 stride: 2 ceil_mode: false } }')
            n.channels[f"pool{b + 1}"] = n.channels[y]
            x = f"pool{b + 1}"
    y = n.bn_scale("conv_final", x)
    n.add(f'layer {{ name: "relu_final" type: "ReLU" bottom: "{y}" top: "{y}" }}')
    n.add(f'layer {{ name: "pool_final" type: "Pooling" bottom: "{y}" top: "pool_final" '
          'pooling_param { pool: AVE global_pooling: true } }')
    n.channels["pool_final"] = n.channels[y]
    n.conv("fc", "pool_final", 10, k=1, relu=False)
    n.add('layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }')
    return n


def test_densenet_with_floor_pooling_matches_opencv(tmp_path):
    """35x35 in: conv1 gives 18x18, and the floor-rounded max pool 9x9 (ceil would give 10x10);
    the transition's 2x2 average pool then floors 9 to 4."""
    rng = np.random.default_rng(11)
    net = densenet(rng, (2, 3, 35, 35))
    case = CaffeCase(tmp_path, net.prototxt(), net.blobs, name="densenet")
    pooled = {v.name: tuple(v.type.shape) for n in import_caffe(case.proto, weights=case.model, quiet=True).nodes
              for v in n.outputs}
    assert pooled["pool1"] == (2, 8, 9, 9) and pooled["pool2"] == (2, 8, 4, 4)
    x = rng.standard_normal((2, 3, 35, 35)).astype(np.float32)
    got = case.cortado({"data": x})
    ref = case.opencv({"data": x}, ["prob"])
    assert got["prob"].shape == (2, 10, 1, 1)
    np.testing.assert_allclose(got["prob"], ref["prob"], rtol=1e-4, atol=1e-5)
