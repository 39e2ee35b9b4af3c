"""Codegen: kernel groups -> one readable Triton module plus a launch plan."""

if __name__ != "cortado.codegen":  # the pre-namespace name, reachable only from a source checkout
    from cortado.legacy_names import alias_old_name

    alias_old_name(__name__)

from .module import FORMAT_VERSION, GeneratedModule, build_module

__all__ = ["FORMAT_VERSION", "GeneratedModule", "build_module"]
