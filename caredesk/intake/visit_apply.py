"""Apply checked visit rows to the patient archive, a batch at a time (the same code for one row or
five thousand, so a small file and a big file give the same result).

Semantics follow the archive's actions (``upsert_patient`` / ``record_encounter``): patients are
matched by identity number (blind index), then 门诊号/住院号, then name + mobile; a merged record
resolves to its survivor; empty incoming fields never blank stored ones; encounters are keyed by
(source_system, source_id). What the actions do per call is done here per batch: a few bulk
lookups, ``refresh_derived_fields`` then ``bulk_create``/``bulk_update``, and the domain hooks
called for the encounters and patients concerned. Audit is the run's single event (see actions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, Q

from caredesk.accounts.models import Department
from caredesk.core import pii

from .visit_file import VisitRow

PATIENT_FIELDS = ("name", "sex", "birth_date", "id_number", "mobile", "address", "outpatient_no", "inpatient_no",
                  "source_channel")
ENCOUNTER_FIELDS = ("kind", "patient_id", "department_id", "department_name", "doctor_name", "diagnosis_text", "visit_at",
                    "admitted_at", "discharged_at", "visit_type", "outcome", "status")


def _departments(names: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for pk, code, name in Department.objects.filter(Q(name__in=names) | Q(code__in=names)).values_list("pk", "code", "name"):
        found.setdefault(code, pk)
        found.setdefault(name, pk)
    return found


def apply_visit_rows(rows: list[VisitRow], *, source_system: str, acting_user: Any = None) -> list[str]:
    from caredesk.patients import hooks
    from caredesk.patients.models import Encounter, Patient

    # 1. existing encounters, and patients by every key the rows carry
    encounters = {e.source_id: e for e in Encounter.objects.filter(source_system=source_system,
                                                                      source_id__in=[r.source_id for r in rows])}
    id_bidx = {r.line: pii.blind_index("id_number", r.id_number) for r in rows if r.id_number}
    mobile_bidx = {r.line: pii.blind_index("phone", r.mobile) for r in rows if r.mobile}
    q = Q(pk__in=[e.patient_id for e in encounters.values()])
    if id_bidx:
        q |= Q(id_number_bidx__in=set(id_bidx.values()))
    outs = {r.outpatient_no for r in rows if r.outpatient_no}
    ins = {r.inpatient_no for r in rows if r.inpatient_no}
    if outs:
        q |= Q(outpatient_no__in=outs)
    if ins:
        q |= Q(inpatient_no__in=ins)
    if mobile_bidx:
        q |= Q(mobile_bidx__in=set(mobile_bidx.values()))
    found = list(Patient.objects.filter(q))
    survivors_needed = {p.merged_into_id for p in found if p.merged_into_id}
    by_pk: dict[int, Any] = {p.pk: p for p in found}
    while survivors_needed - by_pk.keys():
        more = list(Patient.objects.filter(pk__in=survivors_needed - by_pk.keys()))
        by_pk.update({p.pk: p for p in more})
        survivors_needed = {p.merged_into_id for p in more if p.merged_into_id}

    def survivor(p: Any) -> Any:
        seen = 0
        while p.merged_into_id and seen < 10:
            p, seen = by_pk[p.merged_into_id], seen + 1
        return p

    key_index: dict[tuple[str, str], Any] = {}
    for p in sorted(found, key=lambda p: (p.merged_into_id is not None, p.pk)):  # active records win ties
        s = survivor(p)
        for key in (("id", p.id_number_bidx), ("out", p.outpatient_no), ("in", p.inpatient_no),
                    ("name_mobile", f"{p.name}|{p.mobile_bidx}" if p.mobile_bidx else "")):
            if key[1]:
                key_index.setdefault(key, s)

    def row_keys(r: VisitRow) -> list[tuple[str, str]]:
        keys = [("id", id_bidx.get(r.line, "")), ("out", r.outpatient_no), ("in", r.inpatient_no),
                ("name_mobile", f"{r.name}|{mobile_bidx[r.line]}" if r.line in mobile_bidx else "")]
        return [k for k in keys if k[1]]

    # 2. patients: match, merge non-empty fields, create the unknown (one record per person per batch)
    new_patients: list[Any] = []
    changed: dict[int, Any] = {}
    row_patient: dict[int, Any] = {}
    patient_changed_rows: set[int] = set()
    for r in rows:
        enc = encounters.get(r.source_id)
        patient = survivor(by_pk[enc.patient_id]) if enc is not None else None
        if patient is None:
            for key in row_keys(r):
                if key in key_index:
                    patient = key_index[key]
                    break
        incoming = {"name": r.name, "sex": r.sex, "birth_date": r.birth_date, "id_number": r.id_number, "mobile": r.mobile,
                    "address": r.address, "outpatient_no": r.outpatient_no, "inpatient_no": r.inpatient_no,
                    "source_channel": r.source_channel}
        if patient is None:
            patient = Patient(**{k: v for k, v in incoming.items() if v not in ("", None)})
            patient.customer_type = "inpatient" if r.kind == "inpatient" else "outpatient"
            new_patients.append(patient)
        else:
            dirty = False
            for k, v in incoming.items():
                if v not in ("", None) and getattr(patient, k) != v:
                    setattr(patient, k, v)
                    dirty = True
            if dirty:
                patient_changed_rows.add(r.line)
                if patient.pk:
                    changed[patient.pk] = patient
        for key in row_keys(r):
            key_index.setdefault(key, patient)
        row_patient[r.line] = patient
    for p in new_patients:
        p.refresh_derived_fields()
    Patient.objects.bulk_create(new_patients)
    for p in changed.values():
        p.refresh_derived_fields()

    # 3. encounters
    dept_ids = _departments({r.department for r in rows if r.department})
    to_create: list[Any] = []
    to_update: list[Any] = []
    newly_discharged: list[Any] = []
    statuses: list[str] = []
    for r in rows:
        patient = row_patient[r.line]
        status = "discharged" if r.discharged_at else "active"
        values = {"kind": r.kind, "patient_id": patient.pk, "department_id": dept_ids.get(r.department),
                  "department_name": r.department, "doctor_name": r.doctor, "diagnosis_text": r.diagnosis,
                  "visit_at": r.visit_at or r.admitted_at, "admitted_at": r.admitted_at, "discharged_at": r.discharged_at,
                  "visit_type": r.visit_type, "outcome": r.outcome, "status": status}
        enc = encounters.get(r.source_id)
        if enc is None:
            enc = Encounter(source_system=source_system, source_id=r.source_id, **values)
            to_create.append(enc)
            encounters[r.source_id] = enc
            statuses.append("created")
            if status == "discharged":
                newly_discharged.append(enc)
            continue
        was = enc.status
        diff = [k for k, v in values.items() if getattr(enc, k) != v]
        for k in diff:
            setattr(enc, k, values[k])
        if diff:
            to_update.append(enc)
            if status == "discharged" and was != "discharged":
                newly_discharged.append(enc)
        statuses.append("updated" if diff or r.line in patient_changed_rows else "unchanged")
    Encounter.objects.bulk_create(to_create)
    if to_update:
        Encounter.objects.bulk_update(to_update, list(ENCOUNTER_FIELDS))

    # 4. derived visit figures and deaths, then one bulk update of the patients touched
    touched = {p.pk: p for p in row_patient.values()}
    for pid, first, last, n in (Encounter.objects.filter(patient_id__in=touched).exclude(status="cancelled")
                                .values("patient_id").annotate(first=Min("visit_at"), last=Max("visit_at"), n=Count("id"))
                                .values_list("patient_id", "first", "last", "n")):
        p = touched[pid]
        if (p.first_visit_at, p.last_visit_at, p.visit_count) != (first, last, n):
            p.first_visit_at, p.last_visit_at, p.visit_count = first, last, n
            changed[pid] = p
    deceased: list[Any] = []
    for r in rows:
        if r.outcome == "died":
            p = row_patient[r.line]
            if not p.is_deceased:
                at: datetime | None = r.discharged_at or r.visit_at or r.admitted_at
                p.is_deceased, p.deceased_at = True, at
                changed[p.pk] = p
                deceased.append(p)
    if changed:
        Patient.objects.bulk_update(list(changed.values()), [
            *PATIENT_FIELDS, "name_pinyin", "name_initials", "id_number_bidx", "mobile_bidx", "mobile_last4",
            "first_visit_at", "last_visit_at", "visit_count", "is_deceased", "deceased_at"])

    # 5. domain hooks, once per encounter / patient concerned
    for enc in to_create:
        hooks.encounter_registered(enc)
    for enc in newly_discharged:
        hooks.patient_discharged(enc)
    for p in deceased:
        hooks.patient_deceased(p)
    return statuses
