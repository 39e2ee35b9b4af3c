"""Damaged and forged ``.cortado`` artifacts.

Damaged: bytes changed, files cut or removed (the hashes catch them). Forged: edited and then
*resealed* with matching hashes, as someone hand-making an artifact would; the loader's
structural checks must still refuse them before a kernel reads out of bounds.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

from cortado.errors import ArtifactError
from robust_cases import Bad, Case, fresh_artifact, load_api, run_argv, seeded_bytes


def artifact_case(tmp: Path, damage, name: str = "m.cortado") -> Bad:
    path = fresh_artifact(tmp, name)
    damage(path)
    return Bad(load_api(path), run_argv(path))


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def write_manifest(path: Path, m: dict, *, seal: bool = False) -> None:
    """Write the manifest; with ``seal``, with a manifest hash that matches its new content."""
    if seal:
        m["manifest_sha256"] = sha(canonical({k: v for k, v in m.items() if k != "manifest_sha256"}))
    (path / "manifest.json").write_text(json.dumps(m))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def reseal(path: Path, edit_manifest=None) -> None:
    """Recompute every hash (after files were edited), optionally editing the manifest first."""
    m = manifest(path)
    if edit_manifest:
        edit_manifest(m)
    m["hashes"] = {name: sha((path / name).read_bytes()) for name in m["hashes"]}
    m["plan_sha256"] = sha(canonical(m["plan"]))
    write_manifest(path, m, seal=True)


def flip_byte(file: Path, at: int) -> None:
    data = bytearray(file.read_bytes())
    data[at] ^= 0x01
    file.write_bytes(bytes(data))


# -- damaged ------------------------------------------------------------------------------------

def kernels_tampered(path):
    (path / "kernels.py").write_text((path / "kernels.py").read_text() + "\nimport os\n")


def weights_bit_flipped(path):
    flip_byte(path / "weights.safetensors", -3)


def manifest_not_json(path):
    (path / "manifest.json").write_text((path / "manifest.json").read_text()[:-20])


def manifest_missing(path):
    (path / "manifest.json").unlink()


def manifest_not_object(path):
    (path / "manifest.json").write_text("[1, 2, 3]")


def hashes_missing(path):
    m = manifest(path)
    del m["hashes"]
    write_manifest(path, m, seal=True)


def version_unknown(path):
    m = manifest(path)
    m["version"] = 99
    write_manifest(path, m)


def plan_tampered(path):
    m = manifest(path)
    m["plan"]["steps"][0]["grid"] = ["1"]
    write_manifest(path, m)


def plan_tampered_manifest_resealed(path):
    m = manifest(path)
    m["plan"]["steps"][0]["grid"] = ["1"]
    write_manifest(path, m, seal=True)


def stats_edited(path):
    m = manifest(path)
    m["stats"]["kernels"] = 0
    write_manifest(path, m)


def weights_missing(path):
    (path / "weights.safetensors").unlink()


def symlink_outside(path):
    outside = path.parent / "elsewhere.py"
    outside.write_text((path / "kernels.py").read_text())
    (path / "kernels.py").unlink()
    os.symlink(outside, path / "kernels.py")


def zip_truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def zip_escape(path):
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("../evil.py", "print('escaped')\n")


def zip_bomb(path):
    """The weights entry's recorded size rewritten to 4 GiB (in the central directory and the
    local header): unpacking would need 4 GiB from a file of a few KB."""
    import struct

    data = bytearray(path.read_bytes())
    name = b"weights.safetensors"
    for sig, size_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (at := data.find(sig, start)) >= 0:
            name_at = at + (46 if sig == b"PK\x01\x02" else 30)
            if data[name_at:name_at + len(name)] == name:
                data[at + size_at:at + size_at + 4] = struct.pack("<I", 0xFFFFFFF0)
            start = at + 4
    path.write_bytes(bytes(data))


def random_file(path):
    path.write_bytes(seeded_bytes(400, 4))


# -- forged (hashes recomputed) ----------------------------------------------------------------------

def forged_plan_missing_steps(path):
    reseal(path, lambda m: m["plan"].pop("steps"))


def forged_plan_bad_size_expression(path):
    def edit(m):
        m["plan"]["buffers"] = [{"id": 0, "nbytes": "__import__('os').system('true')"}] + m["plan"]["buffers"][1:]
    reseal(path, edit)


def forged_kernels_syntax(path):
    (path / "kernels.py").write_text("def broken(:\n")
    reseal(path)


def forged_kernel_missing(path):
    def edit(m):
        m["plan"]["steps"][0]["kernel"] = "no_such_kernel"
    reseal(path, edit)


def forged_weights_garbage(path):
    (path / "weights.safetensors").write_bytes(seeded_bytes(64, 5))
    reseal(path)


def forged_weight_shape(path):
    """The weight declared 4x3 in the plan, stored as 2x3: kernels would read past its end."""
    from safetensors.numpy import save

    import numpy as np
    (path / "weights.safetensors").write_bytes(save({"w": np.ones((2, 3), np.float32)}))
    reseal(path)


def forged_input_dtype(path):
    def edit(m):
        m["plan"]["inputs"][0]["dtype"] = "complex1024"
    reseal(path, edit)


def forged_cpu_kernel_missing(path):
    def edit(m):
        m["plan"]["steps"][0]["cpu"]["kernel"] = "no_such_numpy_kernel"
    reseal(path, edit)


def forged_cpu_reads_unstored_value(path):
    """A numpy launch of the cpu target made to read a value the plan gives no storage."""
    def edit(m):
        m["plan"]["steps"][0]["cpu"]["args"][0] = {"value": "nowhere"}
    reseal(path, edit)


ART = r"m\.cortado"
ZIP = r"m\.zip"


def damaged(name: str, damage, error, message: str, *, zipped: bool = False) -> Case:
    """A case: a fresh copy of the artifact (folder, or zip), damaged, then loaded and run."""
    file = "m.zip" if zipped else "m.cortado"
    return Case(name, lambda tmp: artifact_case(tmp, damage, file), error, message, ZIP if zipped else ART)


CASES = [
    damaged("artifact_kernels_tampered", kernels_tampered, ArtifactError,
            r"kernels\.py does not match its recorded hash"),
    damaged("artifact_weights_bit_flipped", weights_bit_flipped, ArtifactError,
            r"weights\.safetensors does not match its recorded hash"),
    damaged("artifact_manifest_not_json", manifest_not_json, ArtifactError, r"not valid JSON"),
    damaged("artifact_manifest_missing", manifest_missing, ArtifactError, r"no manifest\.json"),
    damaged("artifact_manifest_not_object", manifest_not_object, ArtifactError, r"manifest is not an object"),
    damaged("artifact_hashes_missing", hashes_missing, ArtifactError, r"no content hashes"),
    damaged("artifact_version_unknown", version_unknown, ArtifactError, r"format version 99"),
    damaged("artifact_plan_tampered", plan_tampered, ArtifactError, r"manifest\.json does not match its recorded hash"),
    damaged("artifact_plan_tampered_manifest_resealed", plan_tampered_manifest_resealed, ArtifactError,
            r"launch plan does not match its recorded hash"),
    damaged("artifact_stats_edited", stats_edited, ArtifactError, r"manifest\.json does not match its recorded hash"),
    damaged("artifact_weights_missing", weights_missing, ArtifactError, r"weights\.safetensors is missing"),
    damaged("artifact_symlink_outside", symlink_outside, ArtifactError, r"kernels\.py links outside the artifact"),
    damaged("artifact_zip_truncated", zip_truncated, ArtifactError, r"not a readable artifact", zipped=True),
    damaged("artifact_zip_escape", zip_escape, ArtifactError, r"'\.\./evil\.py' escapes the artifact", zipped=True),
    damaged("artifact_zip_bomb", zip_bomb, ArtifactError, r"refusing an implausibly compressed artifact", zipped=True),
    damaged("artifact_random_file", random_file, ArtifactError, r"not a readable artifact", zipped=True),
    damaged("artifact_forged_plan_missing_steps", forged_plan_missing_steps, ArtifactError, r"plan.*steps"),
    damaged("artifact_forged_size_expression", forged_plan_bad_size_expression, ArtifactError,
            r"size expression .* (uses|may not)"),
    damaged("artifact_forged_kernels_syntax", forged_kernels_syntax, ArtifactError, r"kernels\.py .*(syntax|Python)"),
    damaged("artifact_forged_kernel_missing", forged_kernel_missing, ArtifactError, r"no_such_kernel"),
    damaged("artifact_forged_weights_garbage", forged_weights_garbage, ArtifactError, r"weights cannot be read"),
    damaged("artifact_forged_weight_shape", forged_weight_shape, ArtifactError, r"'w'.*\(2, 3\).*\(4, 3\)"),
    damaged("artifact_forged_input_dtype", forged_input_dtype, ArtifactError, r"complex1024"),
    damaged("artifact_forged_cpu_kernel_missing", forged_cpu_kernel_missing, ArtifactError,
            r"no_such_numpy_kernel.*numpy kernels"),
    damaged("artifact_forged_cpu_reads_unstored_value", forged_cpu_reads_unstored_value, ArtifactError,
            r"cpu\.args\[0\] reads 'nowhere'"),
]
