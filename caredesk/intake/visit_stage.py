"""Apply checked visit rows through a staging table: the set-based path of the visit file import.

Same rules and results as ``visit_apply.apply_visit_rows`` (the row-by-row reference; a test runs
both on the same files and compares the archives), different mechanics:

* **Patients** are matched in Python (the rules are ordered and sequential: identity number, then
  门诊号, 住院号, name + mobile, lowest id first, merged records resolved, a later row of the batch
  finds a patient created by an earlier one). Existing patients are loaded as light tuples: identity
  number and mobile are compared through their blind indexes, so nothing is decrypted except an
  address the file also carries. Blind indexes, pinyin and encryption are computed once per
  distinct patient and value, never per row. New patients go in with ``COPY`` on PostgreSQL (ids
  taken from the sequence first) and multi-row ``INSERT`` on SQLite; changed ones get an ``UPDATE``
  of the changed columns only.
* **Encounters** of the batch are written to a temporary table (``COPY`` on PostgreSQL,
  ``executemany`` on SQLite), then applied with one ``UPDATE … FROM`` (only rows whose values
  differ; empty incoming values never blank stored ones), one ``INSERT … SELECT … ON CONFLICT DO
  NOTHING`` for the new ones (a plain ``INSERT`` while the run has found no encounter of its
  source system), and one ``UPDATE … FROM (aggregate)`` for the visit figures of the patients
  concerned (patients created during the run, to whom the batch only adds encounters: their
  figures plus the batch's, see ``_recount_visits``). ``RETURNING`` tells which rows were
  created/updated/became discharged.
* The domain hooks get the batch's new encounters and new discharges as ``Encounter`` instances
  built from the staged values (no reload), as the batch path does.
* **Look-ahead** (``RunState.upcoming``): once a batch's patients are written, the import's next
  batch is looked up, and its rows are matched while the server applies this batch's encounters
  (sent in psycopg's pipeline mode on PostgreSQL, so the server and this process work at once). A
  batch that fails leaves no look-ahead: the next one is looked up again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from caredesk.core import pii
from caredesk.core.indexes import hashed_columns
from caredesk.patients.directory import Directory

from .visit_apply import Prepared, prepared
from .visit_file import VisitRow

if TYPE_CHECKING:
    from caredesk.patients.hooks import Horizon

STAGE = "caredesk_visit_stage"
# (column, SQL type on PostgreSQL, SQL type on SQLite)
STAGE_COLUMNS = (
    ("line", "integer", "integer"), ("source_id", "text", "text"), ("patient_id", "bigint", "integer"),
    ("kind", "text", "text"), ("department_id", "bigint", "integer"), ("department_name", "text", "text"),
    ("doctor_id", "bigint", "integer"), ("doctor_name", "text", "text"), ("diagnosis_text", "text", "text"),
    ("visit_at", "timestamptz", "text"), ("admitted_at", "timestamptz", "text"), ("discharged_at", "timestamptz", "text"),
    ("visit_type", "text", "text"), ("outcome", "text", "text"), ("status", "text", "text"),
    ("existed", "boolean", "integer"),
    # the patient's visit figures are recounted from the table: an existing patient, or a new one
    # that took over an existing encounter (a new patient's other figures come from the batch; a
    # changed one's may come with the UPDATE of its changes, ``_added_visits``)
    ("recount", "boolean", "integer"),
)
_NAMES = [c[0] for c in STAGE_COLUMNS]
# encounter columns an incoming non-empty value overwrites (NULL in the stage: keep the stored one)
_MERGED = ("kind", "department_id", "department_name", "doctor_id", "doctor_name", "diagnosis_text", "visit_at",
           "admitted_at", "discharged_at", "visit_type", "outcome", "status")


class _Known:
    """An existing patient as the matching needs it, loaded without decrypting anything: identity
    number and mobile are compared by blind index, the address decrypted only when a row brings
    one. ``changes`` holds the fields this batch gives new values (clear values)."""

    __slots__ = ("_address", "address_c", "birth_date", "changes", "id_number_bidx", "inpatient_no", "merged_into_id", "mobile_bidx",
                 "name", "outpatient_no", "pk", "sex", "source_channel")

    def __init__(self, row: tuple[Any, ...]) -> None:
        (self.pk, self.merged_into_id, self.name, self.sex, self.birth_date, self.id_number_bidx, self.mobile_bidx,
         self.outpatient_no, self.inpatient_no, self.source_channel, self.address_c) = row
        self._address: str | None = None
        self.changes: dict[str, Any] = {}

    @property
    def address(self) -> str:
        if self._address is None:
            self._address = pii.decrypt(self.address_c) if self.address_c else (self.address_c or "")
        return self._address


LOOKUP_CHUNK = 500  # values per IN list on SQLite (each query then probes one index)
_KNOWN_FIELDS = ("id", "merged_into_id", "name", "sex", "birth_date", "id_number_bidx", "mobile_bidx", "outpatient_no",
                 "inpatient_no", "source_channel", "address_c")


def _load_known(arrays: dict[str, list[Any]]) -> list[_Known]:
    """Patients whose column has one of the values (``arrays``: column -> values), lowest id first.
    PostgreSQL: one query, one ``= ANY(…)`` array per column (a batch's IN lists would hold
    thousands of parameters, which PostgreSQL spends longer parsing and planning than running;
    text arrays travel as one string, ``_any_text``; a blind index's array says its values are not
    empty, so that the hash index serves it, ``NonEmptyHashIndex``).
    SQLite: one query per column and chunk of values; with the whole batch in one OR of IN lists
    its planner scans the table instead of probing the indexes, and a batch then costs as much as
    the archive is large (0.3 s at 150k patients; a test checks the plan)."""
    from caredesk.patients.models import Patient

    if connection.vendor == "postgresql":
        columns = ", ".join(f"p.{c}" for c in _KNOWN_FIELDS[:-1])
        terms = [(c, _any_text(v) if c != "id" else ("%s", list(v))) for c, v in arrays.items()]
        hashed = hashed_columns(Patient)
        where = " OR ".join(f"(p.{c} = ANY({sql}) AND p.{c} <> '')" if c in hashed else f"p.{c} = ANY({sql})"
                            for c, (sql, _v) in terms) or "false"
        with connection.cursor() as cur:
            cur.execute(f"SELECT {columns}, p.address FROM {Patient._meta.db_table} p WHERE {where} ORDER BY p.id",  # noqa: S608
                        [value for _c, (_sql, value) in terms])
            return [_Known(r) for r in cur.fetchall()]  # (in a pipeline: waits for the statements sent so far)
    rows: dict[int, tuple[Any, ...]] = {}
    with connection.cursor() as cur:
        for sql, params in _known_queries(arrays):
            cur.execute(sql, params)
            rows.update((r[0], r) for r in cur.fetchall())
    return [_Known(rows[pk]) for pk in sorted(rows)]  # (Django's SQLite connection reads a date column as a date)


_SEPARATOR = "\x1f"  # ASCII unit separator


def _any_text(values: list[str]) -> tuple[str, Any]:
    """PostgreSQL: the SQL of a text array parameter and its value, for ``= ANY(…)``. psycopg builds an
    array parameter element by element in Python (~3 µs each: 6 ms for a batch's keys, on every
    look-up); one string that the server splits costs a tenth of that. The plain list when a value is
    empty or holds the separator."""
    joined = _SEPARATOR.join(values)
    if not values or "" in values or joined.count(_SEPARATOR) != len(values) - 1:
        return "%s", list(values)
    return "string_to_array(%s, E'\\x1f')", joined


def _known_queries(arrays: dict[str, list[Any]]) -> Iterator[tuple[str, list[Any]]]:
    """SQLite: (SQL, parameters) of ``_load_known``'s queries, one per column and chunk of values
    (plain SQL: the ORM compiled each of these thousands of queries again)."""
    from caredesk.patients.models import Patient

    qn = connection.ops.quote_name
    names = (*_KNOWN_FIELDS[:-1], "address")  # the stored address: its ciphertext, decrypted only if needed
    columns = ", ".join(qn(c) for c in names)
    for column in arrays:
        if column not in names:
            raise ValueError(f"not a look-up column: {column}")
    for column, values in arrays.items():
        for start in range(0, len(values), LOOKUP_CHUNK):
            chunk = values[start:start + LOOKUP_CHUNK]
            yield (f"SELECT {columns} FROM {qn(Patient._meta.db_table)} "  # noqa: S608 - fixed columns, checked above
                   f"WHERE {qn(column)} IN ({', '.join(['%s'] * len(chunk))})", chunk)


def _derive(patient: Any, prep: Prepared) -> None:
    """``Patient.refresh_derived_fields`` for a new patient whose values are the row's prepared ones
    (already normalised), from what was derived while reading: no pinyin or blind index computed
    again. (A test compares with ``refresh_derived_fields``.)"""
    patient.name_pinyin, patient.name_initials = prep.pinyin[0][:120], prep.pinyin[1][:30]
    patient.id_number = patient.id_number or ""
    patient.id_number_bidx = prep.id_number_bidx
    patient.mobile = patient.mobile or ""
    patient.mobile_bidx = prep.mobile_bidx
    patient.mobile_last4 = patient.mobile[-4:] if len(patient.mobile) >= 4 else ""


def _keys(p: Any) -> list[tuple[str, str]]:
    keys = []
    if p.id_number_bidx:
        keys.append(("id", p.id_number_bidx))
    if p.outpatient_no:
        keys.append(("out", p.outpatient_no))
    if p.inpatient_no:
        keys.append(("in", p.inpatient_no))
    if p.name and p.mobile_bidx:
        keys.append(("name_mobile", f"{p.name}|{p.mobile_bidx}"))
    return keys


RUN_DIRECTORY_TTL = 60.0  # seconds


@dataclass
class RunState:
    """What the staged applier knows of the import run its batches belong to (``actions.import_visits``).

    ``created_after``: the highest patient id when the run started; patients with a higher id were
    created during it (see ``_recount_visits``).
    ``encounters_before``: the archive held encounters of the run's source system when it started.
    When it held none, a batch does not look its rows' encounters up: the file's reader rejects a
    repeated source id, so no row can find an encounter an earlier row wrote, and one that another
    writer (the HL7 feed) adds meanwhile makes the batch's insert come up short. Then this turns
    True for the rest of the run and the batch is retried row by row, with look-ups."""

    created_after: int | None = None
    encounters_before: bool = True
    # ``hooks.planning_horizon()`` when the run's first batch asked (the planning configuration
    # read once per run, not per batch; the daily sweeps plan what a change made meanwhile adds)
    horizon: Horizon | None = None
    horizon_known: bool = False
    # the departments and doctors the rows name, one snapshot for the run (reloaded after a minute;
    # a query per batch cost 4 ms, 2 s of a million-row file)
    directory: Directory = field(default_factory=lambda: Directory(ttl=RUN_DIRECTORY_TTL, miss_reload=RUN_DIRECTORY_TTL))

    # the run's next batch, set by the import before it applies this one; the batch applied looks
    # its patients up and matches them while the server writes its own encounters (``matched``)
    upcoming: list[VisitRow] | None = None
    matched: _Matched | None = None

    def take_upcoming(self) -> list[VisitRow] | None:
        upcoming, self.upcoming = self.upcoming, None  # for the batch, not for a row-by-row retry of it
        return upcoming

    def take_matched(self, rows: list[VisitRow]) -> _Matched | None:
        matched, self.matched = self.matched, None
        return matched if matched is not None and matched.is_for(rows) else None

    def planning_horizon(self) -> Horizon | None:
        from caredesk.patients import hooks

        if not self.horizon_known:
            self.horizon, self.horizon_known = hooks.planning_horizon(), True
        return self.horizon


class _EncounterRace(RuntimeError):
    pass


def _lookup(keys_per_row: list[list[tuple[str, str]]]) -> tuple[list[_Known], dict[int, _Known]]:
    """Every patient any row could match (light, lowest id first), and those with their merge
    survivors by id. First by identity number: a row whose number is known matches that patient
    whatever its other keys say, so only the other rows' record numbers and mobiles are looked up
    (most rows of a file need one probe)."""
    id_keys = sorted({value for keys in keys_per_row for kind, value in keys if kind == "id"})
    loaded = {p.pk: p for p in _load_known({"id_number_bidx": id_keys})} if id_keys else {}
    known_ids = {p.id_number_bidx for p in loaded.values()}
    wanted: dict[str, set[str]] = {"out": set(), "in": set(), "name_mobile": set()}
    for keys in keys_per_row:
        if not any(kind == "id" and value in known_ids for kind, value in keys):
            for kind, value in keys:
                if kind != "id":
                    wanted[kind].add(value)
    arrays: dict[str, list[Any]] = {}
    for kind, column in (("out", "outpatient_no"), ("in", "inpatient_no"), ("name_mobile", "mobile_bidx")):
        if wanted[kind]:
            arrays[column] = sorted({v.split("|", 1)[1] for v in wanted[kind]} if kind == "name_mobile" else wanted[kind])
    if arrays:
        loaded.update((p.pk, p) for p in _load_known(arrays) if p.pk not in loaded)
    found = [loaded[pk] for pk in sorted(loaded)]  # lowest id first
    by_pk: dict[int, _Known] = {p.pk: p for p in found}
    pending = {p.merged_into_id for p in found if p.merged_into_id} - by_pk.keys()
    while pending:
        more = _load_known({"id": sorted(pending)})
        by_pk.update({p.pk: p for p in more})
        pending = {p.merged_into_id for p in more if p.merged_into_id} - by_pk.keys()
    return found, by_pk


@dataclass
class _Matched:
    """A batch's rows matched to patients (``_match``): pure Python on what ``_lookup`` loaded."""

    rows: list[VisitRow]
    row_patient: list[Any]  # a ``_Known`` or a new ``Patient`` per row
    row_changed: list[bool]
    new_patients: list[Any]
    changed_known: dict[int, _Known]

    def is_for(self, rows: list[VisitRow]) -> bool:
        return len(rows) == len(self.rows) and all(a is b for a, b in zip(rows, self.rows, strict=True))


