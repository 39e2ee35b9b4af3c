"""Helpers shared by the CLI subcommands."""

from __future__ import annotations

from pathlib import Path

from cortado.runtime.errors import CortadoError, InputError, ShapeError

# numpy is imported inside the functions that need it: `cortado --help` must start quickly


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


def input_shapes(args, *, from_files: bool = True) -> dict | None:
    """The dims to compile with: ``--shape NAME=DIMS`` and ``--input NAME=DIMS`` (the same
    thing), and (``from_files``) the shape of each ``--input NAME=FILE.npy``, read from the
    file's header; they must agree where several are given. Commands that run the model right
    away pass ``from_files=False``: the data binds the symbolic dims at run time, and a file
    that does not fit is named by the runtime."""
    shapes: dict = {}
    given_by: dict = {}

    def add(name, dims, what):
        """``what`` names where ``dims`` came from, for the message when two sources disagree."""
        if name in shapes and (len(shapes[name]) != len(dims) or any(
                isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(shapes[name], dims))):
            raise ShapeError(f"{given_by[name]} disagrees with {what}", hint="drop one of them")
        if name not in shapes:
            shapes[name], given_by[name] = dims, what

    for item in getattr(args, "shape", None) or []:
        name, dims = parse_shape(item, "--shape")
        add(name, dims, f"--shape {name}={_fmt_dims(dims)}")
    for spec in getattr(args, "input", None) or []:
        name, src = split_input(spec)       # a malformed --input fails before any compile
        if is_dims(src):
            name, dims = parse_shape(spec, "--input")
            add(name, dims, f"--input {name}={_fmt_dims(dims)}")
        elif src != "random" and from_files:
            dims = npy_shape(Path(src), name)
            add(name, dims, f"--input {src}, whose array is {_fmt_dims(dims)}")
    return shapes or None


def _fmt_dims(dims) -> str:
    return "x".join(map(str, dims)) or "a scalar"


def split_input(spec: str) -> tuple[str, str]:
    """``NAME=FILE.npy``, ``NAME=random`` or ``NAME=DIMS`` (``is_dims``: random data of those
    dims, and the dims to compile with, as ``--shape NAME=DIMS``)."""
    name, sep, src = spec.partition("=")
    if not sep or not name or not src:
        raise InputError(f"--input expects NAME=FILE.npy, NAME=random or NAME=DIMS (such as "
                         f"image=1x3x224x224), got {spec!r}")
    return name, src


def is_dims(src: str) -> bool:
    """An ``--input`` value that spells dims rather than naming a file: a file of that name
    wins, so a folder holding a file called ``8x3`` still reads it."""
    return src != "random" and not Path(src).exists() and _looks_like_dims(src)


def _looks_like_dims(text: str) -> bool:
    parts = text.lower().replace(",", "x").split("x")
    return len(parts) > 1 and all(p.strip().isdigit() or p.strip().isidentifier() for p in parts) \
        or text.isdigit()


def is_artifact(path: str) -> bool:
    p = Path(path)
    return (p.is_dir() and (p / "manifest.json").exists()) or p.suffix == ".zip" or p.suffix == ".cortado"


def is_caffe(path) -> bool:
    """A Caffe net, by the suffix ``cortado.driver.load_graph`` reads one by."""
    return Path(path).suffix.lower() in (".prototxt", ".pbtxt")


def fmt_bytes(n) -> str:
    if not isinstance(n, (int, float)):
        return f"{n} bytes"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def random_input(info: dict, rng=None, shape=None):
    """Seeded random data for an input spec {shape, dtype}: the dims of ``shape`` (from
    ``--shape``) where given as numbers, else the declared ones, symbolic dims becoming 1."""
    import numpy as np

    from cortado.runtime.dtypes import numpy_dtype

    rng = rng or np.random.default_rng(0)
    declared = tuple(info["shape"])
    if shape is not None and len(shape) != len(declared):
        raise ShapeError(f"--shape {info['name']} has rank {len(shape)}, but the model's input is "
                         f"{'x'.join(map(str, declared))} (rank {len(declared)})")
    shape = tuple(s if isinstance(s, int) else d if isinstance(d, int) else 1
                  for s, d in zip(shape or declared, declared))
    dt = numpy_dtype(info["dtype"])
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 4, shape).astype(dt)


