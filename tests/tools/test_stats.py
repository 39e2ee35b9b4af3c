"""``CompiledModel.stats`` sizes are plain ints at the compiled shapes, with the symbolic form
beside them as a string."""

from __future__ import annotations

import json
import re

import cortado


def _at(expr: str, **dims: int) -> int:
    """Evaluate a rendered size such as "(127224*N + 6248)" (products and sums of ints and dims)."""
    assert re.fullmatch(r"[\w\s*+()/-]+", expr), expr
    return eval(expr, {"__builtins__": {}}, dims)      # noqa: S307 - checked to be arithmetic above


def test_sizes_are_ints_with_their_symbolic_form(tiny):
    m = cortado.compile(str(tiny), target="interpreter")         # image is (N, 3, 32, 32)
    s = m.stats
    for key in ("peak_bytes", "est_hbm_bytes", "flops"):
        assert type(s[key]) is int and s[key] > 0, key
        assert int(s[key]) / 2 == s[key] / 2                     # int() and / work
        assert isinstance(s[f"{key}_expr"], str) and "N" in s[f"{key}_expr"], s[f"{key}_expr"]
        assert _at(s[f"{key}_expr"], N=1) == s[key]
    assert s["dims"] == {"N": 1}
    json.dumps({k: s[k] for k in ("peak_bytes", "peak_bytes_expr", "dims")})

    fixed = cortado.compile(str(tiny), target="interpreter", input_shapes={"image": (4, 3, 32, 32)}).stats
    assert fixed["dims"] == {} and fixed["peak_bytes_expr"] == str(fixed["peak_bytes"])
    assert fixed["est_hbm_bytes"] == _at(s["est_hbm_bytes_expr"], N=4)
