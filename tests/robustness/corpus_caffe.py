"""Bad Caffe nets: prototxt syntax and schema errors, hostile text, absurd sizes, broken weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cortado.errors import (ModelFormatError, ModelLoadError, ResourceLimitError, ShapeError,
                             UnsupportedOpError, WeightsError)
from robust_cases import Bad, Case, seeded_bytes

NET = """name: "tiny"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  convolution_param { num_output: 4 kernel_size: 3 }
}
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer {
  name: "ip"
  type: "InnerProduct"
  bottom: "conv1"
  top: "ip"
  inner_product_param { num_output: 5 }
}
"""

SHAPES = {"conv1": [(4, 3, 3, 3), (4,)], "ip": [(5, 144), (5,)]}


def caffemodel(shapes=SHAPES, seed: int = 0) -> bytes:
    """A binary NetParameter holding a seeded blob of each shape."""
    from cortado.frontends.caffe.weights import NetParameter

    rng = np.random.default_rng(seed)
    net = NetParameter(name="tiny")
    for name, blobs in shapes.items():
        layer = net.layer.add(name=name, type="Convolution" if name.startswith("conv") else "InnerProduct")
        for shape in blobs:
            b = layer.blobs.add()
            b.shape.dim.extend(shape)
            b.data.extend(rng.standard_normal(int(np.prod(shape))).astype(np.float32).tolist())
    return net.SerializeToString()


def net_case(tmp: Path, text: str | bytes, *, weights: bytes | None = None, random_weights: bool = True) -> Bad:
    proto = tmp / "net.prototxt"
    proto.write_bytes(text.encode() if isinstance(text, str) else text)
    argv = ["compile", "net.prototxt", "-o", "out.cortado", "--target", "interpreter", "-q"]
    wpath = None
    if weights is not None:
        wpath = tmp / "net.caffemodel"
        wpath.write_bytes(weights)
        argv += ["--weights", "net.caffemodel"]
        random_weights = False
    elif random_weights:
        argv.append("--random-weights")

    def api():
        import cortado

        return cortado.compile(proto, weights=wpath, random_weights=random_weights, target="interpreter")
    return Bad(api, argv)


def edit(old: str, new: str) -> str:
    assert old in NET, old
    return NET.replace(old, new, 1)


# -- prototxt text ------------------------------------------------------------------------------

def syntax_error(tmp):
    return net_case(tmp, edit('  top: "conv1"\n  convolution_param', '  top: "conv1"\n  convolution_param {{'))


def unknown_field(tmp):
    return net_case(tmp, edit("num_output: 4 kernel_size: 3", "num_output: 4 kernel_size: 3 kernel_sise: 3"))


def wrong_value_type(tmp):
    return net_case(tmp, edit("num_output: 5", 'num_output: "five"'))


def float_for_int(tmp):
    return net_case(tmp, edit("num_output: 5", "num_output: 5.5"))


def unknown_enum(tmp):
    return net_case(tmp, NET + 'layer { name: "pool" type: "Pooling" bottom: "ip" top: "pool" '
                               'pooling_param { pool: MEDIAN kernel_size: 1 } }\n')


def unterminated_string(tmp):
    return net_case(tmp, edit('name: "relu1"', 'name: "relu1'))


def binary_as_prototxt(tmp):
    return net_case(tmp, b"\x89PNG\r\n\x1a\n" + seeded_bytes(200, 2))


def deep_nesting(tmp):
    """A nesting bomb: 100,000 open braces must not exhaust the recursion limit."""
    return net_case(tmp, "layer " + "{ a " * 100_000 + "}" * 100_000)


def oversized_prototxt(tmp):
    """A sparse 17 MiB file: refused by its size, before it is read."""
    bad = net_case(tmp, NET)
    with open(tmp / "net.prototxt", "r+b") as f:
        f.truncate(17 * 1024**2)
    return bad


def huge_integer(tmp):
    return net_case(tmp, edit("num_output: 5", "num_output: 99999999999999999999999999999"))


def empty_prototxt(tmp):
    return net_case(tmp, b"")


# -- the net it describes -----------------------------------------------------------------------

def unknown_layer_type(tmp):
    return net_case(tmp, edit('type: "ReLU"', 'type: "ReLUX"'))


def undefined_bottom(tmp):
    return net_case(tmp, edit('bottom: "conv1"\n  top: "ip"', 'bottom: "conv2"\n  top: "ip"'))


def negative_input_dim(tmp):
    return net_case(tmp, edit("dim: 8 dim: 8", "dim: -8 dim: 8"))


def absurd_input_dim(tmp):
    return net_case(tmp, edit("dim: 8 dim: 8", "dim: 1000000 dim: 1000000"))


def absurd_num_output(tmp):
    """Random weights for a 10^9 x 144 InnerProduct are refused before they are drawn."""
    return net_case(tmp, edit("num_output: 5", "num_output: 1000000000"))


def zero_stride(tmp):
    return net_case(tmp, edit("num_output: 4 kernel_size: 3", "num_output: 4 kernel_size: 3 stride: 0"))


def kernel_larger_than_input(tmp):
    return net_case(tmp, edit("num_output: 4 kernel_size: 3", "num_output: 4 kernel_size: 30"))


def no_weights(tmp):
    return net_case(tmp, NET, random_weights=False)


# -- .caffemodel weights ------------------------------------------------------------------------

def caffemodel_random_bytes(tmp):
    return net_case(tmp, NET, weights=seeded_bytes(300, 3))


def caffemodel_truncated(tmp):
    data = caffemodel()
    return net_case(tmp, NET, weights=data[: len(data) // 2])


def caffemodel_bit_flipped(tmp):
    """One bit of conv1's weight shape flipped (4x3x3x3 -> 4x3x7x3): it no longer matches its data."""
    data = bytearray(caffemodel())
    at = data.index(bytes([0x0A, 4, 4, 3, 3, 3]))   # BlobShape.dim, packed: tag, length, 4 dims
    data[at + 4] ^= 0x04
    return net_case(tmp, NET, weights=bytes(data))


