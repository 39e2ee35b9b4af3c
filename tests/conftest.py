"""Suite-wide settings: hypothesis profiles, shared fixtures, honest skips."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from cortado.testing.reference import HOST_TARGETS

settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(params=HOST_TARGETS)
def every_host_target(request, monkeypatch):
    """Runs a test module on both host targets: ``pytestmark =
    pytest.mark.usefixtures("every_host_target")`` sets the module's ``TARGET`` to the Triton
    kernels on the interpreter, then to the cpu target's numpy kernels (``HOST_TARGETS``, the
    parametrization every host-target test shares)."""
    monkeypatch.setattr(request.module, "TARGET", request.param)
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout (Caffe models); tests that need it skip without it."""
    if not (SHARED / "models").is_dir():
        pytest.skip(f"{SHARED} is not present (the shared model folder sits beside the checkout)")
    return SHARED
