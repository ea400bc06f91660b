"""Writes on the patient archive. Each is atomic and audited; ``acting_user=None`` means the system
or an integration. Audit details carry ids and field names only, never identity values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, IntegerField, Max, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce

from caredesk.accounts.models import Department, Doctor
from caredesk.core import audit

from . import fastsql, hooks
from .data import EncounterData, PatientData
from .directory import Directory
from .models import Consent, Encounter, Patient, PatientIdentifier, Segment
from .validators import id_number_facts

# the choices' values, once: ``Choices.values`` builds its list again on every access (4–7 µs)
_CUSTOMER_TYPES = frozenset(Patient.CustomerType.values)
_KINDS, _VISIT_TYPES = frozenset(Encounter.Kind.values), frozenset(Encounter.VisitType.values)
_OUTCOMES, _STATUSES = frozenset(Encounter.Outcome.values), frozenset(Encounter.Status.values)
_PLAIN_FIELDS = ("name", "birth_date", "outpatient_no", "inpatient_no", "insurance_no", "source_channel", "address")


def resolve_survivor(patient: Patient) -> Patient:
    """Follow ``merged_into`` (read from the database: the object in hand may be stale) to the record
    that is still in use."""
    seen: set[int] = set()
    current = patient
    while current.pk not in seen:
        seen.add(current.pk)
        target = Patient.objects.filter(pk=current.pk).values_list("merged_into_id", flat=True).first()
        if target is None:
            return current
        current = Patient.objects.get(pk=target)
    return current


def _probe(where: str, params: list[Any]) -> int | None:
    """The lowest patient id matching ``where`` — an indexed probe in plain SQL (these run for every
    feed message; the ORM's query building costs several times the lookup itself)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT id FROM {connection.ops.quote_name(Patient._meta.db_table)} "  # noqa: S608
                    f"WHERE {where} ORDER BY id LIMIT 1", params)
        hit = cur.fetchone()
    return hit[0] if hit else None


def find_patient(data: PatientData) -> Patient | None:
    """Matching order: any identifier → ID-number blind index → 门诊号/住院号 → name + mobile."""
    return _match(data)[0]


def _match(data: PatientData) -> tuple[Patient | None, tuple[str, str] | None]:
    """``find_patient`` and the (system, value) that found the patient, if an identifier did. The
    record is read only once a probe has found its id."""
    from caredesk.core import pii

    found: int | None = None
    matched: tuple[str, str] | None = None
    for system, value in data.identifiers.items():
        if system and value:
            # (system, value) is unique
            with connection.cursor() as cur:
                cur.execute(f"SELECT patient_id FROM {connection.ops.quote_name(PatientIdentifier._meta.db_table)} "  # noqa: S608
                            "WHERE system = %s AND value = %s", [system, value])
                hit = cur.fetchone()
            if hit is not None:
                found, matched = hit[0], (system, value)
                break
    if found is None and data.id_number.strip():
        found = _probe("id_number_bidx = %s AND id_number_bidx <> ''", [pii.blind_index("id_number", data.id_number)])
    if found is None and data.outpatient_no.strip():
        found = _probe("outpatient_no = %s AND outpatient_no <> ''", [data.outpatient_no.strip()])
    if found is None and data.inpatient_no.strip():
        found = _probe("inpatient_no = %s AND inpatient_no <> ''", [data.inpatient_no.strip()])
    if found is None and data.name.strip() and data.mobile.strip():
        found = _probe("name = %s AND mobile_bidx = %s AND mobile_bidx <> ''", [data.name.strip(), pii.blind_index("phone", data.mobile)])
    if found is None:
        return None, None
    patient = fastsql.first(Patient, pk=found)
    if patient is None:
        raise Patient.DoesNotExist(f"patient {found} went away while matched")
    # Just read in this transaction: only a merged record needs following to its survivor.
    if patient.merged_into_id is not None:
        return resolve_survivor(patient), None
    return patient, matched


