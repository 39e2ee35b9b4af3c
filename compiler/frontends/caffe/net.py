"""The Caffe net definition: layers in the current form, whatever format the file used.

``parse_net`` binds a parsed prototxt to the schema (reporting every unknown or ill-typed
field with its line), upgrades V1 ``layers {}`` and V0 ``layers { layer {} }`` entries, and
collects the net-level inputs. ``select_layers`` then applies Caffe's include/exclude rules
for one phase, level and set of stages, exactly as ``Net::FilterNet`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from cortado.runtime.errors import ModelFormatError

from .schema import SCHEMA, Problem, Record, bind
from .textformat import Message
from .upgrade import V0_TYPE_NAMES, V1_TYPE_NAMES, upgrade_v0_params

__all__ = ["InputDef", "LayerDef", "NetDef", "parse_net", "select_layers"]

FieldsFor = Callable[[str], "frozenset[str] | None"]


@dataclass
class LayerDef:
    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    params: Record                 # LayerParameter (or V1LayerParameter: same *_param names)
    line: int
    column: int
    param_names: list[str] = field(default_factory=list)   # shared-parameter names ("" = unnamed)
    include: list[Record] = field(default_factory=list)
    exclude: list[Record] = field(default_factory=list)
    format: str = "layer"          # "layer", "V1" or "V0"

    def param(self, name: str) -> Record:
        """The layer's ``name`` message (its defaults when absent or not in this format)."""
        try:
            return getattr(self.params, name)
        except AttributeError:
            return Record(_PARAM_TYPES[name]) if name in _PARAM_TYPES else Record("LayerParameter")

    def has_param(self, name: str) -> bool:
        try:
            return self.params.has(name)
        except AttributeError:
            return False

    @property
    def where(self) -> str:
        return f"layer {self.name!r} ({self.type}, line {self.line})"


@dataclass
class InputDef:
    name: str
    shape: tuple[int, ...] | None
    line: int
    column: int


@dataclass
class NetDef:
    name: str
    source: str
    inputs: list[InputDef]
    layers: list[LayerDef]
    state: Record
    format: str


def _param_types() -> dict[str, str]:
    return {k: f.type for k, f in SCHEMA["LayerParameter"].fields.items() if k.endswith("_param")}


_PARAM_TYPES = _param_types()


def _peek_string(msg: Message, name: str) -> str | None:
    f = msg.first(name)
    return f.value if f is not None and type(f.value) is str else None


def _bind_layer(msg: Message, fields_for: FieldsFor, problems: list[Problem]) -> LayerDef:
    type_ = _peek_string(msg, "type") or ""
    name = _peek_string(msg, "name") or ""
    claimed = fields_for(type_)
    rec = bind(msg, "LayerParameter", problems, context=f"layer {name!r}" if name else "layer",
               claimed=claimed or frozenset(), lenient=claimed is None)
    return LayerDef(rec.name, rec.type, list(rec.bottom), list(rec.top), rec, msg.line, msg.column,
                    [p.name for p in rec.param], list(rec.include), list(rec.exclude), "layer")


def _bind_v1(msg: Message, problems: list[Problem]) -> LayerDef:
    inner = msg.first("layer")
    name = _peek_string(msg, "name") or ""
    rec = bind(msg, "V1LayerParameter", problems, context=f"layers {name!r}" if name else "layers")
    if inner is not None and isinstance(inner.value, Message):
        v0 = rec.layer
        v0_type = v0.type
        if v0_type not in V0_TYPE_NAMES:
            problems.append(Problem(*v0.pos("type"), f"unknown V0 layer type {v0_type!r}"))
        if v0_type == "padding":   # folded into its consumer by _fold_v0_padding
            return LayerDef(v0.name, "padding", list(rec.bottom), list(rec.top), rec, msg.line, msg.column,
                            format="V0")
        errs: list[tuple[int, int, str]] = []
        params = upgrade_v0_params(v0, v0_type, errs)
        problems.extend(Problem(*e) for e in errs)
        return LayerDef(v0.name, V0_TYPE_NAMES.get(v0_type, v0_type), list(rec.bottom), list(rec.top), params,
                        msg.line, msg.column, [], [], [], "V0")
    type_ = V1_TYPE_NAMES[rec.type]
    return LayerDef(rec.name, type_, list(rec.bottom), list(rec.top), rec, msg.line, msg.column,
                    list(rec.param), list(rec.include), list(rec.exclude), "V1")


def _fold_v0_padding(layers: list[LayerDef], inputs: Sequence[str], problems: list[Problem]) -> list[LayerDef]:
    """V0 nets pad with a separate layer; Caffe folds its ``pad`` into the consumer."""
    last_top: dict[str, LayerDef | None] = {n: None for n in inputs}
    out = []
    for layer in layers:
        if layer.type != "padding":
            out.append(layer)
        for j, b in enumerate(layer.bottoms):
            src = last_top.get(b)
            if src is None or src.type != "padding":
                continue
            if layer.type not in ("Convolution", "Pooling") or len(layer.bottoms) != 1:
                problems.append(Problem(layer.line, layer.column, f"V0 padding layer {src.name!r} feeds "
                                        f"{layer.type} layer {layer.name!r}; only convolution and pooling can "
                                        "absorb padding"))
                continue
            pad = src.params.layer.pad
            if layer.type == "Convolution":
                layer.params.ensure("convolution_param").set("pad", [pad])
            else:
                layer.params.ensure("pooling_param").set("pad", pad)
            layer.bottoms[j] = src.bottoms[0]
        for t in layer.tops:
            last_top[t] = layer
    return out


