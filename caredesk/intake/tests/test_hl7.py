"""HL7 v2 ADT over MLLP: real sockets on 127.0.0.1, the listener in a background thread."""

import asyncio
import contextlib
import os
import socket
import threading
from pathlib import Path

import pytest

from caredesk.intake import hl7_server
from caredesk.intake.hl7_adt import Message, normalise
from caredesk.intake.hl7_server import END, frame, serve
from caredesk.intake.models import IngestMessage
from caredesk.patients.models import Encounter, Patient

pytestmark = pytest.mark.django_db(transaction=True)

SHARED = Path(os.environ.get("CAREDESK_SHARED_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))
HL7_DIR = SHARED / "hl7v2"


def adt(trigger, control, *, visit="V100", klass="I", pid="MRN001", name="张^三", discharge="", dead="", mrg=""):
    segments = [
        f"MSH|^~\\&|HIS|CITYHOSP|CAREDESK|KFZX|20260301100000||ADT^{trigger}^ADT_{trigger}|{control}|P|2.5",
        f"EVN|{trigger}|20260301100000",
        f"PID|1||{pid}^^^CITYHOSP^MR~11010519491231002X^^^CHN^NNCHN||{name}||19491231|M|||北京市朝阳区^^^^||13812345678"
        + "|" * 16 + f"{dead}|{'Y' if dead else ''}",  # PID-29 death time, PID-30 death flag
        f"PV1|1|{klass}|WK-GK^301^1||||D001^刘^医生||||||||||||{visit}|||||||||||||||||||||||||20260301090000|{discharge}",
    ]
    if mrg:
        segments.append(f"MRG|{mrg}^^^CITYHOSP^MR")
    return "\r".join(segments)


@pytest.fixture
def listener(monkeypatch):
    # planning only on hang-up or when a batch is due, never while the test itself reads the
    # database (test_planning_waits_for_a_pause covers the pause)
    monkeypatch.setattr(hl7_server, "IDLE_FLUSH", 3600)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def main():
        event = asyncio.Event()
        task = asyncio.ensure_future(serve("127.0.0.1", port, event))
        await event.wait()
        ready.set()
        await task

    def run():
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield port
    loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])
    thread.join(5)


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buffer = b""

    def send(self, text) -> Message:
        self.sock.sendall(frame(text) if isinstance(text, str) else text)
        while END not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "listener closed the connection"
            self.buffer += chunk
        block, self.buffer = self.buffer.split(END, 1)
        return Message.parse(normalise(block))

    def close(self):
        """Hang up and wait for the listener to close its side: it has then planned what it took
        in and closed its database connection (the in-memory test database allows no overlap)."""
        self.sock.shutdown(socket.SHUT_WR)
        while self.sock.recv(65536):
            pass
        self.sock.close()


@pytest.fixture
def pinyin_unloaded():
    from caredesk.patients import pinyin

    pinyin._phrases.cache_clear()
    pinyin._char_pinyin.cache_clear()


def test_the_listener_loads_the_pinyin_dictionaries_before_it_listens(pinyin_unloaded, listener):
    """Otherwise the first new patient's message waits ~0.3 s for them (before its ACK)."""
    from caredesk.patients import pinyin

    assert pinyin._phrases.cache_info().currsize == 1 and pinyin._char_pinyin.cache_info().currsize == 1


def test_admit_then_discharge_ends_discharged_and_acks_echo_the_control_id(listener):
    client = Client(listener)
    ack = client.send(adt("A01", "C1"))
    assert ack.get("MSA", 1) == "AA" and ack.get("MSA", 2) == "C1"
    ack = client.send(adt("A03", "C2", discharge="20260308100000"))
    assert ack.get("MSA", 1) == "AA" and ack.get("MSA", 2) == "C2"
    encounter = Encounter.objects.get(source_id="V100")
    assert encounter.status == Encounter.Status.DISCHARGED and encounter.kind == "inpatient"
    patient = Patient.objects.get()
    assert patient.name == "张三" and patient.id_number == "11010519491231002X"
    client.close()


def test_the_same_message_twice_is_acknowledged_and_applied_once(listener):
    client = Client(listener)
    assert client.send(adt("A01", "D1")).get("MSA", 1) == "AA"
    assert client.send(adt("A01", "D1")).get("MSA", 1) == "AA"
    assert IngestMessage.objects.count() == 1 and IngestMessage.objects.get().attempts == 2
    assert Encounter.objects.count() == 1
    client.close()


