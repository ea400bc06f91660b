"""Store-then-apply for HL7 v2 messages.

Every message is written to the ingest log first, then applied through the patient archive's
actions inside a savepoint, and its status recorded, all in one transaction per message: either
the message, its effects and its status commit together, or nothing does and no ACK AA goes out
(the sender resends). A failure while applying rolls back the savepoint only: the message stays in
the log with its error (ACK AE/AR) for staff to replay. Should even that transaction fail, the
message is stored on its own as an error, as before. Identity of a message: (sender, control id,
content hash). The same message again is acknowledged and not applied twice; a different message
that reuses a control id is applied and flagged.

Out-of-order messages: every message carries its time (MSH-7, else EVN-2). A message older than
the newest one already applied to the same patient or encounter (``feed_event_at``) is stored,
acknowledged with AA and flagged ``stale``; its older data does not overwrite the newer.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils import timezone

from caredesk.core import audit
from caredesk.patients import actions as patient_actions
from caredesk.patients import fastsql
from caredesk.patients.data import PatientData
from caredesk.patients.models import Encounter, Patient

from .hl7_adt import SUPPORTED_TRIGGERS, HL7Error, Message, build_ack, normalise, parse_ts, to_event
from .models import IngestMessage

if TYPE_CHECKING:
    from caredesk.patients.directory import Directory

log = logging.getLogger(__name__)
SOURCE = "hl7"
DONE = (IngestMessage.Status.APPLIED, IngestMessage.Status.IGNORED, IngestMessage.Status.DUPLICATE)


_PROCESSED_AT = models.DateTimeField()  # adapts the timestamp for plain SQL as the model field would


def _table() -> str:
    return connection.ops.quote_name(IngestMessage._meta.db_table)


def receive(raw: bytes | str, *, peer: str = "", directory: Directory | None = None) -> str:
    """Take one message, return the ACK to send back. Never raises for bad input."""
    text = normalise(raw)
    try:
        msg = Message.parse(text)
    except HL7Error as exc:
        _store_unreadable(text, str(exc), peer)
        return build_ack(None, "AR", str(exc))
    try:
        with transaction.atomic():
            row, fresh = _store(msg, text, peer)
            if not fresh and row.status in DONE:
                log.info("hl7 duplicate ingest_id=%s", row.pk)
                return build_ack(msg, "AA", "duplicate, already applied")
            return apply(row, msg, directory=directory)
    except DatabaseError as exc:
        # The one-transaction path failed as a whole (not the apply step, which has its own
        # savepoint): keep the message on its own so it is not lost, and answer AE.
        log.error("hl7 message transaction failed error=%s", type(exc).__name__)
        row, _fresh = _store(msg, text, peer)
        IngestMessage.objects.filter(pk=row.pk).exclude(status__in=DONE).update(
            status=IngestMessage.Status.ERROR, error=type(exc).__name__, ack_code="AE", processed_at=timezone.now(),
        )
        return build_ack(msg, "AE", type(exc).__name__)


def _store_unreadable(text: str, error: str, peer: str) -> None:
    digest = hashlib.sha256(text.encode()).hexdigest()
    IngestMessage.objects.get_or_create(
        channel=IngestMessage.Channel.HL7, sender="", control_id="", content_hash=digest,
        defaults={"payload": text, "status": IngestMessage.Status.ERROR, "error": error, "ack_code": "AR", "peer": peer},
    )


def message_time(msg: Message) -> datetime | None:
    return parse_ts(msg.get("MSH", 7)) or parse_ts(msg.get("EVN", 2))


def _store(msg: Message, text: str, peer: str) -> tuple[IngestMessage, bool]:
    """(row, fresh). One query finds every earlier message with this sender and control id: the
    same content is this message again, other content means the control id was reused."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    key = {"channel": IngestMessage.Channel.HL7, "sender": msg.sender[:120], "control_id": msg.control_id[:120]}
    with connection.cursor() as cur:  # plain SQL: runs for every message (ingest_control_idx)
        cur.execute(f"SELECT id, content_hash, attempts FROM {_table()} WHERE channel = %s AND sender = %s "  # noqa: S608
                    "AND control_id = %s", [key["channel"], key["sender"], key["control_id"]])
        earlier = cur.fetchall()
    same = next((e for e in earlier if e[1] == digest), None)
    if same is None:
        try:
            with transaction.atomic():
                row = IngestMessage(
                    **key, content_hash=digest, payload=text, message_type=msg.message_type[:40],
                    control_id_reused=bool(earlier), peer=peer[:64], message_at=message_time(msg),
                )
                fastsql.insert(row)
                return row, True
        except IntegrityError:  # another connection stored the same message a moment ago
            pass
    row = IngestMessage.objects.get(**key, content_hash=digest)
    IngestMessage.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
    return row, False


