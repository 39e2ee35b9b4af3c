"""The Cortado runtime: load and run compiled models with numpy and triton only.

    from cortado import runtime
    m = runtime.load("net.cortado")
    y = m(x)
"""

if __name__ != "cortado.runtime":  # the pre-namespace name, reachable only from a source checkout
    from cortado.legacy_names import alias_old_name

    alias_old_name(__name__)

from .errors import CortadoError
from .model import CompiledModel

def load(path, *, target: str = "auto") -> CompiledModel:
    """Load a saved ``.cortado`` artifact (folder or zip); verifies its hashes first."""
    from .artifact import load_artifact

    return load_artifact(path, target=target)

__all__ = ["CompiledModel", "CortadoError", "load"]