def _look_up(rows: list[VisitRow]) -> tuple[list[Prepared], list[list[tuple[str, str]]], list[_Known], dict[int, _Known]]:
    """What ``_match`` takes after the rows: their prepared values, their keys and ``_lookup``'s patients."""
    preps = [prepared(r) for r in rows]
    keys_per_row = [p.keys for p in preps]
    return (preps, keys_per_row, *_lookup(keys_per_row))


def _look_up_and_match(rows: list[VisitRow], now: Any) -> _Matched:
    """A batch's patients looked up and matched at once (the first batch of a run, a retried row)."""
    return _match(rows, *_look_up(rows), now)


def _match(rows: list[VisitRow], preps: list[Prepared], keys_per_row: list[list[tuple[str, str]]], found: list[_Known],
           by_pk: dict[int, _Known], now: Any) -> _Matched:
    """Each row's patient (the first key that finds one, merged records resolved; a later row finds a
    patient an earlier one created), the non-empty fields it changes, the patients to create. No
    database access: it may run while the server works on the batch before."""
    from caredesk.patients import fastsql
    from caredesk.patients.models import Patient

    def survivor(p: Any) -> Any:
        seen = {p.pk}
        while p.merged_into_id and p.merged_into_id in by_pk and p.merged_into_id not in seen:
            seen.add(p.merged_into_id)
            p = by_pk[p.merged_into_id]
        return p

    key_index: dict[tuple[str, str], Any] = {}
    for p in found:  # lowest id first
        for key in _keys(p):
            key_index.setdefault(key, p)

    new_patients: list[Any] = []
    changed_known: dict[int, _Known] = {}
    row_patient: list[Any] = []
    row_changed: list[bool] = []
    for r, prep, keys in zip(rows, preps, keys_per_row, strict=True):
        pvalues = prep.values
        patient = None
        for key in keys:  # in match order (``match_keys``), at most one of each kind
            if key in key_index:
                patient = survivor(key_index[key])
                break
        changed = False
        if patient is None:
            patient = fastsql.new_instance(Patient, created_at=now, **pvalues)
            patient.sex = pvalues.get("sex", Patient.Sex.UNKNOWN)
            patient.customer_type = Patient.CustomerType.INPATIENT if r.kind == "inpatient" else Patient.CustomerType.OUTPATIENT
            _derive(patient, prep)
            new_patients.append(patient)
        elif isinstance(patient, _Known):
            for name, value in pvalues.items():
                if name == "id_number":
                    if patient.id_number_bidx == prep.id_number_bidx:
                        continue
                    patient.id_number_bidx = prep.id_number_bidx
                elif name == "mobile":
                    if patient.mobile_bidx == prep.mobile_bidx:
                        continue
                    patient.mobile_bidx = prep.mobile_bidx
                elif name == "address":
                    if patient.address == value:
                        continue
                    patient._address = value
                elif getattr(patient, name) == value:
                    continue
                else:
                    setattr(patient, name, value)
                patient.changes[name] = value
                changed = True
            if changed:
                changed_known[patient.pk] = patient
        else:  # created earlier in this batch
            diff = [name for name, value in pvalues.items() if getattr(patient, name) != value]
            for name in diff:
                setattr(patient, name, pvalues[name])
            if diff:
                patient.refresh_derived_fields()
                changed = True
        for key in _keys(patient):
            key_index.setdefault(key, patient)
        row_patient.append(patient)
        row_changed.append(changed)
    return _Matched(rows, row_patient, row_changed, new_patients, changed_known)


