"""Per-call intermediate buffers: a small, bounded pool keyed by the size environment.

The memory plan packs a model's intermediate values into a few buffers that are reused within
one run, so two runs at once must never share them. Each call takes a buffer set for its
sizes (its bound symbols, e.g. the batch ``N``) from the pool and gives it back when it is
done; a set is in the hands of one call at a time.

How memory is bounded: at most ``capacity`` buffer sets exist per model at any moment, taken
and idle together. A call that needs a set when all ``capacity`` sets are taken waits for one
to come back; when the sets of its sizes are all taken but an idle set of other sizes exists,
the least recently used idle set is dropped to make room. So memory never grows with the
number of calling threads: it is at most ``capacity`` times the largest plan's peak bytes for
the sizes in use. ``capacity`` defaults to ``$CORTADO_BUFFER_SETS`` or 4.

Like ONNX Runtime's per-``Run`` execution frame, but reused instead of re-allocated, because
device allocations cost more than a lookup.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Hashable, Iterator

from .errors import ResourceLimitError

ENV_VAR = "CORTADO_BUFFER_SETS"
DEFAULT_CAPACITY = 4

__all__ = ["BufferPool", "DEFAULT_CAPACITY", "ENV_VAR", "default_capacity"]


def default_capacity() -> int:
    """``$CORTADO_BUFFER_SETS`` when set (a positive integer), else ``DEFAULT_CAPACITY``."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return DEFAULT_CAPACITY
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ResourceLimitError(f"${ENV_VAR} must be a positive integer (buffer sets per model), got {text!r}",
                                 hint=f"unset it for the default of {DEFAULT_CAPACITY}")
    return value


class BufferPool:
    """Buffer sets by key, each lent to one caller at a time; at most ``capacity`` in all.

    ``allocate(key)`` makes a new set (called outside the pool's lock, so a slow device
    allocation does not hold up callers that find an idle set). ``borrow(key)`` is the way
    to use it: the set comes back to the pool however the ``with`` block ends.
    """

    def __init__(self, allocate: Callable[[Hashable], Any], capacity: int | None = None):
        capacity = default_capacity() if capacity is None else int(capacity)
        if capacity < 1:
            raise ResourceLimitError(f"a buffer pool needs room for at least one set, got {capacity}")
        self.capacity = capacity
        self._allocate = allocate
        self._cond = threading.Condition()
        self._idle: OrderedDict[int, tuple[Hashable, Any]] = OrderedDict()   # token -> (key, set), oldest first
        self._taken = 0            # sets lent out, and slots reserved for sets being allocated
        self._next = 0

    # -- inspection (tests, stats) ------------------------------------------------------------
    @property
    def taken(self) -> int:
        with self._cond:
            return self._taken

    @property
    def idle(self) -> int:
        with self._cond:
            return len(self._idle)

    # -- lending ------------------------------------------------------------------------------
    def take(self, key: Hashable) -> Any:
        """A set for ``key`` that no other caller holds until it is given back with ``give``."""
        with self._cond:
            while True:
                # newest first (warm in caches); only the token is kept, so a set dropped below
                # is freed at once, not held by a loop variable while a new one is allocated
                token = next((t for t, (k, _) in reversed(self._idle.items()) if k == key), None)
                if token is not None:
                    self._taken += 1
                    return self._idle.pop(token)[1]
                if self._taken + len(self._idle) < self.capacity:
                    break
                if self._idle:                       # room taken by other sizes' idle sets
                    self._idle.popitem(last=False)   # drop the least recently used
                    break
                self._cond.wait()
            self._taken += 1                          # reserve the slot, allocate outside the lock
        try:
            return self._allocate(key)
        except BaseException:
            with self._cond:
                self._taken -= 1
                self._cond.notify()
            raise

    def give(self, key: Hashable, bufs: Any) -> None:
        """Return a set taken with ``take``; the caller must not touch it afterwards."""
        with self._cond:
            if self._taken <= 0:
                raise RuntimeError("a buffer set was given back to a pool that lent none")
            self._taken -= 1
            self._next += 1
            self._idle[self._next] = (key, bufs)
            self._trim()                 # after a resize to fewer sets
            self._cond.notify()

    @contextmanager
    def borrow(self, key: Hashable) -> Iterator[Any]:
        bufs = self.take(key)
        try:
            yield bufs
        finally:
            self.give(key, bufs)

    def resize(self, capacity: int) -> None:
        """Allow ``capacity`` sets from now on; idle sets beyond it are dropped at once, sets
        lent out beyond it when they come back (``give`` keeps at most ``capacity``)."""
        capacity = int(capacity)
        if capacity < 1:
            raise ResourceLimitError(f"a buffer pool needs room for at least one set, got {capacity}")
        with self._cond:
            self.capacity = capacity
            self._trim()
            self._cond.notify_all()

    def _trim(self) -> None:
        while self._idle and self._taken + len(self._idle) > self.capacity:
            self._idle.popitem(last=False)

    def clear(self) -> None:
        """Drop every idle set (sets lent out stay with their callers and come back later)."""
        with self._cond:
            self._idle.clear()
            self._cond.notify_all()
