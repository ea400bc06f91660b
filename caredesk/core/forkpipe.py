"""Run a producer of items in a forked child process and consume its items here, chunk by chunk.

Bulk work that reads and checks a file (CPU-bound Python) can then run on the second core while this
process writes to the database. The child is forked, so it starts with this process's settings, keys
and caches and needs no start-up; it must not touch what it inherited from the parent's open
connections (it only reads the file and computes). Items travel pickled, ``chunk`` at a time, through
a pipe. The child works ahead: a thread of its own writes the pickled chunks to the pipe while it
computes the next ones, up to ``ahead`` chunks (a pipe holds 64 KB, less than one chunk: without
the thread the child could lead by one chunk only, and a consumer that takes two chunks at a time
waited for the second). When the consumer falls behind, the child blocks on its full queue, so
memory stays flat.

``nice``: the child runs at a lower scheduling priority (added to this process's niceness). A
child whose work is off the critical path (it leads the consumer, or works behind it) then mostly
yields a core it competes for with this process or the database server, instead of slowing them.
``idle``: stronger, on Linux: the child runs in the idle scheduling class (``SCHED_IDLE``). It gets
a core only when no ordinary process wants one, and an ordinary process that wakes up (this one,
when the database answers; the server's backend, when this one sends a statement) takes the core
from it at once, where a niced child may first finish its time slice. Where the class does not
exist or may not be set, ``nice`` alone applies.

``available()`` says whether a child can be forked here: not on platforms without ``fork``, not from
a daemonic process (a Celery prefork worker), and not from a process that runs other threads (a
threaded web server: a forked child would inherit locks other threads hold). Callers then run the
producer inline.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterable
from multiprocessing.reduction import ForkingPickler
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
CHUNK = 1000
AHEAD = 16  # chunks the child may compute before the consumer takes them


def available() -> bool:
    return ("fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon
            and threading.active_count() == 1)


def iterate_in_child(produce: Callable[[], Iterable[T]], *, chunk: int = CHUNK, ahead: int = AHEAD,
                     pack: Callable[[list[T]], Any] | None = None, unpack: Callable[[Any], Iterable[T]] | None = None,
                     nice: int = 0, idle: bool = False) -> Generator[T, None, None]:
    """The items of ``produce()``, computed in a forked child. An exception raised in the child is
    raised here (the same type when it can be pickled). Closing this generator early stops the child.
    ``pack`` (in the child) and ``unpack`` (here): a chunk of items as something cheaper to pickle
    than the items themselves (plain tuples instead of objects), and back. ``nice``, ``idle``: see above."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(produce, receiver, sender, chunk, ahead, pack, nice, idle),
                        name="caredesk-producer", daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise RuntimeError(f"the producer process ended without finishing (exit code {child.exitcode})") from None
            if kind == "items":
                yield from payload if unpack is None else unpack(payload)
            elif kind == "error":
                raise payload
            else:
                return
    finally:
        receiver.close()  # a child still sending gets a broken pipe, cleans up and exits
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()
            child.join()