# the stage's rows live until commit (ON COMMIT DELETE ROWS): never apply in autocommit. No savepoint of
# its own: the import's batch has one already (a failed batch rolls back to it), and each costs a round trip
@transaction.atomic(savepoint=False)
def apply_visit_rows_staged(rows: list[VisitRow], *, source_system: str, acting_user: Any = None,
                            run: RunState | None = None) -> list[str]:
    from caredesk.patients import fastsql, hooks
    from caredesk.patients.actions import refresh_visit_stats_of
    from caredesk.patients.models import Encounter, Patient

    vendor, alias = connection.vendor, connection.alias  # once: the proxy looks the connection up on every access
    now = timezone.now()
    # 1–2. the batch's patients: matched while the server wrote the batch before (``RunState``), or now
    matched = run.take_matched(rows) if run is not None else None
    if matched is None:
        matched = _look_up_and_match(rows, now)
    else:
        for p in matched.new_patients:
            p.created_at = now
    row_patient, row_changed = matched.row_patient, matched.row_changed
    new_patients, changed_known = matched.new_patients, matched.changed_known
    upcoming = run.take_upcoming() if run is not None else None

    # 3. which encounters exist already (id, status and patient before this batch)
    existing: dict[str, tuple[int, str, int]] = {}
    source_ids = [r.source_id for r in rows]
    if run is not None and not run.encounters_before:
        pass  # nothing to find (RunState)
    elif vendor == "postgresql":  # one array parameter instead of thousands (see _load_known)
        with connection.cursor() as cur:
            any_sql, any_value = _any_text(source_ids)
            cur.execute(f"SELECT source_id, id, status, patient_id FROM {Encounter._meta.db_table} "  # noqa: S608
                        f"WHERE source_system = %s AND source_id = ANY({any_sql})", [source_system, any_value])
            existing.update((s, (pk, st, owner)) for s, pk, st, owner in cur.fetchall())
    else:
        for start in range(0, len(source_ids), 5000):
            existing.update((s, (pk, st, owner)) for s, pk, st, owner in Encounter.objects.filter(
                source_system=source_system, source_id__in=source_ids[start:start + 5000]).values_list(
                    "source_id", "id", "status", "patient_id"))

    # 4. new patients: visit figures from the batch's new encounters, then one bulk write
    fresh = {id(p) for p in new_patients}
    for p in new_patients:
        p.visit_count, p.first_visit_at, p.last_visit_at = 0, None, None
    for r, p in zip(rows, row_patient, strict=True):
        if id(p) in fresh and r.source_id not in existing:
            at = r.visit_at or r.admitted_at
            p.visit_count += 1
            p.first_visit_at, p.last_visit_at = _widened(p.first_visit_at, p.last_visit_at, at)
    # changed patients the run created, to whom the batch only adds encounters: their visit figures
    # go with the UPDATE of their other changes (one new row version, not two: ``_recount_visits``)
    visits = _added_visits(rows, row_patient, changed_known, existing, run.created_after if run is not None else None)

    # 5. the batch's encounters as stage rows (built while PostgreSQL takes the new patients in),
    # then set-based upserts
    # departments and doctors resolved now: the directory may read the database, build_stage may not
    directory = run.directory if run is not None else Directory()
    placed: dict[tuple[str, str], tuple[Any, Any]] = {}
    for r in rows:
        if (r.department, r.doctor) not in placed:
            department = directory.department(r.department)
            doctor = directory.doctor(r.doctor, department)
            placed[r.department, r.doctor] = (department or (doctor.department if doctor is not None else None), doctor)
    stage_rows: list[tuple[Any, ...]] = []
    created_values: dict[str, dict[str, Any]] = {}

    def build_stage() -> None:  # pure Python: needs the new patients' ids, not the connection
        for r, p in zip(rows, row_patient, strict=True):
            department, doctor = placed[r.department, r.doctor]
            values: dict[str, Any] = {
                "kind": r.kind, "department_id": department.pk if department else None,
                "department_name": r.department or (department.name if department else ""),
                "doctor_id": doctor.pk if doctor else None, "doctor_name": doctor.name if doctor else r.doctor,
                "diagnosis_text": r.diagnosis[:300], "visit_at": r.visit_at or r.admitted_at, "admitted_at": r.admitted_at,
                "discharged_at": r.discharged_at, "visit_type": r.visit_type, "outcome": r.outcome,
                "status": Encounter.Status.DISCHARGED if r.discharged_at else "",
            }
            existed = r.source_id in existing
            if not existed:
                created_values[r.source_id] = values
            stage_rows.append((r.line, r.source_id, p.pk, *(None if values[c] == "" else values[c] for c in _MERGED),
                               existed, existed or (id(p) not in fresh and p.pk not in visits)))

    if vendor == "postgresql":
        fastsql.copy_insert(new_patients, meanwhile=build_stage)
    else:
        fastsql.insert_many(new_patients)
        build_stage()
    _fill_stage(stage_rows)
    # the rest in one pipeline (PostgreSQL: statements sent without waiting for each other): this
    # batch's changed patients; the next batch's patients looked up (they see this batch's new and
    # changed ones); this batch's encounters written, while the next batch is matched
    ahead: _Matched | None = None
    # (cursors closed on the way out: SQLite cannot roll a savepoint back under an unread RETURNING)
    try:
        with ExitStack() as cursors:
            with _pipeline():
                _update_known(list(changed_known.values()), now, visits)
                looked_up = _look_up(upcoming) if upcoming else None
                updated_result = _update_encounters(cursors, source_system, now)
                created_result = _insert_encounters(cursors, source_system, now, len(created_values),
                                                    found_before=run is None or run.encounters_before)
                _recount_visits(now, run.created_after if run is not None else None)
                if upcoming and looked_up is not None:
                    ahead = _match(upcoming, *looked_up, now)
            updated, created_ids = updated_result(), created_result()
    except (IntegrityError, _EncounterRace) as exc:
        if run is not None:
            run.encounters_before = True  # look up from now on, the row-by-row retry first
        if isinstance(exc, _EncounterRace):
            raise
        raise _EncounterRace("visit import: an encounter appeared while the batch was applied") from exc
    # the former owners of encounters that moved to another patient
    refresh_visit_stats_of({existing[r.source_id][2] for r, p in zip(rows, row_patient, strict=True)
                            if r.source_id in existing and existing[r.source_id][2] != p.pk})

    # 6. deaths (first discharge with outcome 死亡 wins), statuses, hooks (for the encounters any
    # module can still plan from: hooks.planning_horizon)
    horizon = run.planning_horizon() if run is not None else hooks.planning_horizon()
    created: list[Any] = []
    discharged_ids: list[int] = []
    died: list[tuple[int, Any]] = []  # (patient id, discharged at)
    statuses: list[str] = []
    for r, p, changed in zip(rows, row_patient, row_changed, strict=True):
        if r.source_id in created_values:
            statuses.append("created")
            values = created_values[r.source_id]
            pk, discharged_at = created_ids[r.source_id], values["discharged_at"]
            if values["status"] == Encounter.Status.DISCHARGED:
                if hooks.discharge_may_matter(discharged_at, horizon):
                    discharged_ids.append(pk)
                if values["outcome"] == Encounter.Outcome.DIED and discharged_at:
                    died.append((p.pk, discharged_at))
            if not hooks.may_matter(r.kind, values["visit_at"], discharged_at, horizon):
                continue
            enc = fastsql.new_instance(Encounter, patient_id=p.pk, source_system=source_system, source_id=r.source_id,
                                       created_at=now, updated_at=now,  # as _insert_encounters wrote them
                                       **{k: v for k, v in values.items() if v not in (None, "")})
            if id(p) in fresh:  # a patient created by this batch: the hooks get it with the encounter, not read again
                enc.patient = p
            enc.pk = pk
            enc._state.adding = False
            enc._state.db = alias
            created.append(enc)
            continue
        after = updated.get(r.source_id)
        statuses.append("updated" if after is not None or changed else "unchanged")
        if after is not None and existing[r.source_id][1] != Encounter.Status.DISCHARGED and after[1] == Encounter.Status.DISCHARGED:
            if hooks.discharge_may_matter(after[3], horizon):
                discharged_ids.append(after[0])
            if after[2] == Encounter.Outcome.DIED and after[3]:
                died.append((p.pk, after[3]))
    deceased_ids = _mark_deceased(died, now)
    created_here = {p.pk: p for p in new_patients}
    for pk, at in died:  # as _mark_deceased wrote them: the first death of a patient wins
        new = created_here.get(pk)
        if new is not None and pk in deceased_ids and not new.is_deceased:
            new.is_deceased, new.deceased_at = True, at
    by_id = {e.pk: e for e in created}
    moved = [i for i in discharged_ids if i not in by_id]
    if moved:
        by_id.update(Encounter.objects.in_bulk(moved))
    hooks.encounters_recorded(created, [by_id[i] for i in discharged_ids])
    hooks.patients_deceased(list(Patient.objects.filter(pk__in=deceased_ids).order_by("id")) if deceased_ids else [])
    if run is not None:
        run.matched = ahead  # only once the batch is through: a failed one leaves nothing to reuse
    return statuses


