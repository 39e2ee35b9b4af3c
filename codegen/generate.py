"""Render a kernel group with the template of its kind (``codegen/templates``)."""

from __future__ import annotations

from .templates import generate_kernel, has_generator

__all__ = ["generate_kernel", "has_generator"]
