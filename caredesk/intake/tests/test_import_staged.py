"""The staged import path (temporary table + set-based SQL; COPY on PostgreSQL) gives exactly the
archive, counts and hook calls of the row-by-row reference path, on whichever database the suite
runs (SQLite by default; PostgreSQL with DATABASE_URL=postgres://…)."""

from __future__ import annotations

import json
import multiprocessing
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from caredesk.intake.actions import import_visits
from caredesk.intake.tests.test_import_archive import OTHER_ID, VISITS
from caredesk.intake.tests.test_visit_file import GOOD_ID, HIS_ROWS, STANDARD_HEADERS, row, write_csv

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not apps.is_installed("caredesk.patients"), reason="the patient archive is not installed"),
]

THIRD_ID = "11010119850517123X"


@pytest.fixture
def hook_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """What each batched hook received, by source id / record number (ids differ between runs)."""
    from caredesk.patients import hooks

    calls: dict[str, list[Any]] = {"registered": [], "discharged": [], "deceased": []}

    def record(registered: list[Any], discharged: list[Any]) -> None:
        for key, es in (("registered", registered), ("discharged", discharged)):
            assert all(e.pk and e.patient_id for e in es)
            calls[key].append(sorted((e.source_id, e.kind, e.status, e.outcome, e.department_id) for e in es))

    monkeypatch.setattr(hooks, "encounters_recorded", record)
    monkeypatch.setattr(hooks, "patients_deceased", lambda ps: calls["deceased"].append(sorted(p.name for p in ps)))
    return calls


def archive() -> tuple[list[Any], list[Any]]:
    """Everything the import writes, without ids (they differ between two runs) and with the clear
    identity values (the ciphertexts differ: a fresh nonce each time)."""
    from caredesk.patients.models import Encounter, Patient

    names = dict(Patient.objects.values_list("id", "name"))
    patients = sorted(
        (p.name, p.sex, p.birth_date, p.id_number, p.id_number_bidx, p.mobile, p.mobile_bidx, p.mobile_last4, p.address,
         p.outpatient_no, p.inpatient_no, p.source_channel, p.customer_type, p.name_pinyin, p.name_initials, p.visit_count,
         p.first_visit_at, p.last_visit_at, p.is_deceased, p.deceased_at, names.get(p.merged_into_id))
        for p in Patient.objects.all())
    encounters = sorted(
        (e.source_system, e.source_id, names[e.patient_id], e.kind, e.department_id, e.department_name, e.doctor_id,
         e.doctor_name, e.diagnosis_text, e.diagnosis_code, e.visit_at, e.admitted_at, e.discharged_at, e.visit_type,
         e.outcome, e.status)
        for e in Encounter.objects.all())
    return patients, encounters


def wipe() -> None:
    from caredesk.patients.models import Encounter, Patient

    Encounter.objects.all().delete()
    Patient.objects.filter(merged_into__isnull=False).delete()
    Patient.objects.all().delete()


def seed_archive(source: str = "HIS") -> None:
    """Patients already in the archive before the files: one merged into another, one with an
    address and mobile the files change, and a cancelled encounter the files discharge (when
    ``source`` is the files' source system; another one's encounters are never the files')."""
    from caredesk.accounts.models import Department
    from caredesk.patients.actions import refresh_visit_stats
    from caredesk.patients.models import Encounter, Patient

    dept = Department.objects.get_or_create(code="XNK", defaults={"name": "心内科"})[0]

    def patient(**kw: Any) -> Any:
        p = Patient(**kw)
        p.refresh_derived_fields()
        p.save()
        return p

    survivor = patient(name="赵六", outpatient_no="M600", mobile="13900139000", address="旧地址1号")
    patient(name="赵六", outpatient_no="M500", merged_into=survivor)
    old = patient(name="钱七", id_number=THIRD_ID, address="某路2号", inpatient_no="Z700")
    Encounter.objects.create(patient=old, kind="inpatient", source_system=source, source_id="OLD1", status="cancelled",
                             admitted_at="2026-01-02T08:00:00+08:00", visit_at="2026-01-02T08:00:00+08:00")
    Encounter.objects.create(patient=old, kind="outpatient", source_system=source, source_id="OLD2", department=dept,
                             visit_at="2026-01-05T08:00:00+08:00")
    # a patient whose only visit a file gives to someone else, with no row of their own in it
    left = patient(name="周九", outpatient_no="M990")
    Encounter.objects.create(patient=left, kind="outpatient", source_system=source, source_id="OLD3",
                             visit_at="2026-01-06T08:00:00+08:00")
    refresh_visit_stats(left)


