"""The Caffe forks' layers and fields, each in a small net, against OpenCV's Caffe importer.

Every net is written here as prototxt text with seeded random ``.caffemodel`` blobs; Cortado
compiles it for the interpreter target and OpenCV (``cv2.dnn.readNetFromCaffe``) runs the
same files. Where OpenCV cannot run a layer as Caffe defines it, the test says so and checks
against numpy written from the fork's source instead.
"""

from __future__ import annotations

import numpy as np
import pytest

from cortado.errors import ModelFormatError, UnsupportedOpError
from cortado.frontends.caffe import import_caffe

from opencv_caffe import CaffeCase, net_text, random_blobs

ATOL = 1e-5


@pytest.fixture
def rng():
    return np.random.default_rng(20)


def check(case: CaffeCase, feeds, outputs, atol=ATOL, rtol=1e-5):
    got = case.cortado(feeds)
    ref = case.opencv(feeds, outputs)
    for name in outputs:
        assert got[name].shape == ref[name].shape, name
        np.testing.assert_allclose(got[name], ref[name], atol=atol, rtol=rtol, err_msg=name)
    return got


POOLS = '''
layer { name: "max_floor" type: "Pooling" bottom: "data" top: "max_floor"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 ceil_mode: false } }
layer { name: "ave_floor" type: "Pooling" bottom: "data" top: "ave_floor"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 ceil_mode: false } }
layer { name: "max_ceil" type: "Pooling" bottom: "data" top: "max_ceil"
  pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 ceil_mode: true } }
layer { name: "ave_ceil" type: "Pooling" bottom: "data" top: "ave_ceil"
  pooling_param { pool: AVE kernel_h: 2 kernel_w: 3 stride: 2 } }
'''
POOL_TOPS = ["max_floor", "ave_floor", "max_ceil", "ave_ceil"]


def test_pooling_ceil_mode_matches_opencv(tmp_path, rng):
    case = CaffeCase(tmp_path, net_text(POOLS, {"data": (2, 3, 9, 10)}))
    got = check(case, {"data": rng.standard_normal((2, 3, 9, 10)).astype(np.float32)}, POOL_TOPS)
    assert got["max_floor"].shape == (2, 3, 4, 4) and got["max_ceil"].shape == (2, 3, 5, 6)


def test_round_mode_is_ceil_mode_by_another_name(tmp_path, rng):
    """round_mode (PSPNet/TSN forks) is not in OpenCV's schema: the same net written with
    ceil_mode is the reference."""
    x = rng.standard_normal((1, 2, 9, 10)).astype(np.float32)
    with_round = POOLS.replace("ceil_mode: false", "round_mode: FLOOR").replace("ceil_mode: true", "round_mode: CEIL")
    ours = CaffeCase(tmp_path, net_text(with_round, {"data": (1, 2, 9, 10)}), name="round").cortado({"data": x})
    ref = CaffeCase(tmp_path, net_text(POOLS, {"data": (1, 2, 9, 10)}), name="ceil").opencv({"data": x}, POOL_TOPS)
    for name in POOL_TOPS:
        np.testing.assert_allclose(ours[name], ref[name], atol=ATOL, err_msg=name)


def test_disagreeing_rounding_fields_are_an_error(tmp_path):
    case = CaffeCase(tmp_path, net_text('''layer { name: "p" type: "Pooling" bottom: "data" top: "p"
  pooling_param { kernel_size: 2 stride: 2 ceil_mode: true round_mode: FLOOR } }''', {"data": (1, 1, 5, 5)}))
    with pytest.raises(ModelFormatError, match="layer 'p'.*ceil_mode: true and round_mode: FLOOR, which disagree"):
        import_caffe(case.proto, quiet=True)


RELU6_SHUFFLE_AXPY = '''
layer { name: "r6" type: "ReLU6" bottom: "data" top: "r6" }
layer { name: "shuffle" type: "ShuffleChannel" bottom: "r6" top: "shuffle" shuffle_channel_param { group: 3 } }
layer { name: "shuffled" type: "Power" bottom: "shuffle" top: "shuffled" }
layer { name: "gap" type: "Pooling" bottom: "data" top: "gap" pooling_param { pool: AVE global_pooling: true } }
layer { name: "axpy" type: "Axpy" bottom: "gap" bottom: "shuffle" bottom: "data" top: "axpy" }
'''


