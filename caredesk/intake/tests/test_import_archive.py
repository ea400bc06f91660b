"""The visit import applied to the real patient archive: patients matched, encounters upserted, hooks
fired, nothing duplicated on a re-run, and the same result for any batch size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from caredesk.intake.actions import import_visits
from caredesk.intake.tests.test_visit_file import GOOD_ID, HIS_ROWS, STANDARD_HEADERS, row, write_csv

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not apps.is_installed("caredesk.patients"), reason="the patient archive (branch patients) is not merged yet"),
]

OTHER_ID = "110101199003074514"

VISITS = [
    STANDARD_HEADERS,
    row(流水号="V1", 门诊号="M100", 姓名="张三", 性别="女", 身份证号=GOOD_ID, 手机号="13800138000", 科室="心内科", 初复诊="初诊"),
    row(流水号="V2", 门诊号="M100", 姓名="张三", 就诊时间="2026-03-08 10:00", 初复诊="复诊"),
    row(**{"流水号": "V3", "就诊类型(门诊/住院)": "住院", "住院号": "Z200", "姓名": "张三", "身份证号": GOOD_ID, "就诊时间": "",
           "入院时间": "2026-03-10 09:00", "出院时间": "2026-03-20 10:00", "转归": "好转"}),
    row(**{"流水号": "V4", "就诊类型(门诊/住院)": "住院", "住院号": "Z300", "姓名": "李四", "身份证号": OTHER_ID, "就诊时间": "",
           "入院时间": "2026-03-02 09:00", "出院时间": "2026-03-05 10:00", "转归": "死亡"}),
    row(**{"流水号": "V5", "就诊类型(门诊/住院)": "住院", "住院号": "Z301", "姓名": "王五", "就诊时间": "",
           "入院时间": "2026-03-02 09:00"}),
]


@pytest.fixture
def hook_calls(monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, list[int]]:
    from caredesk.patients import hooks

    settings.FOLLOWUP_BACKFILL_DAYS = None  # no planning horizon: every new encounter reaches the hooks, whatever its date

    calls: dict[str, list[int]] = {"registered": [], "discharged": [], "deceased": []}
    # the single-event hooks and the batched ones go through this one

    def recorded(registered: list[Any], discharged: list[Any]) -> None:
        calls["registered"].extend(e.pk for e in registered)
        calls["discharged"].extend(e.pk for e in discharged)

    monkeypatch.setattr(hooks, "encounters_recorded", recorded)
    monkeypatch.setattr(hooks, "patients_deceased", lambda ps: calls["deceased"].extend(p.pk for p in ps))
    return calls


def snapshot() -> tuple[list[Any], list[Any]]:
    from caredesk.patients.models import Encounter, Patient

    patients = sorted(Patient.objects.values_list("name", "sex", "birth_date", "id_number_bidx", "mobile_bidx", "outpatient_no",
                                                  "inpatient_no", "visit_count", "first_visit_at", "last_visit_at", "is_deceased",
                                                  "deceased_at", "name_pinyin"))
    encounters = sorted(Encounter.objects.values_list("source_system", "source_id", "patient__name", "kind", "visit_at",
                                                      "admitted_at", "discharged_at", "visit_type", "outcome", "status",
                                                      "department_name"))
    return patients, encounters


def test_a_his_file_fills_the_archive_once_and_a_rerun_changes_nothing(tmp_path: Path, hook_calls: dict[str, list[int]]) -> None:
    from caredesk.patients.models import Encounter, Patient

    path = write_csv(tmp_path / "visits.csv", VISITS, "gbk")
    run = import_visits(path)
    assert (run.imported, run.updated, run.unchanged, run.rejected) == (5, 0, 0, 0)
    assert Patient.objects.count() == 3 and Encounter.objects.count() == 5
    zhang = Patient.objects.get(outpatient_no="M100")
    assert (zhang.inpatient_no, zhang.visit_count, zhang.sex, zhang.name_pinyin) == ("Z200", 3, "F", "zhangsan")
    assert Patient.objects.get(inpatient_no="Z300").is_deceased
    assert Encounter.objects.get(source_id="V3").status == "discharged"
    assert (len(hook_calls["registered"]), len(hook_calls["discharged"]), len(hook_calls["deceased"])) == (5, 2, 1)
    before = snapshot()
    again = import_visits(path)
    assert (again.imported, again.updated, again.unchanged, again.rejected) == (0, 0, 5, 0)
    assert snapshot() == before
    assert len(hook_calls["registered"]) == 5 and len(hook_calls["discharged"]) == 2 and len(hook_calls["deceased"]) == 1


def test_a_later_file_updates_a_visit_and_never_blanks_what_is_known(tmp_path: Path, hook_calls: dict[str, list[int]]) -> None:
    from caredesk.patients.models import Encounter, Patient

    import_visits(write_csv(tmp_path / "a.csv", VISITS, "gbk"))
    later = [STANDARD_HEADERS, row(**{"流水号": "V5", "就诊类型(门诊/住院)": "住院", "住院号": "Z301", "姓名": "王五", "就诊时间": "",
                                       "入院时间": "2026-03-02 09:00", "出院时间": "2026-03-09 09:00", "转归": "治愈"})]
    run = import_visits(write_csv(tmp_path / "b.csv", later, "utf-8-sig"))
    assert (run.imported, run.updated, run.unchanged) == (0, 1, 0)
    assert Encounter.objects.get(source_id="V5").status == "discharged"
    assert len(hook_calls["discharged"]) == 3
    third = [STANDARD_HEADERS, row(流水号="V9", 门诊号="M100", 姓名="张三", 就诊时间="2026-04-01 08:00")]
    import_visits(write_csv(tmp_path / "c.csv", third, "utf-8"))
    zhang = Patient.objects.get(outpatient_no="M100")
    assert zhang.id_number == GOOD_ID and zhang.mobile == "13800138000" and zhang.visit_count == 4


def test_small_and_big_batches_fill_the_archive_identically(tmp_path: Path, hook_calls: dict[str, list[int]]) -> None:
    from caredesk.patients.models import Encounter, Patient

    path = write_csv(tmp_path / "visits.csv", VISITS + HIS_ROWS[1:], "gbk")
    one = import_visits(path, batch_size=1)
    small = snapshot()
    Encounter.objects.all().delete()
    Patient.objects.all().delete()
    many = import_visits(path, batch_size=5000)
    assert snapshot() == small
    assert (one.imported, one.rejected) == (many.imported, many.rejected)


@pytest.mark.parametrize("fields", [
    {"name": " 张三 ", "id_number": GOOD_ID, "mobile": "13800138000", "address": " 某路1号 ", "source_channel": "网络"},
    {"name": "李四", "sex": "F", "birth_date": "1990-01-01", "id_number": OTHER_ID, "outpatient_no": "M1", "inpatient_no": "Z1"},
    {"name": "王五", "id_number": "110101209901014512"},  # passes the file's check digit, not the archive's date check
    {"name": "赵六", "sex": "U"},
    # one of the two from the file, the other from the identity number
    {"name": "钱七", "sex": "M", "id_number": GOOD_ID},
    {"name": "孙八", "sex": "U", "birth_date": "1990-01-01", "id_number": OTHER_ID},
])
def test_the_import_fast_path_derives_patient_values_as_the_archive_does(fields: dict[str, Any]) -> None:
    from datetime import date

    from caredesk.intake.visit_apply import _incoming_values
    from caredesk.intake.visit_file import VisitRow
    from caredesk.patients.actions import _incoming
    from caredesk.patients.data import PatientData

    if "birth_date" in fields:
        fields = {**fields, "birth_date": date.fromisoformat(fields["birth_date"])}
    visit = VisitRow(line=2, source_id="S", kind="outpatient", **fields)
    data = PatientData(**{k: v for k, v in fields.items() if k != "source_id"})
    assert _incoming_values(visit) == _incoming(data)


def test_the_batched_hooks_run_once_per_batch_with_every_new_encounter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       settings: Any) -> None:
    from caredesk.patients import hooks

    settings.FOLLOWUP_BACKFILL_DAYS = None  # no planning horizon: every new encounter reaches the hooks

    batches: list[int] = []
    discharged: list[int] = []
    monkeypatch.setattr(hooks, "encounters_recorded",
                        lambda registered, left: (batches.append(len(registered)), discharged.extend(e.pk for e in left)))
    path = write_csv(tmp_path / "visits.csv", VISITS, "gbk")
    run = import_visits(path, batch_size=2)
    assert run.imported == 5 and batches == [2, 2, 1]
    assert len(discharged) == 2 and all(discharged)
