"""Size limits that keep a hostile or mistaken model from exhausting memory.

One number bounds every tensor: ``max_elements``, the most elements a single value (an input,
a weight, an intermediate, an output) may hold. The compiler checks every value's static size
against it before anything is allocated (``cortado.compile(..., max_elements=)``), the runtime
checks the sizes that batch dims give at run time, before allocating buffers or copying inputs.

The default is the kernels' own bound, 2**31 - 1 elements (they index with 32-bit offsets);
``$CORTADO_MAX_ELEMENTS`` or an explicit ``max_elements=`` lowers it (a serving machine may want
far less). A larger value than the kernels' bound is accepted but cannot raise it.
"""

from __future__ import annotations

import os
from typing import Iterable

from .errors import ResourceLimitError

INDEX_LIMIT = 2**31 - 1      # kernels index with 32-bit offsets
ENV_VAR = "CORTADO_MAX_ELEMENTS"

__all__ = ["ENV_VAR", "INDEX_LIMIT", "check_elements", "element_count", "max_elements"]


def _parse(value, origin: str) -> int:
    if isinstance(value, bool):
        raise ResourceLimitError(f"{origin} must be a positive integer, got {value!r}")
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            number = int(text)
        except ValueError:
            try:
                as_float = float(text)          # 1e9 is a common way to write it
            except ValueError:
                as_float = None
            if as_float is None or not as_float.is_integer():
                raise ResourceLimitError(f"{origin} must be a positive integer such as 100000000, got {value!r}") from None
            number = int(as_float)
    elif isinstance(value, int) or (hasattr(value, "__index__") and not isinstance(value, float)):
        number = int(value)
    else:
        raise ResourceLimitError(f"{origin} must be a positive integer, got {type(value).__name__} {value!r}")
    if number <= 0:
        raise ResourceLimitError(f"{origin} must be a positive integer, got {number}")
    return number


def max_elements(override=None) -> int:
    """The limit in force: ``override`` if given, else ``$CORTADO_MAX_ELEMENTS``, else the
    kernels' 32-bit bound; never more than that bound."""
    if override is not None:
        limit = _parse(override, "max_elements")
    else:
        env = os.environ.get(ENV_VAR)
        limit = _parse(env, f"${ENV_VAR}") if env not in (None, "") else INDEX_LIMIT
    return min(limit, INDEX_LIMIT)


def element_count(shape: Iterable) -> int:
    """Elements of a shape whose non-int dims (symbols, unknowns) count as 1, their least value."""
    n = 1
    for d in shape:
        if isinstance(d, int) and not isinstance(d, bool):
            n *= max(d, 0)
    return n


def check_elements(shape: Iterable, what: str, limit: int, *, where: str | None = None) -> int:
    """Raise ``ResourceLimitError`` when ``shape`` (symbolic dims at 1) exceeds ``limit``;
    returns the element count."""
    shape = tuple(shape)
    n = element_count(shape)
    if n > limit:
        dims = "x".join(str(d) for d in shape)
        if limit >= INDEX_LIMIT:
            why = f"more than the {INDEX_LIMIT} that kernels can index with 32-bit offsets"
            hint = "use smaller input shapes (a smaller batch or image size)"
        else:
            why = f"over the limit of {limit}"
            hint = f"raise the limit with max_elements= (CLI --max-elements, env ${ENV_VAR}) or use smaller shapes"
        raise ResourceLimitError(f"{what} would hold {n:,} elements (shape {dims}), {why}", where=where, hint=hint)
    return n