def parse_net(msg: Message, source: str, fields_for: FieldsFor) -> NetDef:
    """Bind the parsed file to the schema and upgrade legacy layers (all problems at once)."""
    problems: list[Problem] = []
    top = Message([f for f in msg.fields if f.name not in ("layer", "layers")], msg.line, msg.column)
    net = bind(top, "NetParameter", problems, context="the net")
    new = [f for f in msg.fields if f.name == "layer"]
    old = [f for f in msg.fields if f.name == "layers"]
    layers: list[LayerDef] = []
    for f in new + old:
        if not isinstance(f.value, Message):
            problems.append(Problem(f.line, f.column, f"{f.name} must be a message: {f.name} {{ ... }}"))
    if new and old:
        problems.append(Problem(old[0].line, old[0].column, "the file mixes 'layer' and legacy 'layers' entries; "
                                "use one form"))
    for f in new:
        if isinstance(f.value, Message):
            layers.append(_bind_layer(f.value, fields_for, problems))
    fmt = "layer"
    if old and not new:
        layers = [_bind_v1(f.value, problems) for f in old if isinstance(f.value, Message)]
        fmt = "V0" if any(l.format == "V0" for l in layers) else "V1"
        if fmt == "V0":
            layers = _fold_v0_padding(layers, list(net.input), problems)
    inputs = _net_inputs(net, problems)
    if problems:
        raise _problems_error(problems, source)
    return NetDef(net.name, source, inputs, layers, net.state, fmt)


def _net_inputs(net: Record, problems: list[Problem]) -> list[InputDef]:
    names = list(net.input)
    shapes = list(net.input_shape)
    dims = list(net.input_dim)
    line, col = net.pos("input")
    if shapes and dims:
        problems.append(Problem(*net.pos("input_dim"), "give input shapes with input_shape or input_dim, not both"))
    if shapes and len(shapes) != len(names):
        problems.append(Problem(*net.pos("input_shape"), f"{len(names)} input(s) but {len(shapes)} input_shape(s)"))
    if dims and len(dims) != 4 * len(names):
        problems.append(Problem(*net.pos("input_dim"), f"input_dim needs 4 values per input ({len(names)} "
                                f"input(s)), got {len(dims)}"))
    out = []
    for i, n in enumerate(names):
        shape = None
        if shapes and i < len(shapes):
            shape = tuple(int(d) for d in shapes[i].dim)
        elif dims and len(dims) == 4 * len(names):
            shape = tuple(int(d) for d in dims[4 * i:4 * i + 4])
        out.append(InputDef(n, shape, line, col))
    return out


def _problems_error(problems: list[Problem], source: str) -> ModelFormatError:
    problems = sorted(problems, key=lambda p: (p.line, p.column))
    if len(problems) == 1:
        p = problems[0]
        return ModelFormatError(p.message, where=f"{source}:{p.line}:{p.column}")
    lines = "\n".join(f"  {source}:{p.line}:{p.column}: {p.message}" for p in problems)
    return ModelFormatError(f"{len(problems)} problems in the net definition:\n{lines}", where=source)


# -- phases ---------------------------------------------------------------------------------
def _meets(rule: Record, phase: str, level: int, stages: set[str]) -> bool:
    """Caffe's StateMeetsRule: every condition the rule sets must hold."""
    if rule.has("phase") and rule.phase != phase:
        return False
    if rule.has("min_level") and level < rule.min_level:
        return False
    if rule.has("max_level") and level > rule.max_level:
        return False
    if any(s not in stages for s in rule.stage):
        return False
    return not any(s in stages for s in rule.not_stage)


def included(layer: LayerDef, phase: str, level: int, stages: set[str]) -> bool:
    if layer.include and layer.exclude:
        raise ModelFormatError(f"{layer.where} has both include and exclude rules; Caffe allows only one kind")
    if layer.include:
        return any(_meets(r, phase, level, stages) for r in layer.include)
    return not any(_meets(r, phase, level, stages) for r in layer.exclude)


def default_stages(net: NetDef, phase: str) -> tuple[list[str], list[str]]:
    """Stages to compile with when the caller names none: the file's own ``state`` stages, or
    else the first stage that an include rule of this phase asks for (train/test files such
    as the MNIST autoencoder select their TEST data layer by stage). Returns (chosen, all)."""
    declared = list(net.state.stage)
    wanted: list[str] = []
    for layer in net.layers:
        for r in layer.include:
            if (not r.has("phase") or r.phase == phase):
                for s in r.stage:
                    if s not in wanted:
                        wanted.append(s)
    if declared or not wanted:
        return declared, wanted
    return [wanted[0]], wanted


def select_layers(net: NetDef, phase: str, level: int, stages: Sequence[str]) -> list[LayerDef]:
    chosen = set(stages)
    return [l for l in net.layers if included(l, phase, level, chosen)]
