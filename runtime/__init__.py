"""The Cortado runtime: load and run compiled models with numpy and triton only.

    import runtime
    m = runtime.load("net.cortado")
    y = m(x)
"""

from .errors import CortadoError
from .model import CompiledModel


def load(path, *, target: str = "auto") -> CompiledModel:
    """Load a saved ``.cortado`` artifact (folder or zip); verifies its hashes first."""
    from .artifact import load_artifact

    return load_artifact(path, target=target)


__all__ = ["CompiledModel", "CortadoError", "load"]
