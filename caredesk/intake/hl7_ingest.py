"""Store-then-apply for HL7 v2 messages.

Every message is first written to the ingest log in its own transaction (so nothing is lost),
then applied through the patient archive's actions in a second one. Identity of a message:
(sender, control id, content hash). The same message again is acknowledged and not applied twice;
a different message that reuses a control id is applied and flagged.
"""

from __future__ import annotations

import hashlib
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from caredesk.core import audit
from caredesk.patients import actions as patient_actions
from caredesk.patients.data import PatientData
from caredesk.patients.models import Encounter, Patient

from .hl7_adt import SUPPORTED_TRIGGERS, HL7Error, Message, build_ack, normalise, to_event
from .models import IngestMessage

log = logging.getLogger(__name__)
SOURCE = "hl7"


def receive(raw: bytes | str, *, peer: str = "") -> str:
    """Take one message, return the ACK to send back. Never raises for bad input."""
    text = normalise(raw)
    try:
        msg = Message.parse(text)
    except HL7Error as exc:
        _store_unreadable(text, str(exc), peer)
        return build_ack(None, "AR", str(exc))
    row, fresh = _store(msg, text, peer)
    if not fresh and row.status in (IngestMessage.Status.APPLIED, IngestMessage.Status.IGNORED, IngestMessage.Status.DUPLICATE):
        log.info("hl7 duplicate ingest_id=%s", row.pk)
        return build_ack(msg, "AA", "duplicate, already applied")
    return apply(row, msg)


def _store_unreadable(text: str, error: str, peer: str) -> None:
    digest = hashlib.sha256(text.encode()).hexdigest()
    IngestMessage.objects.get_or_create(
        channel=IngestMessage.Channel.HL7, sender="", control_id="", content_hash=digest,
        defaults={"payload": text, "status": IngestMessage.Status.ERROR, "error": error, "ack_code": "AR", "peer": peer},
    )


def _store(msg: Message, text: str, peer: str) -> tuple[IngestMessage, bool]:
    digest = hashlib.sha256(text.encode()).hexdigest()
    key = {"channel": IngestMessage.Channel.HL7, "sender": msg.sender[:120], "control_id": msg.control_id[:120]}
    try:
        with transaction.atomic():
            reused = IngestMessage.objects.filter(**key).exclude(content_hash=digest).exists()
            row = IngestMessage.objects.create(
                **key, content_hash=digest, payload=text, message_type=msg.message_type[:40],
                control_id_reused=reused, peer=peer[:64],
            )
            return row, True
    except IntegrityError:
        row = IngestMessage.objects.get(**key, content_hash=digest)
        IngestMessage.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
        return row, False


def apply(row: IngestMessage, msg: Message | None = None, *, acting_user: object = None) -> str:
    """Apply a stored message (also used by replay). Returns the ACK text."""
    msg = msg or Message.parse(row.payload)
    code, note, patient_id = "AA", "", None
    status = IngestMessage.Status.APPLIED
    try:
        if not msg.message_type.startswith("ADT") or msg.trigger not in SUPPORTED_TRIGGERS:
            status, note = IngestMessage.Status.IGNORED, f"message type {msg.message_type} not used"
        else:
            with transaction.atomic():
                patient_id = _apply_adt(msg, acting_user)
    except HL7Error as exc:
        code, note, status = exc.code, str(exc), IngestMessage.Status.ERROR
    except Exception as exc:  # any failure is answered with AE and kept for replay
        # Type only: an exception's text may quote patient data.
        log.error("hl7 apply failed ingest_id=%s error=%s", row.pk, type(exc).__name__)
        code, note, status = "AE", f"{type(exc).__name__}", IngestMessage.Status.ERROR
    IngestMessage.objects.filter(pk=row.pk).update(
        status=status, error=note if status == IngestMessage.Status.ERROR else "", ack_code=code,
        patient_id=patient_id, processed_at=timezone.now(),
    )
    return build_ack(msg, code, note if code != "AA" else "")


def _apply_adt(msg: Message, acting_user: object) -> int:
    event = to_event(msg)
    patient, _status = patient_actions.upsert_patient(event.patient, source=SOURCE, acting_user=acting_user)
    if event.trigger == "A40":  # a patient-level event: any PV1 it carries is not a visit to record
        _merge(patient, event.prior_identifiers, acting_user)
        return patient.pk
    if event.encounter is not None:
        existing = Encounter.objects.filter(
            source_system=event.encounter.source_system, source_id=event.encounter.source_id
        ).first()
        if event.trigger == "A11":
            if existing is None:
                raise HL7Error("A11 要取消的就诊不存在（visit to cancel not found）", code="AE")
            patient_actions.cancel_encounter(existing, acting_user=acting_user)
        elif event.trigger == "A13":
            if existing is None:
                raise HL7Error("A13 要撤销出院的就诊不存在（visit not found）", code="AE")
            patient_actions.cancel_discharge(existing, acting_user=acting_user)
        else:
            if event.trigger != "A03":
                event.encounter.discharged_at = None  # only a discharge message sets the discharge
            patient_actions.record_encounter(patient, event.encounter, acting_user=acting_user)
    elif event.trigger in {"A03", "A11", "A13"}:
        raise HL7Error("PV1-19 就诊号为空（visit number missing）")
    return patient.pk


def _merge(survivor: Patient, prior: dict[str, str], acting_user: object) -> None:
    id_number = prior.pop("__id_number__", "")
    # The archive's own matching (identifiers, then ID number) finds the record to merge away.
    merged = patient_actions.find_patient(PatientData(name="", id_number=id_number, identifiers=prior))
    if merged is None:
        raise HL7Error("A40 要合并的原患者不存在（prior patient not found）", code="AE")
    if merged.pk != survivor.pk:
        patient_actions.merge_patients(survivor, merged, acting_user=acting_user)
        audit.record(actor=acting_user, verb="hl7.merged", target=survivor, merged_id=merged.pk)
