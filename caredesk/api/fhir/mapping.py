"""Identifier systems and code tables shared by the FHIR export (views) and import (import_fhir).

Decisions (docs/decisions.md): the resident identity card number (居民身份证号) uses the OID
``urn:oid:2.16.156.10011.1.1`` with identifier type ``NNCHN``; 门诊号 and 住院号 use CareDesk URNs with
type ``MR`` and the Chinese label as type text; 医保号 uses type ``SN``. Other stored identifiers are
exported under ``urn:caredesk:identifier:<system>`` unless they came from FHIR (``FHIR:<system>``),
which go back out under their own system."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

ID_NUMBER_SYSTEM = "urn:oid:2.16.156.10011.1.1"
OUTPATIENT_SYSTEM = "urn:caredesk:outpatient-no"
INPATIENT_SYSTEM = "urn:caredesk:inpatient-no"
INSURANCE_SYSTEM = "urn:caredesk:insurance-no"
LOCAL_SYSTEM_PREFIX = "urn:caredesk:identifier:"
PATIENT_ID_SYSTEM = "urn:caredesk:patient"
OUTCOME_SYSTEM = "urn:caredesk:encounter-outcome"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"

# system -> (PatientData field, v2-0203 type code, type text)
CORE_IDENTIFIERS = {
    ID_NUMBER_SYSTEM: ("id_number", "NNCHN", "居民身份证"),
    OUTPATIENT_SYSTEM: ("outpatient_no", "MR", "门诊号"),
    INPATIENT_SYSTEM: ("inpatient_no", "MR", "住院号"),
    INSURANCE_SYSTEM: ("insurance_no", "SN", "医保号"),
}
# Other OIDs/URIs senders use for the Chinese resident ID card.
ID_NUMBER_ALIASES = {ID_NUMBER_SYSTEM, "urn:oid:1.2.156.112604.1.2.1", "urn:oid:2.16.156.10011.1.1.1"}

# v2-0203 identifier types that are personal documents (stored identifiers are not encrypted).
PERSONAL_DOCUMENT_TYPES = {"SS", "DL", "PPN", "SB"}

GENDER_TO_SEX = {"male": "M", "female": "F", "other": "U", "unknown": "U"}
SEX_TO_GENDER = {"M": "male", "F": "female", "U": "unknown"}

INPATIENT_CLASSES = {"IMP", "ACUTE", "NONAC", "inpatient"}

# FHIR discharge-disposition -> Encounter.Outcome
DISPOSITION_TO_OUTCOME = {
    "exp": "died",
    "hosp": "transferred",
    "other-hcf": "transferred",
    "snf": "transferred",
    "long": "transferred",
    "rehab": "transferred",
    "psy": "transferred",
    "aadvice": "other",
    "oth": "other",
}
OUTCOME_TO_DISPOSITION = {"died": "exp", "transferred": "other-hcf", "other": "oth"}

FHIR_STATUS_TO_STATUS = {
    "planned": "planned",
    "arrived": "active",
    "triaged": "active",
    "in-progress": "active",
    "onleave": "active",
    "cancelled": "cancelled",
    "entered-in-error": "cancelled",
}
STATUS_TO_FHIR = {"planned": "planned", "active": "in-progress", "discharged": "finished", "cancelled": "cancelled"}

_CJK = re.compile(r"[\u3400-\u9fff]")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text or ""))


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    if len(value) == 4:  # FHIR allows a year only
        return None
    if len(value) == 7:
        return None
    return parse_date(value[:10])


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    if len(value) == 10:
        value = value + "T00:00:00+08:00"
    return parse_datetime(value)


def human_name(names: list[dict[str, Any]]) -> str:
    """One display name: the official name (else the first); ``text`` wins; Chinese names are
    family + given without a space, others "given family"."""
    if not names:
        return ""
    chosen = next((n for n in names if n.get("use") == "official"), names[0])
    if chosen.get("text"):
        return str(chosen["text"]).strip()
    family = str(chosen.get("family") or "").strip()
    given = [str(g).strip() for g in chosen.get("given") or []]
    if has_cjk(family) or any(has_cjk(g) for g in given):
        return family + "".join(given)
    return " ".join([*given, family]).strip()


def address_text(addresses: list[dict[str, Any]]) -> str:
    if not addresses:
        return ""
    chosen = next((a for a in addresses if a.get("use") == "home"), addresses[0])
    if chosen.get("text"):
        return str(chosen["text"]).strip()
    lines = [str(x) for x in chosen.get("line") or []]
    parts = [str(chosen.get(k) or "") for k in ("state", "city", "district")]
    if any(has_cjk(p) for p in [*parts, *lines]):
        return "".join([*parts, *lines])
    return ", ".join(p for p in [*lines, chosen.get("city") or "", chosen.get("state") or "", chosen.get("postalCode") or ""] if p)


def code_text(concept: dict[str, Any] | None) -> tuple[str, str]:
    """(text, code) of a CodeableConcept."""
    if not concept:
        return "", ""
    codings = concept.get("coding") or []
    first = codings[0] if codings else {}
    text = concept.get("text") or first.get("display") or first.get("code") or ""
    return str(text), str(first.get("code") or "")


def patient_fields(resource: dict[str, Any], *, source: str) -> dict[str, Any]:
    """Keyword arguments for ``PatientData`` from a validated FHIR Patient. The resource's logical
    id is kept as identifier ``FHIR:<source>`` so Encounters can find their patient."""
    fields: dict[str, Any] = {
        "name": human_name(resource.get("name") or []),
        "sex": GENDER_TO_SEX.get(str(resource.get("gender") or ""), ""),
        "birth_date": _date(resource.get("birthDate")),
        "address": address_text(resource.get("address") or []),
        "identifiers": {},
        "other_phones": [],
    }
    identifiers: dict[str, str] = fields["identifiers"]
    if resource.get("id"):
        identifiers[f"FHIR:{source}"] = str(resource["id"])
    for ident in resource.get("identifier") or []:
        system, value = str(ident.get("system") or ""), str(ident.get("value") or "").strip()
        if not value:
            continue
        if system in ID_NUMBER_ALIASES:
            fields["id_number"] = value
        elif system in CORE_IDENTIFIERS:
            fields[CORE_IDENTIFIERS[system][0]] = value
        elif system == PATIENT_ID_SYSTEM:
            continue  # our own record id coming back: not an identity of the sender
        elif system.startswith(LOCAL_SYSTEM_PREFIX):
            identifiers[system[len(LOCAL_SYSTEM_PREFIX) :]] = value
        elif _is_personal_document(ident, system):
            continue  # foreign SSN / driving licence / passport: not kept in clear (decisions.md)
        elif system:
            identifiers[f"FHIR:{system}"] = value
    phones = [t for t in resource.get("telecom") or [] if t.get("system") in ("phone", "sms") and t.get("value")]
    phones.sort(key=lambda t: 0 if t.get("use") == "mobile" else 1)
    if phones:
        fields["mobile"] = str(phones[0]["value"]).strip()
        fields["other_phones"] = [str(t["value"]).strip() for t in phones[1:]]
    if resource.get("deceasedDateTime"):
        fields["deceased_at"] = _datetime(resource["deceasedDateTime"])
    return fields


def _is_personal_document(ident: dict[str, Any], system: str) -> bool:
    codes = {str(c.get("code") or "") for c in (ident.get("type") or {}).get("coding") or []}
    return bool(codes & PERSONAL_DOCUMENT_TYPES) or system.endswith("/us-ssn")


def patient_reference(reference: str) -> str:
    """The logical id or urn:uuid of ``Patient/<id>``, ``urn:uuid:<id>`` or a full URL."""
    reference = (reference or "").strip()
    if reference.startswith("urn:uuid:"):
        return reference[len("urn:uuid:") :]
    if "/Patient/" in reference:
        return reference.split("/Patient/", 1)[1].split("/", 1)[0]
    if reference.startswith("Patient/"):
        return reference[len("Patient/") :].split("/", 1)[0]
    return ""


def encounter_fields(resource: dict[str, Any], *, source: str) -> dict[str, Any]:
    """Keyword arguments for ``EncounterData`` from a validated FHIR Encounter."""
    cls = resource.get("class") or {}
    kind = "inpatient" if cls.get("code") in INPATIENT_CLASSES else "outpatient"
    period = resource.get("period") or {}
    start, end = _datetime(period.get("start")), _datetime(period.get("end"))
    department = ""
    service_type = resource.get("serviceType")
    if service_type:
        department = code_text(service_type)[0]
    doctor = ""
    for participant in resource.get("participant") or []:
        individual = participant.get("individual") or {}
        if individual.get("display"):
            doctor = str(individual["display"])
            break
    reasons = resource.get("reasonCode") or []
    diagnosis_text, diagnosis_code = code_text(reasons[0] if reasons else None)
    hosp = resource.get("hospitalization") or {}
    outcome = ""
    disposition = hosp.get("dischargeDisposition")
    if disposition:
        codings = disposition.get("coding") or []
        ours = next((c for c in codings if c.get("system") == OUTCOME_SYSTEM), None)
        if ours:
            outcome = str(ours.get("code") or "")
        elif codings:
            outcome = DISPOSITION_TO_OUTCOME.get(str(codings[0].get("code") or ""), "other")
    fhir_status = str(resource.get("status") or "")
    status = FHIR_STATUS_TO_STATUS.get(fhir_status, "")
    if fhir_status == "finished":
        status = "discharged" if kind == "inpatient" and end else ""
    return {
        "kind": kind,
        "source_system": f"FHIR:{source}",
        "source_id": str(resource.get("id") or ""),
        "department": department,
        "doctor": doctor,
        "diagnosis_text": diagnosis_text[:500],
        "diagnosis_code": diagnosis_code[:64],
        "visit_at": start,
        "admitted_at": start if kind == "inpatient" else None,
        "discharged_at": end if kind == "inpatient" else None,
        "outcome": outcome,
        "status": status,
    }