LATER = [
    STANDARD_HEADERS,
    # the merged record's number: lands on its survivor, new mobile and address
    row(流水号="N1", 门诊号="M500", 姓名="赵六", 手机号="13900139001", 地址="新地址9号", 科室="XNK"),
    # an existing stay discharged with 死亡 (the patient becomes deceased) and moved nowhere
    row(**{"流水号": "OLD1", "就诊类型(门诊/住院)": "住院", "住院号": "Z700", "姓名": "钱七", "身份证号": THIRD_ID, "就诊时间": "",
           "入院时间": "2026-01-02 08:00", "出院时间": "2026-01-09 10:00", "转归": "死亡"}),
    # an existing visit moved to a brand-new patient (different 门诊号, no identity number)
    row(流水号="OLD2", 门诊号="M900", 姓名="孙八", 就诊时间="2026-01-05 08:00"),
    row(流水号="OLD3", 门诊号="M900", 姓名="孙八", 就诊时间="2026-01-06 08:00"),  # 周九's only visit moves to 孙八
    # the same person as V1 by identity number, new name spelling and address: an update
    row(流水号="N2", 门诊号="M100", 姓名="张叁", 身份证号=GOOD_ID, 地址="某路3号", 就诊时间="2026-04-02 09:00"),
    # name (as the row above renamed it) + mobile match, nothing else
    row(流水号="N3", 姓名="张叁", 手机号="13800138000", 门诊号="", 就诊时间="2026-04-03 09:00"),
    row(流水号="N4", 门诊号="M1", 姓名="李四", 身份证号=OTHER_ID, 就诊时间="2026-04-04 09:00", 初复诊="复诊"),
    row(流水号="N5", 门诊号="M1", 姓名="李四", 就诊时间="2026-04-05 09:00"),  # a repeat of a patient new in this batch
]


