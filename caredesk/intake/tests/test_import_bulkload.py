"""A first big load builds the search indexes after its rows (``patients.bulkload``): the same
archive and search results as an import that keeps them row by row, the same indexes afterwards,
and a run that dies with them dropped is repaired by the next import or ``migrate``."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection

from caredesk.intake import actions
from caredesk.intake.actions import import_visits, restore_deferred_indexes
from caredesk.intake.models import ImportRun
from caredesk.intake.tests.test_import_staged import archive, hook_calls, random_rows, wipe  # noqa: F401 - fixture
from caredesk.intake.tests.test_visit_file import write_csv

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not apps.is_installed("caredesk.patients"), reason="the patient archive is not installed"),
]


def catalogue() -> list[tuple[str, ...]]:
    """The indexes, triggers and (PostgreSQL) constraints of the patient and encounter tables, with
    their definitions."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                        "AND tablename IN ('patients_patient', 'patients_encounter')")
            rows = cur.fetchall()
            cur.execute("SELECT tgname, tgenabled::text FROM pg_trigger WHERE tgrelid = 'patients_patient'::regclass "
                        "AND NOT tgisinternal")
            rows += cur.fetchall()
            cur.execute("SELECT conname, pg_get_constraintdef(oid), convalidated::text FROM pg_constraint "
                        "WHERE conrelid IN ('patients_patient'::regclass, 'patients_encounter'::regclass)")
            return sorted(rows + cur.fetchall())
        cur.execute("SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                    "AND tbl_name IN ('patients_patient', 'patients_encounter')")
        return sorted(cur.fetchall())


def suffixes() -> list[tuple[str, str]]:
    from caredesk.patients.models import Patient, PatientNameSuffix

    names = dict(Patient.objects.values_list("id", "outpatient_no"))
    return sorted((s, names[p]) for s, p in PatientNameSuffix.objects.values_list("suffix", "patient_id"))


@pytest.mark.usefixtures("hook_calls")
def test_a_first_load_gives_the_archive_and_indexes_of_a_row_by_row_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from caredesk.patients import hooks
    from caredesk.patients.models import Patient

    before = catalogue()
    rows = random_rows(200, 11)
    results = {}
    during: list[int] = []
    real = hooks.encounters_recorded
    monkeypatch.setattr(hooks, "encounters_recorded", lambda r, d: (during.append(len(catalogue())), real(r, d)))
    for defer in (False, True):
        wipe()
        during.clear()
        run = import_visits(write_csv(tmp_path / f"v{defer}.csv", rows, "gbk"), batch_size=50, defer_indexes=defer)
        assert not run.error and run.deferred_indexes is None
        assert catalogue() == before  # the same indexes and triggers, defined the same way
        results[defer] = (run.imported, archive(), suffixes())
        if defer:  # while the rows went in: SQLite without ten indexes (the encounter timeline among
            # them) and the suffix trigger, PostgreSQL without eleven indexes (``name`` has its
            # pattern-ops twin there), the trigger disabled and without the encounters' three foreign
            # keys and the patients' two
            assert set(during) == {len(before) - (16 if connection.vendor == "postgresql" else 11)}
        else:
            assert set(during) == {len(before)}
    assert results[True] == results[False]
    assert results[True][2]  # suffixes were written
    name = Patient.objects.order_by("id").values_list("name", flat=True).first()
    assert set(Patient.objects.search(name[1:])) >= set(Patient.objects.filter(name=name))  # "name contains"


@pytest.mark.usefixtures("hook_calls")
def test_only_a_big_file_into_an_empty_archive_is_a_first_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from caredesk.patients import bulkload

    deferred: list[int] = []
    real = bulkload.defer
    monkeypatch.setattr(bulkload, "defer", lambda plan: (deferred.append(1), real(plan)))
    path = write_csv(tmp_path / "v.csv", random_rows(40, 12), "gbk")
    import_visits(path)
    assert deferred == []  # a small file
    wipe()
    monkeypatch.setattr(actions, "DEFER_INDEXES_MIN_BYTES", 0)
    import_visits(path)
    assert deferred == [1]  # the archive was empty
    import_visits(write_csv(tmp_path / "w.csv", random_rows(40, 13), "gbk"))
    assert deferred == [1]  # now it has patients


def test_a_run_that_died_with_its_indexes_dropped_is_repaired(tmp_path: Path) -> None:
    """The statements are stored before anything is dropped; ``restore_deferred_indexes`` (called by
    every import and by ``migrate``) rebuilds them and fills the suffixes of the patients added
    meanwhile by other writers (the HL7 feed, with the trigger off)."""
    from caredesk.patients import bulkload
    from caredesk.patients.models import Patient, PatientNameSuffix

    before = catalogue()
    run = ImportRun.objects.create(file_name="dead.csv", file_sha256="0" * 64)
    run.deferred_indexes = bulkload.plan()
    run.save()
    bulkload.defer(run.deferred_indexes)  # ... and the process is killed here
    assert catalogue() != before
    added = Patient.objects.create(name="欧阳晓明", outpatient_no="M1")
    assert not PatientNameSuffix.objects.filter(patient_id=added.pk).exists()
    assert restore_deferred_indexes() == 1
    assert catalogue() == before
    assert sorted(PatientNameSuffix.objects.filter(patient_id=added.pk).values_list("suffix", flat=True)) == [
        "明", "晓明", "阳晓明"]
    assert list(Patient.objects.search("晓明")) == [added]
    run.refresh_from_db()
    assert run.deferred_indexes is None
    assert restore_deferred_indexes() == 0  # nothing left to do


def test_restoring_twice_changes_nothing() -> None:
    from caredesk.patients import bulkload

    before = catalogue()
    deferred = bulkload.plan()
    bulkload.defer(deferred)
    bulkload.restore(deferred)
    bulkload.restore(deferred)  # every statement is idempotent
    assert catalogue() == before


def test_the_encounter_timeline_stays_once_the_archive_has_encounters() -> None:
    """Deferring indexes on an archive that has encounters (``defer_indexes=True``) keeps the
    timeline: the import recounts its older patients' visit figures through it."""
    from caredesk.patients import bulkload
    from caredesk.patients.models import Encounter, Patient

    assert any("timeline" in sql for sql in bulkload.plan()["restore"])
    Encounter.objects.create(patient=Patient.objects.create(name="王五"), kind="outpatient", source_system="HIS", source_id="T1")
    assert not any("timeline" in sql for sql in bulkload.plan()["restore"])


def test_postgresql_leaves_room_on_patient_pages_for_hot_updates() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("fillfactor is PostgreSQL's (run with DATABASE_URL=postgres://…)")
    with connection.cursor() as cur:
        cur.execute("SELECT reloptions FROM pg_class WHERE relname = 'patients_patient'")
        assert cur.fetchone()[0] == ["fillfactor=75"]



@pytest.mark.django_db(transaction=True)  # committed rows: the fill's own connection must see them
def test_postgresql_fills_the_suffixes_on_a_second_connection_while_the_indexes_are_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An import rebuilds in a transaction of its own, so the suffix fill runs in a thread on its own
    connection (``bulkload.restore(parallel=True)``), alongside the index builds; the archive,
    indexes and suffixes are those of the serial rebuild. A failing fill fails the rebuild, which
    the run then keeps to retry."""
    if connection.vendor != "postgresql":
        pytest.skip("the parallel rebuild is PostgreSQL's (run with DATABASE_URL=postgres://…)")
    import threading

    from caredesk.patients import bulkload

    threads: list[str] = []
    real_fill, real_restore = bulkload.fill_name_suffixes, bulkload.restore

    def fill(cur: object, after_id: int) -> None:
        threads.append(threading.current_thread().name)
        real_fill(cur, after_id)

    monkeypatch.setattr(bulkload, "fill_name_suffixes", fill)
    monkeypatch.setattr(actions, "DEFER_INDEXES_MIN_BYTES", 0)
    before = catalogue()
    rows = random_rows(120, 21)
    results = []
    for serial in (True, False):
        wipe()
        if serial:
            monkeypatch.setattr(bulkload, "restore", lambda deferred, parallel=False: real_restore(deferred))
        else:
            monkeypatch.setattr(bulkload, "restore", real_restore)
        run = import_visits(write_csv(tmp_path / f"p{serial}.csv", rows, "gbk"), batch_size=40)
        assert not run.error and run.deferred_indexes is None
        assert catalogue() == before
        results.append((archive(), suffixes()))
    assert threads == [threading.current_thread().name, "caredesk-suffix-fill"]
    assert results[0] == results[1] and results[1][1]

    def broken(cur: object, after_id: int) -> None:
        raise RuntimeError("the fill failed")

    monkeypatch.setattr(bulkload, "fill_name_suffixes", broken)
    wipe()
    run = import_visits(write_csv(tmp_path / "broken.csv", rows, "gbk"), batch_size=40)
    assert run.deferred_indexes is not None  # kept: the rebuild was rolled back
    assert catalogue() != before
    monkeypatch.setattr(bulkload, "fill_name_suffixes", real_fill)
    assert restore_deferred_indexes() == 1
    assert catalogue() == before and suffixes() == results[0][1]
