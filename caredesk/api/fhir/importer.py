"""``import_fhir``: FHIR Patient and Encounter resources into the patient archive.

Every resource passes through the ingest log (``IngestMessage``: channel fhir, sender = the source,
control id = ``Resource/id``, content hash), so a re-run changes nothing; resources that fail R4B
validation or cannot be applied are kept there with the reason. Patients go first, so an Encounter
that comes before its Patient in a file still finds it. Writes go through ``upsert_patient`` and
``record_encounter`` (which call the domain hooks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from caredesk.intake.models import IngestMessage
from caredesk.patients.actions import record_encounter, upsert_patient
from caredesk.patients.data import EncounterData, PatientData
from caredesk.patients.models import Patient, PatientIdentifier

from . import mapping, reader

log = logging.getLogger(__name__)

STATUS_TO_COUNT = {"created": "imported", "updated": "updated", "unchanged": "unchanged"}


@dataclass
class Result:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)

    def line(self) -> str:
        return f"imported={self.imported} updated={self.updated} unchanged={self.unchanged} rejected={self.rejected}"


class Rejected(Exception):
    pass


def default_source(path: Path) -> str:
    return (path.name if path.is_dir() else path.name.split(".", 1)[0]) or "fhir"


def _log_row(item: reader.Item, sender: str) -> tuple[IngestMessage, bool]:
    """The ingest-log row of this exact resource (created when new)."""
    row, created = IngestMessage.objects.get_or_create(
        channel=IngestMessage.Channel.FHIR,
        sender=sender,
        control_id=item.control_id[:120],
        content_hash=item.content_hash,
        defaults={"message_type": item.resource_type[:40], "payload": item.raw or "-"},
    )
    if created and item.resource_type and item.resource_id:
        reused = (
            IngestMessage.objects.filter(channel=IngestMessage.Channel.FHIR, sender=sender, control_id=row.control_id)
            .exclude(pk=row.pk)
            .exists()
        )
        if reused:
            row.control_id_reused = True
            row.save(update_fields=["control_id_reused"])
    elif not created:
        row.attempts += 1
        row.save(update_fields=["attempts"])
    return row, created


def _find_patient(reference: str, source: str, local: dict[str, int]) -> Patient | None:
    if reference in local:
        return Patient.objects.filter(pk=local[reference]).first()
    ident = PatientIdentifier.objects.select_related("patient").filter(system=f"FHIR:{source}", value=reference).first()
    return ident.patient if ident else None


def _encounter_patient(resource: dict[str, Any], source: str, local: dict[str, int]) -> Patient:
    subject = resource.get("subject") or {}
    reference = mapping.patient_reference(str(subject.get("reference") or ""))
    patient = _find_patient(reference, source, local) if reference else None
    ident = subject.get("identifier") or {}
    if patient is None and ident.get("value"):
        data = PatientData(name="", **_identifier_fields(ident))
        from caredesk.patients.actions import find_patient

        patient = find_patient(data)
    if patient is None:
        raise Rejected("subject: patient not found")
    return patient


def _identifier_fields(ident: dict[str, Any]) -> dict[str, Any]:
    fields = mapping.patient_fields({"resourceType": "Patient", "identifier": [ident]}, source="")
    return {k: v for k, v in fields.items() if k in ("id_number", "outpatient_no", "inpatient_no", "insurance_no", "identifiers")}


def _apply(item: reader.Item, source: str, local: dict[str, int]) -> tuple[str, int]:
    resource = item.resource or {}
    if item.resource_type == "Patient":
        fields = mapping.patient_fields(resource, source=source)
        fields["identifiers"][f"FHIR:{source}"] = item.resource_id  # also when the id came from fullUrl
        if not fields["name"]:
            raise Rejected("name: missing")
        patient, status = upsert_patient(PatientData(**fields), source=f"fhir:{source}")
        return status, patient.pk
    patient = _encounter_patient(resource, source, local)
    fields = mapping.encounter_fields(resource, source=source)
    _encounter, status = record_encounter(patient, EncounterData(**fields))
    return status, patient.pk


def import_path(path: Path, *, source: str = "", report: Callable[[str, str], None] | None = None) -> Result:
    source = source or default_source(path)
    result = Result()
    items = list(reader.read_path(path))
    # Patients first: an Encounter may come before its Patient in the stream.
    items.sort(key=lambda i: 0 if i.resource_type == "Patient" else 1)
    local: dict[str, int] = {}  # logical id / urn:uuid of this run's patients -> pk

    def reject(item: reader.Item, row: IngestMessage | None, reason: str) -> None:
        result.rejected += 1
        result.rejects.append((item.where, reason))
        if row is not None:
            IngestMessage.objects.filter(pk=row.pk).update(
                status=IngestMessage.Status.ERROR, error=f"{item.where}: {reason}"[:2000], processed_at=timezone.now()
            )
        log.warning("fhir.rejected", extra={"where": item.where, "reason": reason})
        if report:
            report(item.where, reason)

    for item in items:
        row, _created = _log_row(item, source)
        if item.error:
            reject(item, row, item.error)
            continue
        if row.status == IngestMessage.Status.APPLIED:
            result.unchanged += 1
            if item.resource_type == "Patient" and row.patient_id:
                local[item.resource_id] = row.patient_id
            continue
        try:
            with transaction.atomic():
                status, patient_id = _apply(item, source, local)
        except Rejected as exc:
            reject(item, row, str(exc))
            continue
        except (IntegrityError, ValueError, TypeError) as exc:
            reject(item, row, f"{type(exc).__name__}")
            continue
        if item.resource_type == "Patient":
            local[item.resource_id] = patient_id
            if item.full_url:
                local[mapping.patient_reference(item.full_url) or item.full_url] = patient_id
        setattr(result, STATUS_TO_COUNT[status], getattr(result, STATUS_TO_COUNT[status]) + 1)
        IngestMessage.objects.filter(pk=row.pk).update(
            status=IngestMessage.Status.APPLIED, error="", patient_id=patient_id, processed_at=timezone.now()
        )
    log.info("fhir.import", extra={"source": source, **{k: getattr(result, k) for k in ("imported", "updated", "unchanged", "rejected")}})
    return result
