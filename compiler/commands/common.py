"""Helpers shared by the CLI subcommands."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cortado.runtime.errors import InputError, ShapeError


def parse_shape(text: str, flag: str) -> tuple[str, tuple]:
    name, sep, dims = text.rpartition("=")
    if not sep or not name or not dims:
        raise ShapeError(f"{flag} expects NAME=DIMS such as data=1x3x224x224, got {text!r}")
    out = []
    for d in dims.lower().replace(",", "x").split("x"):
        d = d.strip()
        if d.isdigit() and int(d) > 0:
            out.append(int(d))
        elif d.isidentifier():
            out.append(d)
        else:
            raise ShapeError(f"{flag} {text!r}: dim {d!r} is not a positive integer or a name like N")
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
    from cortado.runtime.dtypes import numpy_dtype

    rng = rng or np.random.default_rng(0)
    shape = tuple(d if isinstance(d, int) else 1 for d in info["shape"])
    dt = numpy_dtype(info["dtype"])
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 4, shape).astype(dt)


def load_input(spec: str, model, limit: int | None = None) -> tuple[str, np.ndarray]:
    """NAME=FILE.npy (read without pickle) or NAME=random."""
    name, sep, src = spec.partition("=")
    if not sep:
        raise InputError(f"--input expects NAME=FILE.npy or NAME=random, got {spec!r}")
    if src == "random":
        info = next((i for i in model.inputs if i["name"] == name), None)
        if info is None:
            raise InputError(f"the model has no input {name!r}", hint=f"inputs: {', '.join(model.input_names)}")
        return name, random_input(info)
    return name, read_npy(Path(src), name, limit)


def check_destination(path, flag: str, *, folder: bool = False) -> None:
    """Fail fast, before a long compile or run, when ``path`` cannot be written: its nearest
    existing ancestor must be a folder, and a ``folder`` destination must not be a file."""
    from cortado.runtime.errors import OutputError

    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise OutputError(f"{flag} {p} is a file, not a folder", hint="give a folder name")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {p}: {parent} is not a folder", where=flag)


def add_limit_flag(parser) -> None:
    parser.add_argument("--max-elements", type=int, metavar="N",
                        help="refuse any tensor of more than N elements (default $CORTADO_MAX_ELEMENTS, else 2**31-1)")


def read_npy(path: Path, name: str, limit: int | None = None) -> np.ndarray:
    """A .npy file as an array: never unpickled, and its header (shape, dtype) checked against
    the file's size and the element limit before any data is read or allocated."""
    from numpy.lib import format as npy

    from cortado.runtime.limits import check_elements, max_elements

    where = f"--input {name}"
    if not path.is_file():
        raise InputError(f"input file not found: {path}", where=where)
    hint = "save inputs with numpy.save"
    try:
        with open(path, "rb") as f:
            version = npy.read_magic(f)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f"unknown .npy version {version}")
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read_header(f)
            if dtype.hasobject:
                raise ValueError("it holds Python objects, which are never unpickled")
            check_elements(shape, f"the array in {path}", max_elements(limit), where=where)
            needed = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if path.stat().st_size - f.tell() < needed:
                raise ValueError(f"the file is truncated: its header promises {needed} bytes of data")
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as e:
        raise InputError(f"{path} is not a readable .npy array ({e})", where=where, hint=hint) from None


def feeds_for(model, specs, limit: int | None = None) -> dict:
    feeds = dict(load_input(s, model, limit) for s in (specs or []))
    for info in model.inputs:
        feeds.setdefault(info["name"], random_input(info))
    return feeds