# --- SQL --------------------------------------------------------------------------------------------


def refresh_statistics() -> None:
    """PostgreSQL: fresh planner statistics for the tables an import grows. Autovacuum lags behind a
    bulk load; with the statistics of a far smaller table the planner answers the visit-figure
    recount with a sequential scan of all encounters, once per batch (a batch then costs as much
    as the archive is large). Called by the import each time the rows it applied have doubled.
    Only the columns the import's own statements select or join on are analysed (and the row
    counts, which every ANALYZE refreshes): half the time of the whole tables (0.3 against 0.6–0.9 s
    at a million encounters); autovacuum analyses the rest after the load."""
    if connection.vendor != "postgresql":
        return
    from caredesk.patients.models import Encounter, Patient

    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {Patient._meta.db_table} ({', '.join(_PATIENT_KEYS)}), "
                    f"{Encounter._meta.db_table} ({', '.join(_ENCOUNTER_KEYS)})")


# what the staged path's statements look patients and encounters up by (``refresh_statistics``)
_PATIENT_KEYS = ("id", "id_number_bidx", "mobile_bidx", "outpatient_no", "inpatient_no", "merged_into_id")
_ENCOUNTER_KEYS = ("id", "patient_id", "source_system", "source_id", "status")


def _convert(field_name: str, model: Any) -> Any:
    from caredesk.patients.fastsql import _converter

    return _converter(model._meta.get_field(field_name))


