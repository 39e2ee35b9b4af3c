"""Testing support that users share with Cortado's own suite.

``compiler.testing.models`` builds real-model test inputs (the ONNX light architectures with
seeded random weights); ``compiler.testing.reference`` runs the independent references
(onnxruntime, ``onnx.reference``) and compares with dtype-aware tolerances.
"""
