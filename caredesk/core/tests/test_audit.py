import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction

from caredesk.core import audit
from caredesk.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_record_chains_each_event_to_the_previous_one(agent):
    first = audit.record(actor=agent, verb="test.one", target=agent)
    second = audit.record(actor=agent, verb="test.two", object_type="x", object_id=7, purpose="核对", extra=1)
    assert second.prev_hash == first.row_hash
    assert second.details["extra"] == 1
    assert second.actor_label == "xiaowang"
    assert first.object_type == "accounts.user" and first.object_id == str(agent.pk)


def test_audit_row_is_rolled_back_with_the_change_it_records(agent):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(actor=agent, verb="test.doomed")
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == before


def test_model_refuses_update_and_delete(agent):
    event = audit.record(actor=agent, verb="test.x")
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


def _tamper(sql: str, params: list) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":  # a superuser can skip triggers, as an attacker with DBA rights could
            cur.execute("SET LOCAL session_replication_role = 'replica'")
        cur.execute(sql, params)
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL session_replication_role = 'origin'")


def test_audit_verify_reports_the_first_changed_row(agent, capsys):
    events = [audit.record(actor=agent, verb=f"test.{i}") for i in range(5)]
    call_command("audit_verify")
    assert "intact" in capsys.readouterr().out
    _tamper("UPDATE core_auditevent SET purpose = %s WHERE id = %s", ["改过", events[2].pk])
    with pytest.raises(CommandError, match=f"id={events[2].pk}.*changed"):
        call_command("audit_verify")


def test_audit_verify_reports_a_removed_row(agent):
    events = [audit.record(actor=agent, verb=f"test.{i}") for i in range(4)]
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError, match=f"id={events[2].pk}.*removed"):
        call_command("audit_verify")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only")
def test_postgres_trigger_rejects_update_and_delete(agent):
    event = audit.record(actor=agent, verb="test.x")
    for sql in ("UPDATE core_auditevent SET verb = 'y' WHERE id = %s", "DELETE FROM core_auditevent WHERE id = %s"):
        with pytest.raises((InternalError, ProgrammingError, IntegrityError)), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])


def test_failed_and_successful_logins_are_audited(client, agent):
    from conftest import PASSWORD

    client.post("/accounts/login/", {"username": "xiaowang", "password": "wrong-password-123"})
    client.post("/accounts/login/", {"username": "xiaowang", "password": PASSWORD})
    verbs = list(AuditEvent.objects.order_by("id").values_list("verb", "result", "actor_label"))
    assert ("auth.login_failed", "failed", "xiaowang") in verbs
    assert ("auth.login", "ok", "xiaowang") in verbs


def test_audit_viewer_is_for_admin_and_quality_only(client, agent, quality, admin_user):
    client.force_login(agent)
    assert client.get("/audit/").status_code == 403
    for user in (quality, admin_user):
        client.force_login(user)
        response = client.get("/audit/")
        assert response.status_code == 200
        assert "审计日志" in response.content.decode()


def test_audit_viewer_filters_by_actor_patient_verb_and_time(client, quality, agent):
    audit.record(actor=agent, verb="patient.viewed", object_type="patients.patient", object_id=42, patient_id=42)
    audit.record(actor=quality, verb="complaint.accepted", object_type="complaints.complaint", object_id=1)
    client.force_login(quality)
    body = client.get("/audit/", {"patient": 42}).content.decode()
    assert "patient.viewed" in body and "complaint.accepted" not in body
    body = client.get("/audit/", {"actor": "xiaowang", "verb": "patient."}).content.decode()
    assert "patient.viewed" in body and "complaint.accepted" not in body
    body = client.get("/audit/", {"start": "2001-01-01", "end": "2001-01-02"}).content.decode()
    assert "patient.viewed" not in body
    response = client.get("/audit/", {"start": "2026-02-01", "end": "2026-01-01"})
    assert "结束日期不能早于开始日期" in response.content.decode()


def test_audit_viewer_query_count_does_not_grow_with_rows(client, quality, agent, django_assert_max_num_queries):
    client.force_login(quality)
    client.get("/audit/")
    for i in range(40):
        audit.record(actor=agent, verb=f"test.{i}")
    with django_assert_max_num_queries(12):
        response = client.get("/audit/")
    assert response.status_code == 200
    assert "test.39" in response.content.decode()
