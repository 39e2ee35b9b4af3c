"""The ONNX frontend: ``import_onnx(path | bytes | ModelProto) -> Graph``."""

from .importer import import_onnx, model_opset
from .registry import ONNX_OPS, supported_onnx_ops

__all__ = ["ONNX_OPS", "import_onnx", "model_opset", "supported_onnx_ops"]
