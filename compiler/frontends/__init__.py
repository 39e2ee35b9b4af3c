"""Frontends: model files -> IR graphs. ONNX (``onnx``) and Caffe (``caffe``)."""
