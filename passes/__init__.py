"""Graph-to-graph transforms, the pass manager, fusion partitioning and the memory plan.

Passes import only ``cortado.ir`` and ``cortado.ops``.
"""

if __name__ != "cortado.passes":  # the pre-namespace name, reachable only from a source checkout
    from cortado.legacy_names import alias_old_name

    alias_old_name(__name__)

