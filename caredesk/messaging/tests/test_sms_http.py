"""The HTTP SMS-gateway transport against a local test gateway (http.server on 127.0.0.1)."""

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from caredesk.messaging import outbox
from caredesk.messaging.actions import enqueue
from caredesk.messaging.models import OutboxMessage
from caredesk.messaging.transports import PermanentError, TransientError
from caredesk.messaging.transports.sms_http import HttpSmsTransport

pytestmark = pytest.mark.django_db

PHONE = "13900139000"
SECRET = "gateway-test-secret"
Status = OutboxMessage.Status


class Gateway:
    """A scripted gateway: each request pops the next (status, json, delay) answer."""

    def __init__(self):
        self.answers = []
        self.requests = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append({"headers": dict(self.headers), "body": body})
                status, payload, delay = gateway.answers.pop(0) if gateway.answers else (200, {"code": "0", "message_id": "m1"}, 0)
                if delay:
                    time.sleep(delay)
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):  # keep the test output (and the PII scan) clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    with Gateway() as gw:
        yield gw


@pytest.fixture
def transport(gateway, monkeypatch):
    t = HttpSmsTransport(url=gateway.url, account="hosp01", secret=SECRET, signature="某某医院",
                         templates={"complaint.received": "SMS_1001"}, timeout=0.5)
    monkeypatch.setattr(outbox, "get_transport", lambda: t)
    return t


def queue(key="k"):
    return enqueue("sms", PHONE, "complaint.received", {"case_no": "TS2026-0007", "days": 5}, idempotency_key=key)


def test_success_sends_a_signed_request_and_records_the_gateway_id(gateway, transport):
    gateway.answers.append((200, {"code": "0", "message_id": "gw-778"}, 0))
    m = queue("complaint:7:received")
    assert outbox.sweep()["sent"] == 1
    m.refresh_from_db()
    assert m.status == Status.SENT and m.provider_message_id == "gw-778"
    req = gateway.requests[0]
    payload = json.loads(req["body"])
    assert payload["mobile"] == PHONE and payload["template_id"] == "SMS_1001" and payload["sign_name"] == "某某医院"
    assert payload["client_ref"] == "complaint:7:received" and payload["params"] == {"case_no": "TS2026-0007", "days": "5"}
    h = req["headers"]
    expected = hmac.new(SECRET.encode(), f"{h['X-Timestamp']}\n{h['X-Nonce']}\n".encode() + req["body"], hashlib.sha256).hexdigest()
    assert h["X-Signature"] == expected


def test_a_5xx_answer_is_retried_with_backoff_and_then_succeeds(gateway, transport, settings):
    settings.MESSAGING_BACKOFF_SECONDS = 30
    gateway.answers += [(503, {"code": "BUSY"}, 0), (200, {"code": "OK", "message_id": "gw-2"}, 0)]
    m = queue()
    before = timezone.now()
    assert outbox.sweep()["queued"] == 1
    m.refresh_from_db()
    assert m.status == Status.QUEUED and "503" in m.last_error
    assert timedelta(seconds=29) < m.next_attempt_at - before < timedelta(seconds=40)
    assert outbox.sweep() == {"reclaimed": 0}  # not due yet
    assert outbox.sweep(now=m.next_attempt_at)["sent"] == 1
    m.refresh_from_db()
    assert m.status == Status.SENT and m.attempts == 2
    # The retry carries the same client reference, so the gateway can de-duplicate it.
    refs = {json.loads(r["body"])["client_ref"] for r in gateway.requests}
    assert refs == {"k"} and len(gateway.requests) == 2


def test_a_4xx_answer_fails_the_message_without_retry(gateway, transport):
    gateway.answers.append((400, {"code": "INVALID_MOBILE", "message": f"bad mobile {PHONE}"}, 0))
    m = queue()
    assert outbox.sweep()["failed"] == 1
    m.refresh_from_db()
    assert m.status == Status.FAILED and "INVALID_MOBILE" in m.last_error and PHONE not in m.last_error
    assert len(gateway.requests) == 1


def test_a_2xx_with_an_error_code_is_a_permanent_failure(gateway, transport):
    gateway.answers.append((200, {"code": "TEMPLATE_REJECTED", "message": "模板未审核"}, 0))
    with pytest.raises(PermanentError, match="TEMPLATE_REJECTED"):
        transport.send(queue())


def test_a_429_is_retried(gateway, transport):
    gateway.answers.append((429, {"code": "RATE"}, 0))
    with pytest.raises(TransientError, match="429"):
        transport.send(queue())


def test_a_gateway_that_does_not_answer_in_time_is_retried(gateway, transport):
    gateway.answers.append((200, {"code": "0", "message_id": "late"}, 1.5))
    m = queue()
    started = time.monotonic()
    assert outbox.sweep()["queued"] == 1
    assert time.monotonic() - started < 1.4  # gave up at the 0.5 s timeout
    m.refresh_from_db()
    assert m.status == Status.QUEUED and "timeout" in m.last_error


def test_an_unreachable_gateway_is_retried(transport):
    transport.url = "http://127.0.0.1:9/closed"
    with pytest.raises(TransientError):
        transport.send(queue())


def test_a_template_without_a_gateway_id_fails_permanently(transport):
    m = enqueue("sms", PHONE, "unknown.template", {}, idempotency_key="x")
    with pytest.raises(PermanentError, match=r"unknown\.template"):
        transport.send(m)


def test_an_email_is_not_sent_through_the_sms_gateway(transport):
    m = enqueue("email", "patient@example.org", "complaint.received", {}, idempotency_key="e")
    with pytest.raises(PermanentError):
        transport.send(m)


def test_the_gateway_needs_its_url_account_secret_and_signature():
    with pytest.raises(ImproperlyConfigured):
        HttpSmsTransport(url="", account="a", secret="s", signature="x")
    with pytest.raises(ImproperlyConfigured):
        HttpSmsTransport(url="https://sms.example", account="a", secret="", signature="x")


def test_the_transport_reads_its_settings(settings):
    settings.SMS_GATEWAY_URL = "https://sms.example/api"
    settings.SMS_GATEWAY_ACCOUNT = "acc"
    settings.SMS_GATEWAY_SECRET = "sec"
    settings.SMS_GATEWAY_SIGNATURE = "某某医院"
    settings.SMS_GATEWAY_TEMPLATES = {"a": "T1"}
    t = HttpSmsTransport()
    assert (t.url, t.account, t.signature, t.templates) == ("https://sms.example/api", "acc", "某某医院", {"a": "T1"})
