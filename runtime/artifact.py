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

import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .artifact_files import KERNELS, MANIFEST, WEIGHTS
from .dtypes import numpy_dtype
from .errors import ArtifactError
from .loader import usual_mode

FORMAT = "cortado-artifact"
VERSION = 2                 # 2: plans may hold host steps and run-time symbols (segments.py)
READS = (1, 2)              # version 1 plans are version 2 plans without host steps: they still load


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


def check_destination(path) -> None:
    """Raise ``ArtifactError`` now if an artifact could not be saved at ``path``: something
    other than an artifact is there, or the nearest existing folder above it is a file."""
    path = Path(os.fspath(path))
    _refuse_foreign(path)
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ArtifactError(f"cannot write the artifact {path}: {parent} is not a folder")


def save_artifact(model, path) -> str:
    path = Path(os.fspath(path))
    check_destination(path)
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
    manifest = json.loads(json.dumps(manifest, default=str))      # what loading will see
    manifest["manifest_sha256"] = _manifest_digest(manifest)
    files[MANIFEST] = json.dumps(manifest, indent=1, default=str).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".zip":
            write_zip(path, files)
        else:
            _write_dir(path, files)
    except OSError as e:
        raise ArtifactError(f"cannot write the artifact {path}: {e.strerror or e}",
                            hint="check that the folder exists, is a folder, and is writable") from None
    return str(path)


def _manifest_digest(manifest: dict) -> str:
    """The hash of the manifest's own content (all but this hash), so that no field of it can
    change unnoticed either."""
    return _sha256(_canonical({k: v for k, v in manifest.items() if k != "manifest_sha256"}))


def _is_artifact(path: Path) -> bool:
    if path.is_dir():
        return (path / MANIFEST).is_file()
    try:
        with zipfile.ZipFile(path) as z:
            return MANIFEST in z.namelist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def _refuse_foreign(path: Path) -> None:
    """Refuse to replace anything at ``path`` but an artifact (a link counts as foreign). Another
    saver may be swapping an artifact there right now: only a thing that stays put while it is
    looked at is judged."""
    for _ in range(5):
        try:
            before = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        if not stat.S_ISLNK(before.st_mode) and _is_artifact(path):
            return
        try:
            after = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        if (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino):
            break
    raise ArtifactError(f"{path} exists and is not a Cortado artifact; refusing to replace it",
                        hint="choose another output name, or remove it first")