def test_relu6_shuffle_channel_axpy_match_opencv(tmp_path, rng):
    """Axpy is ``a * bottom[1] + bottom[2]`` in the fork's layer (SENet's axpy_layer.cpp copies
    bottom[2] and adds a * bottom[1]); OpenCV's importer scales bottom[2] instead, so its
    prototxt names those two bottoms the other way round."""
    x = (rng.standard_normal((1, 6, 5, 4)) * 5).astype(np.float32)
    ours = CaffeCase(tmp_path, net_text(RELU6_SHUFFLE_AXPY, {"data": (1, 6, 5, 4)}), name="ours").cortado({"data": x})
    swapped = RELU6_SHUFFLE_AXPY.replace('bottom: "gap" bottom: "shuffle" bottom: "data"',
                                         'bottom: "gap" bottom: "data" bottom: "shuffle"')
    ref = CaffeCase(tmp_path, net_text(swapped, {"data": (1, 6, 5, 4)}), name="ref").opencv({"data": x},
                                                                                          ["shuffled", "axpy"])
    for name in ("shuffled", "axpy"):
        np.testing.assert_allclose(ours[name], ref[name], rtol=1e-5, atol=1e-5, err_msg=name)
    assert np.array_equal(ours["shuffled"][:, 1], np.clip(x[:, 2], 0, 6))   # channel 2 moves to 1 with 3 groups