def caffemodel_wrong_shapes(tmp):
    return net_case(tmp, NET, weights=caffemodel({"conv1": [(4, 3, 5, 5), (4,)], "ip": [(5, 144), (5,)]}))


def caffemodel_missing_layer(tmp):
    return net_case(tmp, NET, weights=caffemodel({"conv1": SHAPES["conv1"]}))


def caffemodel_extra_blob(tmp):
    return net_case(tmp, NET, weights=caffemodel({"conv1": SHAPES["conv1"] + [(4,)], "ip": SHAPES["ip"]}))


def caffemodel_oversized(tmp):
    """A sparse 3 GiB weights file: refused by its size, before it is read."""
    bad = net_case(tmp, NET, weights=caffemodel())
    with open(tmp / "net.caffemodel", "r+b") as f:
        f.truncate(3 * 1024**3)
    return bad


def caffemodel_is_prototxt(tmp):
    return net_case(tmp, NET, weights=NET.encode())


NET_FILE = r"net\.prototxt"
LINE_COL = r"net\.prototxt:\d+:\d+"

CASES = [
    Case("caffe_syntax_error", syntax_error, ModelFormatError, r"expected|unexpected|Unexpected", LINE_COL),
    Case("caffe_unknown_field", unknown_field, ModelFormatError, r"kernel_sise", LINE_COL),
    Case("caffe_wrong_value_type", wrong_value_type, ModelFormatError, r"num_output", LINE_COL),
    Case("caffe_float_for_int", float_for_int, ModelFormatError, r"num_output", LINE_COL),
    Case("caffe_unknown_enum", unknown_enum, ModelFormatError, r"MEDIAN", LINE_COL),
    Case("caffe_unterminated_string", unterminated_string, ModelFormatError, r"string|quote|unexpected|Unexpected",
         LINE_COL),
    Case("caffe_binary_as_prototxt", binary_as_prototxt, ModelLoadError, r"not a text prototxt", NET_FILE),
    Case("caffe_deep_nesting", deep_nesting, ModelFormatError, r"nested more than 100 levels deep", LINE_COL),
    Case("caffe_oversized_prototxt", oversized_prototxt, ModelLoadError, r"bytes, but a prototxt is text", NET_FILE),
    Case("caffe_huge_integer", huge_integer, ModelFormatError, r"num_output", LINE_COL),
    Case("caffe_empty_prototxt", empty_prototxt, ModelLoadError, r"is empty", NET_FILE),
    Case("caffe_unknown_layer_type", unknown_layer_type, UnsupportedOpError, r"ReLUX.*unknown Caffe layer type",
         r"'relu1'.*line \d+"),
    Case("caffe_undefined_bottom", undefined_bottom, ModelFormatError, r"reads blob 'conv2', which no earlier layer",
         r"layer 'ip' \(InnerProduct, line \d+\)"),
    Case("caffe_negative_input_dim", negative_input_dim, ShapeError, r"dims must be positive", r"'data'.*line \d+"),
    Case("caffe_absurd_input_dim", absurd_input_dim, ResourceLimitError, r"3,000,000,000,000 elements",
         r"input 'data'.*line \d+"),
    Case("caffe_absurd_num_output", absurd_num_output, ResourceLimitError, r"144,000,000,000 elements",
         r"layer 'ip' \(InnerProduct, line \d+\)"),
    Case("caffe_zero_stride", zero_stride, ShapeError, r"stride", r"layer 'conv1' \(Convolution, line \d+\)"),
    Case("caffe_kernel_larger_than_input", kernel_larger_than_input, ShapeError, r"window|kernel|fit",
         r"layer 'conv1' \(Convolution, line \d+\)"),
    Case("caffe_no_weights", no_weights, WeightsError, r"no weights were given", NET_FILE),
    Case("caffemodel_random_bytes", caffemodel_random_bytes, ModelLoadError, r"not a binary Caffe model|no layers",
         r"net\.caffemodel"),
    Case("caffemodel_truncated", caffemodel_truncated, ModelLoadError, r"not a binary Caffe model", r"net\.caffemodel"),
    Case("caffemodel_bit_flipped", caffemodel_bit_flipped, WeightsError,
         r"blob 0 of layer 'conv1' declares shape \(4, 3, 7, 3\) but holds 108 values", r"net\.caffemodel"),
    Case("caffemodel_wrong_shapes", caffemodel_wrong_shapes, WeightsError, r"shape \(4, 3, 5, 5\).*needs \(4, 3, 3, 3\)",
         r"layer 'conv1' \(Convolution, line \d+\)"),
    Case("caffemodel_missing_layer", caffemodel_missing_layer, WeightsError, r"has no blobs in the weights file",
         r"layer 'ip' \(InnerProduct, line \d+\)"),
    Case("caffemodel_extra_blob", caffemodel_extra_blob, WeightsError, r"uses 2 blob\(s\) but the weights file has 3",
         r"layer 'conv1' \(Convolution, line \d+\)"),
    Case("caffemodel_oversized", caffemodel_oversized, ModelLoadError, r"over the 2 GiB a protobuf message can hold",
         r"net\.caffemodel"),
    Case("caffemodel_is_prototxt", caffemodel_is_prototxt, ModelLoadError, r"looks like a text prototxt|not a binary",
         r"net\.caffemodel"),
]