class _Outbox:
    """The child's side of the pipe: chunks are pickled here and written by a thread, so the
    producer goes on computing while a write waits for the consumer (at most ``ahead`` pickled
    chunks queue up). A consumer that stopped breaks the pipe: the next ``send`` raises
    ``BrokenPipeError`` in the producer."""

    def __init__(self, sender: Any, ahead: int) -> None:
        self.sender = sender
        self.queue: queue.Queue[memoryview | None] = queue.Queue(maxsize=max(1, ahead))
        self.broken = threading.Event()
        self.thread = threading.Thread(target=self._pump, name="caredesk-producer-outbox", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.broken.is_set():
                continue  # keep draining so a producer waiting on the full queue gets to see it
            try:
                self.sender.send_bytes(data)
            except OSError:  # BrokenPipeError, ConnectionResetError: the consumer stopped early
                self.broken.set()

    def send(self, message: Any) -> None:
        if self.broken.is_set():
            raise BrokenPipeError("the consumer stopped")
        self.queue.put(ForkingPickler.dumps(message))  # the pickler's own buffer: not copied

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self.queue.put(None)
        self.thread.join()


def _lower_priority(nice: int, idle: bool) -> None:
    if nice > 0:
        try:
            os.nice(nice)
        except OSError:  # not allowed here: the child runs at the parent's priority
            log.debug("could not lower the child's priority", exc_info=True)
    if idle and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:  # not allowed here (a seccomp filter, say): the niceness above applies
            log.debug("could not put the child in the idle scheduling class", exc_info=True)


def _child(produce: Callable[[], Iterable[Any]], receiver: Any, sender: Any, chunk: int, ahead: int,
           pack: Callable[[list[Any]], Any] | None, nice: int, idle: bool) -> None:
    receiver.close()  # the parent's end: while the child holds it too, the pipe never breaks
    _lower_priority(nice, idle)
    outbox = _Outbox(sender, ahead)
    items = iter(produce())
    try:
        buffer: list[Any] = []
        for item in items:
            buffer.append(item)
            if len(buffer) >= chunk:
                outbox.send(("items", buffer if pack is None else pack(buffer)))
                buffer = []
        outbox.send(("items", buffer if pack is None else pack(buffer)))
        outbox.send(("done", None))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the consumer stopped early
    except BaseException as exc:  # everything goes back to the consumer
        try:
            outbox.send(("error", exc))
        except BrokenPipeError:
            pass
        except Exception:  # not picklable: send its text
            outbox.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        close = getattr(items, "close", None)
        if close is not None:  # a generator's own clean-up (temporary files): the child ends with os._exit
            close()
        outbox.close()
        sender.close()


class Worker:
    """A forked child that takes messages from this process, in order, while this process goes on:
    the other direction of ``iterate_in_child``. ``send`` never waits for the child's work (a thread
    in the child empties the pipe into a queue as messages arrive); ``finish`` tells the child that
    no more will come, waits for it to work through the rest, and returns what ``consume`` returned
    (or raises what it raised). ``consume`` gets an iterator over the messages and runs in the child
    (see ``available``; ``nice`` and ``idle`` as for ``iterate_in_child``)."""

    def __init__(self, consume: Callable[[Iterable[Any]], Any], *, name: str = "caredesk-worker", nice: int = 0,
                 idle: bool = False) -> None:
        ctx = multiprocessing.get_context("fork")
        inbox, self._sender = ctx.Pipe(duplex=False)
        self._results, reply = ctx.Pipe(duplex=False)
        self._child = ctx.Process(target=_worker, args=(consume, inbox, self._sender, self._results, reply, nice, idle), name=name,
                                  daemon=True)
        self._child.start()
        inbox.close()
        reply.close()
        self._ended = False  # the child stopped taking messages

    def send(self, message: Any) -> None:
        """Queue a message for the child; dropped once the child has ended (``consume`` raised: its
        error comes with ``finish``)."""
        if self._ended:
            return
        try:
            self._sender.send(("message", message))
        except (BrokenPipeError, ConnectionResetError):
            self._ended = True

    def finish(self) -> Any:
        try:
            if not self._ended:
                try:
                    self._sender.send(("done", None))
                except (BrokenPipeError, ConnectionResetError):
                    self._ended = True
            self._sender.close()
            try:
                kind, payload = self._results.recv()
            except EOFError:
                raise RuntimeError(f"the worker process ended without finishing (exit code {self._child.exitcode})") from None
        finally:
            self._results.close()
            self._child.join(timeout=10)
            if self._child.is_alive():
                self._child.terminate()
                self._child.join()
        if kind == "error":
            raise payload
        return payload


def _worker(consume: Callable[[Iterable[Any]], Any], inbox: Any, sender: Any, results: Any, reply: Any, nice: int,
            idle: bool) -> None:
    sender.close()  # the parent's ends
    results.close()
    _lower_priority(nice, idle)
    messages: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

    def drain() -> None:
        while True:
            try:
                kind, payload = inbox.recv()
            except (EOFError, OSError):  # the parent went away without finishing
                messages.put(("done", None))
                return
            messages.put((kind, payload))
            if kind == "done":
                return

    threading.Thread(target=drain, name="caredesk-worker-inbox", daemon=True).start()

    def received() -> Iterable[Any]:
        while (item := messages.get())[0] != "done":
            yield item[1]

    try:
        reply.send(("result", consume(received())))
    except BaseException as exc:
        try:
            reply.send(("error", exc))
        except Exception:  # not picklable: send its text
            reply.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        reply.close()