def _widened(first: Any, last: Any, at: Any) -> tuple[Any, Any]:
    """The first and last visit times once a visit at ``at`` is counted (a visit without a time leaves them)."""
    if at is None:
        return first, last
    return (at if first is None or at < first else first), (at if last is None or at > last else last)


def _added_visits(rows: list[VisitRow], row_patient: list[Any], changed_known: dict[int, _Known],
                  existing: dict[str, Any], created_after: int | None) -> dict[int, tuple[int, Any, Any]]:
    """Patient id -> (visits, first, last) that the batch adds, for the changed patients created
    during the run (id above ``created_after``) whose rows in the batch are all new encounters: the
    figures ``_recount_visits`` would add to theirs. The others are left to it."""
    if created_after is None or not changed_known:
        return {}
    added: dict[int, tuple[int, Any, Any]] = {}
    mixed: set[int] = set()
    for r, p in zip(rows, row_patient, strict=True):
        pk = p.pk  # (None for a patient the batch creates)
        if pk is None or pk <= created_after or changed_known.get(pk) is not p:
            continue
        if r.source_id in existing:
            mixed.add(pk)
            continue
        at = r.visit_at or r.admitted_at
        n, first, last = added.get(pk, (0, None, None))
        added[pk] = (n + 1, *_widened(first, last, at))
    for pk in mixed:
        added.pop(pk, None)
    return added