def _write_file(target: Path, data: bytes) -> None:
    with open(target, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_dir(path: Path, files: dict[str, bytes]) -> None:
    """Write into a hidden temporary folder beside ``path``, then rename it into place.

    An existing artifact at ``path`` is moved aside first and removed after. Several processes
    saving the same path at once each end with one complete artifact there (the last rename
    wins); readers may briefly find no artifact, never a partial one."""
    _refuse_foreign(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        usual_mode(tmp, directory=True)
        for name, data in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_file(target, data)
        for attempt in range(50):
            try:
                os.replace(tmp, path)            # succeeds when nothing (or an empty folder) is there
                return
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
            _refuse_foreign(path)
            if _exchange(tmp, path):             # atomic swap: readers see the old or the new one
                shutil.rmtree(tmp, ignore_errors=True)
                return
            # a fresh empty folder to move the old artifact onto (a rename may replace an empty
            # folder): its name is unique across processes and threads
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            try:
                os.replace(path, old)
            except FileNotFoundError:
                old.rmdir()
                continue                         # another writer moved it first
            shutil.rmtree(old, ignore_errors=True)
        raise ArtifactError(f"could not replace {path}: other processes keep writing it")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where the system
    or file system cannot, or ``b`` vanished meanwhile."""
    try:
        import ctypes

        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOENT, errno.EPERM, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def write_zip(path: Path, files: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
    """Write ``files`` (a mapping, or (name, bytes) pairs read one at a time) as the zip
    artifact ``path``: into a temporary file beside it, then renamed into place."""
    _refuse_foreign(path)
    entries = files.items() if isinstance(files, Mapping) else files
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
                for name, data in entries:
                    z.writestr(name, data)
            f.flush()
            os.fsync(f.fileno())
        usual_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


MAX_ARTIFACT_FILE = 8 * 1024**3
BOMB_RATIO = 200            # weights barely compress; kernels.py about 10x


def _refuse_bomb(z: zipfile.ZipFile, path: Path) -> None:
    """A zip whose entries would unpack to far more than the file holds is refused before
    anything is unpacked (a small file must not fill the memory of the machine loading it)."""
    infos = z.infolist()
    unpacked = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if unpacked > 2**30 and unpacked > BOMB_RATIO * max(packed, 1):
        raise ArtifactError(f"{path} would unpack {unpacked:,} bytes from {packed:,}; refusing an implausibly "
                            "compressed artifact", hint="re-save it from the compiler")


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
            _refuse_bomb(z, path)
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


def read_artifact(path, trusted_keys=None) -> tuple[dict, str, dict[str, np.ndarray], dict]:
    """Verified (manifest, kernel source, constants, cubins) of an artifact: its hashes, and the
    structure of its plan against its weights and kernels (``plan_check``). With
    ``trusted_keys``, first its signature (``signing.check_signature``) on the same bytes. Every
    error names the artifact."""
    path = Path(os.fspath(path))
    try:
        return _read_consistent(path, trusted_keys)
    except ArtifactError as e:
        if e.where is None and str(path) not in e.message:
            raise ArtifactError(e.message, where=str(path), hint=e.hint) from None
        raise


def _identity(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns


def _save_in_progress(path: Path) -> bool:
    """A saver's hidden temporary beside ``path`` (it is about to appear)."""
    return any(path.parent.glob(f".{path.name}.*"))


def _read_consistent(path: Path, trusted_keys=None, attempts: int = 8):
    """Read and verify, again if another process replaced the artifact meanwhile: a saver
    renames a whole new folder into place, so a reader that raced it may have seen files of
    both (its hashes then disagree) or a folder that vanished. A stable failure is reported."""
    for attempt in range(attempts):
        before = _identity(path)
        try:
            result = _read_verified(path, trusted_keys)
        except (ArtifactError, OSError) as e:
            if attempt + 1 < attempts and before is not None and _identity(path) != before:
                continue
            if attempt + 1 < attempts and before is None and _save_in_progress(path):
                time.sleep(0.01 * (attempt + 1))
                continue
            if isinstance(e, OSError):
                raise ArtifactError(f"cannot read the artifact: {e.strerror or e}") from None
            raise
        if before is not None and _identity(path) == before:
            return result
    raise ArtifactError("the artifact keeps changing while it is read (another process is saving it)")


def _read_verified(path: Path, trusted_keys=None) -> tuple[dict, str, dict[str, np.ndarray], dict]:
    from .plan_check import check_plan

    files = _read_files(path)
    if trusted_keys is not None:             # before anything of the artifact is parsed or run
        from .signing import check_signature

        check_signature(files, trusted_keys, path)
    try:
        manifest = json.loads(files[MANIFEST])
    except KeyError:
        raise ArtifactError(f"{path} has no {MANIFEST}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}/{MANIFEST} is not valid JSON ({e}); the artifact is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{path} is not a Cortado artifact (manifest format {manifest.get('format')!r})"
                            if isinstance(manifest, dict) else f"{path}: manifest is not an object")
    if manifest.get("version") not in READS:
        raise ArtifactError(f"{path} has artifact format version {manifest.get('version')!r}; this runtime reads "
                            f"versions {', '.join(map(str, READS))}", hint="recompile the model with this version of "
                            "Cortado")
    if manifest.get("manifest_sha256") != _manifest_digest(manifest):
        raise ArtifactError(f"{path}: {MANIFEST} does not match its recorded hash; the artifact was modified or "
                            "damaged", hint="re-save it from the compiler")
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
    try:
        source = files[KERNELS].decode()
    except UnicodeDecodeError:
        raise ArtifactError(f"{path}: kernels.py is not UTF-8 Python source") from None
    check_plan(plan, constants, source)
    cubins = {}
    for name, data in files.items():
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "cubins":
            cubins[(parts[1], parts[2])] = data
    return manifest, source, constants, cubins


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
