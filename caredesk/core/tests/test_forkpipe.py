"""forkpipe: a producer in a forked child, its items here in order."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from caredesk.core import forkpipe

pytestmark = pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(),
                                reason="this platform cannot fork")


def numbers(n: int) -> Iterator[tuple[int, int]]:
    for i in range(n):
        yield i, os.getpid()


def test_items_arrive_in_order_from_another_process() -> None:
    got = list(forkpipe.iterate_in_child(lambda: numbers(2500), chunk=100))
    assert [i for i, _pid in got] == list(range(2500))
    assert {pid for _i, pid in got} != {os.getpid()} and len({pid for _i, pid in got}) == 1


def test_chunks_travel_packed_and_are_unpacked_here() -> None:
    packed_in: list[int] = []

    def pack(items: list[tuple[int, int]]) -> bytes:
        packed_in.append(os.getpid())  # in the child: not seen here
        return b",".join(str(i).encode() for i, _pid in items)

    def unpack(payload: bytes) -> list[tuple[int, int]]:
        return [(int(i), os.getpid()) for i in payload.split(b",") if i]

    got = list(forkpipe.iterate_in_child(lambda: numbers(250), chunk=100, pack=pack, unpack=unpack))
    assert got == [(i, os.getpid()) for i in range(250)]
    assert packed_in == []


def niceness() -> Iterator[int]:
    yield os.getpriority(os.PRIO_PROCESS, 0)


def test_a_child_may_run_at_a_lower_priority() -> None:
    here = os.getpriority(os.PRIO_PROCESS, 0)
    assert list(forkpipe.iterate_in_child(niceness)) == [here]
    assert list(forkpipe.iterate_in_child(niceness, nice=5)) == [min(here + 5, 19)]
    assert os.getpriority(os.PRIO_PROCESS, 0) == here  # this process keeps its own
    worker = forkpipe.Worker(lambda _messages: os.getpriority(os.PRIO_PROCESS, 0), nice=3)
    assert worker.finish() == min(here + 3, 19)


def policy() -> Iterator[int]:
    yield os.sched_getscheduler(0)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="no idle scheduling class on this platform")
def test_a_child_may_run_in_the_idle_scheduling_class() -> None:
    here = os.sched_getscheduler(0)
    assert here != os.SCHED_IDLE
    assert list(forkpipe.iterate_in_child(policy)) == [here]
    assert list(forkpipe.iterate_in_child(policy, idle=True)) == [os.SCHED_IDLE]
    assert os.sched_getscheduler(0) == here  # this process keeps its own
    worker = forkpipe.Worker(lambda _messages: (os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)), nice=2, idle=True)
    assert worker.finish() == (os.SCHED_IDLE, min(os.getpriority(os.PRIO_PROCESS, 0) + 2, 19))  # and niced as well
    assert forkpipe.Worker(lambda _messages: os.sched_getscheduler(0)).finish() == here


def test_a_child_that_may_not_enter_the_idle_class_runs_niced(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: Any) -> None:
        raise PermissionError("not here")

    monkeypatch.setattr(os, "sched_setscheduler", refused, raising=False)
    monkeypatch.setattr(os, "SCHED_IDLE", 5, raising=False)
    here = os.getpriority(os.PRIO_PROCESS, 0)
    assert list(forkpipe.iterate_in_child(niceness, nice=4, idle=True)) == [min(here + 4, 19)]


def test_an_error_in_the_child_is_raised_here_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row 3 is broken")

    got: list[int] = []
    with pytest.raises(ValueError, match="row 3 is broken"):
        for item in forkpipe.iterate_in_child(failing, chunk=1):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_ends_the_child_and_runs_its_clean_up(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            marker.write_text("yes")

    items = forkpipe.iterate_in_child(endless, chunk=10, ahead=8)
    assert [next(items) for _ in range(25)] == list(range(25))
    items.close()  # joins the child
    assert marker.read_text() == "yes"


def test_no_child_is_forked_while_other_threads_run(monkeypatch: pytest.MonkeyPatch) -> None:
    real = threading.active_count
    others = real() - 1  # threads other tests of this worker left running (a live server, say)
    monkeypatch.setattr(threading, "active_count", lambda: real() - others)
    assert forkpipe.available()
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not forkpipe.available()
    finally:
        stop.set()
        other.join()


def test_the_child_works_ahead_of_a_slow_consumer() -> None:
    """A pipe holds less than one chunk: the child must queue several chunks, not wait for each read."""
    import multiprocessing
    import time

    produced = multiprocessing.get_context("fork").Value("i", 0)

    def counted() -> Iterator[bytes]:
        for _ in range(100):
            with produced.get_lock():
                produced.value += 1
            yield b"x" * 20_000  # a chunk of 10 is ~200 KB, three times a pipe's buffer

    items = forkpipe.iterate_in_child(counted, chunk=10, ahead=8)
    next(items)
    deadline = time.monotonic() + 10
    while produced.value < 60 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert produced.value >= 60  # without the outbox: ~20 (the chunk read, and one blocked on the pipe)
    assert sum(1 for _ in items) == 99


def _slow_sum(messages: Iterator[list[int]]) -> tuple[int, list[int], list[float]]:
    import time

    seen, started = [], []
    for m in messages:
        started.append(time.monotonic())
        time.sleep(0.05)  # slower than the sender
        seen.append(m[0])
    return os.getpid(), seen, started


def test_a_worker_takes_messages_in_order_without_holding_up_the_sender() -> None:
    import time

    worker = forkpipe.Worker(_slow_sum)
    for i in range(20):
        worker.send([i] * 30000)  # ~150 KB each: more than a pipe holds
    all_sent = time.monotonic()
    pid, seen, started = worker.finish()
    assert pid != os.getpid()
    assert seen == list(range(20))
    # every message was sent before the child began its fourth (the clock is the machine's)
    assert all_sent < started[3]


def _fails(messages: Iterator[int]) -> None:
    for m in messages:
        if m == 2:
            raise ValueError("bad message 2")


def test_an_error_in_a_worker_is_raised_by_finish() -> None:
    worker = forkpipe.Worker(_fails)
    for i in range(4):
        worker.send(i)
    with pytest.raises(ValueError, match="bad message 2"):
        worker.finish()


def test_messages_sent_after_a_worker_failed_are_dropped_not_raised() -> None:
    import time

    worker = forkpipe.Worker(_fails)
    worker.send(2)
    deadline = time.monotonic() + 10
    while worker._child.is_alive() and time.monotonic() < deadline:  # it raised and ended
        time.sleep(0.01)
    assert not worker._child.is_alive()
    for i in range(3):
        worker.send(i)  # the pipe has no reader any more: no BrokenPipeError for the sender
    with pytest.raises(ValueError, match="bad message 2"):
        worker.finish()
