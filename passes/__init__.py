"""Graph-to-graph transforms, the pass manager, fusion partitioning and the memory plan.

Passes import only ``compiler.ir`` and ``compiler.ops``.
"""