def _incoming(data: PatientData) -> dict[str, Any]:
    """The non-empty fields of ``data`` as model values (empty ones are left out)."""
    from caredesk.core import pii

    values: dict[str, Any] = {}
    for name in _PLAIN_FIELDS:
        value = getattr(data, name)
        if isinstance(value, str):
            value = value.strip()
        if value:
            values[name] = value
    if data.id_number.strip():
        values["id_number"] = pii.normalise("id_number", data.id_number)  # as its blind index (full-width folded)
    if data.mobile.strip():
        values["mobile"] = pii.normalise("phone", data.mobile)
    if data.sex in (Patient.Sex.MALE, Patient.Sex.FEMALE):
        values["sex"] = data.sex
    if data.customer_type in _CUSTOMER_TYPES:
        values["customer_type"] = data.customer_type
    if "id_number" in values:
        try:
            born, sex = id_number_facts(values["id_number"])
            values.setdefault("birth_date", born)
            values.setdefault("sex", sex)
        except ValidationError:
            pass
    return values


def _add_identifiers(patient: Patient, identifiers: dict[str, str], *, new: bool = False,
                     matched: tuple[str, str] | None = None) -> list[str]:
    """Link the identifiers not yet known. For a patient just created none can be linked to it yet
    (``find_patient`` would have matched it), so they are inserted in one statement; for a known
    patient one query finds those already linked (none when the one identifier sent is ``matched``,
    the one that found the patient), the others go through ``get_or_create``."""
    wanted = {system: value for system, value in identifiers.items() if system and value}
    if not wanted:
        return []
    if new:
        for system, value in wanted.items():
            fastsql.insert(PatientIdentifier(patient=patient, system=system, value=value))
        return list(wanted)
    if matched is not None and list(wanted.items()) == [matched]:
        return []  # the one identifier sent is the one that found this patient
    known = set(PatientIdentifier.objects.filter(patient=patient, system__in=list(wanted)).values_list("system", "value"))
    added = []
    for system, value in wanted.items():
        if (system, value) in known:
            continue
        _ident, created = PatientIdentifier.objects.get_or_create(system=system, value=value, defaults={"patient": patient})
        if created:
            added.append(system)
    return added


def is_stale(stamp: datetime | None, as_of: datetime | None) -> bool:
    """A feed message dated ``as_of`` is older than the newest one already applied (``stamp``)."""
    return as_of is not None and stamp is not None and as_of < stamp


@transaction.atomic
def upsert_patient(
    data: PatientData, *, source: str, acting_user: Any = None, as_of: datetime | None = None
) -> tuple[Patient, str]:
    """Create or update the patient ``data`` describes. ``as_of`` is the time of the feed message
    carrying it (HL7 MSH-7): a message older than the newest one applied to this patient changes
    nothing and gives "stale"; a newer one moves the patient's ``feed_event_at`` forward."""
    values = _incoming(data)
    phones = [p.strip() for p in data.other_phones if p and p.strip()]
    patient, matched = _match(data)
    if patient is None:
        patient = Patient(**values)
        patient.sex = values.get("sex", Patient.Sex.UNKNOWN)
        patient.other_phones = ",".join(dict.fromkeys(phones))
        patient.feed_event_at = as_of
        patient.refresh_derived_fields()
        fastsql.insert(patient)
        _add_identifiers(patient, data.identifiers, new=True)
        audit.record(actor=acting_user, verb="patient.created", target=patient, source=source)
        if data.deceased_at:
            mark_deceased(patient, at=data.deceased_at, source=source, acting_user=acting_user)
        return patient, "created"

    if is_stale(patient.feed_event_at, as_of):
        return patient, "stale"
    newer = as_of is not None and (patient.feed_event_at is None or as_of > patient.feed_event_at)
    if newer:
        patient.feed_event_at = as_of
    changed = [name for name, value in values.items() if getattr(patient, name) != value]
    for name in changed:
        setattr(patient, name, values[name])
    known = patient.other_phone_list
    extra = [p for p in dict.fromkeys(phones) if p not in known and p != patient.mobile]
    if extra:
        patient.other_phones = ",".join(known + extra)
        changed.append("other_phones")
    if changed:
        patient.refresh_derived_fields()
        fastsql.update(patient, [*changed, *Patient.DERIVED_FIELDS, *(["feed_event_at"] if newer else [])])
    elif newer:
        fastsql.update(patient, ["feed_event_at"], auto_now=False)
    added = _add_identifiers(patient, data.identifiers, matched=matched)
    if added:
        changed.append("identifiers")
    if data.deceased_at and not patient.is_deceased:
        mark_deceased(patient, at=data.deceased_at, source=source, acting_user=acting_user)
        changed.append("is_deceased")
    if not changed:
        return patient, "unchanged"
    audit.record(actor=acting_user, verb="patient.updated", target=patient, source=source, fields=sorted(changed))
    return patient, "updated"


