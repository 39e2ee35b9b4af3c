"""User-facing errors (``CortadoError`` and its kinds); defined in ``runtime.errors``."""

from cortado.runtime.errors import (ArtifactError, CortadoError, InputError, KernelLaunchError, ModelFormatError,
                                    ModelLoadError, OutputError, ResourceLimitError, ShapeError, TargetError,
                                    UnsupportedOpError, WeightsError)

__all__ = ["ArtifactError", "CortadoError", "InputError", "KernelLaunchError", "ModelFormatError", "ModelLoadError",
           "OutputError", "ResourceLimitError", "ShapeError", "TargetError", "UnsupportedOpError", "WeightsError"]