def test_a_reused_control_id_with_other_content_is_applied_and_flagged(listener):
    client = Client(listener)
    client.send(adt("A01", "R1", visit="V1"))
    assert client.send(adt("A01", "R1", visit="V2")).get("MSA", 1) == "AA"
    assert Encounter.objects.count() == 2
    assert IngestMessage.objects.filter(control_id_reused=True).count() == 1
    client.close()


def test_garbage_gets_a_nak_is_kept_and_the_connection_still_works(listener):
    client = Client(listener)
    nak = client.send("this is not hl7 at all")
    assert nak.get("MSA", 1) == "AR"
    bad = client.send(adt("A01", "G2", name=""))
    assert bad.get("MSA", 1) == "AR" and bad.get("MSA", 2) == "G2" and "PID-5" in bad.get("MSA", 3)
    assert client.send(adt("A01", "G3")).get("MSA", 1) == "AA"
    assert IngestMessage.objects.filter(status="error").count() == 2
    client.close()


def test_lf_line_ends_and_a_byte_order_mark_are_accepted(listener):
    client = Client(listener)
    raw = b"\x0b\xef\xbb\xbf" + adt("A04", "L1", klass="O", visit="OP1").replace("\r", "\n").encode() + END
    assert client.send(raw).get("MSA", 1) == "AA"
    assert Encounter.objects.get(source_id="OP1").kind == "outpatient"
    client.close()


def test_discharge_before_admission_does_not_reopen_the_stay(listener):
    client = Client(listener)
    client.send(adt("A03", "O1", discharge="20260308100000"))
    client.send(adt("A01", "O2"))
    client.close()
    assert Encounter.objects.get(source_id="V100").status == Encounter.Status.DISCHARGED


def test_cancel_visit_cancel_discharge_and_death(listener):
    client = Client(listener)
    client.send(adt("A03", "X1", discharge="20260308100000"))
    assert client.send(adt("A13", "X2")).get("MSA", 1) == "AA"
    assert Encounter.objects.get(source_id="V100").status != Encounter.Status.DISCHARGED
    assert client.send(adt("A11", "X3")).get("MSA", 1) == "AA"
    assert Encounter.objects.get(source_id="V100").status == Encounter.Status.CANCELLED
    assert client.send(adt("A11", "X4", visit="NOPE")).get("MSA", 1) == "AE"
    client.send(adt("A08", "X5", dead="20260310080000"))
    client.close()
    assert Patient.objects.get().is_deceased


def test_a40_merges_the_prior_record_into_the_survivor(listener):
    client = Client(listener)
    client.send(adt("A04", "M1", pid="OLD1", name="李^四", visit="A").replace("~11010519491231002X^^^CHN^NNCHN", ""))
    second = adt("A04", "M2", pid="NEW1", name="李^四", visit="B").replace("~11010519491231002X^^^CHN^NNCHN", "")
    client.send(second.replace("13812345678", "13900000001"))  # another phone: not matched as the same person
    assert Patient.objects.filter(merged_into__isnull=True).count() == 2
    ack = client.send(adt("A40", "M3", pid="NEW1", name="李^四", mrg="OLD1").replace("~11010519491231002X^^^CHN^NNCHN", ""))
    assert ack.get("MSA", 1) == "AA"
    client.close()
    survivor = Patient.objects.get(merged_into__isnull=True)
    assert survivor.encounters.count() == 2


def test_two_connections_at_once(listener):
    a, b = Client(listener), Client(listener)
    assert a.send(adt("A04", "P1", visit="PA", klass="O")).get("MSA", 1) == "AA"
    assert b.send(adt("A04", "P2", visit="PB", klass="O")).get("MSA", 1) == "AA"
    a.close()
    b.close()
    assert Encounter.objects.count() == 2


def live(text: str) -> str:
    """``text`` dated now (the follow-up centre plans nothing for visits months old)."""
    from django.utils import timezone

    now = timezone.localtime().strftime("%Y%m%d%H%M%S")
    return text.replace("20260301100000", now).replace("20260301090000", now).replace("20260308100000", now)


