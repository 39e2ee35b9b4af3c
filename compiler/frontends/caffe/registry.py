"""Caffe layer converters: Cortado's own (``@caffe_layer``) and users' (``register_layer``).

A converter maps one Caffe layer to IR ops::

    @register_layer("Upsample", fields=("upsample_param",))
    def upsample(ctx, layer, inputs):
        p = ctx.raw_param("upsample_param")          # the parsed message, or None
        scale = int(p.get("scale", 2)) if p else 2
        ...
        return [ctx.op(Op.RESIZE, [inputs[0]], ..., top=0)]

It receives a :class:`~.context.LayerContext` (``op``, ``const``, ``blob`` for learned weights,
``note``, ``unsupported``), the :class:`~.net.LayerDef` and one IR value per bottom, and returns
one value per top. ``fields`` names the ``LayerParameter`` fields a fork adds for the layer
(e.g. ``prior_box_param``); they are passed through unchecked. A layer type nobody registered,
or a field nobody declared, is an error that names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

__all__ = ["LayerSpec", "caffe_layer", "fields_for", "lookup", "register_layer", "registered_layers",
           "unregister_layer"]

ConverterFn = Callable[..., list]


@dataclass(frozen=True)
class LayerSpec:
    type: str
    fn: ConverterFn
    kind: str                    # "compute", "input" (makes graph inputs), "drop" (training only) or
                                 # "refused" (always unsupported: raises UnsupportedHere with the reason)
    fields: frozenset[str]       # extra LayerParameter fields a custom layer may carry
    builtin: bool


_BUILTIN: dict[str, LayerSpec] = {}
_CUSTOM: dict[str, LayerSpec] = {}


def caffe_layer(*types: str, kind: str = "compute"):
    """Register Cortado's converter for Caffe layer types (once per type)."""
    def deco(fn: ConverterFn) -> ConverterFn:
        for t in types:
            if t in _BUILTIN:
                raise RuntimeError(f"Caffe layer type {t} has two converters")
            _BUILTIN[t] = LayerSpec(t, fn, kind, frozenset(), True)
        return fn
    return deco


def register_layer(layer_type: str, fn: ConverterFn | None = None, *, fields: Iterable[str] = (),
                   replace: bool = False, kind: str = "compute"):
    """Register a converter for a Caffe layer type (usable as a decorator).

    ``fields``: LayerParameter fields this layer type may carry that Caffe's schema does not
    know (the fork's ``*_param`` message). ``replace=True`` overrides a built-in converter or
    an earlier registration; otherwise registering a known type again is an error.
    ``kind="input"`` registers a data layer: the function then returns ``(top, shape)`` pairs
    (a dim may be None, to be given through ``input_shapes``) instead of values.
    """
    if kind not in ("compute", "input"):
        raise ValueError(f"kind must be 'compute' or 'input', got {kind!r}")

    def deco(f: ConverterFn) -> ConverterFn:
        if not callable(f):
            raise TypeError(f"the converter for {layer_type!r} must be callable, got {f!r}")
        if not replace and (layer_type in _BUILTIN or layer_type in _CUSTOM):
            what = "a built-in converter" if layer_type in _BUILTIN else "a registered converter"
            raise ValueError(f"Caffe layer type {layer_type!r} already has {what}; pass replace=True to override it")
        _CUSTOM[layer_type] = LayerSpec(layer_type, f, kind, frozenset(fields), False)
        return f

    if fn is not None:
        return deco(fn)
    return deco


def unregister_layer(layer_type: str) -> None:
    """Remove a user registration (built-in converters come back if one was replaced)."""
    if layer_type not in _CUSTOM:
        raise KeyError(f"no custom converter is registered for Caffe layer type {layer_type!r}")
    del _CUSTOM[layer_type]


def lookup(layer_type: str) -> LayerSpec | None:
    return _CUSTOM.get(layer_type) or _BUILTIN.get(layer_type)


def fields_for(layer_type: str) -> frozenset[str] | None:
    """Extra fields a layer of this type may carry; None for a type no converter knows."""
    spec = lookup(layer_type)
    return None if spec is None else spec.fields


def registered_layers() -> dict[str, str]:
    """Every known layer type -> "builtin" or "custom"."""
    out = {t: "builtin" for t in _BUILTIN}
    out.update({t: "custom" for t in _CUSTOM})
    return dict(sorted(out.items()))