def apply(row: IngestMessage, msg: Message | None = None, *, acting_user: object = None,
          directory: Directory | None = None) -> str:
    """Apply a stored message (also used by replay). Returns the ACK text."""
    msg = msg or Message.parse(row.payload)
    code, note, patient_id, stale = "AA", "", None, False
    status = IngestMessage.Status.APPLIED
    try:
        if not msg.message_type.startswith("ADT") or msg.trigger not in SUPPORTED_TRIGGERS:
            status, note = IngestMessage.Status.IGNORED, f"message type {msg.message_type} not used"
        else:
            with transaction.atomic():
                patient_id, skipped = _apply_adt(msg, acting_user, directory)
            if skipped:
                stale = True
                note = "stale: " + ", ".join(skipped)
                log.info("hl7 stale message ingest_id=%s skipped=%s", row.pk, ",".join(skipped))
    except HL7Error as exc:
        code, note, status = exc.code, str(exc), IngestMessage.Status.ERROR
    except Exception as exc:  # any failure is answered with AE and kept for replay
        # Type only: an exception's text may quote patient data.
        log.error("hl7 apply failed ingest_id=%s error=%s", row.pk, type(exc).__name__)
        code, note, status = "AE", f"{type(exc).__name__}", IngestMessage.Status.ERROR
    with connection.cursor() as cur:  # plain SQL: runs for every message
        cur.execute(
            f"UPDATE {_table()} SET status = %s, error = %s, ack_code = %s, patient_id = %s, processed_at = %s, "  # noqa: S608
            "stale = %s WHERE id = %s",
            [status, note if status == IngestMessage.Status.ERROR or stale else "", code, patient_id,
             _PROCESSED_AT.get_db_prep_save(timezone.now(), connection), stale, row.pk],
        )
    return build_ack(msg, code, note if code != "AA" else "")


def _apply_adt(msg: Message, acting_user: object, directory: Directory | None) -> tuple[int, list[str]]:
    """Returns (patient id, parts skipped as stale: "patient" and/or "encounter")."""
    event = to_event(msg)
    as_of = message_time(msg)
    skipped: list[str] = []
    patient, status = patient_actions.upsert_patient(event.patient, source=SOURCE, acting_user=acting_user, as_of=as_of)
    if status == "stale":
        skipped.append("patient")
    if event.trigger == "A40":  # a patient-level event: any PV1 it carries is not a visit to record
        _merge(patient, event.prior_identifiers, acting_user)
        return patient.pk, skipped
    if event.encounter is not None:
        if event.trigger in {"A11", "A13"}:
            existing = Encounter.objects.filter(
                source_system=event.encounter.source_system, source_id=event.encounter.source_id
            ).first()
            if existing is None:
                what = "A11 要取消的就诊不存在（visit to cancel not found）" if event.trigger == "A11" else \
                    "A13 要撤销出院的就诊不存在（visit not found）"
                raise HL7Error(what, code="AE")
            if patient_actions.is_stale(existing.feed_event_at, as_of):
                skipped.append("encounter")
            else:
                if event.trigger == "A11":
                    patient_actions.cancel_encounter(existing, acting_user=acting_user)
                else:
                    patient_actions.cancel_discharge(existing, acting_user=acting_user)
                if as_of is not None:
                    Encounter.objects.filter(pk=existing.pk).update(feed_event_at=as_of)
        else:
            if event.trigger != "A03":
                event.encounter.discharged_at = None  # only a discharge message sets the discharge
            _enc, enc_status = patient_actions.record_encounter(
                patient, event.encounter, acting_user=acting_user, as_of=as_of, directory=directory,
                patient_is_current=True,
            )
            if enc_status == "stale":
                skipped.append("encounter")
    elif event.trigger in {"A03", "A11", "A13"}:
        raise HL7Error("PV1-19 就诊号为空（visit number missing）")
    return patient.pk, skipped


def _merge(survivor: Patient, prior: dict[str, str], acting_user: object) -> None:
    id_number = prior.pop("__id_number__", "")
    # The archive's own matching (identifiers, then ID number) finds the record to merge away.
    merged = patient_actions.find_patient(PatientData(name="", id_number=id_number, identifiers=prior))
    if merged is None:
        raise HL7Error("A40 要合并的原患者不存在（prior patient not found）", code="AE")
    if merged.pk != survivor.pk:
        patient_actions.merge_patients(survivor, merged, acting_user=acting_user)
        audit.record(actor=acting_user, verb="hl7.merged", target=survivor, merged_id=merged.pk)
