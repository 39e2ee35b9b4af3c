"""Ed25519 signatures on ``.cortado`` artifacts: who built this code?

An artifact holds Python kernel source that runs when the model loads, so a server that loads
artifacts from a shared store must know who built them. ``artifact_signing.sign_artifact`` adds
``signature.json`` beside the manifest: an Ed25519 signature over the exact bytes of
``manifest.json``. The manifest already records the SHA-256 of every other file (kernels,
weights, cubins) and of itself, so one signature over it covers the whole artifact.

``runtime.load(path, trusted_keys=[...])`` checks the signature against the trusted public
keys on the very bytes it then verifies and loads, before any kernel code is imported, and
refuses an unsigned artifact, one signed by another key, and one with files the manifest
does not account for. Unsigned loading stays the default for local use.

Keys are PEM files (``cortado sign --generate-key KEY`` writes ``KEY`` and ``KEY.pub``); the
``cryptography`` package does the mathematics and is imported only when signing or checking
(``pip install 'cortado[serve]'``), so the runtime itself keeps to numpy and triton.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from .artifact_files import MANIFEST, SIGNATURE
from .errors import ArtifactError, CortadoError

ALGORITHM = "ed25519"
INSTALL_HINT = "install the signing extra: pip install 'cortado[serve]'"


def crypto_modules():
    """(ed25519, serialization, InvalidSignature) from ``cryptography``, imported on first use."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise CortadoError("signing and checking artifacts needs the 'cryptography' package",
                           hint=INSTALL_HINT) from None
    return ed25519, serialization, InvalidSignature


# -- keys ----------------------------------------------------------------------------------------
def generate_key(path) -> tuple[str, str]:
    """Write a new private key to ``path`` (PEM, mode 0600) and its public key to ``path.pub``;
    returns both paths. Refuses to overwrite an existing key."""
    ed25519, serialization, _ = crypto_modules()
    path = Path(os.fspath(path))
    pub = path.with_name(path.name + ".pub")
    for p in (path, pub):
        if p.exists():
            raise CortadoError(f"{p} exists; refusing to overwrite a key", hint="choose another name")
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    pub.write_bytes(public)
    return str(path), str(pub)


def _read_key_file(key, what: str) -> bytes:
    path = Path(os.fspath(key))
    try:
        return path.read_bytes()
    except OSError as e:
        raise CortadoError(f"cannot read the {what} {path}: {e.strerror or e}") from None


def load_private_key(key):
    """An Ed25519 private key from a PEM file path (or PEM bytes)."""
    ed25519, serialization, _ = crypto_modules()
    data = key if isinstance(key, bytes) else _read_key_file(key, "private key")
    try:
        k = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise CortadoError(f"{key if not isinstance(key, bytes) else 'the key'} is not an unencrypted PEM "
                           f"private key ({e})", hint="make one with: cortado sign --generate-key KEY") from None
    if not isinstance(k, ed25519.Ed25519PrivateKey):
        raise CortadoError(f"{key} is not an Ed25519 key", hint="make one with: cortado sign --generate-key KEY")
    return k


def load_public_key(key):
    """An Ed25519 public key from a PEM file path, PEM bytes, 32 raw bytes, or a key object."""
    ed25519, serialization, _ = crypto_modules()
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.public_key()
    if isinstance(key, bytes) and len(key) == 32:
        return ed25519.Ed25519PublicKey.from_public_bytes(key)
    data = key if isinstance(key, bytes) else _read_key_file(key, "trusted key")
    name = "the key" if isinstance(key, bytes) else str(key)
    try:
        k = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise CortadoError(f"{name} is not a PEM public key ({e})",
                           hint="pass the KEY.pub file written by cortado sign --generate-key") from None
    if not isinstance(k, ed25519.Ed25519PublicKey):
        raise CortadoError(f"{name} is not an Ed25519 public key")
    return k


def raw_public_bytes(public_key) -> bytes:
    _, serialization, _ = crypto_modules()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- checking ------------------------------------------------------------------------------------
def check_signature(files: dict[str, bytes], trusted_keys: Iterable, where) -> None:
    """Raise ``ArtifactError`` unless ``files`` (an artifact's files by name) carry a valid
    signature of their manifest by one of ``trusted_keys``, and every file is either the
    manifest, the signature, or named with its hash in the manifest."""
    _, _, InvalidSignature = crypto_modules()
    keys = [load_public_key(k) for k in trusted_keys]
    if not keys:
        raise ArtifactError("trusted_keys is empty: no artifact could be trusted",
                            hint="pass the public key(s) of the builders you trust, or None to load unsigned")
    hint = "sign it with: cortado sign ARTIFACT --key KEY (with the key matching a trusted public key)"
    blob = files.get(SIGNATURE)
    if blob is None:
        raise ArtifactError("the artifact is not signed, and trusted keys were given", where=str(where), hint=hint)
    try:
        record = json.loads(blob)
        signature = bytes.fromhex(record["signature"])
        signer = bytes.fromhex(record["public_key"])
        if record.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm {record.get('algorithm')!r}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{SIGNATURE} is malformed ({e})", where=str(where), hint=hint) from None
    manifest = files.get(MANIFEST, b"")
    for key in keys:
        if raw_public_bytes(key) != signer:
            continue
        try:
            key.verify(signature, manifest)
        except InvalidSignature:
            raise ArtifactError("the signature does not match the manifest; the artifact was modified after "
                                "it was signed", where=str(where), hint=hint) from None
        break
    else:
        raise ArtifactError(f"the artifact is signed by a key that is not trusted (public key {signer.hex()[:16]}…)",
                            where=str(where), hint=hint)
    try:
        hashed = set(json.loads(manifest).get("hashes", {}))
    except (ValueError, AttributeError):
        hashed = set()
    extra = sorted(set(files) - hashed - {MANIFEST, SIGNATURE})
    if extra:
        raise ArtifactError(f"the artifact holds files its signed manifest does not list: {', '.join(extra[:5])}",
                            where=str(where), hint="remove them, or re-save and re-sign the artifact")
