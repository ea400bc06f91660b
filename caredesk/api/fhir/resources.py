"""Archive records as FHIR R4 resources, built as JSON and validated with ``fhir.resources.R4B``.

Identity fields (name, ID number, phones, address) are masked unless the caller asked for them
and may reveal them (``accounts.reveal_pii``); see docs/api.md."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fhir.resources.R4B import get_fhir_model_class

from caredesk.core import pii
from caredesk.patients.models import Encounter, Patient

from . import mapping


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through the R4B model: raises on anything that is not valid FHIR R4."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _identifier(system: str, value: str, type_code: str = "", type_text: str = "") -> dict[str, Any]:
    ident: dict[str, Any] = {"system": system, "value": value}
    if type_code:
        ident["type"] = {"coding": [{"system": mapping.V2_0203, "code": type_code}], "text": type_text}
    return ident


def _name(name: str, unmasked: bool) -> dict[str, Any]:
    if not unmasked:
        return {"use": "official", "text": pii.mask_name(name)}
    entry: dict[str, Any] = {"use": "official", "text": name}
    if mapping.has_cjk(name) and len(name) >= 2:
        entry["family"], entry["given"] = name[0], [name[1:]]
    return entry


def patient_resource(patient: Patient, *, unmasked: bool) -> dict[str, Any]:
    identifiers = [_identifier(mapping.PATIENT_ID_SYSTEM, str(patient.pk))]
    if patient.id_number:
        value = patient.id_number if unmasked else pii.mask_id_number(patient.id_number)
        identifiers.append(_identifier(mapping.ID_NUMBER_SYSTEM, value, "NNCHN", "居民身份证"))
    for system, (field_name, code, text) in mapping.CORE_IDENTIFIERS.items():
        if field_name != "id_number" and getattr(patient, field_name):
            identifiers.append(_identifier(system, getattr(patient, field_name), code, text))
    for ident in patient.identifiers.all():
        if ident.system.startswith("FHIR:") and ":" in ident.system[5:]:
            system = ident.system[5:]  # it came from FHIR with a URI system: give it back as it was
        else:
            system = mapping.LOCAL_SYSTEM_PREFIX + quote(ident.system, safe=":")
        identifiers.append(_identifier(system, ident.value))
    telecom = []
    if patient.mobile:
        telecom.append({"system": "phone", "use": "mobile", "value": patient.mobile if unmasked else pii.mask_phone(patient.mobile)})
    for phone in patient.other_phone_list:
        telecom.append({"system": "phone", "use": "home", "value": phone if unmasked else pii.mask_phone(phone)})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "meta": {"lastUpdated": patient.updated_at.isoformat()},
        "identifier": identifiers,
        "active": patient.merged_into_id is None,
        "name": [_name(patient.name, unmasked)],
        "gender": mapping.SEX_TO_GENDER.get(patient.sex, "unknown"),
    }
    if telecom:
        resource["telecom"] = telecom
    if patient.birth_date:
        resource["birthDate"] = patient.birth_date.isoformat()
    if patient.deceased_at:
        resource["deceasedDateTime"] = patient.deceased_at.isoformat()
    elif patient.is_deceased:
        resource["deceasedBoolean"] = True
    if patient.address:
        resource["address"] = [{"use": "home", "text": patient.address if unmasked else pii.mask_address(patient.address)}]
    if patient.merged_into_id:
        resource["link"] = [{"other": {"reference": f"Patient/{patient.merged_into_id}"}, "type": "replaced-by"}]
    return validated(resource)


def encounter_resource(encounter: Encounter) -> dict[str, Any]:
    is_inpatient = encounter.kind == Encounter.Kind.INPATIENT
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(encounter.pk),
        "meta": {"lastUpdated": encounter.updated_at.isoformat()},
        "identifier": [
            {
                "system": "urn:caredesk:encounter-source:" + quote(encounter.source_system or "unknown", safe=":"),
                "value": encounter.source_id,
            }
        ],
        "status": mapping.STATUS_TO_FHIR.get(encounter.status, "finished" if encounter.discharged_at else "unknown"),
        "class": {
            "system": mapping.ACT_CODE,
            "code": "IMP" if is_inpatient else "AMB",
            "display": "inpatient encounter" if is_inpatient else "ambulatory",
        },
        "subject": {"reference": f"Patient/{encounter.patient_id}"},
    }
    department = encounter.department.name if encounter.department else encounter.department_name
    if department:
        service: dict[str, Any] = {"text": department}
        if encounter.department:
            service["coding"] = [{"system": "urn:caredesk:department", "code": encounter.department.code, "display": department}]
        resource["serviceType"] = service
    doctor = encounter.doctor.name if encounter.doctor else encounter.doctor_name
    if doctor:
        resource["participant"] = [
            {
                "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "ATND"}]}],
                "individual": {"display": doctor},
            }
        ]
    start = encounter.admitted_at or encounter.visit_at
    if start or encounter.discharged_at:
        period: dict[str, Any] = {}
        if start:
            period["start"] = start.isoformat()
        if encounter.discharged_at:
            period["end"] = encounter.discharged_at.isoformat()
        resource["period"] = period
    if encounter.diagnosis_text or encounter.diagnosis_code:
        reason: dict[str, Any] = {}
        if encounter.diagnosis_text:
            reason["text"] = encounter.diagnosis_text
        if encounter.diagnosis_code:
            reason["coding"] = [{"system": "urn:caredesk:diagnosis", "code": encounter.diagnosis_code}]
        resource["reasonCode"] = [reason]
    if encounter.outcome:
        codings = [{"system": mapping.OUTCOME_SYSTEM, "code": encounter.outcome, "display": str(encounter.get_outcome_display())}]
        if encounter.outcome in mapping.OUTCOME_TO_DISPOSITION:
            codings.append({"system": mapping.DISCHARGE_DISPOSITION, "code": mapping.OUTCOME_TO_DISPOSITION[encounter.outcome]})
        resource["hospitalization"] = {"dischargeDisposition": {"coding": codings, "text": str(encounter.get_outcome_display())}}
    return validated(resource)


def searchset(entries: list[tuple[str, dict[str, Any]]], total: int, self_url: str) -> dict[str, Any]:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": self_url}],
        "entry": [{"fullUrl": url, "resource": resource, "search": {"mode": "match"}} for url, resource in entries],
    }
    return validated(bundle)


def operation_outcome(code: str, message: str, severity: str = "error") -> dict[str, Any]:
    return validated({"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code, "diagnostics": message}]})
