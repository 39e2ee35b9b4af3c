"""The ``.cortado`` artifact: a folder (or one zip of it) that runs without the compiler.

    manifest.json       format version, I/O signature, launch plan, targets, content hashes
    kernels.py          the generated Triton module
    weights.safetensors the constants (never pickle)
    cubins/<arch>/      optional precompiled kernels per GPU architecture

Saving writes into a temporary folder beside the destination and renames it into place, so an
interrupted save never leaves a half-written artifact. Loading checks the format version and
every content hash before anything is imported: a truncated or edited artifact is refused.
Kernels are Python source executed on load: load only artifacts you trust, as you would any code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .dtypes import numpy_dtype
from .errors import ArtifactError

FORMAT = "cortado-artifact"
VERSION = 1
MANIFEST, KERNELS, WEIGHTS = "manifest.json", "kernels.py", "weights.safetensors"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _weights_bytes(constants: dict[str, np.ndarray]) -> tuple[bytes, dict[str, str]]:
    """safetensors bytes; dtypes safetensors lacks (bfloat16 via ml_dtypes, bool) go as raw
    bits and are restored from the recorded dtype names."""
    from safetensors.numpy import save

    tensors, dtypes = {}, {}
    for name, a in constants.items():
        a = np.asarray(a, order="C")
        dtypes[name] = _dtype_name(a.dtype)
        if dtypes[name] == "bfloat16":
            a = a.view(np.uint16)
        tensors[name] = a
    return (save(tensors) if tensors else b""), dtypes


def _dtype_name(dt) -> str:
    from .dtypes import dtype_name

    name = dtype_name(dt)
    if name is None:
        raise ArtifactError(f"constant dtype {dt} cannot be saved")
    return name


def save_artifact(model, path) -> str:
    path = Path(os.fspath(path))
    source = model.source.encode()
    weights, dtypes = _weights_bytes(model.constants)
    cubins = {f"cubins/{arch}/{name}": data for (arch, name), data in sorted(model.cubins.items())}
    files = {KERNELS: source, WEIGHTS: weights, **cubins}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "inputs": model.inputs,
        "outputs": model.outputs,
        "kernels": [k["name"] for k in model.plan["kernels"]],
        "targets": ["interpreter", "cuda"] + sorted({arch for arch, _ in model.cubins}),
        "weight_dtypes": dtypes,
        "cubins": list(model.cubin_index),
        "plan": model.plan,
        "hashes": {name: _sha256(data) for name, data in files.items()},
        "plan_sha256": _sha256(_canonical(model.plan)),
        "stats": {k: v for k, v in model.stats.items() if isinstance(v, (int, float, str))},
    }
    files[MANIFEST] = json.dumps(manifest, indent=1, default=str).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zip":
        _write_zip(path, files)
    else:
        _write_dir(path, files)
    return str(path)


def _write_dir(path: Path, files: dict[str, bytes]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for name, data in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if path.exists():
            if not path.is_dir() or not (path / MANIFEST).exists():
                raise ArtifactError(f"{path} exists and is not a Cortado artifact; refusing to replace it")
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(name, data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


MAX_ARTIFACT_FILE = 8 * 1024**3


def _read_files(path: Path) -> dict[str, bytes]:
    if not path.exists():
        raise ArtifactError(f"artifact not found: {path}")
    if path.is_dir():
        manifest = path / MANIFEST
        if not manifest.is_file():
            raise ArtifactError(f"{path} has no {MANIFEST}; not a Cortado artifact")
        files = {}
        root = path.resolve()
        for p in root.rglob("*"):
            if p.is_file():
                rel = p.relative_to(root).as_posix()
                if p.is_symlink() and root not in p.resolve().parents:
                    raise ArtifactError(f"{rel} links outside the artifact")
                files[rel] = p.read_bytes()
        return files
    try:
        with zipfile.ZipFile(path) as z:
            files = {}
            for info in z.infolist():
                if info.is_dir():
                    continue
                if info.filename.startswith("/") or ".." in Path(info.filename).parts:
                    raise ArtifactError(f"zip entry {info.filename!r} escapes the artifact")
                if info.file_size > MAX_ARTIFACT_FILE:
                    raise ArtifactError(f"zip entry {info.filename!r} is implausibly large")
                files[info.filename] = z.read(info)
            return files
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
        raise ArtifactError(f"{path} is not a readable artifact (folder or zip): {e}") from None


def read_artifact(path) -> tuple[dict, str, dict[str, np.ndarray], dict]:
    """Verified (manifest, kernel source, constants, cubins) of an artifact."""
    path = Path(os.fspath(path))
    files = _read_files(path)
    try:
        manifest = json.loads(files[MANIFEST])
    except KeyError:
        raise ArtifactError(f"{path} has no {MANIFEST}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}/{MANIFEST} is not valid JSON ({e}); the artifact is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{path} is not a Cortado artifact (manifest format {manifest.get('format')!r})"
                            if isinstance(manifest, dict) else f"{path}: manifest is not an object")
    if manifest.get("version") != VERSION:
        raise ArtifactError(f"{path} has artifact format version {manifest.get('version')!r}; this runtime reads "
                            f"version {VERSION}", hint="recompile the model with this version of Cortado")
    hashes = manifest.get("hashes")
    if not isinstance(hashes, dict) or KERNELS not in hashes or WEIGHTS not in hashes:
        raise ArtifactError(f"{path}: manifest has no content hashes")
    for name, digest in hashes.items():
        data = files.get(name)
        if data is None:
            raise ArtifactError(f"{path}: {name} is missing (truncated artifact?)")
        if _sha256(data) != digest:
            raise ArtifactError(f"{path}: {name} does not match its recorded hash; the artifact was modified or "
                                "damaged", hint="re-save it from the compiler")
    plan = manifest.get("plan")
    if not isinstance(plan, dict) or _sha256(_canonical(plan)) != manifest.get("plan_sha256"):
        raise ArtifactError(f"{path}: the launch plan does not match its recorded hash")
    constants = _load_weights(files[WEIGHTS], manifest.get("weight_dtypes", {}), path)
    missing = [n for n in plan.get("constants", []) if n not in constants]
    if missing:
        raise ArtifactError(f"{path}: weights file lacks {', '.join(missing[:5])}")
    cubins = {}
    for name, data in files.items():
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "cubins":
            cubins[(parts[1], parts[2])] = data
    return manifest, files[KERNELS].decode(), constants, cubins


def _load_weights(data: bytes, dtypes: dict, path: Path) -> dict[str, np.ndarray]:
    if not data:
        return {}
    from safetensors.numpy import load

    try:
        tensors = load(data)
    except Exception as e:   # safetensors raises its own error types for corrupt data
        raise ArtifactError(f"{path}: weights cannot be read ({e})") from None
    out = {}
    for name, a in tensors.items():
        want = dtypes.get(name)
        if want == "bfloat16":
            a = a.view(numpy_dtype("bfloat16"))
        out[name] = a
    return out


def load_artifact(path, *, target: str = "auto"):
    from .model import CompiledModel

    manifest, source, constants, cubins = read_artifact(path)
    stats = dict(manifest.get("stats", {}))
    return CompiledModel(manifest["plan"], source, constants, target=target, stats=stats, cubins=cubins,
                         cubin_index=manifest.get("cubins", []))
