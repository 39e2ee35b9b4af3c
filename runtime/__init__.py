"""The Cortado runtime: load and run compiled models with numpy and triton only.

    from cortado import runtime
    m = runtime.load("net.cortado")
    y = m(x)

``CompiledModel`` is loaded on first use (PEP 562): the CLI and ``cortado.errors`` import this
package for its errors, and must not pay for numpy and ml_dtypes before they need them.
"""

if __name__ != "cortado.runtime":  # the pre-namespace name, reachable only from a source checkout
    from cortado.legacy_names import alias_old_name

    alias_old_name(__name__)

from .errors import CortadoError


def load(path, *, target: str = "auto", trusted_keys=None) -> "CompiledModel":
    """Load a saved ``.cortado`` artifact (folder or zip); verifies its hashes first.

    ``trusted_keys`` (Ed25519 public keys: PEM file paths, PEM bytes or key objects) refuses an
    artifact unless one of them signed it (``cortado sign``), before any of its code is
    imported; None, the default, loads unsigned artifacts (local use)."""
    from .artifact import read_artifact
    from .model import CompiledModel

    manifest, source, constants, cubins = read_artifact(path, trusted_keys)
    return CompiledModel(manifest["plan"], source, constants, target=target, stats=dict(manifest.get("stats", {})),
                         cubins=cubins, cubin_index=manifest.get("cubins", []))


def __getattr__(name: str):
    if name == "CompiledModel":
        from .model import CompiledModel

        globals()[name] = CompiledModel
        return CompiledModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CompiledModel", "CortadoError", "load"]