def _update_known(patients: list[_Known], now: Any, visits: dict[int, tuple[int, Any, Any]] | None = None) -> None:
    """One ``UPDATE`` per set of changed columns (executemany): identity values re-encrypted and
    their blind indexes, pinyin and last four digits derived as ``refresh_derived_fields`` does;
    ``visits`` (``_added_visits``) added to the visit figures of the patients it names."""
    if not patients:
        return
    from caredesk.patients.models import Patient
    from caredesk.patients.pinyin import name_to_pinyin

    visits = visits or {}
    groups: dict[tuple[tuple[str, ...], bool], list[_Known]] = defaultdict(list)
    for p in patients:
        groups[tuple(sorted(p.changes)), p.pk in visits].append(p)
    qn = connection.ops.quote_name
    to_date = _convert("birth_date", Patient)
    to_dt = _convert("updated_at", Patient)
    for (names, counted), members in groups.items():
        columns: list[str] = []
        for name in names:
            columns += {"name": ["name", "name_pinyin", "name_initials"], "id_number": ["id_number", "id_number_bidx"],
                        "mobile": ["mobile", "mobile_bidx", "mobile_last4"]}.get(name, [name])
        columns.append("updated_at")
        if counted:
            columns += _ADDED
        params = []
        for p in members:
            row: list[Any] = []
            for name in names:
                value = p.changes[name]
                if name == "name":
                    pinyin, initials = name_to_pinyin(value)
                    row += [value, pinyin[:120], initials[:30]]
                elif name == "id_number":
                    row += [pii.encrypt(value), p.id_number_bidx]
                elif name == "mobile":
                    row += [pii.encrypt(value), p.mobile_bidx, value[-4:] if len(value) >= 4 else ""]
                elif name == "address":
                    row.append(pii.encrypt(value))
                elif name == "birth_date":
                    row.append(to_date(value) if to_date and value is not None else value)
                else:
                    row.append(value)
            row.append(to_dt(now) if to_dt else now)
            if counted:
                n, first, last = visits[p.pk]
                row += [n, *(to_dt(at) if to_dt and at is not None else at for at in (first, last))]
            row.append(p.pk)
            params.append(row)
        sets = [f"{qn(c)} = v.{qn(c)}" for c in columns if c not in _ADDED]
        if counted:  # as _recount_visits adds a batch's new encounters (a NULL time leaves the bound as it is)
            sets += ["visit_count = p.visit_count + v.added_n",
                     "first_visit_at = CASE WHEN v.added_first IS NOT NULL AND (p.first_visit_at IS NULL "
                     "OR v.added_first < p.first_visit_at) THEN v.added_first ELSE p.first_visit_at END",
                     "last_visit_at = CASE WHEN v.added_last IS NOT NULL AND (p.last_visit_at IS NULL "
                     "OR v.added_last > p.last_visit_at) THEN v.added_last ELSE p.last_visit_at END"]
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                # one statement for the group: its values as one array per column, unnested
                types = [_ARRAY_TYPES.get(Patient._meta.get_field(c).get_internal_type(), "text") if c not in _ADDED
                         else _ADDED[c] for c in columns]
                cur.execute(
                    f"UPDATE {qn(Patient._meta.db_table)} AS p SET {', '.join(sets)} "  # noqa: S608
                    f"FROM unnest({', '.join(f'%s::{t}[]' for t in [*types, 'bigint'])}) "
                    f"AS v({', '.join(qn(c) for c in [*columns, 'id'])}) WHERE p.id = v.id",
                    [list(col) for col in zip(*params, strict=True)])
            else:  # SQLite runs executemany as a loop over one prepared statement, in this process
                # (its UPDATE … FROM the row's own values: the added figures are read more than once)
                cur.executemany(
                    f"UPDATE {qn(Patient._meta.db_table)} AS p SET {', '.join(sets)} "  # noqa: S608
                    f"FROM (SELECT {', '.join(f'%s AS {qn(c)}' for c in [*columns, 'id'])}) AS v WHERE p.id = v.id", params)


# the visit figures a changed patient's UPDATE may add (``_added_visits``), with their PostgreSQL types
_ADDED = {"added_n": "integer", "added_first": "timestamptz", "added_last": "timestamptz"}


# PostgreSQL array types of the patient columns ``_update_known`` writes (others are text)
_ARRAY_TYPES = {"DateField": "date", "DateTimeField": "timestamptz"}