def test_visits_from_the_feed_are_planned_in_one_batch_from_a_fresh_read(listener):
    from caredesk.followups.models import FollowupTask
    from caredesk.questionnaires.models import Questionnaire
    from caredesk.surveys.models import Invitation, SurveyRule

    SurveyRule.objects.create(name="门诊次日", trigger="outpatient_visit", offset_days=1,
                              questionnaire=Questionnaire.objects.get(code="survey-outpatient"))
    client = Client(listener)
    assert client.send(live(adt("A04", "F1", klass="O", visit="OP1"))).get("MSA", 1) == "AA"
    assert client.send(live(adt("A01", "F2", visit="IP1"))).get("MSA", 1) == "AA"
    assert client.send(live(adt("A03", "F3", visit="IP1", discharge="20260308100000"))).get("MSA", 1) == "AA"
    assert client.send(live(adt("A01", "F4", visit="IP2"))).get("MSA", 1) == "AA"
    assert client.send(live(adt("A03", "F5", visit="IP2", discharge="20260308100000"))).get("MSA", 1) == "AA"
    assert client.send(live(adt("A13", "F6", visit="IP2"))).get("MSA", 1) == "AA"  # that discharge is withdrawn
    assert not FollowupTask.objects.exists()  # the visits are noted, not planned one by one
    client.close()  # hanging up plans what the connection took in
    planned = set(FollowupTask.objects.values_list("encounter__source_id", flat=True))
    assert planned == {"OP1", "IP1"}  # IP2's discharge was cancelled before the batch ran
    assert FollowupTask.objects.filter(encounter__source_id="IP1").count() > 1  # the discharge schedule
    assert list(Invitation.objects.values_list("encounter__source_id", flat=True)) == ["OP1"]


def test_planning_runs_when_the_sender_pauses(listener, monkeypatch):
    from caredesk.followups.models import FollowupTask
    from caredesk.patients.hooks import DeferredPlanning

    done = threading.Event()
    original = DeferredPlanning.flush

    def flush(self):
        planned = original(self)
        if planned:
            done.set()
        return planned

    monkeypatch.setattr(DeferredPlanning, "flush", flush)
    monkeypatch.setattr(hl7_server, "IDLE_FLUSH", 0.05)
    client = Client(listener)
    assert client.send(live(adt("A04", "Q1", klass="O", visit="OP9"))).get("MSA", 1) == "AA"
    assert done.wait(10), "nothing was planned while the sender was quiet"
    assert FollowupTask.objects.filter(encounter__source_id="OP9").exists()
    client.close()


@pytest.mark.skipif(not HL7_DIR.is_dir(), reason=f"shared HL7 samples not found at {HL7_DIR} (set CAREDESK_SHARED_DATA)")
def test_every_shared_sample_gets_an_ack_echoing_its_control_id(listener):
    client = Client(listener)
    for path in sorted(HL7_DIR.glob("*.hl7")):
        raw = path.read_bytes()
        expected = Message.parse(normalise(raw)).control_id
        ack = client.send(b"\x0b" + raw + END)
        assert ack.get("MSA", 2) == expected, path.name
        assert ack.get("MSA", 1) in {"AA", "AE", "AR"}, path.name
    client.close()


def test_the_ingest_log_lists_errors_without_payload_and_replays_them(client, supervisor, agent, org):
    from caredesk.core.models import AuditEvent
    from caredesk.intake import hl7_ingest

    hl7_ingest.receive(adt("A11", "Z1", visit="LATER"))  # the visit is not known yet: AE
    row = IngestMessage.objects.get(control_id="Z1")
    assert row.status == "error"
    client.force_login(agent)
    assert client.get("/intake/messages/").status_code == 403
    client.force_login(supervisor)
    body = client.get("/intake/messages/", {"status": "error"}).content.decode()
    assert "Z1" in body and "13812345678" not in body and "张三" not in body
    hl7_ingest.receive(adt("A04", "Z2", visit="LATER", klass="O"))
    client.post(f"/intake/messages/{row.pk}/replay/")
    row.refresh_from_db()
    assert row.status == "applied"
    assert Encounter.objects.get(source_id="LATER").status == Encounter.Status.CANCELLED
    assert AuditEvent.objects.filter(verb="ingest.replayed", object_id=str(row.pk)).exists()
