"""Helpers shared by the CLI subcommands."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from runtime.errors import CortadoError, InputError


def parse_shape(text: str, flag: str) -> tuple[str, tuple]:
    name, sep, dims = text.rpartition("=")
    if not sep or not name or not dims:
        raise CortadoError(f"{flag} expects NAME=DIMS such as data=1x3x224x224, got {text!r}")
    out = []
    for d in dims.lower().replace(",", "x").split("x"):
        d = d.strip()
        if d.isdigit() and int(d) > 0:
            out.append(int(d))
        elif d.isidentifier():
            out.append(d)
        else:
            raise CortadoError(f"{flag} {text!r}: dim {d!r} is not a positive integer or a name like N")
    return name, tuple(out)


def input_shapes(items) -> dict | None:
    if not items:
        return None
    shapes = {}
    for item in items:
        name, shape = parse_shape(item, "--input")
        shapes[name] = shape
    return shapes


def is_artifact(path: str) -> bool:
    p = Path(path)
    return (p.is_dir() and (p / "manifest.json").exists()) or p.suffix == ".zip" or p.suffix == ".cortado"


def fmt_bytes(n) -> str:
    if not isinstance(n, (int, float)):
        return f"{n} bytes"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def random_input(info: dict, rng=None) -> np.ndarray:
    """Seeded random data for an input spec {shape, dtype}; symbolic dims become 1."""
    from runtime.dtypes import numpy_dtype

    rng = rng or np.random.default_rng(0)
    shape = tuple(d if isinstance(d, int) else 1 for d in info["shape"])
    dt = numpy_dtype(info["dtype"])
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 4, shape).astype(dt)


def load_input(spec: str, model) -> tuple[str, np.ndarray]:
    """NAME=FILE.npy (read without pickle) or NAME=random."""
    name, sep, src = spec.partition("=")
    if not sep:
        raise CortadoError(f"--input expects NAME=FILE.npy or NAME=random, got {spec!r}")
    if src == "random":
        info = next((i for i in model.inputs if i["name"] == name), None)
        if info is None:
            raise InputError(f"the model has no input {name!r}", hint=f"inputs: {', '.join(model.input_names)}")
        return name, random_input(info)
    path = Path(src)
    if not path.is_file():
        raise CortadoError(f"input file not found: {path}")
    try:
        return name, np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CortadoError(f"{path} is not a readable .npy array ({e})", hint="save inputs with numpy.save") from None


def feeds_for(model, specs) -> dict:
    feeds = dict(load_input(s, model) for s in (specs or []))
    for info in model.inputs:
        feeds.setdefault(info["name"], random_input(info))
    return feeds
