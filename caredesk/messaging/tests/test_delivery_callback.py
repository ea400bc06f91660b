"""The SMS gateway's signed delivery-status callback."""

import json
import time

import pytest
from django.urls import reverse

from caredesk.messaging.actions import enqueue
from caredesk.messaging.models import OutboxMessage
from caredesk.messaging.transports.sms_http import sign

pytestmark = pytest.mark.django_db

SECRET = "callback-secret"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.SMS_GATEWAY_SECRET = SECRET


def sent_message(key="k"):
    m = enqueue("sms", "13700137000", "t", {}, idempotency_key=key)
    OutboxMessage.objects.filter(pk=m.pk).update(status="sent", provider_message_id=f"gw-{key}")
    return m


def post(client, payload, secret=SECRET, ts=None):
    body = json.dumps(payload).encode()
    ts = str(int(ts or time.time()))
    return client.post(reverse("messaging:sms_callback"), body, content_type="application/json",
                       headers={"X-Timestamp": ts, "X-Nonce": "n1", "X-Signature": sign(secret, ts, "n1", body)})


def test_a_signed_delivery_report_marks_the_message_delivered(client):
    m = sent_message()
    response = post(client, {"client_ref": "k", "message_id": "gw-k", "status": "DELIVRD",
                             "delivered_at": "2026-11-23T10:00:05+08:00"})
    assert response.status_code == 200 and response.json() == {"code": "0", "updated": 1}
    m.refresh_from_db()
    assert m.delivered_at.isoformat() == "2026-11-23T02:00:05+00:00" and m.status == "sent"


def test_a_failed_report_found_by_gateway_id_marks_the_message_failed(client):
    m = sent_message("a")
    response = post(client, {"reports": [{"message_id": "gw-a", "status": "UNDELIV", "error_code": "MK:0001"},
                                         {"message_id": "unknown", "status": "DELIVRD"}]})
    assert response.json()["updated"] == 1
    m.refresh_from_db()
    assert m.status == "failed" and "MK:0001" in m.last_error


def test_an_unsigned_or_stale_or_wrongly_signed_report_is_refused(client):
    m = sent_message()
    payload = {"client_ref": "k", "status": "DELIVRD"}
    assert post(client, payload, secret="wrong").status_code == 403
    assert post(client, payload, ts=time.time() - 3600).status_code == 403
    assert client.post(reverse("messaging:sms_callback"), payload, content_type="application/json").status_code == 403
    m.refresh_from_db()
    assert m.delivered_at is None


def test_a_report_that_is_not_json_is_a_400(client):
    body = b"not json"
    ts = str(int(time.time()))
    response = client.post(reverse("messaging:sms_callback"), body, content_type="application/json",
                           headers={"X-Timestamp": ts, "X-Nonce": "n", "X-Signature": sign(SECRET, ts, "n", body)})
    assert response.status_code == 400