def _fill_stage(stage_rows: list[tuple[Any, ...]]) -> None:
    from caredesk.patients.models import Encounter

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # a temp table has no statistics: without them the planner may scan encounters. They
            # outlive TRUNCATE and commits (the row count is then read from the table's size), so the
            # stage is analysed once per connection, not for every batch; a check is cheaper than
            # ANALYZE and sees statistics a rolled-back batch took away. The three statements in one
            # round trip (no parameters: the simple query protocol takes several)
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("  # noqa: S608 - constant names
                        f"{', '.join(f'{n} {pg}' for n, pg, _s in STAGE_COLUMNS)}) ON COMMIT DELETE ROWS; "
                        f"TRUNCATE {STAGE}; "
                        "SELECT 1 FROM pg_stats WHERE schemaname = pg_my_temp_schema()::regnamespace::name "
                        f"AND tablename = '{STAGE}' LIMIT 1")
            cur.nextset()
            cur.nextset()
            analysed = cur.fetchone() is not None
            # binary: psycopg writes a row in a fifth of the time it takes to format it as text
            with cur.cursor.copy(f"COPY {STAGE} ({', '.join(_NAMES)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([pg for _n, pg, _s in STAGE_COLUMNS])
                for row in stage_rows:
                    copy.write_row(row)
            if not analysed:
                cur.execute(f"ANALYZE {STAGE}")
        else:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
                        f"{', '.join(f'{n} {lite}' for n, _p, lite in STAGE_COLUMNS)})")
            cur.execute(f"DELETE FROM {STAGE}")  # noqa: S608
            to_dt = _convert("visit_at", Encounter)
            at = [_NAMES.index(c) for c in ("visit_at", "admitted_at", "discharged_at")]
            converted = []
            for row in stage_rows:
                values = list(row)
                for i in at:
                    if values[i] is not None:
                        values[i] = to_dt(values[i])
                converted.append(values)
            cur.executemany(f"INSERT INTO {STAGE} ({', '.join(_NAMES)}) VALUES ({', '.join(['%s'] * len(_NAMES))})",  # noqa: S608
                            converted)


