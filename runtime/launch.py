"""One kernel launch of a plan, resolved for concrete buffers and sizes: what a device runs.

Built by ``CompiledModel`` for plain plans and by ``segments`` for plans with host steps; a
module of its own so that both build it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Launch:
    """One kernel launch of the plan, resolved for concrete buffers and sizes."""

    step: int
    kernel: Any              # the kernel function of the loaded module
    grid: tuple
    args: list               # tensors and ints, in the kernel's parameter order
    config: dict             # constexprs plus num_warps / num_stages

    @property
    def constexprs(self) -> dict:
        return {k: v for k, v in self.config.items() if k not in ("num_warps", "num_stages")}
