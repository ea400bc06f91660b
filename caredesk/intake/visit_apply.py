"""Apply checked visit rows to the patient archive, a batch at a time (the same code for one row or
five thousand, so a small file and a big file give the same result).

Semantics are those of the archive's actions ``upsert_patient`` + ``record_encounter`` (whose value
rules are reused: ``patients.actions._incoming``): patients matched by identity number (blind
index), then 门诊号, then 住院号, then name + mobile, lowest id first, merged records resolved to
their survivor; empty incoming values never blank stored ones; encounters keyed by
(source_system, source_id) and moved to the matched patient; a stay that becomes discharged fires
``patient_discharged`` and, with outcome 死亡, marks the patient deceased at the discharge time.
What the actions do per call is done here per batch: a few bulk lookups, ``refresh_derived_fields``
then ``bulk_create``/``bulk_update``, the hooks called once per encounter/patient concerned. The
audit trail gets the run's single event (see ``actions.import_visits``), not one per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from caredesk.core import pii
from caredesk.core.indexes import hashed_lookup
from caredesk.patients.directory import Directory
from caredesk.patients.pinyin import name_to_pinyin
from caredesk.patients.validators import id_number_facts

from .visit_file import VisitRow

PATIENT_UPDATE_FIELDS = ["name", "sex", "birth_date", "id_number", "mobile", "address", "outpatient_no", "inpatient_no",
                         "source_channel", "name_pinyin", "name_initials", "id_number_bidx", "mobile_bidx", "mobile_last4",
                         "first_visit_at", "last_visit_at", "visit_count", "is_deceased", "deceased_at", "updated_at"]
PATIENT_STATS_FIELDS = ["first_visit_at", "last_visit_at", "visit_count", "is_deceased", "deceased_at", "updated_at"]
ENCOUNTER_UPDATE_FIELDS = ["patient", "kind", "department", "department_name", "doctor", "doctor_name", "diagnosis_text",
                           "visit_at", "admitted_at", "discharged_at", "visit_type", "outcome", "status", "updated_at"]


@lru_cache(maxsize=65536)
def _id_facts(id_number: str) -> tuple[Any, str] | None:
    """(birth date, sex) from a resident ID number, as ``patients.actions._incoming`` derives them
    (``None`` when the archive's validator rejects the number); cached: a patient's rows repeat it."""
    try:
        return id_number_facts(id_number)
    except ValidationError:
        return None


def _incoming_values(r: VisitRow) -> dict[str, Any]:
    """``patients.actions._incoming`` for a checked visit row: the non-empty values, identity
    number and mobile normalised, birth date and sex derived from the identity number when the file
    leaves them empty. (A test checks both give the same result.)"""
    values: dict[str, Any] = {}
    for name in ("name", "outpatient_no", "inpatient_no", "source_channel", "address"):
        value = getattr(r, name).strip()
        if value:
            values[name] = value
    if r.birth_date:
        values["birth_date"] = r.birth_date
    id_number = pii.normalise("id_number", r.id_number) if r.id_number else ""  # the rule of patients.actions._incoming
    if id_number:
        values["id_number"] = id_number
    if r.mobile.strip():
        values["mobile"] = pii.normalise("phone", r.mobile)
    if r.sex in ("M", "F"):
        values["sex"] = r.sex
    if id_number and ("birth_date" not in values or "sex" not in values):  # (a file with both columns needs no facts)
        facts = _id_facts(id_number)
        if facts is not None:
            values.setdefault("birth_date", facts[0])
            values.setdefault("sex", facts[1])
    return values


def match_keys(values: dict[str, Any], id_number_bidx: str, mobile_bidx: str) -> list[tuple[str, str]]:
    """The keys incoming patient values can match a patient by, in ``find_patient``'s order: ID
    number (blind index), 门诊号, 住院号, name + mobile (blind index). Shared by the batch and the
    staged import paths."""
    keys = []
    if values.get("id_number"):
        keys.append(("id", id_number_bidx))
    if values.get("outpatient_no"):
        keys.append(("out", values["outpatient_no"]))
    if values.get("inpatient_no"):
        keys.append(("in", values["inpatient_no"]))
    if values.get("name") and values.get("mobile"):
        keys.append(("name_mobile", f"{values['name']}|{mobile_bidx}"))
    return keys


def row_keys(values: dict[str, Any]) -> list[tuple[str, str]]:
    """``match_keys`` with the blind indexes computed here (the values normalised again: a stored
    patient's may come from elsewhere)."""
    return match_keys(values, pii.blind_index("id_number", values.get("id_number") or ""),
                      pii.blind_index("phone", values.get("mobile") or ""))


@dataclass(slots=True)
class Prepared:
    """What the staged import derives from one row before it looks at the archive: the patient
    values (``_incoming_values``), the matching keys, the blind indexes and the name's pinyin. Pure
    computation (no database), so it can run in the process that reads the file."""

    values: dict[str, Any]
    id_number_bidx: str
    mobile_bidx: str
    pinyin: tuple[str, str]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # positional: the cheapest to pickle
        return Prepared, (self.values, self.id_number_bidx, self.mobile_bidx, self.pinyin)

    @property
    def keys(self) -> list[tuple[str, str]]:
        """The matching keys, from the blind indexes already computed (not sent between processes)."""
        return match_keys(self.values, self.id_number_bidx, self.mobile_bidx)


def prepare(r: VisitRow) -> Prepared:
    values = _incoming_values(r)
    # the values are normalised already; not cached: a file's rows of one patient lie far apart (at
    # a million rows a cache of 100,000 blind indexes hit 6 % of them)
    key = settings.FIELD_ENCRYPTION_KEY  # once: each read goes through the settings proxy
    return Prepared(values, pii.blind_index_of_normalised("id_number", values.get("id_number", ""), key),  # (positional: cheaper)
                    pii.blind_index_of_normalised("phone", values.get("mobile", ""), key), name_to_pinyin(values.get("name", "")))


def prepared(r: VisitRow) -> Prepared:
    """The row's ``Prepared``: as the reading process computed it, or computed now."""
    return r.prepared if r.prepared is not None else prepare(r)


def apply_visit_rows(rows: list[VisitRow], *, source_system: str, acting_user: Any = None) -> list[str]:
    from caredesk.patients import fastsql, hooks
    from caredesk.patients.actions import refresh_visit_stats_of
    from caredesk.patients.models import Encounter, Patient

    incoming = [_incoming_values(r) for r in rows]
    keys_per_row = [row_keys(v) for v in incoming]

    # 1. one query for every patient any row could match, then their survivors
    wanted: dict[str, set[str]] = {"id": set(), "out": set(), "in": set(), "name_mobile": set()}
    for keys in keys_per_row:
        for kind, value in keys:
            wanted[kind].add(value)
    q = Q(pk__in=[])
    if wanted["id"]:
        q |= hashed_lookup("id_number_bidx__in", wanted["id"])
    if wanted["out"]:
        q |= hashed_lookup("outpatient_no__in", wanted["out"])
    if wanted["in"]:
        q |= hashed_lookup("inpatient_no__in", wanted["in"])
    if wanted["name_mobile"]:
        q |= hashed_lookup("mobile_bidx__in", {v.split("|", 1)[1] for v in wanted["name_mobile"]})
    by_pk: dict[int, Any] = {p.pk: p for p in Patient.objects.filter(q).order_by("id")}
    found = list(by_pk.values())
    pending = {p.merged_into_id for p in found if p.merged_into_id} - by_pk.keys()
    while pending:
        more = list(Patient.objects.filter(pk__in=pending))
        by_pk.update({p.pk: p for p in more})
        pending = {p.merged_into_id for p in more if p.merged_into_id} - by_pk.keys()

    def survivor(p: Any) -> Any:
        seen = {p.pk}
        while p.merged_into_id and p.merged_into_id in by_pk and p.merged_into_id not in seen:
            seen.add(p.merged_into_id)
            p = by_pk[p.merged_into_id]
        return p

    key_index: dict[tuple[str, str], Any] = {}
    for p in found:  # lowest id first, as find_patient's order_by("id").first()
        for key in (("id", p.id_number_bidx), ("out", p.outpatient_no), ("in", p.inpatient_no),
                    ("name_mobile", f"{p.name}|{p.mobile_bidx}" if p.mobile_bidx else "")):
            if key[1]:
                key_index.setdefault(key, p)

    # 2. patients: match, fill non-empty fields, create the unknown (later rows of the batch find them)
    new_patients: list[Any] = []
    dirty: dict[int, Any] = {}  # id(patient) -> patient, for existing records
    row_patient: list[Any] = []
    row_patient_changed: list[bool] = []
    for r, pvalues, keys in zip(rows, incoming, keys_per_row, strict=True):
        patient = None
        for kind in ("id", "out", "in", "name_mobile"):
            hit = next((k for k in keys if k[0] == kind), None)
            if hit is not None and hit in key_index:
                patient = survivor(key_index[hit])
                break
        changed = False
        if patient is None:
            patient = fastsql.new_instance(Patient, **pvalues)
            patient.sex = pvalues.get("sex", Patient.Sex.UNKNOWN)
            patient.customer_type = Patient.CustomerType.INPATIENT if r.kind == "inpatient" else Patient.CustomerType.OUTPATIENT
            patient.refresh_derived_fields()
            new_patients.append(patient)
        else:
            diff = [name for name, value in pvalues.items() if getattr(patient, name) != value]
            for name in diff:
                setattr(patient, name, pvalues[name])
            if diff:
                patient.refresh_derived_fields()
                changed = True
                if patient.pk is not None:
                    dirty[id(patient)] = patient
        for key in row_keys({k: getattr(patient, k) for k in ("id_number", "outpatient_no", "inpatient_no", "name", "mobile")}):
            key_index.setdefault(key, patient)
        row_patient.append(patient)
        row_patient_changed.append(changed)
    # New patients have no encounters outside this batch: their visit figures come from the batch's
    # rows (below, before the insert), so they need no UPDATE afterwards.

    # 3. encounters, keyed by (source_system, source_id)
    existing = {e.source_id: e for e in Encounter.objects.filter(source_system=source_system,
                                                                   source_id__in=[r.source_id for r in rows])}
    directory = Directory()  # the departments and doctors of this batch's rows, one snapshot
    to_create: list[Any] = []
    to_update: dict[int, Any] = {}
    discharged_now: list[Any] = []
    statuses: list[str] = []
    owner: dict[int, Any] = {}  # id(encounter) -> its patient after this batch (without loading it)
    moved_from: set[int] = set()  # patients a stored encounter of this batch moved away from
    for r, patient, patient_changed in zip(rows, row_patient, row_patient_changed, strict=True):
        department = directory.department(r.department)
        doctor = directory.doctor(r.doctor, department)
        if department is None and doctor is not None:
            department = doctor.department
        values: dict[str, Any] = {
            "kind": r.kind, "department": department,
            "department_name": r.department or (department.name if department else ""),
            "doctor": doctor, "doctor_name": doctor.name if doctor else r.doctor,
            "diagnosis_text": r.diagnosis[:300], "visit_at": r.visit_at or r.admitted_at, "admitted_at": r.admitted_at,
            "discharged_at": r.discharged_at, "visit_type": r.visit_type, "outcome": r.outcome,
            "status": Encounter.Status.DISCHARGED if r.discharged_at else "",
        }
        values = {k: v for k, v in values.items() if v not in (None, "")}
        enc = existing.get(r.source_id)
        if enc is None:
            enc = fastsql.new_instance(Encounter, patient=patient, source_system=source_system, source_id=r.source_id, **values)
            to_create.append(enc)
            owner[id(enc)] = patient
            existing[r.source_id] = enc
            statuses.append("created")
            if enc.status == Encounter.Status.DISCHARGED:
                discharged_now.append(enc)
            continue
        owner[id(enc)] = patient
        before = enc.status
        diff = [name for name, value in values.items() if getattr(enc, name) != value]
        if enc.patient_id != patient.pk:
            if enc.pk is not None:  # stored: its owner until now
                moved_from.add(enc.patient_id)
            enc.patient = patient
            diff.append("patient")
        for name in diff:
            if name != "patient":
                setattr(enc, name, values[name])
        if diff and enc.pk is not None:
            to_update[enc.pk] = enc
        if before != Encounter.Status.DISCHARGED and enc.status == Encounter.Status.DISCHARGED:
            discharged_now.append(enc)
        statuses.append("updated" if diff or patient_changed else "unchanged")
    now = timezone.now()
    fresh = {id(p): p for p in new_patients}
    for p in new_patients:
        p.visit_count, p.first_visit_at, p.last_visit_at = 0, None, None
    for enc in existing.values():  # every encounter of this batch, created or updated
        p = owner[id(enc)]
        if id(p) in fresh and enc.status != Encounter.Status.CANCELLED:
            at = enc.visit_at or enc.admitted_at
            p.visit_count += 1
            if at is not None:
                p.first_visit_at = at if p.first_visit_at is None or at < p.first_visit_at else p.first_visit_at
                p.last_visit_at = at if p.last_visit_at is None or at > p.last_visit_at else p.last_visit_at
    deceased: list[Any] = []
    for enc in discharged_now:
        p = owner[id(enc)]
        if id(p) in fresh and enc.outcome == Encounter.Outcome.DIED and enc.discharged_at and not p.is_deceased:
            p.is_deceased, p.deceased_at = True, enc.discharged_at
            deceased.append(p)
    fastsql.insert_many(new_patients)
    for enc in to_create:
        enc.patient_id = enc.patient.pk  # the patient may have been new: its id is known only now
    fastsql.insert_many(to_create)
    for enc in to_update.values():
        enc.updated_at = now
        enc.patient_id = owner[id(enc)].pk
    if to_update:
        fastsql.update_many(list(to_update.values()), ENCOUNTER_UPDATE_FIELDS, auto_now=False)  # updated_at set above

    # 4. visit figures of the existing patients touched, deaths, then one UPDATE per patient changed
    touched = {p.pk: p for p in row_patient if id(p) not in fresh}
    stats_dirty: dict[int, Any] = {}
    if touched:
        stats = (Encounter.objects.filter(patient_id__in=touched).exclude(status=Encounter.Status.CANCELLED)
                 .values("patient_id").annotate(n=Count("id"), first=Min(Coalesce("visit_at", "admitted_at")),
                                                last=Max(Coalesce("visit_at", "admitted_at"))))
        for s in stats:
            p = touched[s["patient_id"]]
            if (p.visit_count, p.first_visit_at, p.last_visit_at) != (s["n"], s["first"], s["last"]):
                p.visit_count, p.first_visit_at, p.last_visit_at = s["n"], s["first"], s["last"]
                stats_dirty[id(p)] = p
    for enc in discharged_now:
        p = owner[id(enc)]
        if id(p) not in fresh and enc.outcome == Encounter.Outcome.DIED and enc.discharged_at and not p.is_deceased:
            p.is_deceased, p.deceased_at = True, enc.discharged_at
            stats_dirty[id(p)] = p
            deceased.append(p)
    for p in dirty.values():
        p.updated_at = now
    fastsql.update_many(list(dirty.values()), PATIENT_UPDATE_FIELDS, auto_now=False)  # identity changed: every field
    only_stats = [p for key, p in stats_dirty.items() if key not in dirty]
    for p in only_stats:
        p.updated_at = now
    fastsql.update_many(only_stats, PATIENT_STATS_FIELDS, auto_now=False)  # figures only: nothing re-encrypted
    refresh_visit_stats_of(moved_from)  # former owners of moved encounters (after the writes above)

    # 5. domain hooks, as the actions call them, for the encounters any module can still plan from
    horizon = hooks.planning_horizon()
    hooks.encounters_recorded([e for e in to_create if hooks.may_matter(e.kind, e.visit_at, e.discharged_at, horizon)],
                              [e for e in discharged_now if hooks.discharge_may_matter(e.discharged_at, horizon)])
    hooks.patients_deceased(deceased)
    return statuses