@contextmanager
def _pipeline() -> Iterator[None]:
    """PostgreSQL: the statements executed inside are sent without waiting for each other's results
    (psycopg's pipeline mode), so this process goes on with its own work while the server runs
    them; their results, and any error (as Django's exception), come on leaving. A fetch inside
    waits for every statement sent so far: a result needed inside (the look-ups) is read before the
    statements whose results can wait are sent. Elsewhere each statement runs as it is executed."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def _read_now(cur: Any) -> list[Any] | None:
    """The rows of a ``RETURNING`` statement, read at once outside PostgreSQL's pipeline: SQLite keeps a
    statement whose rows are unread open, and the writes after it then keep statement journals
    (the import ran 3–5 % slower). None on PostgreSQL: read after the pipeline."""
    return None if connection.vendor == "postgresql" else cur.fetchall()


def _now_param(now: Any) -> Any:
    from caredesk.patients.models import Encounter

    to_dt = _convert("updated_at", Encounter)
    return to_dt(now) if to_dt else now


def _update_encounters(cursors: ExitStack, source_system: str, now: Any) -> Callable[[], dict[str, tuple[int, str, str, Any]]]:
    """Updates the existing encounters of the stage whose values differ; the function returned reads
    the result (once the statement has run, see ``_pipeline``): source_id -> (id, status, outcome,
    discharged_at) after the update."""
    from caredesk.patients.models import Encounter

    sets = ", ".join(f"{c} = COALESCE(s.{c}, e.{c})" for c in _MERGED)
    differs = " OR ".join(f"(s.{c} IS NOT NULL AND s.{c} IS DISTINCT FROM e.{c})" for c in _MERGED)
    sql = (f"UPDATE {Encounter._meta.db_table} AS e SET patient_id = s.patient_id, {sets}, updated_at = %s "  # noqa: S608
           f"FROM {STAGE} s WHERE e.source_system = %s AND e.source_id = s.source_id AND s.existed "
           f"AND (e.patient_id <> s.patient_id OR {differs}) "
           # SQLite's RETURNING sees only the updated table and takes no qualified names
           + ("RETURNING e.source_id, e.id, e.status, e.outcome, e.discharged_at" if connection.vendor == "postgresql"
              else "RETURNING source_id, id, status, outcome, discharged_at"))
    cur = cursors.enter_context(connection.cursor())
    cur.execute(sql, [_now_param(now), source_system])
    early = _read_now(cur)

    def result() -> dict[str, tuple[int, str, str, Any]]:
        rows = cur.fetchall() if early is None else early
        if connection.vendor != "postgresql":
            convert = connection.ops.convert_datetimefield_value  # type: ignore[attr-defined]  # SQLite backend method
            rows = [(s, i, st, o, convert(d, None, connection) if d else d) for s, i, st, o, d in rows]
        return {s: (i, st, o, d) for s, i, st, o, d in rows}

    return result


def _insert_encounters(cursors: ExitStack, source_system: str, now: Any, expected: int, *,
                       found_before: bool = True) -> Callable[[], dict[str, int]]:
    """Inserts the batch's new encounters; the function returned reads their ids (source id -> id)
    once the statement has run (``_pipeline``). ``found_before`` False: the run found no encounter
    of its source system (``RunState.encounters_before``), so a plain ``INSERT`` (``ON CONFLICT`` costs
    PostgreSQL a probe of the unique index per row, 40 % more time); an encounter another writer added
    meanwhile then fails it on the unique constraint, and the batch is retried as when the insert
    comes up short."""
    from caredesk.patients.models import Encounter

    if not expected:
        return dict
    columns = ["patient_id", "source_system", "source_id", "kind", "department_id", "department_name", "doctor_id", "doctor_name",
               "diagnosis_text", "diagnosis_code", "visit_at", "admitted_at", "discharged_at", "visit_type", "outcome", "status",
               "feed_event_at", "created_at", "updated_at"]
    values = ["s.patient_id", "%s", "s.source_id", "s.kind", "s.department_id", "COALESCE(s.department_name, '')", "s.doctor_id",
              "COALESCE(s.doctor_name, '')", "COALESCE(s.diagnosis_text, '')", "''", "s.visit_at", "s.admitted_at",
              "s.discharged_at", "COALESCE(s.visit_type, '')", "COALESCE(s.outcome, '')",
              f"COALESCE(s.status, '{Encounter.Status.ACTIVE}')", "NULL", "%s", "%s"]
    # "WHERE true" lets SQLite tell the ON CONFLICT clause from a join constraint
    sql = (f"INSERT INTO {Encounter._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
           f"SELECT {', '.join(values)} FROM {STAGE} s WHERE true AND NOT s.existed ORDER BY s.line "
           f"{'ON CONFLICT (source_system, source_id) DO NOTHING ' if found_before else ''}RETURNING source_id, id")
    param = _now_param(now)
    cur = cursors.enter_context(connection.cursor())
    cur.execute(sql, [source_system, param, param])
    early = _read_now(cur)

    def result() -> dict[str, int]:
        ids = dict(cur.fetchall() if early is None else early)
        if len(ids) != expected:  # another writer (the HL7 feed) added one meanwhile: the caller retries row by row
            raise _EncounterRace("visit import: an encounter appeared while the batch was applied")
        return ids

    return result


def _recount_visits(now: Any, created_after: int | None = None) -> None:
    """Visit figures of the existing patients the batch touched (and of new ones that took over an
    existing encounter), written only where they change.

    ``created_after``: patients with a higher id were created during this import run (or by
    another writer meanwhile, which keeps figures the same way), so their stored figures are the
    count of the encounters written so far. When the batch only adds encounters to such a patient
    (no stored encounter of theirs changed or moved in it), the figures are the stored ones plus
    the batch's: no encounter of theirs is read again. Everyone else is recounted from the table."""
    from caredesk.patients.models import Encounter, Patient

    pt, et = Patient._meta.db_table, Encounter._meta.db_table
    at = "COALESCE(visit_at, admitted_at)"
    now_param = _now_param(now)
    if created_after is None:
        recount, params = f"SELECT patient_id FROM {STAGE} WHERE recount", []  # noqa: S608
    else:
        recount = (f"SELECT patient_id FROM {STAGE} WHERE recount AND (patient_id <= %s "  # noqa: S608
                   f"OR patient_id IN (SELECT patient_id FROM {STAGE} WHERE existed))")
        params = [created_after]
    if connection.vendor == "postgresql":
        # each patient's encounters through the index, whatever the stage's statistics say: with
        # them, PostgreSQL planned a merge join that read the whole encounter index in patient
        # order, 0.35 s per batch of a re-import into an archive of a million encounters
        counts = (f"SELECT s.patient_id, c.n, c.f, c.l FROM (SELECT DISTINCT patient_id FROM ({recount}) AS r) AS s "  # noqa: S608
                  f"CROSS JOIN LATERAL (SELECT COUNT(*) AS n, MIN({at}) AS f, MAX({at}) AS l FROM {et} AS e "
                  f"WHERE e.patient_id = s.patient_id AND e.status <> '{Encounter.Status.CANCELLED}') AS c WHERE c.n > 0")
    else:
        counts = (f"SELECT patient_id, COUNT(*) AS n, MIN({at}) AS f, MAX({at}) AS l FROM {et} "  # noqa: S608
                  f"WHERE patient_id IN ({recount}) AND status <> '{Encounter.Status.CANCELLED}' GROUP BY patient_id")
    sql = (f"UPDATE {pt} AS p SET visit_count = a.n, first_visit_at = a.f, last_visit_at = a.l, updated_at = %s "  # noqa: S608
           f"FROM ({counts}) AS a "
           "WHERE p.id = a.patient_id AND (p.visit_count <> a.n OR p.first_visit_at IS DISTINCT FROM a.f "
           "OR p.last_visit_at IS DISTINCT FROM a.l)")
    with connection.cursor() as cur:
        cur.execute(sql, [now_param, *params])
        if created_after is None:
            return
        # a new encounter is never cancelled; a NULL time leaves the stored bound as it is
        cur.execute(
            f"UPDATE {pt} AS p SET visit_count = p.visit_count + a.n, "  # noqa: S608
            "first_visit_at = CASE WHEN a.f IS NOT NULL AND (p.first_visit_at IS NULL OR a.f < p.first_visit_at) "
            "THEN a.f ELSE p.first_visit_at END, "
            "last_visit_at = CASE WHEN a.l IS NOT NULL AND (p.last_visit_at IS NULL OR a.l > p.last_visit_at) "
            "THEN a.l ELSE p.last_visit_at END, updated_at = %s "
            f"FROM (SELECT patient_id, COUNT(*) AS n, MIN(visit_at) AS f, MAX(visit_at) AS l FROM {STAGE} "
            f"WHERE recount AND NOT existed AND patient_id > %s "
            f"AND patient_id NOT IN (SELECT patient_id FROM {STAGE} WHERE existed) GROUP BY patient_id) AS a "
            "WHERE p.id = a.patient_id", [now_param, created_after])


def _mark_deceased(died: list[tuple[int, Any]], now: Any) -> list[int]:
    if not died:
        return []
    from caredesk.patients.models import Patient

    to_dt = _convert("deceased_at", Patient)
    out: list[int] = []
    with connection.cursor() as cur:
        for pk, at in died:
            cur.execute(f"UPDATE {Patient._meta.db_table} SET is_deceased = %s, deceased_at = %s, updated_at = %s "  # noqa: S608
                        "WHERE id = %s AND NOT is_deceased", [True, to_dt(at) if to_dt else at, _now_param(now), pk])
            if cur.rowcount:
                out.append(pk)
    return out
