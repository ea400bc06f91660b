"""``sqlinsert.insert`` writes the row ``save()`` would write: compared field by field after
reading both back, for the models the feeds write this way."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from caredesk.core.models import AuditEvent
from caredesk.core.sqlinsert import insert
from caredesk.intake.models import IngestMessage
from caredesk.patients.models import Patient

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))


def _values(obj: Any) -> dict[str, Any]:
    skip = {"id", "updated_at", "row_hash", "content_hash"}  # auto_now; made unique per row below
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in skip}


@pytest.mark.parametrize("build", [
    lambda n: AuditEvent(at=AT, actor_label="system", verb="patient.created", object_type="patients.patient",
                       object_id="7", patient_id=7, details={"fields": ["name"], "n": 2, "当": "中文"},
                       prev_hash="0" * 64, row_hash=str(n) * 64),
    lambda n: IngestMessage(channel="hl7", sender="HIS^A", control_id="C1", content_hash=str(n) * 64,
                          payload="MSH|^~\\&|…", message_type="ADT^A01", message_at=AT, received_at=AT, peer="127.0.0.1:1"),
    lambda n: Patient(name="张三", name_pinyin="zhangsan", name_initials="zs", sex="M", birth_date=date(1980, 1, 2),
                    id_number="11010519491231002X", mobile="13812345678", address="北京市朝阳区", vip_level=2,
                    is_deceased=False, feed_event_at=AT, created_at=AT),
], ids=["audit", "ingest", "patient"])
def test_insert_writes_what_save_writes(build: Any) -> None:
    saved, inserted = build(1), build(2)
    saved.save(force_insert=True) if not isinstance(saved, AuditEvent) else super(AuditEvent, saved).save()
    insert(inserted)
    model = type(saved)
    a, b = model.objects.get(pk=saved.pk), model.objects.get(pk=inserted.pk)
    assert _values(a) == _values(b)
    assert inserted.pk != saved.pk and not inserted._state.adding


def test_insert_refuses_a_row_that_exists() -> None:
    event = AuditEvent(at=timezone.now(), verb="x", prev_hash="0" * 64, row_hash="1" * 64)
    insert(event)
    with pytest.raises(ValueError, match="new rows"):
        insert(event)
