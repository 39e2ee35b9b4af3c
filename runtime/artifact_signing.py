"""Signing a saved artifact: ``sign_artifact`` writes ``signature.json`` beside its manifest.

The keys and the check a load runs are in ``signing`` (which ``artifact`` imports to check a
signature before anything of the artifact is parsed); signing an artifact first reads and
verifies it with ``artifact.read_artifact``, so it sits above both.
"""

from __future__ import annotations

import itertools
import json
import os
import zipfile
from pathlib import Path

from .artifact import read_artifact, write_zip
from .artifact_files import MANIFEST, SIGNATURE
from .loader import write_atomic
from .signing import ALGORITHM, crypto_modules, load_private_key, raw_public_bytes


def sign_artifact(path, key) -> str:
    """Sign the artifact at ``path`` (folder or zip) with the private ``key`` (PEM path or key
    object); any earlier signature is replaced. The artifact is verified first, so only an
    intact artifact gets signed. Returns the signer's public key as hex."""
    ed25519, _, _ = crypto_modules()
    private = key if isinstance(key, ed25519.Ed25519PrivateKey) else load_private_key(key)
    path = Path(os.fspath(path))
    read_artifact(path)                                   # hashes and plan intact (raises otherwise)
    manifest = _read_member(path, MANIFEST)
    public = raw_public_bytes(private.public_key())
    record = {"algorithm": ALGORITHM, "public_key": public.hex(), "signature": private.sign(manifest).hex(),
              "signed": MANIFEST}
    blob = json.dumps(record, indent=1).encode()
    if path.is_dir():
        write_atomic(path / SIGNATURE, blob)
    else:
        _rewrite_zip(path, {SIGNATURE: blob})
    return public.hex()


def _read_member(path: Path, name: str) -> bytes:
    if path.is_dir():
        return (path / name).read_bytes()
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def _rewrite_zip(path: Path, replace: dict[str, bytes]) -> None:
    """The zip artifact with ``replace``'s entries swapped in (written beside it, then renamed)."""
    with zipfile.ZipFile(path) as src:
        kept = ((info.filename, src.read(info)) for info in src.infolist() if info.filename not in replace)
        write_zip(path, itertools.chain(kept, replace.items()))
