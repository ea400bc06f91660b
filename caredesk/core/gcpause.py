"""Fewer garbage collections while a bulk job runs.

CPython's cyclic collector runs after every 700 new container objects (dicts, tuples, model
instances) and, every so often, walks the whole heap. A bulk job allocates millions of short-lived
objects that reference counting frees anyway, and its long-lived state (caches, the archive's
look-up tables, Django's startup objects) is what each full collection walks again: in the
1,000,000-row visit import that cost about a sixth of the importer's CPU time (117 full collections,
10.6 s of 57 s; ``docs/benchmarks.md``).

``fewer_collections()`` freezes what exists when the job starts (the objects are moved out of the
collector's reach, as ``gc.freeze`` does before a fork) and raises the thresholds, so collections
still run, only about a seventieth as often; cyclic garbage is still freed. Everything is put back
when the last job of the process leaves the block. A process forked inside the block (the import's
reader) inherits the settings.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# young objects between collections (CPython's default is 700), and the older generations' ratios
BULK_THRESHOLDS = (50_000, 20, 20)

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*BULK_THRESHOLDS)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                gc.unfreeze()
                _saved = None