def _resolve_department(text: str) -> Department | None:
    text = (text or "").strip()
    if not text:
        return None
    return Department.objects.filter(code__iexact=text).first() or Department.objects.filter(name=text).order_by("id").first()


def _resolve_doctor(text: str, department: Department | None) -> Doctor | None:
    text = (text or "").strip()
    if not text:
        return None
    doctor = Doctor.objects.filter(staff_no=text).first()
    if doctor is None:
        by_name = Doctor.objects.filter(name=text)
        if department is not None:
            doctor = by_name.filter(department=department).first()
        doctor = doctor or (by_name.first() if by_name.count() == 1 else None)
    return doctor


def refresh_visit_stats(patient: Patient) -> None:
    """first/last visit and visit count from the patient's non-cancelled encounters."""
    stats = (
        Encounter.objects.filter(patient=patient)
        .exclude(status=Encounter.Status.CANCELLED)
        .aggregate(
            n=Count("id"),
            first=Min(Coalesce("visit_at", "admitted_at")),
            last=Max(Coalesce("visit_at", "admitted_at")),
        )
    )
    Patient.objects.filter(pk=patient.pk).update(visit_count=stats["n"], first_visit_at=stats["first"], last_visit_at=stats["last"])
    patient.visit_count, patient.first_visit_at, patient.last_visit_at = stats["n"], stats["first"], stats["last"]


