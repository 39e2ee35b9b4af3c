"""Test helpers: prototxt snippets, and .caffemodel bytes from a hand-rolled wire encoder.

Independent of ``cortado.frontends.caffe.weights`` on purpose: the field numbers here come
from caffe.proto, so decoding what this writes checks the decoder's declarations too.
"""

from __future__ import annotations

import struct

import numpy as np


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def length_delimited(field: int, data: bytes) -> bytes:
    return key(field, 2) + varint(len(data)) + data


def string(field: int, s: str) -> bytes:
    return length_delimited(field, s.encode())


def int_field(field: int, n: int) -> bytes:
    return key(field, 0) + varint(n)


def blob(array, *, legacy: bool = False, double: bool = False, packed: bool = True) -> bytes:
    """A BlobProto: shape (field 7) or legacy num/channels/height/width (1-4); float data
    (field 5) or double_data (field 8), packed or one fixed-width entry per value."""
    a = np.asarray(array)
    out = b""
    if legacy:
        dims = (1,) * (4 - a.ndim) + a.shape
        for f, d in zip((1, 2, 3, 4), dims):
            out += int_field(f, d)
    else:
        out += length_delimited(7, length_delimited(1, b"".join(varint(d) for d in a.shape)))
    flat = a.reshape(-1)
    field, fmt, wire = (8, "<d", 1) if double else (5, "<f", 5)
    if packed:
        out += length_delimited(field, b"".join(struct.pack(fmt, float(v)) for v in flat))
    else:
        out += b"".join(key(field, wire) + struct.pack(fmt, float(v)) for v in flat)
    return out


def layer(name: str, type_: str, blobs=(), **blob_kw) -> bytes:
    """A LayerParameter (name 1, type 2, blobs 7) wrapped as NetParameter.layer (field 100)."""
    body = string(1, name) + string(2, type_) + b"".join(length_delimited(7, blob(b, **blob_kw)) for b in blobs)
    return length_delimited(100, body)


def v1_layer(name: str, type_enum: int, blobs=(), **blob_kw) -> bytes:
    """A V1LayerParameter (name 4, type 5, blobs 6) as NetParameter.layers (field 2)."""
    body = string(4, name) + int_field(5, type_enum) + b"".join(length_delimited(6, blob(b, **blob_kw))
                                                                 for b in blobs)
    return length_delimited(2, body)


def v0_layer(name: str, type_: str, blobs=(), **blob_kw) -> bytes:
    """A V0 layer (name 1, type 2, blobs 50) inside V1LayerParameter.layer (field 1)."""
    inner = string(1, name) + string(2, type_) + b"".join(length_delimited(50, blob(b, **blob_kw)) for b in blobs)
    return length_delimited(2, length_delimited(1, inner))


def net(*layers: bytes, name: str = "net") -> bytes:
    return string(1, name) + b"".join(layers)


def input_layer(name: str = "data", shape=(1, 3, 8, 8)) -> str:
    """An Input layer declaring one blob of ``shape``."""
    dims = " ".join(f"dim: {d}" for d in shape)
    return f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}\n'
