"""A first big load of the archive with its search indexes built afterwards, not row by row.

The import of a hospital's history (a million visit rows into an empty archive) spends much of its
time keeping indexes that only staff searches and lists read: name, pinyin, initials, last four
digits, last visit, the name-suffix table, the encounters' department and doctor. Their keys are
random, so every row lands on another page of each. The links to a merge survivor and to a group
client are empty for every patient a load creates, yet each new row is still an entry in their
indexes (read only by the merge screens and group pages), so they wait too. On PostgreSQL the
encounters' foreign keys and the patients' own two are dropped as well and added back at the end
(one check of every row instead of one per row). The indexes that the import itself looks
patients and encounters up by (identity number, mobile, record numbers, source id) stay. The encounter timeline (patient, time)
is deferred too when the archive holds no encounter: the import reads it only to recount the visit
figures of patients that existed before the run, and a first load has none (another writer
meanwhile recounts its patient with a scan, slower but the same). ``defer()`` drops the others
(and switches off the trigger that fills the name suffixes of new patients);
``restore()`` builds them again in one sorted pass each and fills the suffixes of every patient
added since, as bulk loaders do (``pg_restore`` creates its indexes after the data).

Nothing is lost if the process dies between the two: ``defer`` returns the exact statements that
rebuild what it drops (read from the database's catalogue) and the caller stores them before
anything is dropped (``ImportRun.deferred_indexes``); every statement is idempotent, so running
``restore`` again, or for a run that already restored, changes nothing. While indexes are deferred,
searches give correct results, only slower, except "name contains" for the patients added since
(their suffixes arrive with ``restore``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

SUFFIX_TRIGGER = "patients_name_suffix_insert"


def _deferrable() -> list[tuple[str, tuple[str, ...]]]:
    """(table, columns) of the plain indexes no import lookup uses. The encounter timeline only while
    the archive holds no encounter: the import recounts the visit figures of older patients through it."""
    from .models import Encounter, Patient

    pt, et = Patient._meta.db_table, Encounter._meta.db_table
    deferrable = [(pt, ("name",)), (pt, ("name_pinyin",)), (pt, ("name_initials",)), (pt, ("mobile_last4",)),
                  (pt, ("last_visit_at",)), (pt, ("merged_into_id",)), (pt, ("group_client_id",)),
                  (et, ("department_id", "patient_id")), (et, ("doctor_id",))]
    if not Encounter.objects.exists():
        deferrable.append((et, ("patient_id", "visit_at", "id")))
    return deferrable


def _index_sql(cur: Any, name: str) -> str | None:
    if connection.vendor == "postgresql":
        cur.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s", [name])
    else:
        cur.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
    row = cur.fetchone()
    return row[0] if row else None


def plan() -> dict[str, Any]:
    """What ``defer`` would drop, as the statements that rebuild it, and the highest patient id now
    (suffixes are filled for the patients after it). Store this before calling ``defer``."""
    from .models import Patient

    restore: list[str] = []
    drop: list[str] = []
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        for table, columns in _deferrable():
            constraints = connection.introspection.get_constraints(cur, table)
            for name, info in sorted(constraints.items()):
                if (info.get("index") and not info.get("unique") and not info.get("primary_key")
                        and tuple(info["columns"]) == columns):
                    sql = _index_sql(cur, name)
                    if sql:
                        restore.append(sql)
                        drop.append(f"DROP INDEX IF EXISTS {qn(name)}")
        if connection.vendor == "postgresql":
            for name, table, definition in _foreign_keys(cur):
                drop.append(f"ALTER TABLE {qn(table)} DROP CONSTRAINT IF EXISTS {qn(name)}")
                restore.append(_add_constraint(name, table, definition))
            cur.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgenabled <> 'D'", [SUFFIX_TRIGGER])
            if cur.fetchone():
                drop.append(f"ALTER TABLE {qn(Patient._meta.db_table)} DISABLE TRIGGER {qn(SUFFIX_TRIGGER)}")
                restore.insert(0, f"ALTER TABLE {qn(Patient._meta.db_table)} ENABLE TRIGGER {qn(SUFFIX_TRIGGER)}")
        else:
            cur.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [SUFFIX_TRIGGER])
            row = cur.fetchone()
            if row:
                drop.append(f"DROP TRIGGER IF EXISTS {qn(SUFFIX_TRIGGER)}")
                restore.insert(0, row[0])
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {qn(Patient._meta.db_table)}")  # noqa: S608
        (after_id,) = cur.fetchone()
    return {"after_id": after_id, "restore": restore, "drop": drop}


def _foreign_keys(cur: Any) -> list[tuple[str, str, str]]:
    """PostgreSQL: (name, table, definition) of the encounters' and the patients' own foreign keys.
    Each new encounter queues a check of its patient (and department, doctor) for the commit, which
    locks the patient row: a tenth of the server's time in a first load. Each new patient queues
    one for its merge survivor and one for its group client, empty as they are (0.8 s of server time
    a million rows). Added again at the end, they check every row in one pass; a row without its
    patient would make that fail and the run keeps them to retry."""
    from .models import Encounter, Patient

    cur.execute("SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid IN (%s::regclass, %s::regclass) AND contype = 'f' ORDER BY conrelid::regclass::text, conname",
                [Encounter._meta.db_table, Patient._meta.db_table])
    return [(name, table.strip('"'), definition) for name, table, definition in cur.fetchall()]


def _add_constraint(name: str, table: str, definition: str) -> str:
    """``ALTER TABLE … ADD CONSTRAINT`` that does nothing when the constraint exists (idempotent, as
    every restore statement is; PostgreSQL has no ``IF NOT EXISTS`` for constraints)."""
    qn = connection.ops.quote_name
    literal = name.replace("'", "''")
    # names and definition come from the catalogue (``_foreign_keys``), not from input
    return (f"DO $restore$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '{literal}' "  # noqa: S608
            f"AND conrelid = '{qn(table)}'::regclass) THEN ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}; "
            "END IF; END $restore$")


@transaction.atomic
def defer(deferred: dict[str, Any]) -> None:
    """Drop what ``deferred`` (from ``plan``) lists."""
    with connection.cursor() as cur, _no_pending_checks(cur):
        for sql in deferred["drop"]:
            cur.execute(sql)


@contextmanager
def _no_pending_checks(cur: Any) -> Iterator[None]:
    """PostgreSQL refuses ``ALTER TABLE`` on a table with deferred foreign-key checks pending in the
    transaction (a caller's earlier writes): run them first, then defer again (Django's foreign
    keys are ``DEFERRABLE INITIALLY DEFERRED``)."""
    if connection.vendor != "postgresql":
        yield
        return
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    cur.execute("SET CONSTRAINTS ALL DEFERRED")


_CREATE = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?(INDEX|TRIGGER)\s+(?!IF\s+NOT\s+EXISTS)", re.IGNORECASE)


def _idempotent(sql: str) -> str:
    return _CREATE.sub(lambda m: f"CREATE {m.group(1) or ''}{m.group(2).upper()} IF NOT EXISTS ", sql, count=1)


@transaction.atomic
def restore(deferred: dict[str, Any], *, parallel: bool = False) -> None:
    """Build again what ``defer`` dropped and fill the name suffixes of the patients added since. The
    trigger comes back first: a patient another writer adds meanwhile is either seen by the fill or
    written after the trigger is back.

    ``parallel`` (PostgreSQL; for a caller whose transaction wrote nothing before, as an import's own
    rebuild, so that a second connection sees the same rows and waits for no lock of it): the fill runs
    at the same time on a second connection, in a thread, while this one builds the indexes and foreign
    keys; each is one core's work (about 1.8 s and 3.4 s after a million rows). Enabling the trigger
    locks the patient table against writers until this transaction commits, and the fill starts after
    that, so it still sees every patient written without the trigger. Its rows commit on their own: if
    this transaction then fails, the run keeps its statements and the next rebuild fills nothing twice
    (``ON CONFLICT DO NOTHING``)."""
    statements = [_idempotent(sql) for sql in deferred["restore"]]
    triggers = [sql for sql in statements if _TRIGGER.search(sql)]
    with connection.cursor() as cur, _no_pending_checks(cur):
        for sql in triggers:
            cur.execute(sql)
        with _filling(deferred["after_id"], cur, parallel=parallel):
            for sql in statements:
                if sql not in triggers:
                    cur.execute(sql)
        if connection.vendor == "postgresql":
            from .models import Encounter, Patient

            cur.execute(f"ANALYZE {Patient._meta.db_table}, {Encounter._meta.db_table}")


_TRIGGER = re.compile(r"\b(ENABLE|CREATE)\s+TRIGGER\b", re.IGNORECASE)


@contextmanager
def _filling(after_id: int, cur: Any, *, parallel: bool) -> Iterator[None]:
    """The name suffixes filled while the block runs (on a second connection, see ``restore``), or
    after it on this one."""
    if not parallel or connection.vendor != "postgresql":
        yield
        fill_name_suffixes(cur, after_id)
        return
    failure: list[BaseException] = []

    def fill() -> None:
        from django.db import connection as own  # this thread's own connection

        try:
            with transaction.atomic(), own.cursor() as helper:
                fill_name_suffixes(helper, after_id)
        except BaseException as exc:  # raised again in the caller's thread
            failure.append(exc)
        finally:
            own.close()

    thread = threading.Thread(target=fill, name="caredesk-suffix-fill")
    thread.start()
    try:
        yield
    finally:
        thread.join()
    if failure:
        raise failure[0]


def fill_name_suffixes(cur: Any, after_id: int) -> None:
    """The suffix rows (``PatientNameSuffix``) of every patient whose id is above ``after_id``, as the
    name-suffix triggers write them; rows already there are kept."""
    from .models import Patient, PatientNameSuffix

    pt, st = Patient._meta.db_table, PatientNameSuffix._meta.db_table
    if connection.vendor == "postgresql":
        cur.execute(f"INSERT INTO {st} (suffix, patient_id) SELECT substr(p.name, pos), p.id "  # noqa: S608
                    f"FROM {pt} p, generate_series(2, char_length(p.name)) AS pos WHERE p.id > %s ORDER BY 1, 2 "
                    "ON CONFLICT DO NOTHING", [after_id])
    else:
        # each name's own positions, counted up in a recursive CTE: a join with the list of every
        # possible position (2–60) tested each patient against all 59 and took three times as long
        # (5.5 s against 1.7 s for 197,000 patients, docs/benchmarks.md)
        cur.execute(f"INSERT OR IGNORE INTO {st} (suffix, patient_id) WITH RECURSIVE s(id, name, pos) AS ("  # noqa: S608
                    f"SELECT id, name, 2 FROM {pt} WHERE id > %s AND length(name) >= 2 "
                    "UNION ALL SELECT id, name, pos + 1 FROM s WHERE pos < length(name)) "
                    "SELECT substr(name, pos), id FROM s ORDER BY 1, 2", [after_id])
