"""A cached Triton-type -> numpy-dtype lookup for Triton's interpreter.

The interpreter asks ``_get_np_dtype(tt_dtype)`` on every binary op, cast, load and store, and
the function builds its table of nineteen types afresh on each call: about a tenth of the
interpreter's own Python time per operation, which is what a kernel with small tiles (a
7x7 ResNet stage, a BERT layer's bias adds) spends its time in. ``install()`` replaces the
module-level function with one that remembers each answer; the answers are the original
function's, asked once per type.
"""

from __future__ import annotations


def install() -> bool:
    """Swap in the cached lookup once; False when this Triton lacks the function."""
    try:
        from triton.runtime import interpreter as ti
    except ImportError:
        return False
    original = getattr(ti, "_get_np_dtype", None)
    if original is None:
        return False
    if getattr(original, "_cortado_cached", False):
        return True
    answers: dict = {}

    def _get_np_dtype(tt_dtype):
        try:
            return answers[tt_dtype]
        except KeyError:
            found = answers[tt_dtype] = original(tt_dtype)
            return found
        except TypeError:           # an unhashable type object: ask the original every time
            return original(tt_dtype)

    _get_np_dtype._cortado_cached = True
    ti._get_np_dtype = _get_np_dtype
    return True