def random_rows(n: int, seed: int) -> list[list[str]]:
    """Many visits of few patients, so batches overlap in patients and numbers."""
    rng = random.Random(seed)
    out = [STANDARD_HEADERS]
    for i in range(n):
        p = rng.randrange(max(1, n // 3))
        inpatient = rng.random() < 0.3
        day = f"2026-0{rng.randint(1, 6)}-{rng.randint(10, 28)} {rng.randint(8, 17):02d}:00"
        fields = {"流水号": f"R{i}", "门诊号": f"M{p}", "姓名": "王五" if p % 7 else "王伍", "地址": f"某路{p % 4}号",
                  "手机号": f"1380000{p:04d}" if p % 3 else "", "科室": rng.choice(["心内科", "XNK", ""])}
        if inpatient:
            fields.update({"就诊类型(门诊/住院)": "住院", "住院号": f"Z{p}", "就诊时间": "", "入院时间": day,
                           "出院时间": day.replace(" ", " ") if rng.random() < 0.5 else "", "转归": rng.choice(["好转", "治愈", ""])})
        else:
            fields["就诊时间"] = day
        out.append(row(**fields))
    return out


def run_files(tmp_path: Path, method: str, batch_size: int, files: list[list[list[str]]]) -> list[tuple[int, int, int, int]]:
    """``method``: batch, staged, or staged+child (the file read and checked in a forked child)."""
    counts = []
    for i, rows in enumerate(files):
        run = import_visits(write_csv(tmp_path / f"{method}{i}.csv", rows, "gbk"), method=method.split("+")[0],
                            batch_size=batch_size, parallel=method.endswith("+child"))
        assert not run.error
        counts.append((run.imported, run.updated, run.unchanged, run.rejected))
    return counts


SCENARIOS = {
    "his file, then a re-run": [VISITS + HIS_ROWS[1:], VISITS + HIS_ROWS[1:]],
    "updates, merges, moves, deaths": [VISITS, LATER, LATER],
    "many visits of few patients": [random_rows(120, 1), random_rows(150, 2), random_rows(150, 2)],
    # one file: nothing after it recounts what its batches wrote
    "one file of old and new patients": [[*random_rows(150, 3), *LATER[1:3], *VISITS[1:]]],
}


@pytest.mark.parametrize("seed_source", ["HIS", "FEED"])
@pytest.mark.parametrize("batch_size", [1, 7, 5000])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_staged_path_fills_the_archive_exactly_as_the_batch_path(tmp_path: Path, hook_calls: dict[str, list[Any]],
                                                                      scenario: str, batch_size: int, seed_source: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The same files through the row-by-row path, the staged path, and the staged path with the file
    read in a child process give the same counts, archive and hook calls. ``seed_source`` FEED: the
    archive holds patients and visits but none of the files' source system, so the first file's
    encounters are not looked up (``RunState.encounters_before``) and its older patients recounted."""
    from caredesk.accounts.models import Department
    from caredesk.core import forkpipe

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("this platform cannot fork")
    from caredesk.intake.actions import CHILD_IDLE, CHILD_NICE

    children: list[tuple[int, bool]] = []
    real = forkpipe.iterate_in_child
    monkeypatch.setattr(forkpipe, "available", lambda: True)  # even if another test left a thread running
    monkeypatch.setattr(forkpipe, "iterate_in_child", lambda *a, **kw: (children.append((kw["nice"], kw["idle"])), real(*a, **kw))[1])
    Department.objects.get_or_create(code="XNK", defaults={"name": "心内科"})
    results = {}
    for method in ("batch", "staged", "staged+child"):
        wipe()
        seed_archive(seed_source)
        for calls in hook_calls.values():
            calls.clear()
        counts = run_files(tmp_path, method, batch_size, SCENARIOS[scenario])
        results[method] = (counts, archive(), {k: sorted(x for batch in v for x in batch) for k, v in hook_calls.items()})
    assert results["staged"][0] == results["batch"][0]  # imported/updated/unchanged/rejected, file by file
    assert results["staged"][1] == results["batch"][1]  # every stored value
    assert results["staged"][2] == results["batch"][2]  # what the hooks received
    assert results["staged+child"] == results["staged"]
    assert children == [(CHILD_NICE, CHILD_IDLE)] * len(SCENARIOS[scenario])  # one child per file, at a lower priority


def test_the_later_file_does_what_the_archive_rules_say(tmp_path: Path, hook_calls: dict[str, list[Any]]) -> None:
    """A spot check of the scenario above (so both paths being wrong the same way would show)."""
    from caredesk.patients.models import Encounter, Patient

    seed_archive()
    counts = run_files(tmp_path, "staged", 2000, [VISITS, LATER, LATER])
    assert counts == [(5, 0, 0, 0), (5, 3, 0, 0), (0, 0, 8, 0)]
    zhao = Patient.objects.get(name="赵六", merged_into__isnull=True)  # the survivor took the row and its number
    assert (zhao.outpatient_no, zhao.mobile, zhao.address, zhao.visit_count) == ("M500", "13900139001", "新地址9号", 1)
    qian = Patient.objects.get(inpatient_no="Z700")
    assert qian.is_deceased and Encounter.objects.get(source_id="OLD1").status == "discharged"
    assert qian.visit_count == 1  # the cancelled stay counts again once discharged; OLD2 moved away
    assert Encounter.objects.get(source_id="OLD2").patient.name == "孙八"
    sun = Patient.objects.get(name="孙八")
    assert (sun.visit_count, sun.first_visit_at.day, sun.last_visit_at.day) == (2, 5, 6)
    zhou = Patient.objects.get(name="周九")  # no row of its own in the file, but its visit left
    assert (zhou.visit_count, zhou.first_visit_at, zhou.last_visit_at) == (0, None, None)
    zhang = Patient.objects.get(outpatient_no="M100")
    assert (zhang.name, zhang.name_pinyin, zhang.address, zhang.visit_count) == ("张叁", "zhangsan", "某路3号", 5)  # V1-V3, N2, N3
    assert [c for c in hook_calls["deceased"] if c] == [["李四"], ["钱七"]]


def test_the_staged_path_runs_a_fixed_number_of_queries_per_batch(tmp_path: Path, hook_calls: dict[str, list[Any]],
                                                                  django_assert_max_num_queries: Any) -> None:
    """One batch of 30 rows and one of 300 rows cost about the same number of statements: a few
    more when the second one also updates (one per kind of change, never one per row). The hooks,
    stubbed here, have their own tests."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        import_visits(write_csv(tmp_path / "small.csv", random_rows(30, 3), "gbk"), batch_size=5000)
    with django_assert_max_num_queries(len(small.captured_queries) + 5):
        import_visits(write_csv(tmp_path / "big.csv", random_rows(300, 4), "gbk"), batch_size=5000)
    # the run: page cache and checkpoint interval set and restored, commit group, deferred indexes,
    # last patient id, encounters of the source system; visit figures: a recount and an increment;
    # the planning horizon, once per run (the planning configuration loaded into a cold cache: 9);
    # the departments and doctors, one snapshot per run
    assert len(small.captured_queries) <= 44


def test_a_batch_costs_few_round_trips_to_the_database(tmp_path: Path, hook_calls: dict[str, list[Any]]) -> None:
    """Statements a batch sends beyond the run's own. With a big file each is a wait for the server
    (and, on a machine whose cores the import keeps busy, for the scheduler to wake the other side).
    PostgreSQL, per batch: the savepoint and its release, the batch's known encounters, the new
    patients' ids, the stage's creation, truncation and statistics check in one round trip, then in
    one pipeline the next batch's look-up and the encounters' update and insert with the two
    visit-figure statements (the two COPYs are not counted here). The run's counts and rejects are
    saved once per commit, not per batch."""
    from django.test.utils import CaptureQueriesContext

    def rows(prefix: str, n: int) -> list[list[str]]:
        out = [STANDARD_HEADERS]
        for i in range(n):
            out.append(row(流水号=f"{prefix}{i}", 门诊号=f"{prefix}M{i}", 姓名="王五", 就诊时间="2026-03-02 09:00"))
            if i % 10 == 9:  # a rejected row in every batch
                out.append(row(流水号=f"{prefix}X{i}", 门诊号=f"{prefix}M{i}", 姓名="王五", 就诊时间="2026-02-30 09:00"))
        return out

    import_visits(write_csv(tmp_path / "warm.csv", rows("A", 10), "gbk"))  # caches filled, encounters of HIS known
    with CaptureQueriesContext(connection) as one:
        first = import_visits(write_csv(tmp_path / "one.csv", rows("B", 40), "gbk"), batch_size=40)
    with CaptureQueriesContext(connection) as four:
        second = import_visits(write_csv(tmp_path / "four.csv", rows("C", 40), "gbk"), batch_size=10)
    assert (first.imported, first.rejected) == (second.imported, second.rejected) == (40, 4)
    per_batch = (len(four.captured_queries) - len(one.captured_queries)) / 3
    # (before: 15.7 on both)
    assert per_batch <= (10 if connection.vendor == "postgresql" else 12), [q["sql"][:60] for q in four.captured_queries]


def test_a_run_reads_the_departments_and_doctors_once_not_per_batch(tmp_path: Path, hook_calls: dict[str, list[Any]]) -> None:
    from django.test.utils import CaptureQueriesContext

    from caredesk.accounts.models import Department, Doctor

    dept = Department.objects.create(code="XNK", name="心内科")
    Doctor.objects.create(name="王医生", staff_no="D01", department=dept)
    rows = [STANDARD_HEADERS, *(row(流水号=f"D{i}", 门诊号=f"M{i}", 姓名="张三", 科室="心内科", 医生="D01") for i in range(12))]
    with CaptureQueriesContext(connection) as ctx:
        run = import_visits(write_csv(tmp_path / "d.csv", rows, "gbk"), batch_size=3)
    assert run.imported == 12
    tables = (Department._meta.db_table, Doctor._meta.db_table)
    # (the planning configuration reads departments too, in queries of its own)
    snapshots = [q for q in ctx.captured_queries if q["sql"].startswith(tuple(f'SELECT "{t}"."id", ' for t in tables))]
    assert len(snapshots) == 2  # one of each table for 4 batches
    assert {(e.department_id, e.doctor.staff_no) for e in apps.get_model("patients", "Encounter").objects.all()} == {(dept.pk, "D01")}


def test_postgresql_copies_new_patients_and_stages_encounters(tmp_path: Path, hook_calls: dict[str, list[Any]],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from caredesk.patients import fastsql

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's (run with DATABASE_URL=postgres://…)")
    copied: list[int] = []
    real = fastsql.copy_insert
    monkeypatch.setattr(fastsql, "copy_insert", lambda objs, **kw: (copied.append(len(objs)), real(objs, **kw)))
    monkeypatch.setattr(fastsql, "insert_many", lambda objs: pytest.fail("PostgreSQL must use COPY"))
    run = import_visits(write_csv(tmp_path / "v.csv", VISITS, "gbk"), batch_size=2)
    assert (run.imported, sum(copied)) == (5, 3)
    with connection.cursor() as cur:  # the sequence moved past the copied ids: a plain INSERT still works
        cur.execute("SELECT max(id) < nextval(pg_get_serial_sequence('patients_patient', 'id')) FROM patients_patient")
        assert cur.fetchone()[0]


def test_prepared_values_give_new_patients_what_refresh_derived_fields_gives() -> None:
    """The staged path sets a new patient's derived fields from the row's ``Prepared`` values
    (computed while reading) instead of calling ``refresh_derived_fields``: both must agree."""
    from caredesk.intake.visit_apply import prepare, row_keys
    from caredesk.intake.visit_file import VisitRow
    from caredesk.intake.visit_stage import _derive
    from caredesk.patients import fastsql
    from caredesk.patients.models import Patient

    rows = [VisitRow(line=2, source_id="a", kind="outpatient", name="欧阳 娜娜", id_number=GOOD_ID.lower(), mobile="+86 138-0013-8000"),
            VisitRow(line=3, source_id="b", kind="outpatient", name="单雄信"),
            VisitRow(line=4, source_id="c", kind="inpatient", name="张三", mobile="13912345678", address="某路1号")]
    fields = ("name", "name_pinyin", "name_initials", "id_number", "id_number_bidx", "mobile", "mobile_bidx", "mobile_last4")
    for r in rows:
        prep = prepare(r)
        fast = fastsql.new_instance(Patient, **prep.values)
        _derive(fast, prep)
        slow = Patient(**prep.values)
        slow.refresh_derived_fields()
        assert [getattr(fast, f) for f in fields] == [getattr(slow, f) for f in fields]
        assert fast.name_pinyin  # not trivially equal
        assert prep.keys == row_keys(prep.values)


def test_rows_packed_in_the_reading_process_come_back_whole() -> None:
    """What ``import_visits`` sends between the reading process and itself: good rows as tuples
    (with or without their prepared values), rejected rows as they are."""
    from caredesk.intake.actions import _pack_rows, _unpack_rows
    from caredesk.intake.visit_apply import prepare
    from caredesk.intake.visit_file import RejectedRow, VisitRow

    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    prepared = VisitRow(line=2, source_id="a", kind="outpatient", name="张三", id_number=GOOD_ID, mobile="13800138000",
                        visit_at=at, department="心内科", outcome="cured")
    prepared.prepared = prepare(prepared)
    plain = VisitRow(line=3, source_id="b", kind="inpatient", name="李四", admitted_at=at, discharged_at=at)
    rejected = RejectedRow(4, ["x"], [("姓名", "缺少姓名")])
    items = _unpack_rows(_pack_rows([prepared, plain, rejected]))
    assert items == [prepared, plain, rejected]  # every field (``prepared`` is not compared)
    assert items[0].prepared is not None and items[1].prepared is None
    assert (items[0].prepared.values, items[0].prepared.id_number_bidx, items[0].prepared.mobile_bidx,
            items[0].prepared.pinyin) == (prepared.prepared.values, prepared.prepared.id_number_bidx,
                                          prepared.prepared.mobile_bidx, prepared.prepared.pinyin)


def _plan(query: Any) -> str:
    sql, params = query if isinstance(query, tuple) else query.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " | ".join(str(row[-1]) for row in cur.fetchall())


def test_the_lookups_of_a_full_batch_probe_indexes_instead_of_scanning_the_archive() -> None:
    """SQLite plans a query with thousands of IN values as a full scan when they are ORed over
    several columns: each batch then costs as much as the archive is large. The staged path's
    lookups, at their full size, must use the indexes."""
    from caredesk.intake.visit_stage import LOOKUP_CHUNK, _known_queries
    from caredesk.patients.models import Encounter

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's planner (PostgreSQL gets one array per column)")
    values = [f"{i:064x}" for i in range(LOOKUP_CHUNK * 2)]
    arrays = {"id_number_bidx": values, "outpatient_no": values, "inpatient_no": values, "mobile_bidx": values}
    plans = [_plan(q) for q in _known_queries(arrays)]
    assert len(plans) == 8
    assert all("USING INDEX" in p and "SCAN patients_patient" not in p for p in plans), plans
    encounters = _plan(Encounter.objects.filter(source_system="HIS", source_id__in=values[:2000]).values_list("source_id", "id"))
    assert "SCAN" not in encounters, encounters


def test_planner_statistics_are_refreshed_each_time_the_applied_rows_double(tmp_path: Path, hook_calls: dict[str, list[Any]],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from caredesk.intake import visit_stage

    calls: list[int] = []
    real = visit_stage.refresh_statistics
    monkeypatch.setattr(visit_stage, "refresh_statistics", lambda: (calls.append(1), real())[1])
    run = import_visits(write_csv(tmp_path / "v.csv", random_rows(40, 9), "gbk"), batch_size=2, commit_rows=4)
    assert run.imported + run.updated + run.unchanged == 40
    assert len(calls) == 3  # after 8, 16 and 32 rows
    # only the columns the import looks up by are analysed: every one of them is
    assert {*visit_stage._KNOWN_FIELDS[:1], "id_number_bidx", "mobile_bidx", "outpatient_no", "inpatient_no",
            "merged_into_id"} <= set(visit_stage._PATIENT_KEYS)
    assert {"patient_id", "source_system", "source_id", "status"} <= set(visit_stage._ENCOUNTER_KEYS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT attname FROM pg_stats WHERE tablename = 'patients_patient'")
            assert set(visit_stage._PATIENT_KEYS) <= {r[0] for r in cur.fetchall()}


@pytest.mark.parametrize("values", [["a", "b"], ["门诊,1", "x'y", "back\\slash", "tab\there", "N\nL"], ["only"]])
def test_text_arrays_travel_as_one_string_and_arrive_whole(values: list[str]) -> None:
    from caredesk.intake.visit_stage import _any_text

    sql, value = _any_text(values)
    assert (sql, value) == ("string_to_array(%s, E'\\x1f')", "\x1f".join(values))
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"SELECT array_to_json({sql})::text", [value])
            assert json.loads(cur.fetchone()[0]) == values


@pytest.mark.parametrize("values", [[], ["a", ""], ["a\x1fb", "c"]])
def test_a_text_array_with_an_empty_value_or_the_separator_travels_as_a_list(values: list[str]) -> None:
    from caredesk.intake.visit_stage import _any_text

    assert _any_text(values) == ("%s", values)


def test_the_plain_look_up_queries_take_only_the_known_columns() -> None:
    from caredesk.intake.visit_stage import _known_queries

    assert [params for _sql, params in _known_queries({"outpatient_no": ["M1", "M2"]})] == [["M1", "M2"]]
    for column in ("name_pinyin", "address_c", "id = id OR 1"):
        with pytest.raises(ValueError, match="look-up column"):
            list(_known_queries({column: ["x"]}))


def _encounter_lookups(queries: list[dict[str, Any]]) -> list[str]:
    return [q["sql"] for q in queries if "source_id" in q["sql"] and q["sql"].lstrip().upper().startswith("SELECT")
            and "patients_encounter" in q["sql"]]


def test_a_run_into_an_archive_without_encounters_of_its_source_does_not_look_them_up(
        tmp_path: Path, hook_calls: dict[str, list[Any]]) -> None:
    """The reader rejects a repeated source id, so a run whose source system had no encounter when
    it started cannot find one: its batches skip that look-up. A second run (the re-run) must look
    them up again, and still changes nothing."""
    from django.test.utils import CaptureQueriesContext

    path = write_csv(tmp_path / "v.csv", VISITS, "gbk")
    with CaptureQueriesContext(connection) as first:
        run = import_visits(path, batch_size=2)
    assert (run.imported, run.rejected) == (5, 0)
    assert _encounter_lookups(first.captured_queries) == []
    with CaptureQueriesContext(connection) as second:
        again = import_visits(path, batch_size=2)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 5)
    assert _encounter_lookups(second.captured_queries)  # one per batch


def test_an_encounter_another_writer_adds_during_the_run_is_found_by_the_retry(hook_calls: dict[str, list[Any]]) -> None:
    """The HL7 feed writes an encounter with a source id the run (which had none of its source
    system at the start) is about to insert: the batch's insert comes up short, the batch fails, the
    run looks encounters up from then on, and the row updates that encounter instead of being lost."""
    from django.db import transaction

    from caredesk.intake.visit_file import VisitRow
    from caredesk.intake.visit_stage import RunState, apply_visit_rows_staged
    from caredesk.patients.models import Encounter, Patient

    feed = Patient.objects.create(name="王五", outpatient_no="M7")
    at = datetime(2026, 3, 1, 8, tzinfo=UTC)
    Encounter.objects.create(patient=feed, kind="outpatient", source_system="HIS", source_id="S2", visit_at=at)
    state = RunState(created_after=0, encounters_before=False)  # as it was when the run started
    rows = [VisitRow(line=2, source_id="S1", kind="outpatient", name="王五", outpatient_no="M7", visit_at=at),
            VisitRow(line=3, source_id="S2", kind="outpatient", name="王五", outpatient_no="M7", visit_at=at, diagnosis="高血压")]
    with pytest.raises(RuntimeError), transaction.atomic():
        apply_visit_rows_staged(list(rows), source_system="HIS", run=state)
    assert state.encounters_before  # from now on: look-ups
    assert [apply_visit_rows_staged([r], source_system="HIS", run=state) for r in rows] == [["created"], ["updated"]]
    assert Encounter.objects.count() == 2
    assert Encounter.objects.get(source_id="S2").diagnosis_text == "高血压"


@pytest.mark.parametrize("method", ["batch", "staged"])
def test_the_hooks_get_only_the_encounters_a_module_can_still_plan_from(tmp_path: Path, hook_calls: dict[str, list[Any]],
                                                                        method: str) -> None:
    """An import of past years: visits and discharges older than ``hooks.planning_horizon`` are
    written but left out of the hook calls (every module would drop them); recent ones are passed."""
    from datetime import timedelta

    from django.utils import timezone

    from caredesk.patients.models import Encounter

    def day(days_ago: int) -> str:
        return f"{timezone.localtime() - timedelta(days=days_ago):%Y-%m-%d %H:%M}"

    rows = [STANDARD_HEADERS, row(流水号="OLD", 门诊号="M1", 就诊时间="2019-05-01 09:00"), row(流水号="NEW", 门诊号="M1", 就诊时间=day(1)),
            row(**{"流水号": "OLDSTAY", "就诊类型(门诊/住院)": "住院", "住院号": "Z1", "门诊号": "M1", "就诊时间": "",
                   "入院时间": "2019-05-02 09:00", "出院时间": "2019-05-09 09:00"}),
            row(**{"流水号": "STAY", "就诊类型(门诊/住院)": "住院", "住院号": "Z2", "门诊号": "M1", "就诊时间": "",
                   "入院时间": day(6), "出院时间": day(2)}),
            # a visit too old for a call after a visit, though young enough for a discharge's plan
            row(流水号="SPRING", 门诊号="M1", 就诊时间=day(120)),
            # an admission plans nothing before its discharge
            row(**{"流水号": "ADMIT", "就诊类型(门诊/住院)": "住院", "住院号": "Z3", "门诊号": "M1", "就诊时间": "", "入院时间": day(1)}),
            row(**{"流水号": "LASTYEAR", "就诊类型(门诊/住院)": "住院", "住院号": "Z4", "门诊号": "M1", "就诊时间": "",
                   "入院时间": day(130), "出院时间": day(120)})]
    run = import_visits(write_csv(tmp_path / "v.csv", rows, "gbk"), method=method)
    assert (run.imported, run.rejected) == (7, 0)
    assert Encounter.objects.count() == 7  # every row is written
    assert sorted(s for batch in hook_calls["registered"] for s, *_rest in batch) == ["LASTYEAR", "NEW", "STAY"]
    assert sorted(s for batch in hook_calls["discharged"] for s, *_rest in batch) == ["LASTYEAR", "STAY"]


def test_copy_insert_runs_the_meanwhile_work_once_every_row_is_written_and_has_its_id() -> None:
    """The staged path builds its stage rows while PostgreSQL takes the new patients in: the work is
    called inside the ``COPY``, after every object got its id, and at once when nothing is copied."""
    from caredesk.patients import fastsql
    from caredesk.patients.models import Patient

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's (run with DATABASE_URL=postgres://…)")
    seen: list[list[Any]] = []
    fastsql.copy_insert([], meanwhile=lambda: seen.append([]))
    patients = [fastsql.new_instance(Patient, name=name) for name in ("甲", "乙", "丙")]
    fastsql.copy_insert(patients, meanwhile=lambda: seen.append([(p.pk, p._state.adding) for p in patients]))
    assert seen[0] == []
    assert [p.pk for p in patients] == sorted({p.pk for p in patients})  # ids ascend in list order, as INSERT gives them
    assert [pk for pk, _adding in seen[1]] == [p.pk for p in patients] and all(pk for pk, _a in seen[1])
    assert not any(adding for _pk, adding in seen[1])
    assert sorted(Patient.objects.values_list("name", flat=True)) == ["丙", "乙", "甲"]


def test_postgresql_analyses_the_stage_once_not_for_every_batch(tmp_path: Path, hook_calls: dict[str, list[Any]]) -> None:
    """The stage's statistics outlive TRUNCATE and commits: the first batch analyses it, the others
    only check that the statistics are there (a rolled-back batch may have taken them away)."""
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL temporary table")
    with CaptureQueriesContext(connection) as queries:
        run = import_visits(write_csv(tmp_path / "v.csv", VISITS, "gbk"), batch_size=2)
    assert run.imported == 5
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("FROM pg_stats" in s for s in sql) == 3  # three batches, each checks
    assert sum(s == "ANALYZE caredesk_visit_stage" for s in sql) == 1


def _same_patient_rows(n: int) -> list[list[str]]:
    """``n`` visits; row i belongs to patient i // 2, so every second batch of 3 rows continues a
    patient the batch before created."""
    return [STANDARD_HEADERS, *(row(流水号=f"A{i}", 门诊号=f"M{i // 2}", 姓名="张三", 身份证号="", 手机号="",
                                    就诊时间=f"2026-03-{10 + i:02d} 09:00") for i in range(n))]


def test_the_next_batch_is_matched_while_the_server_writes_this_one(tmp_path: Path, hook_calls: dict[str, list[Any]],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The import hands the applier its next batch: that batch's patients are looked up once this
    one's are written, and matched while the server applies this one's encounters (on PostgreSQL
    inside psycopg's pipeline, so the server runs while this process matches). Only the first batch
    is looked up and matched on its own; the later ones find the patients the batch before created."""
    from caredesk.intake import visit_stage
    from caredesk.patients.models import Encounter, Patient

    alone: list[int] = []
    ahead: list[tuple[int, bool]] = []
    real_alone, real_match = visit_stage._look_up_and_match, visit_stage._match
    monkeypatch.setattr(visit_stage, "_look_up_and_match", lambda rows, now: (alone.append(len(rows)), real_alone(rows, now))[1])

    def match(rows: list[Any], *args: Any) -> Any:
        pipeline = getattr(connection.connection, "_pipeline", None) if connection.vendor == "postgresql" else None
        ahead.append((len(rows), pipeline is not None))
        return real_match(rows, *args)

    monkeypatch.setattr(visit_stage, "_match", match)
    run = import_visits(write_csv(tmp_path / "v.csv", _same_patient_rows(12), "gbk"), batch_size=3)
    assert (run.imported, run.rejected) == (12, 0)
    assert alone == [3]
    assert [n for n, _p in ahead] == [3, 3, 3, 3]  # the first batch's own, then three looked ahead
    if connection.vendor == "postgresql":
        assert [inside for _n, inside in ahead] == [False, True, True, True]
    assert Patient.objects.count() == 6  # no patient created twice across a batch boundary
    assert sorted(Patient.objects.values_list("visit_count", flat=True)) == [2] * 6
    assert Encounter.objects.filter(patient__outpatient_no="M1").count() == 2


def test_a_batch_that_fails_leaves_no_look_ahead_behind(tmp_path: Path, hook_calls: dict[str, list[Any]],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The second batch fails after it matched the third: it is rolled back and retried row by row,
    so the patients the third batch's match found (created by the failed attempt) are gone. The
    third batch is looked up again and finds the ones the retry created."""
    from caredesk.intake import visit_stage
    from caredesk.patients.models import Encounter, Patient

    alone: list[int] = []
    real_alone, real_recount = visit_stage._look_up_and_match, visit_stage._recount_visits
    monkeypatch.setattr(visit_stage, "_look_up_and_match", lambda rows, now: (alone.append(len(rows)), real_alone(rows, now))[1])
    calls: list[int] = []

    def recount(*args: Any) -> None:
        calls.append(1)
        real_recount(*args)
        if len(calls) == 2:
            raise RuntimeError("the second batch fails once")

    monkeypatch.setattr(visit_stage, "_recount_visits", recount)
    rows = _same_patient_rows(8)  # patients M0–M3; M2 spans the second and third batch (rows 4, 5)
    run = import_visits(write_csv(tmp_path / "v.csv", rows, "gbk"), batch_size=3)
    assert (run.imported, run.rejected) == (8, 0)
    assert alone == [3, 1, 1, 1, 2]  # first batch; the retry, row by row; the third batch again
    assert Patient.objects.count() == 4
    assert sorted(Patient.objects.values_list("visit_count", flat=True)) == [2] * 4
    assert set(Encounter.objects.values_list("patient_id", flat=True)) == set(Patient.objects.values_list("id", flat=True))


@pytest.mark.parametrize("method", ["batch", "staged"])
def test_a_patient_changed_by_a_later_batch_gets_its_new_visits_counted_once(tmp_path: Path, hook_calls: dict[str, list[Any]],
                                                                              method: str) -> None:
    """A patient the run created gains a 住院号 in a later batch, which also brings two visits, one
    before the first one known: the staged path adds them with the UPDATE of the 住院号 (one new row
    version, not two) and leaves them out of the batch's visit-figure increments."""
    from django.utils import timezone

    from caredesk.patients.models import Patient

    stay = {"就诊类型(门诊/住院)": "住院", "就诊时间": ""}
    rows = [STANDARD_HEADERS,
            row(流水号="A1", 门诊号="M1", 姓名="张三", 身份证号="", 手机号="", 就诊时间="2026-03-05 09:00"),
            row(流水号="A2", 门诊号="M2", 姓名="李四", 身份证号="", 手机号="", 就诊时间="2026-03-06 09:00"),
            row(**stay, 流水号="B1", 门诊号="M1", 住院号="Z1", 姓名="张三", 身份证号="", 手机号="", 入院时间="2026-03-01 09:00"),
            row(流水号="B2", 门诊号="M1", 姓名="张三", 身份证号="", 手机号="", 就诊时间="2026-03-09 09:00"),
            row(流水号="C1", 门诊号="M2", 姓名="李四", 身份证号="", 手机号="", 就诊时间="2026-03-10 09:00")]
    run = import_visits(write_csv(tmp_path / "v.csv", rows, "gbk"), batch_size=2, method=method)
    assert (run.imported, run.rejected) == (5, 0)
    zhang = Patient.objects.get(outpatient_no="M1")
    assert zhang.inpatient_no == "Z1"
    assert zhang.visit_count == 3
    assert (f"{timezone.localtime(zhang.first_visit_at):%m-%d}", f"{timezone.localtime(zhang.last_visit_at):%m-%d}") == ("03-01", "03-09")
    li = Patient.objects.get(outpatient_no="M2")
    assert (li.visit_count, f"{timezone.localtime(li.last_visit_at):%m-%d}") == (2, "03-10")
