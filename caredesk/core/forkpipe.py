"""Run a producer of items in a forked child process and consume its items here, chunk by chunk.

Bulk work that reads and checks a file (CPU-bound Python) can then run on the second core while this
process writes to the database. The child is forked, so it starts with this process's settings, keys
and caches and needs no start-up; it must not touch what it inherited from the parent's open
connections (it only reads the file and computes). Items travel pickled, ``chunk`` at a time, through
a pipe: when the consumer falls behind, the child blocks on the full pipe, so at most about two
chunks are in flight and memory stays flat.

``available()`` says whether a child can be forked here: not on platforms without ``fork``, not from
a daemonic process (a Celery prefork worker), and not from a process that runs other threads (a
threaded web server: a forked child would inherit locks other threads hold). Callers then run the
producer inline.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
CHUNK = 1000


def available() -> bool:
    return ("fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon
            and threading.active_count() == 1)


def iterate_in_child(produce: Callable[[], Iterable[T]], *, chunk: int = CHUNK) -> Generator[T, None, None]:
    """The items of ``produce()``, computed in a forked child. An exception raised in the child is
    raised here (the same type when it can be pickled). Closing this generator early stops the child."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(produce, receiver, sender, chunk), name="caredesk-producer", daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise RuntimeError(f"the producer process ended without finishing (exit code {child.exitcode})") from None
            if kind == "items":
                yield from payload
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


def _child(produce: Callable[[], Iterable[Any]], receiver: Any, sender: Any, chunk: int) -> None:
    receiver.close()  # the parent's end: while the child holds it too, the pipe never breaks
    items = iter(produce())
    try:
        buffer: list[Any] = []
        for item in items:
            buffer.append(item)
            if len(buffer) >= chunk:
                sender.send(("items", buffer))
                buffer = []
        sender.send(("items", buffer))
        sender.send(("done", None))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the consumer stopped early
    except BaseException as exc:  # everything goes back to the consumer
        try:
            sender.send(("error", exc))
        except Exception:  # not picklable: send its text
            sender.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        close = getattr(items, "close", None)
        if close is not None:  # a generator's own clean-up (temporary files): the child ends with os._exit
            close()
        sender.close()
