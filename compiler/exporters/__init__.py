"""Exporters: IR graphs out to other formats (ONNX), and Caffe -> ONNX conversion."""

from .convert import convert_caffe, save_onnx
from .onnx_export import export_onnx, exportable_ops

__all__ = ["convert_caffe", "export_onnx", "exportable_ops", "save_onnx"]
