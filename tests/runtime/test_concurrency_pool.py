"""The per-call buffer pool: a set is never lent to two live calls, and the pool stays bounded.

Random schedules (hypothesis): threads take sets of random sizes, hold them for a random
moment, and give them back. A ledger records which call holds each set; a second holder of a
set that is still held is the bug this pool exists to prevent. Sets are tracked by weak
references, so a set the pool dropped stops counting the moment it is freed, and the number
of sets alive at once is checked against the pool's capacity.
"""

from __future__ import annotations

import threading
import time
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cortado.runtime.buffers import BufferPool, default_capacity
from cortado.runtime.errors import ResourceLimitError


class _Set:
    """Stands in for a list of device buffers: an object with identity, weakly referenceable."""

    def __init__(self, key):
        self.key = key


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.holder: dict[int, int] = {}     # id(set) -> call holding it
        self.alive = 0
        self.peak_alive = 0
        self.violations: list[str] = []

    def allocate(self, key):
        s = _Set(key)
        with self.lock:
            self.alive += 1
            self.peak_alive = max(self.peak_alive, self.alive)
        weakref.finalize(s, self._freed)
        return s

    def _freed(self):
        with self.lock:
            self.alive -= 1

    def hold(self, s, key, call):
        with self.lock:
            if s.key != key:
                self.violations.append(f"call {call} asked for sizes {key} and got a set for {s.key}")
            other = self.holder.get(id(s))
            if other is not None:
                self.violations.append(f"calls {other} and {call} hold one set at once")
            self.holder[id(s)] = call

    def release(self, s, call):
        with self.lock:
            if self.holder.pop(id(s), None) != call:
                self.violations.append(f"call {call} released a set it did not hold")


def _run(schedule, capacity):
    ledger = Ledger()
    pool = BufferPool(ledger.allocate, capacity)
    barrier = threading.Barrier(len(schedule))

    def worker(t, calls):
        barrier.wait()
        for i, (key, hold) in enumerate(calls):
            call = t * 1000 + i
            with pool.borrow(key) as s:
                ledger.hold(s, key, call)
                time.sleep(hold)
                ledger.release(s, call)
            del s      # a caller that keeps no reference: the pool alone decides what lives

    threads = [threading.Thread(target=worker, args=(t, calls), daemon=True) for t, calls in enumerate(schedule)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert not any(th.is_alive() for th in threads), "a call waited forever for a buffer set"
    return ledger, pool


calls = st.lists(st.tuples(st.sampled_from([(1,), (2,), (3,), (None,)]),
                           st.sampled_from([0.0, 0.0, 0.0005, 0.002])), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(schedule=st.lists(calls, min_size=1, max_size=8), capacity=st.integers(1, 4))
def test_concurrent_take_and_give_never_share_a_set(schedule, capacity):
    ledger, pool = _run(schedule, capacity)
    assert not ledger.violations, ledger.violations
    assert ledger.peak_alive <= capacity, f"{ledger.peak_alive} sets alive at once, capacity {capacity}"
    assert pool.taken == 0 and pool.idle <= capacity


def test_more_threads_than_sets_wait_their_turn():
    """16 threads, room for 2 sets: never more than 2 exist, and every call completes."""
    ledger, pool = _run([[((1,), 0.002)] * 3 for _ in range(16)], capacity=2)
    assert not ledger.violations
    assert ledger.peak_alive <= 2
    assert pool.idle == 2


def test_sizes_not_in_use_make_room():
    ledger = Ledger()
    pool = BufferPool(ledger.allocate, 2)
    for n in range(1, 6):                      # five sizes one after another, two slots
        with pool.borrow((n,)) as s:
            assert s.key == (n,)
        del s
    assert ledger.alive == 2 and pool.idle == 2
    with pool.borrow((5,)) as again:           # the most recent sizes are still there
        assert again.key == (5,)
    del again
    assert ledger.alive == 2


def test_a_failed_allocation_gives_its_slot_back():
    attempts = []

    def allocate(key):
        attempts.append(key)
        if len(attempts) == 1:
            raise MemoryError("out of device memory")
        return _Set(key)

    pool = BufferPool(allocate, 1)
    with pytest.raises(MemoryError):
        pool.take((1,))
    assert pool.taken == 0
    with pool.borrow((1,)) as s:               # would wait forever if the slot had leaked
        assert s.key == (1,)


def test_capacity_from_the_environment(monkeypatch):
    monkeypatch.setenv("CORTADO_BUFFER_SETS", "7")
    assert default_capacity() == 7
    assert BufferPool(_Set).capacity == 7
    monkeypatch.setenv("CORTADO_BUFFER_SETS", "none")
    with pytest.raises(ResourceLimitError, match="CORTADO_BUFFER_SETS"):
        default_capacity()
    with pytest.raises(ResourceLimitError):
        BufferPool(_Set, 0)


def test_resize_drops_idle_sets_and_wakes_waiters():
    ledger = Ledger()
    pool = BufferPool(ledger.allocate, 3)
    held = [pool.take((n,)) for n in (1, 2, 3)]
    pool.give((1,), held.pop(0))
    pool.resize(1)                             # two still lent: the idle one goes
    assert pool.idle == 0 and ledger.alive == 2
    pool.give((2,), held.pop(0))               # lent beyond the new capacity: not kept
    assert pool.idle == 0 and ledger.alive == 1
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.take((4,))))
    waiter.start()
    time.sleep(0.05)
    assert not got, "capacity 1, one set lent: the caller waits"
    pool.resize(2)
    waiter.join(5)
    assert got and got[0].key == (4,)