def load_input(spec: str, model, limit: int | None = None, shapes: dict | None = None):
    """NAME=FILE.npy (read without pickle), NAME=random (with its --shape dims, if given) or
    NAME=DIMS (seeded random data of those dims)."""
    name, src = split_input(spec)
    if is_dims(src):
        _, dims = parse_shape(spec, "--input")
        given = (shapes or {}).get(name)
        if given is not None and tuple(given) != tuple(dims):
            raise ShapeError(f"--shape {name}={_fmt_dims(given)} disagrees with --input {spec}",
                             hint="drop one of them")
        return name, random_input(_input_info(model, name, "--input"), shape=dims)
    if src == "random":
        return name, random_input(_input_info(model, name, "--input"), shape=(shapes or {}).get(name))
    return name, read_npy(Path(src), name, limit)


def _input_info(model, name: str, flag: str) -> dict:
    info = next((i for i in model.inputs if i["name"] == name), None)
    if info is None:
        raise InputError(f"the model has no input {name!r}", where=f"{flag} {name}",
                         hint=f"inputs: {', '.join(model.input_names)}")
    return info


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


def npy_shape(path: Path, name: str) -> tuple:
    """The shape a .npy file holds, from its header alone (object arrays are refused here too)."""
    where = f"--input {name}"
    if not path.is_file():
        raise InputError(f"input file not found: {path}", where=where)
    try:
        with open(path, "rb") as f:
            return tuple(_npy_header(f)[0])
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"{path} is not a readable .npy array ({e})", where=where,
                         hint="save inputs with numpy.save") from None


def _npy_header(f):
    """(shape, dtype) from an open .npy file, positioned at its data; never unpickles."""
    from numpy.lib import format as npy

    version = npy.read_magic(f)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"unknown .npy version {version}")
    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, _, dtype = read_header(f)
    if dtype.hasobject:
        raise ValueError("it holds Python objects, which are never unpickled")
    return shape, dtype


def read_npy(path: Path, name: str, limit: int | None = None):
    """A .npy file as an array: never unpickled, and its header (shape, dtype) checked against
    the file's size and the element limit before any data is read or allocated."""
    import numpy as np

    from cortado.runtime.limits import check_elements, max_elements

    where = f"--input {name}"
    if not path.is_file():
        raise InputError(f"input file not found: {path}", where=where)
    hint = "save inputs with numpy.save"
    try:
        with open(path, "rb") as f:
            shape, dtype = _npy_header(f)
            check_elements(shape, f"the array in {path}", max_elements(limit), where=where)
            needed = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if path.stat().st_size - f.tell() < needed:
                raise ValueError(f"the file is truncated: its header promises {needed} bytes of data")
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as e:
        raise InputError(f"{path} is not a readable .npy array ({e})", where=where, hint=hint) from None


def feeds_for(model, args, limit: int | None = None) -> dict:
    """Inputs for a run: each ``--input``, and seeded random data (with its ``--shape`` dims)
    for every other input. A ``--shape`` for an input the model lacks is an error."""
    shapes = {}
    for item in getattr(args, "shape", None) or []:
        name, shape = parse_shape(item, "--shape")
        _input_info(model, name, "--shape")
        shapes[name] = shape
    feeds = dict(load_input(s, model, limit, shapes) for s in (getattr(args, "input", None) or []))
    for info in model.inputs:
        if info["name"] not in feeds:
            feeds[info["name"]] = random_input(info, shape=shapes.get(info["name"]))
    return feeds


class MissingExtra(CortadoError):
    """An optional dependency is not installed; the message names the extra that brings it."""


OPTIONAL = {"onnxruntime": "bench", "matplotlib": "inspect", "cuda": "cuda", "ray": "serve"}


def missing_extra_message(module: str, why: str | None = None) -> str:
    top = module.split(".")[0]
    extra = OPTIONAL.get(top, top)
    what = f"{why} needs {top}" if why else f"{top} is not installed"
    return f"{what}: pip install 'cortado[{extra}]'"


def require(module: str, why: str) -> None:
    """Raise ``MissingExtra`` now (before any slow work) if ``module`` cannot be imported."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtra(missing_extra_message(module, why))
