"""The messaging outbox: idempotent enqueue, claiming, retries with backoff, reclaim after a crash."""

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from caredesk.core import pii
from caredesk.core.models import AuditEvent
from caredesk.messaging import outbox
from caredesk.messaging.actions import enqueue, register_template
from caredesk.messaging.models import OutboxMessage
from caredesk.messaging.transports import PermanentError, TransientError, Transport

pytestmark = pytest.mark.django_db

PHONE = "13800138000"
Status = OutboxMessage.Status


class Recorder(Transport):
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.sent = []

    def send(self, message):
        self.sent.append(message.pk)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return f"gw-{message.pk}"


@pytest.fixture
def recorder(monkeypatch):
    holder = {"t": Recorder()}
    monkeypatch.setattr(outbox, "get_transport", lambda: holder["t"])
    return holder


def queue(key="k1", **kw):
    return enqueue("sms", PHONE, "complaint.received", {"case_no": "TS2026-0001"}, idempotency_key=key, **kw)


def test_enqueueing_the_same_key_twice_returns_the_first_message(agent):
    first = queue(acting_user=agent, patient_id=42)
    second = queue(acting_user=agent, patient_id=42)
    assert first.pk == second.pk
    assert OutboxMessage.objects.count() == 1
    assert AuditEvent.objects.filter(verb="message.enqueued").count() == 1


def test_recipient_and_body_are_stored_encrypted_with_a_blind_index():
    register_template("test.hello", "您的案件号 {case_no}")
    m = enqueue("sms", PHONE, "test.hello", {"case_no": "TS1"}, idempotency_key="enc")
    with connection.cursor() as cur:
        cur.execute("SELECT recipient, body FROM messaging_outboxmessage WHERE id = %s", [m.pk])
        raw_recipient, raw_body = cur.fetchone()
    assert PHONE not in raw_recipient and "TS1" not in raw_body
    m.refresh_from_db()
    assert m.recipient == PHONE and m.body == "您的案件号 TS1"
    assert OutboxMessage.objects.filter(recipient_index=pii.blind_index("phone", "+86 138 0013 8000")).exists()


def test_enqueue_refuses_a_bad_channel_or_missing_key():
    with pytest.raises(ValueError):
        enqueue("fax", PHONE, "x", idempotency_key="a")
    with pytest.raises(ValueError):
        enqueue("sms", PHONE, "x", idempotency_key="")


def test_sweep_sends_due_messages_once(recorder):
    m = queue()
    later = queue("k2", send_at=timezone.now() + timedelta(hours=1))
    assert outbox.sweep() == {"reclaimed": 0, "sent": 1}
    assert outbox.sweep() == {"reclaimed": 0}
    m.refresh_from_db()
    later.refresh_from_db()
    assert m.status == Status.SENT and m.provider_message_id == f"gw-{m.pk}" and m.attempts == 1
    assert later.status == Status.QUEUED
    assert recorder["t"].sent == [m.pk]


def test_a_row_claimed_by_one_worker_is_not_claimed_by_another():
    queue()
    _t1, ids1 = outbox.claim()
    _t2, ids2 = outbox.claim()
    assert len(ids1) == 1 and ids2 == []


def test_transient_failures_back_off_exponentially_then_the_message_is_dead(recorder, settings):
    settings.MESSAGING_MAX_ATTEMPTS = 3
    settings.MESSAGING_BACKOFF_SECONDS = 60
    recorder["t"] = Recorder(*[TransientError("HTTP 503")] * 5)
    m = queue()
    waits = []
    for _ in range(3):
        before = timezone.now()
        OutboxMessage.objects.filter(pk=m.pk).update(next_attempt_at=before)  # time travel: due now
        outbox.sweep()
        m.refresh_from_db()
        waits.append(round((m.next_attempt_at - before).total_seconds() / 60))
    assert m.status == Status.DEAD and m.attempts == 3
    assert waits[:2] == [1, 2]  # 60 s, then 120 s
    assert "HTTP 503" in m.last_error


def test_a_permanent_failure_is_not_retried(recorder):
    recorder["t"] = Recorder(PermanentError("HTTP 400 bad template"))
    m = queue()
    outbox.sweep()
    m.refresh_from_db()
    assert m.status == Status.FAILED and m.attempts == 1
    assert outbox.sweep() == {"reclaimed": 0}


def test_a_message_stuck_in_sending_after_a_worker_crash_is_reclaimed_and_sent_once(recorder, settings):
    settings.MESSAGING_CLAIM_TIMEOUT_SECONDS = 300
    m = queue()
    token, ids = outbox.claim()  # the worker claims the row … and is killed before sending
    assert ids == [m.pk]
    assert outbox.sweep() == {"reclaimed": 0}  # not yet: the claim is fresh
    OutboxMessage.objects.filter(pk=m.pk).update(claimed_at=timezone.now() - timedelta(minutes=6))
    counts = outbox.sweep()
    assert counts == {"reclaimed": 1, "sent": 1}
    m.refresh_from_db()
    assert m.status == Status.SENT and m.attempts == 2
    # The dead worker's late result cannot overwrite the new outcome: its token is gone.
    assert outbox.deliver(m.pk, token, Recorder()) == "skipped"
    assert recorder["t"].sent == [m.pk]


def test_a_stuck_row_on_its_last_attempt_becomes_dead(settings):
    settings.MESSAGING_MAX_ATTEMPTS = 1
    m = queue()
    outbox.claim()
    OutboxMessage.objects.filter(pk=m.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert outbox.reclaim_stuck() == 1
    m.refresh_from_db()
    assert m.status == Status.DEAD


def test_send_now_sends_one_message_immediately(recorder):
    m = queue()
    assert outbox.send_now(m.pk) == Status.SENT
    assert outbox.send_now(m.pk) == "skipped"


def test_the_celery_task_runs_the_sweep(recorder):
    from caredesk.messaging.tasks import sweep_outbox

    queue()
    assert sweep_outbox.apply().get()["sent"] == 1


def test_file_transport_writes_jsonl_without_the_recipient_or_body(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.MESSAGING_TRANSPORT = "caredesk.messaging.transports.FileTransport"
    register_template("test.secret", "张三您好，您的电话 {phone}")
    m = enqueue("sms", PHONE, "test.secret", {"phone": PHONE}, idempotency_key="file")
    assert outbox.sweep()["sent"] == 1
    text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "outbox").glob("*.jsonl"))
    assert f'"id": {m.pk}' in text and "test.secret" in text
    assert PHONE not in text and "张三" not in text


def test_failure_logs_and_last_error_carry_no_phone_number(recorder, caplog):
    recorder["t"] = Recorder(PermanentError(f"invalid mobile {PHONE}"))
    m = queue()
    with caplog.at_level(logging.DEBUG):
        outbox.sweep()
    m.refresh_from_db()
    assert PHONE not in m.last_error and "[PHONE-REDACTED]" in m.last_error
    assert PHONE not in caplog.text and str(m.pk) in caplog.text


def test_the_sweep_is_scheduled_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["messaging-sweep"]
    assert entry["task"] == "caredesk.messaging.tasks.sweep_outbox" and entry["schedule"] == 60.0