def refresh_visit_stats_of(patient_ids: Iterable[int]) -> None:
    """``refresh_visit_stats`` for patients given by id, in one ``UPDATE``: for the former owners of
    encounters that moved to another patient (a patient left with none gets 0 and no dates, which
    an aggregate joined to the patients would skip)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    live = (Encounter.objects.filter(patient_id=OuterRef("pk")).exclude(status=Encounter.Status.CANCELLED)
            .order_by().values("patient_id"))
    at = Coalesce("visit_at", "admitted_at")
    Patient.objects.filter(pk__in=ids).update(
        visit_count=Coalesce(Subquery(live.annotate(n=Count("id")).values("n"), output_field=IntegerField()), 0),
        first_visit_at=Subquery(live.annotate(f=Min(at)).values("f")),
        last_visit_at=Subquery(live.annotate(last=Max(at)).values("last")),
    )


def _count_new_visit(patient: Patient, at: datetime | None) -> None:
    """``refresh_visit_stats`` for one new, non-cancelled encounter, in one UPDATE: count + 1, first
    and last visit widened to ``at``. Equal to the full recount because the figures are kept by
    these actions; done in SQL so concurrent writers cannot lose an increment."""
    qn = connection.ops.quote_name
    sql = f"UPDATE {qn(Patient._meta.db_table)} SET visit_count = visit_count + 1"  # noqa: S608
    params: list[Any] = []
    if at is not None:
        value = Patient._meta.get_field("first_visit_at").get_db_prep_save(at, connection)
        for column, op in (("first_visit_at", ">"), ("last_visit_at", "<")):
            sql += f", {column} = CASE WHEN {column} IS NULL OR {column} {op} %s THEN %s ELSE {column} END"
            params += [value, value]
    with connection.cursor() as cur:
        cur.execute(sql + " WHERE id = %s", [*params, patient.pk])
    patient.visit_count = (patient.visit_count or 0) + 1
    if at is not None:
        if patient.first_visit_at is None or patient.first_visit_at > at:
            patient.first_visit_at = at
        if patient.last_visit_at is None or patient.last_visit_at < at:
            patient.last_visit_at = at


@transaction.atomic
def record_encounter(
    patient: Patient,
    data: EncounterData,
    *,
    acting_user: Any = None,
    as_of: datetime | None = None,
    directory: Directory | None = None,
    patient_is_current: bool = False,
) -> tuple[Encounter, str]:
    """Create or update the encounter keyed by (source_system, source_id). ``as_of``: the feed
    message's time — older than the newest applied to this encounter gives "stale" and changes
    nothing. ``directory``: a cached department/doctor directory (same rules as the lookups).
    ``patient_is_current``: the caller got ``patient`` from ``upsert_patient`` (already the
    survivor of any merge), so it need not be resolved again."""
    if not patient_is_current:
        patient = resolve_survivor(patient)
    if directory is not None:
        department = directory.department(data.department)
        doctor = directory.doctor(data.doctor, department)
    else:
        department = _resolve_department(data.department)
        doctor = _resolve_doctor(data.doctor, department)
    if department is None and doctor is not None:
        department = doctor.department
    values: dict[str, Any] = {
        "kind": data.kind if data.kind in _KINDS else None,
        "department": department,
        "department_name": data.department.strip() or (department.name if department else ""),
        "doctor": doctor,
        "doctor_name": (doctor.name if doctor else data.doctor.strip()),
        "diagnosis_text": data.diagnosis_text.strip()[:300],
        "diagnosis_code": data.diagnosis_code.strip(),
        "visit_at": data.visit_at or data.admitted_at,
        "admitted_at": data.admitted_at,
        "discharged_at": data.discharged_at,
        "visit_type": data.visit_type if data.visit_type in _VISIT_TYPES else "",
        "outcome": data.outcome if data.outcome in _OUTCOMES else "",
        "status": data.status if data.status in _STATUSES else "",
    }
    values = {k: v for k, v in values.items() if v not in (None, "")}
    if "status" not in values and data.discharged_at:
        values["status"] = Encounter.Status.DISCHARGED
    # one indexed read in plain SQL, nothing found for most feed encounters (they are new)
    encounter = fastsql.first(Encounter, for_update=True, source_system=data.source_system, source_id=data.source_id)
    if encounter is None:
        encounter = Encounter(patient=patient, source_system=data.source_system, source_id=data.source_id,
                              feed_event_at=as_of)
        values.setdefault("kind", Encounter.Kind.OUTPATIENT)
        for name, value in values.items():
            setattr(encounter, name, value)
        fastsql.insert(encounter)
        if encounter.status == Encounter.Status.CANCELLED:
            refresh_visit_stats(patient)
        else:
            _count_new_visit(patient, encounter.visit_at or encounter.admitted_at)
        audit.record(actor=acting_user, verb="encounter.created", target=encounter, source=data.source_system)
        hooks.encounter_registered(encounter)
        if encounter.status == Encounter.Status.DISCHARGED:
            _after_discharge(encounter, acting_user=acting_user)
        elif encounter.status == Encounter.Status.CANCELLED:
            hooks.encounter_cancelled(encounter)
        return encounter, "created"

    if is_stale(encounter.feed_event_at, as_of):
        return encounter, "stale"
    newer = as_of is not None and (encounter.feed_event_at is None or as_of > encounter.feed_event_at)
    if newer:
        encounter.feed_event_at = as_of
    before = encounter.status
    # related objects compare by id (reading encounter.department would cost a query)
    changed = [name for name, value in values.items()
               if (getattr(encounter, f"{name}_id") != value.pk if name in ("department", "doctor")
                   else getattr(encounter, name) != value)]
    moved_from = encounter.patient_id if encounter.patient_id != patient.pk else None
    if moved_from is not None:
        encounter.patient = patient
        changed.append("patient")
    if not changed:
        if newer:
            fastsql.update(encounter, ["feed_event_at"], auto_now=False)
        return encounter, "unchanged"
    for name in changed:
        if name != "patient":
            setattr(encounter, name, values[name])
    fastsql.update(encounter, [*changed, *(["feed_event_at"] if newer else [])])
    if {"visit_at", "admitted_at", "patient"} & set(changed) or Encounter.Status.CANCELLED in (before, encounter.status):
        refresh_visit_stats(patient)  # the visit figures only move with these
    if moved_from is not None:
        refresh_visit_stats_of([moved_from])  # the former owner no longer has this visit
    audit.record(actor=acting_user, verb="encounter.updated", target=encounter, source=data.source_system, fields=sorted(changed))
    if before != encounter.status:
        if encounter.status == Encounter.Status.DISCHARGED:
            _after_discharge(encounter, acting_user=acting_user)
        elif encounter.status == Encounter.Status.CANCELLED:
            hooks.encounter_cancelled(encounter)
        elif before == Encounter.Status.DISCHARGED:
            hooks.discharge_cancelled(encounter)
    return encounter, "updated"


def _after_discharge(encounter: Encounter, *, acting_user: Any) -> None:
    hooks.patient_discharged(encounter)
    if encounter.outcome == Encounter.Outcome.DIED and encounter.discharged_at:
        mark_deceased(encounter.patient, at=encounter.discharged_at, source="discharge", acting_user=acting_user)


@transaction.atomic
def discharge_encounter(encounter: Encounter, *, at: datetime, outcome: str = "", acting_user: Any = None) -> Encounter:
    was = encounter.status
    encounter.discharged_at = at
    encounter.status = Encounter.Status.DISCHARGED
    if outcome in _OUTCOMES and outcome:
        encounter.outcome = outcome
    encounter.save()
    audit.record(actor=acting_user, verb="encounter.discharged", target=encounter, outcome=encounter.outcome)
    if was != Encounter.Status.DISCHARGED:
        _after_discharge(encounter, acting_user=acting_user)
    return encounter


@transaction.atomic
def cancel_encounter(encounter: Encounter, *, acting_user: Any = None) -> Encounter:
    if encounter.status == Encounter.Status.CANCELLED:
        return encounter
    encounter.status = Encounter.Status.CANCELLED
    encounter.save(update_fields=["status", "updated_at"])
    refresh_visit_stats(encounter.patient)
    audit.record(actor=acting_user, verb="encounter.cancelled", target=encounter)
    hooks.encounter_cancelled(encounter)
    return encounter


@transaction.atomic
def cancel_discharge(encounter: Encounter, *, acting_user: Any = None) -> Encounter:
    if encounter.status != Encounter.Status.DISCHARGED:
        return encounter
    encounter.status = Encounter.Status.ACTIVE
    encounter.discharged_at = None
    encounter.outcome = ""
    encounter.save(update_fields=["status", "discharged_at", "outcome", "updated_at"])
    audit.record(actor=acting_user, verb="encounter.discharge_cancelled", target=encounter)
    hooks.discharge_cancelled(encounter)
    return encounter


@transaction.atomic
def mark_deceased(patient: Patient, *, at: datetime, source: str, acting_user: Any = None) -> Patient:
    if patient.is_deceased:
        return patient
    patient.is_deceased = True
    patient.deceased_at = at
    patient.save(update_fields=["is_deceased", "deceased_at", "updated_at"])
    audit.record(actor=acting_user, verb="patient.deceased", target=patient, source=source)
    hooks.patient_deceased(patient)
    return patient


_FILLABLE = (
    "birth_date",
    "id_number",
    "mobile",
    "address",
    "outpatient_no",
    "inpatient_no",
    "insurance_no",
    "source_channel",
    "membership_card",
    "group_client_id",
)


@transaction.atomic
def merge_patients(survivor: Patient, merged: Patient, *, acting_user: Any) -> Patient:
    """Move everything of ``merged`` onto ``survivor``; ``merged`` stays as a pointer."""
    survivor = Patient.objects.select_for_update().get(pk=resolve_survivor(survivor).pk)
    merged = Patient.objects.select_for_update().get(pk=merged.pk)
    if merged.merged_into_id is not None or survivor.pk == merged.pk:
        raise ValueError("cannot merge a patient into itself or merge an already merged record")
    Encounter.objects.filter(patient=merged).update(patient=survivor)
    PatientIdentifier.objects.filter(patient=merged).update(patient=survivor)
    PatientIdentifier.objects.get_or_create(system="MERGED", value=str(merged.pk), defaults={"patient": survivor})
    for consent in Consent.objects.filter(patient=merged):
        mine = Consent.objects.filter(patient=survivor, channel=consent.channel, purpose=consent.purpose).first()
        if mine is None:
            consent.patient = survivor
            consent.save(update_fields=["patient"])
        elif consent.recorded_at > mine.recorded_at:
            mine.granted, mine.recorded_at, mine.source = consent.granted, consent.recorded_at, consent.source
            mine.save(update_fields=["granted", "recorded_at", "source"])
    survivor.tags.add(*merged.tags.all())
    moved = _move_module_records(merged, survivor)
    filled = [name for name in _FILLABLE if not getattr(survivor, name) and getattr(merged, name)]
    for name in filled:
        setattr(survivor, name, getattr(merged, name))
    extra = [p for p in [merged.mobile, *merged.other_phone_list] if p and p != survivor.mobile]
    known = survivor.other_phone_list
    survivor.other_phones = ",".join(known + [p for p in dict.fromkeys(extra) if p not in known])
    survivor.do_not_contact = survivor.do_not_contact or merged.do_not_contact
    survivor.vip_level = max(survivor.vip_level, merged.vip_level)
    if merged.is_deceased and not survivor.is_deceased:
        survivor.is_deceased, survivor.deceased_at = True, merged.deceased_at
    survivor.refresh_derived_fields()
    survivor.save()
    Patient.objects.filter(merged_into=merged).update(merged_into=survivor)
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into", "updated_at"])
    refresh_visit_stats(survivor)
    refresh_visit_stats(merged)
    audit.record(actor=acting_user, verb="patient.merged", target=survivor, merged_id=merged.pk, filled=filled,
                 moved=moved)
    return survivor


_MERGED_BY_HAND = ("patients.encounter", "patients.patientidentifier", "patients.consent", "patients.patient")


def _move_module_records(merged: Patient, survivor: Patient) -> dict[str, int]:
    """Every other module's rows that point at a patient (follow-up tasks, survey answers,
    complaints …) move to the survivor; returns the counts per model."""
    moved: dict[str, int] = {}
    for relation in Patient._meta.related_objects:
        label = relation.related_model._meta.label_lower
        if not relation.one_to_many or label in _MERGED_BY_HAND:
            continue
        field = relation.field.name
        count = relation.related_model._base_manager.filter(**{field: merged}).update(**{field: survivor})
        if count:
            moved[label] = count
    return moved


@transaction.atomic
def record_patient_view(patient: Patient, *, acting_user: Any) -> None:
    """Opening a patient's page is itself recorded (ids only)."""
    audit.record(actor=acting_user, verb="patient.viewed", target=patient)


# --- value analysis, duplicates and merge (branch patients-value) ----------------------------------


@transaction.atomic
def merge_duplicate(survivor: Patient, merged: Patient, *, reason: str, rule: str = "", acting_user: Any) -> Patient:
    """The merge screen's confirmation: ``merge_patients`` plus an audit event carrying the
    supervisor's reason (in ``purpose``) in the same transaction."""
    result = merge_patients(survivor, merged, acting_user=acting_user)
    audit.record(
        actor=acting_user, verb="patient.merge_confirmed", target=result, purpose=reason,
        merged_id=merged.pk, rule=rule,
    )
    return result


@transaction.atomic
def save_segment(*, name: str, criteria: dict[str, Any], acting_user: Any) -> Segment:
    """Save the value page's filters as a named segment (a target list for later modules)."""
    segment = Segment.objects.create(name=name, criteria=criteria, created_by=acting_user)
    audit.record(actor=acting_user, verb="segment.create", target=segment, criteria_keys=sorted(criteria))
    return segment
