"""The stamped configuration cache: one query per read, reloaded after any change — saved in this
process, in another one (a bump), or rolled back."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from caredesk.core.configcache import StampedCache, bump
from caredesk.core.models import CalendarOverride

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache() -> Any:
    loads: list[int] = []

    def load() -> list[str]:
        loads.append(1)
        return sorted(CalendarOverride.objects.values_list("reason", flat=True))

    c = StampedCache("test.overrides", load)
    c.watch(CalendarOverride)
    c.loads = loads  # type: ignore[attr-defined]
    return c


def _add(reason: str, day: int) -> CalendarOverride:
    import datetime

    return CalendarOverride.objects.create(date=datetime.date(2030, 1, day), is_working_day=False, reason=reason)


def test_a_read_is_one_query_until_the_configuration_changes(cache: Any, django_assert_num_queries: Any) -> None:
    assert cache.get() == []
    with django_assert_num_queries(1):
        assert cache.get() == []
    assert len(cache.loads) == 1
    row = _add("院庆", 1)
    assert cache.get() == ["院庆"]
    row.delete()
    assert cache.get() == []
    assert len(cache.loads) == 3


def test_a_change_made_elsewhere_is_seen_through_the_stamp(cache: Any) -> None:
    cache.get()
    CalendarOverride.objects.bulk_create([CalendarOverride(date="2030-01-02", is_working_day=True, reason="补班")])
    assert cache.get() == []  # no signal: this process cannot know yet
    bump("test.overrides")  # what another process's save does
    assert cache.get() == ["补班"]


def test_a_rolled_back_change_never_stays_cached(cache: Any) -> None:
    cache.get()
    with pytest.raises(RuntimeError), transaction.atomic():
        _add("停诊", 3)
        assert cache.get() == ["停诊"]
        raise RuntimeError("rolled back")
    assert cache.get() == []
