"""Fewer garbage collections during a bulk job: thresholds raised and restored, nesting, and cyclic
garbage still freed by the collector's own runs."""

from __future__ import annotations

import gc
import weakref

from caredesk.core import gcpause


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_thresholds_are_raised_inside_and_restored_after_the_outermost_block() -> None:
    before = gc.get_threshold()
    with gcpause.fewer_collections():
        assert gc.get_threshold() == gcpause.BULK_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what existed before the job is out of the collector's walk
        with gcpause.fewer_collections():
            assert gc.get_threshold() == gcpause.BULK_THRESHOLDS
        assert gc.get_threshold() == gcpause.BULK_THRESHOLDS  # the inner block leaving changes nothing
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_settings_are_restored_when_the_job_raises() -> None:
    before = gc.get_threshold()
    try:
        with gcpause.fewer_collections():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_is_still_collected_inside_the_block() -> None:
    with gcpause.fewer_collections():
        node = _Node()
        alive = weakref.ref(node)
        del node
        assert alive() is not None  # a cycle: reference counting alone does not free it
        keep = [{} for _ in range(3 * gcpause.BULK_THRESHOLDS[0])]  # enough new containers for a collection
        assert alive() is None
        del keep
