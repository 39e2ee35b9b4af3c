"""The Caffe frontend: ``import_caffe(NET.prototxt, weights=NET.caffemodel) -> Graph``.

Reads prototxt files through Cortado's own protobuf text-format grammar (no Caffe or protoc
needed), upgrades legacy V1/V0 layer definitions in-process, and decodes ``.caffemodel``
weights with message classes declared here. Layers a fork adds can be mapped to IR ops with
:func:`register_layer`.
"""

from .context import LayerContext, UnsupportedHere
from .importer import import_caffe, load_net
from .net import LayerDef, NetDef
from .registry import register_layer, registered_layers, unregister_layer
from .textformat import Message, parse_text
from .weights import load_caffemodel

__all__ = ["LayerContext", "LayerDef", "Message", "NetDef", "UnsupportedHere", "import_caffe", "load_caffemodel",
           "load_net", "parse_text", "register_layer", "registered_layers", "unregister_layer"]
