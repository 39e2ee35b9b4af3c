"""Codegen: kernel groups -> one readable Triton module plus a launch plan."""

from .module import FORMAT_VERSION, GeneratedModule, build_module

__all__ = ["FORMAT_VERSION", "GeneratedModule", "build_module"]