def test_relu6_shuffle_channel_axpy_at_batch_2(tmp_path, rng):
    """OpenCV's Axpy asserts on a batch of 2: numpy is the reference here."""
    x = (rng.standard_normal((2, 6, 5, 4)) * 5).astype(np.float32)
    got = CaffeCase(tmp_path, net_text(RELU6_SHUFFLE_AXPY, {"data": (2, 6, 5, 4)})).cortado({"data": x})
    shuffled = np.clip(x, 0, 6).reshape(2, 3, 2, 5, 4).transpose(0, 2, 1, 3, 4).reshape(2, 6, 5, 4)
    np.testing.assert_array_equal(got["shuffled"], shuffled)
    np.testing.assert_allclose(got["axpy"], x.mean(axis=(2, 3), keepdims=True) * shuffled + x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_convolutions_match_opencv(tmp_path, rng, multiplier):
    """ConvolutionDepthwise is known to OpenCV; DepthwiseConvolution is not, so its reference
    is OpenCV's grouped Convolution over the same blobs (what the fork computes)."""
    c = 4
    out = c * multiplier
    body = '''layer { name: "dw" type: "%s" bottom: "data" top: "dw"
  convolution_param { num_output: %d kernel_size: 3 stride: 2 pad: 1 %s } }
layer { name: "dw2" type: "%s" bottom: "dw" top: "dw2" convolution_param { num_output: %d kernel_h: 1 kernel_w: 3 bias_term: false %s } }
'''
    blobs = {"dw": ("", random_blobs(rng, (out, 1, 3, 3), (out,))), "dw2": ("", random_blobs(rng, (out, 1, 1, 3)))}
    x = rng.standard_normal((2, c, 7, 6)).astype(np.float32)
    for kind in ("ConvolutionDepthwise", "DepthwiseConvolution"):
        ours = CaffeCase(tmp_path, net_text(body % (kind, out, "", kind, out, ""), {"data": (2, c, 7, 6)}), blobs,
                         name=kind).cortado({"data": x})
        grouped = body % ("Convolution", out, f"group: {c}", "Convolution", out, f"group: {out}")
        ref = CaffeCase(tmp_path, net_text(grouped, {"data": (2, c, 7, 6)}), blobs, name=f"{kind}_ref")
        np.testing.assert_allclose(ours["dw2"], ref.opencv({"data": x}, ["dw2"])["dw2"], atol=1e-4, rtol=1e-4)
    if multiplier == 1:   # and OpenCV's own ConvolutionDepthwise
        case = CaffeCase(tmp_path, net_text(body % ("ConvolutionDepthwise", out, "", "ConvolutionDepthwise", out, ""),
                                            {"data": (2, c, 7, 6)}), blobs, name="cv")
        check(case, {"data": x}, ["dw2"], atol=1e-4, rtol=1e-4)


def ssd_normalize(x, scale, across_spatial, eps):
    """SSD's NormalizeLayer forward: x / sqrt(sum x^2 + eps) * scale."""
    axes = (1, 2, 3) if across_spatial else (1,)
    norm = np.sqrt((x.astype(np.float64) ** 2).sum(axis=axes, keepdims=True) + eps)
    return (x / norm * np.reshape(scale, (-1, 1, 1))).astype(np.float32)


@pytest.mark.parametrize("across_spatial,channel_shared", [(False, False), (True, True), (False, True), (True, False)])
def test_normalize_matches_opencv(tmp_path, rng, across_spatial, channel_shared):
    """OpenCV cannot scale per channel after normalizing across space (it asserts): that case
    is checked against SSD's forward written in numpy."""
    flags = f"across_spatial: {str(across_spatial).lower()} channel_shared: {str(channel_shared).lower()}"
    text = net_text(f'''layer {{ name: "norm" type: "Normalize" bottom: "data" top: "norm"
  norm_param {{ {flags} scale_filler {{ type: "constant" value: 20 }} eps: 1e-6 }} }}''', {"data": (2, 5, 3, 4)})
    scale = (rng.random((1,) if channel_shared else (5,)) * 10 + 5).astype(np.float32)
    case = CaffeCase(tmp_path, text, {"norm": ("Normalize", [scale])})
    x = rng.standard_normal((2, 5, 3, 4)).astype(np.float32)
    if across_spatial and not channel_shared:
        np.testing.assert_allclose(case.cortado({"data": x})["norm"], ssd_normalize(x, scale, True, 1e-6), rtol=1e-5,
                                   atol=1e-5)
    else:
        check(case, {"data": x}, ["norm"], atol=1e-4)


def test_normalize_takes_a_scalar_scale_blob(tmp_path, rng):
    """SSD stores the shared scale as a 0-d blob."""
    text = net_text('''layer { name: "norm" type: "Normalize" bottom: "data" top: "norm" }''', {"data": (1, 3, 2, 2)})
    case = CaffeCase(tmp_path, text, {"norm": ("Normalize", [np.array(7.0, np.float32)])})
    x = rng.standard_normal((1, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(case.cortado({"data": x})["norm"], ssd_normalize(x, 7.0, True, 1e-10), rtol=1e-5)


PRIOR_CASES = {
    "ssd_head": "min_size: 30 max_size: 60 aspect_ratio: 2 aspect_ratio: 3 flip: true clip: false "
                "variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 offset: 0.5",
    "step_clip": "min_size: 20 aspect_ratio: 2 flip: false clip: true variance: 0.1 step: 8 offset: 0.25",
    "dup_ratio_step_hw": "min_size: 16 max_size: 40 aspect_ratio: 2 aspect_ratio: 2.0000001 flip: true clip: true "
                         "variance: 0.2 step_h: 9 step_w: 11 offset: 0",
}


@pytest.mark.parametrize("fields", list(PRIOR_CASES.values()), ids=list(PRIOR_CASES))
def test_prior_box_matches_opencv(tmp_path, fields):
    text = net_text(f'''layer {{ name: "prior" type: "PriorBox" bottom: "feat" bottom: "data" top: "prior"
  prior_box_param {{ {fields} }} }}''', {"data": (1, 3, 36, 44), "feat": (1, 2, 5, 6)})
    case = CaffeCase(tmp_path, text)
    feeds = {"data": np.zeros((1, 3, 36, 44), np.float32), "feat": np.zeros((1, 2, 5, 6), np.float32)}
    check(case, feeds, ["prior"], atol=1e-6)


@pytest.mark.parametrize("img", ["img_size: 48", "img_h: 48 img_w: 48"])
def test_prior_box_image_size_fields_override_the_image_blob(tmp_path, img):
    """SSD takes img_size / img_h, img_w over bottom 1's size; OpenCV ignores those fields and
    reads the image blob. So the reference is OpenCV on an image that really is 48x48."""
    fields = f"min_size: 16 max_size: 40 aspect_ratio: 2 flip: true clip: false variance: 0.1 step: 10 {img}"
    body = f'''layer {{ name: "prior" type: "PriorBox" bottom: "feat" bottom: "data" top: "prior"
  prior_box_param {{ {fields} }} }}'''
    feat = np.zeros((1, 2, 5, 6), np.float32)
    ours = CaffeCase(tmp_path, net_text(body, {"data": (1, 3, 36, 44), "feat": (1, 2, 5, 6)}), name="ours").cortado(
        {"data": np.zeros((1, 3, 36, 44), np.float32), "feat": feat})["prior"]
    ref = CaffeCase(tmp_path, net_text(body, {"data": (1, 3, 48, 48), "feat": (1, 2, 5, 6)}), name="ref").opencv(
        {"data": np.zeros((1, 3, 48, 48), np.float32), "feat": feat}, ["prior"])["prior"]
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_prior_box_with_several_min_sizes(tmp_path):
    """SSD's min_size and max_size repeat; OpenCV's schema takes one each, so the reference is
    one OpenCV run per (min, max) pair, interleaved per cell as SSD's loop writes them."""
    shapes = {"data": (2, 3, 30, 30), "feat": (2, 4, 3, 3)}
    common = "aspect_ratio: 2 flip: true clip: true variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2"
    body = 'layer { name: "prior" type: "PriorBox" bottom: "feat" bottom: "data" top: "prior" prior_box_param { %s %s } }'
    ours = CaffeCase(tmp_path, net_text(body % ("min_size: 6 min_size: 12 max_size: 9 max_size: 20", common), shapes),
                     name="two").cortado({"data": np.zeros(shapes["data"], np.float32),
                                          "feat": np.zeros(shapes["feat"], np.float32)})["prior"]
    feeds = {k: np.zeros((1,) + s[1:], np.float32) for k, s in shapes.items()}
    one = {k: (1,) + s[1:] for k, s in shapes.items()}
    parts = [CaffeCase(tmp_path, net_text(body % (sizes, common), one), name=f"one{i}").opencv(feeds, ["prior"])["prior"]
             for i, sizes in enumerate(["min_size: 6 max_size: 9", "min_size: 12 max_size: 20"])]
    ref = np.concatenate([p.reshape(2, 9, -1, 4) for p in parts], axis=2).reshape(1, 2, -1)
    assert ours.shape == ref.shape == (1, 2, 9 * 8 * 4)     # batch 2 in, one set of priors out
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def deeplab_interp(x, out_hw, pad_beg=0, pad_end=0):
    """deeplab's caffe_cpu_interp2 (bilinear, corners aligned) on the input cropped by the
    non-positive pads, written from its loops."""
    n, c, h, w = x.shape
    x = x[:, :, -pad_beg:h + pad_end, -pad_beg:w + pad_end].astype(np.float64)
    h1, w1 = x.shape[2:]
    h2, w2 = out_hw
    rh = (h1 - 1) / (h2 - 1) if h2 > 1 else 0.0
    rw = (w1 - 1) / (w2 - 1) if w2 > 1 else 0.0
    out = np.zeros((n, c, h2, w2))
    for i in range(h2):
        r = rh * i
        a = int(r)
        ap = 1 if a < h1 - 1 else 0
        la = r - a
        for j in range(w2):
            q = rw * j
            b = int(q)
            bp = 1 if b < w1 - 1 else 0
            lb = q - b
            out[:, :, i, j] = ((1 - la) * ((1 - lb) * x[:, :, a, b] + lb * x[:, :, a, b + bp])
                               + la * ((1 - lb) * x[:, :, a + ap, b] + lb * x[:, :, a + ap, b + bp]))
    return out.astype(np.float32)


@pytest.mark.parametrize("fields,out", [("zoom_factor: 2", (11, 9)), ("height: 8 width: 3", (8, 3)),
                                        ("height: 1 width: 1", (1, 1))])
def test_interp_matches_opencv(tmp_path, rng, fields, out):
    text = net_text(f'layer {{ name: "interp" type: "Interp" bottom: "data" top: "interp" interp_param {{ {fields} }} }}',
                    {"data": (2, 3, 6, 5)})
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    got = check(CaffeCase(tmp_path, text), {"data": x}, ["interp"])
    assert got["interp"].shape[2:] == out
    np.testing.assert_allclose(got["interp"], deeplab_interp(x, out), atol=1e-5)


@pytest.mark.parametrize("fields,out,pads", [("shrink_factor: 2", (3, 3), (0, 0)),
                                             ("zoom_factor: 3 shrink_factor: 2", (7, 7), (0, 0)),
                                             ("zoom_factor: 2 pad_beg: -1 pad_end: -1", (7, 5), (-1, -1))])
def test_interp_shrink_and_crop_follow_deeplab(tmp_path, rng, fields, out, pads):
    """OpenCV's Interp ignores shrink_factor and pad_beg/pad_end; deeplab's layer shrinks
    ((h - 1) / shrink + 1), then zooms, on the cropped input: numpy from its loops."""
    text = net_text(f'layer {{ name: "interp" type: "Interp" bottom: "data" top: "interp" interp_param {{ {fields} }} }}',
                    {"data": (2, 3, 6, 5)})
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    got = CaffeCase(tmp_path, text).cortado({"data": x})["interp"]
    np.testing.assert_allclose(got, deeplab_interp(x, out, *pads), atol=1e-5)


def test_reorg_matches_opencv(tmp_path, rng):
    text = net_text('layer { name: "reorg" type: "Reorg" bottom: "data" top: "reorg" reorg_param { stride: 2 } }',
                    {"data": (2, 8, 6, 4)})
    x = rng.standard_normal((2, 8, 6, 4)).astype(np.float32)
    got = check(CaffeCase(tmp_path, text), {"data": x}, ["reorg"], atol=0)
    assert got["reorg"].shape == (2, 32, 3, 2)


def darknet_reorg(x, stride, forward):
    """Darknet's reorg_cpu(x, w, h, c, batch, stride, forward, out) with the bottom's dims,
    as the Caffe ports call it (forward=0 for reorg, 1 for reverse)."""
    b_, c, h, w = x.shape
    flat = x.reshape(-1)
    out = np.zeros_like(flat)
    out_c = c // (stride * stride)
    for b in range(b_):
        for k in range(c):
            for j in range(h):
                for i in range(w):
                    in_index = i + w * (j + h * (k + c * b))
                    c2, offset = k % out_c, k // out_c
                    w2, h2 = i * stride + offset % stride, j * stride + offset // stride
                    out_index = w2 + w * stride * (h2 + h * stride * (c2 + out_c * b))
                    if forward:
                        out[out_index] = flat[in_index]
                    else:
                        out[in_index] = flat[out_index]
    return out


def test_reorg_both_ways_follow_darknet(tmp_path, rng):
    text = net_text('''layer { name: "reorg" type: "Reorg" bottom: "data" top: "reorg" reorg_param { stride: 2 } }
layer { name: "back" type: "Reorg" bottom: "data" top: "back" reorg_param { stride: 2 reverse: true } }''',
                    {"data": (2, 8, 6, 4)})
    x = rng.standard_normal((2, 8, 6, 4)).astype(np.float32)
    got = CaffeCase(tmp_path, text).cortado({"data": x})
    assert got["reorg"].shape == (2, 32, 3, 2) and got["back"].shape == (2, 2, 12, 8)
    np.testing.assert_array_equal(got["reorg"].reshape(-1), darknet_reorg(x, 2, forward=False))
    np.testing.assert_array_equal(got["back"].reshape(-1), darknet_reorg(x, 2, forward=True))


def darknet_region(x, num, coords, classes, softmax):
    """Darknet's forward_region_layer at inference (logistic x, y and objectness; softmax over
    the classes, or a logistic on each without softmax), written from its source loop by loop."""
    n, c, h, w = x.shape
    out = x.astype(np.float64).copy()
    block = coords + 1 + classes
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    for a in range(num):
        base = a * block
        out[:, base:base + 2] = sig(out[:, base:base + 2])
        out[:, base + coords] = sig(out[:, base + coords])
        cls = out[:, base + coords + 1:base + block]
        if softmax:
            e = np.exp(cls - cls.max(axis=1, keepdims=True))
            out[:, base + coords + 1:base + block] = e / e.sum(axis=1, keepdims=True)
        else:
            out[:, base + coords + 1:base + block] = sig(cls)
    return out.astype(np.float32)


@pytest.mark.parametrize("softmax", [True, False])
def test_region_follows_darknet(tmp_path, rng, softmax):
    """OpenCV's Region layer decodes and thresholds boxes (and needs its anchors as a blob);
    the YOLOv2 Caffe ports' Region only activates the blob in place, as Darknet does, which is
    what Cortado follows."""
    text = net_text(f'''layer {{ name: "region" type: "Region" bottom: "data" top: "region"
  region_param {{ classes: 3 coords: 4 {"num" if softmax else "boxes_of_each_grid"}: 2 softmax: {str(softmax).lower()}
    biases: 1 biases: 2 biases: 3 biases: 4 }} }}''',
                    {"data": (2, 16, 3, 4)})
    x = (rng.standard_normal((2, 16, 3, 4)) * 3).astype(np.float32)
    got = CaffeCase(tmp_path, text).cortado({"data": x})["region"]
    np.testing.assert_allclose(got, darknet_region(x, 2, 4, 3, softmax), atol=1e-6)


def test_upsample_nearest_follows_the_yolov3_ports(tmp_path, rng):
    """OpenCV has no Caffe Upsample layer: the reference is the ports' pixel repeat."""
    text = net_text('''layer { name: "up" type: "Upsample" bottom: "data" top: "up" upsample_param { scale: 2 } }
layer { name: "up2" type: "Upsample" bottom: "data" top: "up2" upsample_param { scale_h: 3 scale_w: 1 } }''',
                    {"data": (2, 3, 4, 5)})
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    got = CaffeCase(tmp_path, text).cortado({"data": x})
    np.testing.assert_array_equal(got["up"], x.repeat(2, axis=2).repeat(2, axis=3))
    np.testing.assert_array_equal(got["up2"], x.repeat(3, axis=2))


@pytest.mark.parametrize("pool", ["kernel_size: 2 stride: 2", "kernel_size: 3 stride: 2 pad: 1"])
def test_pooling_mask_and_segnet_unpooling(tmp_path, rng, pool):
    """The pooling mask top matches OpenCV's; SegNet's Upsample (unknown to OpenCV) is checked
    against numpy writing each value at its mask index, as SegNet's loop does."""
    text = net_text(f'''layer {{ name: "pool" type: "Pooling" bottom: "data" top: "pool" top: "mask"
  pooling_param {{ pool: MAX {pool} }} }}
layer {{ name: "pool_out" type: "Power" bottom: "pool" top: "pool_out" }}
layer {{ name: "mask_out" type: "Power" bottom: "mask" top: "mask_out" }}
layer {{ name: "scale" type: "Power" bottom: "pool" top: "scaled" power_param {{ scale: -2 }} }}
layer {{ name: "unpool" type: "Upsample" bottom: "scaled" bottom: "mask" top: "unpool"
  upsample_param {{ scale: 2 upsample_h: 7 upsample_w: 6 }} }}''', {"data": (2, 3, 7, 6)})
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    got = CaffeCase(tmp_path, text).cortado({"data": x})
    pool_only = text[:text.index('layer { name: "pool_out"')]
    pool, mask = CaffeCase(tmp_path, pool_only, name="pool").opencv_tops({"data": x}, "pool")
    ref = {"pool": pool, "mask": mask}
    np.testing.assert_array_equal(got["pool_out"], ref["pool"])
    np.testing.assert_array_equal(got["mask_out"], ref["mask"])
    want = np.zeros((2, 3, 7 * 6), np.float32)
    scaled = -2 * ref["pool"].reshape(2, 3, -1)
    for n in range(2):
        for c in range(3):
            for i, idx in enumerate(ref["mask"][n, c].reshape(-1)):
                want[n, c, int(idx)] = scaled[n, c, i]
    np.testing.assert_array_equal(got["unpool"], want.reshape(2, 3, 7, 6))


def test_unpooling_keeps_the_later_of_two_values_for_one_index(tmp_path, rng):
    """Overlapping pooling windows can share a maximum, so two inputs carry one mask index:
    SegNet's loop writes them in order and keeps the later one."""
    text = net_text('''layer { name: "unpool" type: "Upsample" bottom: "data" bottom: "mask" top: "unpool"
  upsample_param { scale: 2 } }''', {"data": (2, 2, 2, 3), "mask": (2, 2, 2, 3)})
    x = rng.standard_normal((2, 2, 2, 3)).astype(np.float32)
    mask = rng.integers(0, 4, (2, 2, 2, 3)).astype(np.float32)     # few targets: many repeats
    got = CaffeCase(tmp_path, text).cortado({"data": x, "mask": mask})["unpool"]
    want = np.zeros((2, 2, 4 * 6), np.float32)
    for n in range(2):
        for c in range(2):
            for i, idx in enumerate(mask[n, c].reshape(-1)):
                want[n, c, int(idx)] = x[n, c].reshape(-1)[i]
    np.testing.assert_array_equal(got, want.reshape(2, 2, 4, 6))


def test_prior_box_follows_the_input_size_given_at_compile_time(tmp_path):
    """The priors are computed from the shapes the net is compiled for, so input_shapes
    that change the image and feature sizes change them as OpenCV does at those sizes."""
    body = '''layer { name: "conv" type: "Convolution" bottom: "data" top: "feat"
  convolution_param { num_output: 2 kernel_size: 3 stride: 4 pad: 1 } }
layer { name: "prior" type: "PriorBox" bottom: "feat" bottom: "data" top: "prior"
  prior_box_param { min_size: 7 max_size: 15 aspect_ratio: 2 flip: true clip: true variance: 0.1 } }'''
    blobs = {"conv": ("", random_blobs(rng_fixed(), (2, 3, 3, 3), (2,)))}
    ours = CaffeCase(tmp_path, net_text(body, {"data": (1, 3, 16, 16)}), blobs, name="small").compile(
        input_shapes={"data": ("N", 3, 40, 24)})
    got = ours.run({"data": np.zeros((3, 3, 40, 24), np.float32)})["prior"]
    ref = CaffeCase(tmp_path, net_text(body, {"data": (1, 3, 40, 24)}), blobs, name="large").opencv(
        {"data": np.zeros((1, 3, 40, 24), np.float32)}, ["prior"])["prior"]
    assert got.shape == ref.shape == (1, 2, 10 * 6 * 4 * 4)
    np.testing.assert_allclose(got, ref, atol=1e-6)


def rng_fixed():
    return np.random.default_rng(4)


def test_unsupported_layers_are_listed_together_and_what_reads_them_is_not(tmp_path):
    """DetectionOutput reads the blob of an unknown layer: it is not reported itself."""
    text = net_text('''layer { name: "loc" type: "Convolution" bottom: "data" top: "loc"
  convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "roi" type: "PSROIPooling" bottom: "data" top: "roi" psroi_pooling_param { group_size: 2 } }
layer { name: "prior" type: "PriorBox" bottom: "loc" bottom: "data" top: "prior" prior_box_param { min_size: 2 } }
layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "roi" bottom: "prior" top: "det"
  detection_output_param { num_classes: 2 share_location: true background_label_id: 0
    nms_param { nms_threshold: 0.45 top_k: 100 } code_type: CENTER_SIZE keep_top_k: 10 confidence_threshold: 0.1 } }
layer { name: "mvn" type: "MVN" bottom: "loc" top: "mvn" }''', {"data": (1, 3, 4, 4)})
    case = CaffeCase(tmp_path, text)
    with pytest.raises(UnsupportedOpError) as e:
        import_caffe(case.proto, random_weights=True, quiet=True)
    items = e.value.items
    assert [(t, n) for t, n, _ in items] == [("PSROIPooling", "roi"), ("MVN", "mvn")]
    assert "line 4: unknown Caffe layer type" in items[0][2] and items[1][2].startswith("line 9: MVN")


def test_an_unknown_field_of_a_fork_layer_names_field_layer_and_line(tmp_path):
    text = net_text('''layer { name: "prior" type: "PriorBox" bottom: "data" bottom: "data" top: "prior"
  prior_box_param { min_size: 2 densities: 3 } }''', {"data": (1, 3, 4, 4)})
    case = CaffeCase(tmp_path, text)
    with pytest.raises(ModelFormatError, match="unknown field 'densities' in layer 'prior'.prior_box_param") as e:
        import_caffe(case.proto, quiet=True)
    assert e.value.where.endswith(":3:33")


def test_fork_layers_are_ir_ops_the_fusion_pass_sees_through(tmp_path, rng):
    """ReLU6 is a Clip the convolution absorbs, ShuffleChannel's reshapes and transpose are
    index arithmetic inside the next kernel, Normalize is one reduction kernel."""
    text = net_text('''layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }
layer { name: "r6" type: "ReLU6" bottom: "conv" top: "conv" }
layer { name: "shuffle" type: "ShuffleChannel" bottom: "conv" top: "shuffle" shuffle_channel_param { group: 2 } }
layer { name: "dw" type: "ConvolutionDepthwise" bottom: "shuffle" top: "dw" convolution_param { num_output: 6 kernel_size: 3 pad: 1 } }
layer { name: "norm" type: "Normalize" bottom: "dw" top: "norm" norm_param { across_spatial: false channel_shared: true } }
''', {"data": (1, 3, 8, 8)})
    blobs = {"conv": ("", random_blobs(rng, (6, 3, 3, 3), (6,))), "dw": ("", random_blobs(rng, (6, 1, 3, 3), (6,))),
             "norm": ("Normalize", [np.array([3.0], np.float32)])}
    case = CaffeCase(tmp_path, text, blobs)
    model = case.compile()
    headers = [line for line in model.source.splitlines() if line.startswith("# ") and " kernel: " in line]
    assert len(headers) == model.stats["kernels"] <= 3, headers
    assert any("conv/conv" in h and "r6/clip" in h for h in headers), headers
    assert any("shuffle/transpose" in h and "dw/conv" in h for h in headers), headers
    assert any(h.startswith("# reduction kernel") and "norm/reducesumsquare" in h and "norm/div" in h
               for h in headers), headers
    x = (rng.standard_normal((1, 3, 8, 8)) * 4).astype(np.float32)
    np.testing.assert_allclose(model.run({"data": x})["norm"], case.opencv({"data": x}, ["norm"])["norm"],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer,message", [
    ('type: "PriorBox" bottom: "data" bottom: "data" prior_box_param { min_size: 4 max_size: 3 }',
     "max_size [3.0] needs one value per min_size [4.0], each larger than it"),
    ('type: "PriorBox" bottom: "data" bottom: "data" prior_box_param { min_size: 4 variance: 0.1 variance: 0.2 }',
     "variance [0.1, 0.2] must be one or four positive values"),
    ('type: "PriorBox" bottom: "data" bottom: "data" prior_box_param { min_size: 4 step: 2 step_h: 3 step_w: 3 }',
     "give the step as step or as step_h and step_w, not both"),
    ('type: "Interp" bottom: "data" interp_param { zoom_factor: 2 pad_beg: 1 }', "must be <= 0 (Interp only crops)"),
    ('type: "Interp" bottom: "data" interp_param { pad_end: -1 }', "needs zoom_factor, shrink_factor, or height and width"),
    ('type: "ShuffleChannel" bottom: "data" shuffle_channel_param { group: 4 }', "group 4 must divide the channels (6)"),
    ('type: "Reorg" bottom: "data" reorg_param { stride: 4 }', "stride 4 needs channels divisible by 16"),
    ('type: "Region" bottom: "data" region_param { classes: 2 num: 2 }', "num 2 x (coords 4 + 1 + classes 2) = 14"),
    ('type: "ConvolutionDepthwise" bottom: "data" convolution_param { num_output: 6 kernel_size: 1 group: 2 }',
     "group 2 must be the input channel count (6)"),
    ('type: "Upsample" bottom: "data" upsample_param { upsample_h: 8 upsample_w: 8 }',
     "upsample_h/upsample_w and pad_out_* need the mask bottom"),
])
def test_bad_fork_parameters_are_one_clear_error(tmp_path, layer, message):
    text = net_text(f'layer {{ name: "bad" {layer} top: "out" }}', {"data": (1, 6, 4, 4)})
    with pytest.raises(ModelFormatError) as e:
        import_caffe(CaffeCase(tmp_path, text).proto, random_weights=True, quiet=True)
    assert e.value.message.startswith("layer 'bad' (") and message in e.value.message, e.value.message
