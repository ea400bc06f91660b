"""Plan generation: the shipped schedules on the 2026 working calendar (holidays and 调休), from a
real discharge-list import; idempotency; withdrawal, death, consent and filters."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from caredesk.followups import generate
from caredesk.followups.models import FollowupPlan, FollowupTask, PlanTemplate
from caredesk.followups.plans import DISCHARGE, add_months, ensure_default_plans
from caredesk.followups.tests.helpers import make_encounter, task_dates
from caredesk.intake.actions import import_visits
from caredesk.intake.tests.test_visit_file import GOOD_ID, STANDARD_HEADERS, row, write_csv
from caredesk.patients.tests.factories import make_id_number, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_backfill_limit(settings):
    settings.FOLLOWUP_BACKFILL_DAYS = None


def inpatient(serial: str, no: str, name: str, discharged: str, outcome: str = "好转", dept: str = "骨科", id_no: str = "") -> list[str]:
    return row(**{"流水号": serial, "就诊类型(门诊/住院)": "住院", "住院号": no, "姓名": name, "身份证号": id_no, "就诊时间": "",
                  "入院时间": "2026-01-20 09:00", "出院时间": discharged, "转归": outcome, "科室": dept})


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 22), 3) == date(2027, 2, 22)
    assert add_months(date(2026, 12, 31), 2) == date(2027, 2, 28)


def test_ensure_default_plans_is_idempotent_and_keeps_edits():
    assert ensure_default_plans() == 0  # already made by post_migrate
    t = PlanTemplate.objects.get(code=DISCHARGE)
    t.name = "出院随访（本院）"
    t.save()
    assert ensure_default_plans() == 0
    assert PlanTemplate.objects.get(code=DISCHARGE).name == "出院随访（本院）"
    assert list(t.steps.values_list("order", "offset", "repeat_every_months", "repeat_until_months")) == [
        (1, 7, None, None), (2, 21, None, None), (3, 42, None, None), (4, 70, None, None), (5, 70, 3, 12)]


def test_an_imported_discharge_list_gives_exactly_the_schedule_on_working_days(tmp_path: Path, org):
    """Done means: a real discharge list through the standard import → the documented schedule, with
    the 2026 statutory holidays, the 调休 weekend working days and a hospital closure."""
    from caredesk.core.models import CalendarOverride

    CalendarOverride.objects.create(date=date(2027, 2, 22), is_working_day=False, reason="院内停诊")
    path = write_csv(tmp_path / "discharges.csv", [
        STANDARD_HEADERS,
        inpatient("A1", "Z1", "张三", "2026-02-07 10:00", id_no=GOOD_ID),        # Saturday before Spring Festival
        inpatient("A2", "Z2", "李四", "2026-09-13 16:30", id_no=make_id_number(seq=201)),  # Sunday before National Day
        inpatient("A3", "Z3", "王五", "2026-03-05 10:00", outcome="死亡", id_no=make_id_number(seq=202)),
        row(流水号="B1", 门诊号="M1", 姓名="赵六", 就诊时间="2026-10-09 10:00", 初复诊="初诊", 科室="内科",
            身份证号=make_id_number(seq=203)),
        row(流水号="B2", 门诊号="M2", 姓名="钱七", 就诊时间="2026-09-30 10:00", 初复诊="复诊", 科室="内科",
            身份证号=make_id_number(seq=204)),
    ], "utf-8")
    run = import_visits(path)
    assert run.rejected == 0
    got = {}
    for rec, code, key, due in FollowupTask.objects.values_list(
            "patient__inpatient_no", "plan__template__code", "step_key", "due_date"):
        got.setdefault(rec or "", []).append((code, key, due.isoformat()))
    z1 = sorted(got.pop("Z1"))
    z2 = sorted(got.pop("Z2"))
    assert z1 == [
        ("discharge", "1", "2026-02-14"),    # +7 is the 调休 Saturday 14 Feb: a working day
        ("discharge", "2", "2026-02-28"),    # +21 is the 调休 Saturday 28 Feb
        ("discharge", "3", "2026-03-23"),    # +42 Sat 21 Mar → Mon
        ("discharge", "4", "2026-04-20"),    # +70 Sat 18 Apr → Mon
        ("discharge", "5.1", "2026-07-20"),  # +70 +3 months: Sat 18 Jul → Mon
        ("discharge", "5.2", "2026-10-19"),  # Sun 18 Oct → Mon
        ("discharge", "5.3", "2027-01-18"),  # Mon; +12 months (18 Apr 2027) is past 7 Feb 2027
    ]
    assert z2 == [
        ("discharge", "1", "2026-09-20"),    # +7 is the 调休 Sunday 20 Sep
        ("discharge", "2", "2026-10-08"),    # +21 is 4 Oct, National Day → Thu 8 Oct
        ("discharge", "3", "2026-10-26"),    # Sun 25 Oct → Mon
        ("discharge", "4", "2026-11-23"),    # Sun 22 Nov → Mon
        ("discharge", "5.1", "2027-02-23"),  # 22 Feb 2027 is a hospital closure → Tue
        ("discharge", "5.2", "2027-05-24"),  # 2027 not yet in the statutory calendar: Sat → Mon
        ("discharge", "5.3", "2027-08-23"),  # Sun → Mon; the next (22 Nov 2027) is past 13 Sep 2027
    ]
    outpatient = sorted(FollowupTask.objects.filter(encounter__kind="outpatient").values_list(
        "patient__outpatient_no", "plan__template__code", "due_date"))
    assert outpatient == [
        ("M1", "first_visit", date(2026, 10, 10)),  # Fri 9 Oct → the 调休 Saturday 10 Oct; no 次日回访 on top
        ("M2", "next_day", date(2026, 10, 8)),      # Wed 30 Sep → first working day after National Day
    ]
    assert set(got) == {""}  # outpatients only: the deceased patient (Z3) got nothing
    before = set(FollowupTask.objects.values_list("plan_id", "step_key", "due_date"))
    import_visits(path)  # a re-run duplicates nothing
    call_command("followups_generate", "--date", "2026-10-09", "--lookback", "400", verbosity=0)
    assert set(FollowupTask.objects.values_list("plan_id", "step_key", "due_date")) == before


def test_the_sweep_repairs_a_missed_hook_and_is_idempotent(org, monkeypatch):
    from caredesk.followups import hooks

    monkeypatch.setattr(hooks, "on_encounters", lambda es: None)  # the hook "missed" the discharge
    p = make_patient("孙八", id_number=make_id_number(seq=301))
    make_encounter(p, discharged="2026-03-20 10:00", department="骨科")
    assert FollowupTask.objects.count() == 0
    summary = generate.sweep(date(2026, 3, 21))
    assert summary["encounters"] == 1
    first = task_dates()
    assert [k for _c, k, _d in first] == ["1", "2", "3", "4", "5.1", "5.2", "5.3"]
    generate.sweep(date(2026, 3, 21))
    assert task_dates() == first


def test_cancelling_the_discharge_withdraws_open_tasks_and_a_new_discharge_brings_them_back(org):
    from caredesk.followups.tests.helpers import at
    from caredesk.patients.actions import cancel_discharge, discharge_encounter

    p = make_patient("周九", id_number=make_id_number(seq=302))
    enc = make_encounter(p, discharged="2026-03-20 10:00")
    assert FollowupTask.objects.filter(status="open").count() == 7
    cancel_discharge(enc)
    assert set(FollowupTask.objects.values_list("status", flat=True)) == {"withdrawn"}
    assert FollowupPlan.objects.get().status == "withdrawn"
    enc.refresh_from_db()
    discharge_encounter(enc, at=at("2026-03-27 10:00"))
    assert FollowupPlan.objects.get().status == "active"
    assert task_dates(status="open")[0] == ("discharge", "1", "2026-04-03")


def test_a_cancelled_visit_withdraws_and_a_death_closes_every_plan(org):
    from caredesk.followups.tests.helpers import at
    from caredesk.patients.actions import cancel_encounter, mark_deceased

    p = make_patient("吴十", id_number=make_id_number(seq=303))
    visit = make_encounter(p, kind="outpatient", visit="2026-03-10 09:00", visit_type="first")
    stay = make_encounter(p, discharged="2026-03-20 10:00")
    cancel_encounter(visit)
    assert set(FollowupTask.objects.filter(encounter=visit).values_list("status", flat=True)) == {"withdrawn"}
    mark_deceased(p, at=at("2026-04-01 08:00"), source="test")
    assert set(FollowupTask.objects.filter(encounter=stay).values_list("status", flat=True)) == {"cancelled"}
    assert FollowupPlan.objects.get(encounter=stay).reason == "deceased"


def test_do_not_contact_and_refused_phone_consent_get_no_calls(org):
    from caredesk.patients.models import Consent

    dnc = make_patient("郑一", id_number=make_id_number(seq=304))
    dnc.do_not_contact = True
    dnc.save()
    make_encounter(dnc, discharged="2026-03-20 10:00")
    refused = make_patient("王二", id_number=make_id_number(seq=305))
    Consent.objects.create(patient=refused, channel="phone", purpose="followup", granted=False)
    make_encounter(refused, discharged="2026-03-20 10:00")
    assert FollowupTask.objects.count() == 0


def test_template_filters_and_the_per_department_switch(org):
    next_day = PlanTemplate.objects.get(code="next_day")
    next_day.disabled_departments.add(org["wk"])  # 外科 and 骨科 below it only call first visits
    p = make_patient("冯三", id_number=make_id_number(seq=306))
    make_encounter(p, kind="outpatient", department="骨科", visit="2026-03-10 09:00", visit_type="return")
    make_encounter(p, kind="outpatient", department="内科", visit="2026-03-11 09:00", visit_type="return")
    assert [c for c, _k, _d in task_dates()] == ["next_day"]
    assert FollowupTask.objects.get().department == org["nk"]
    surgery = PlanTemplate.objects.create(code="wound", name="术后伤口回访", trigger="discharge", diagnosis_pattern="骨折,S72",
                                          min_age=18)
    surgery.steps.create(order=1, label="术后第3天", offset=3)
    young = make_patient("陈四", id_number=make_id_number(seq=307, born=date(2015, 1, 1)))
    make_encounter(young, discharged="2026-03-20 10:00", diagnosis="股骨颈骨折")
    adult = make_patient("褚五", id_number=make_id_number(seq=308))
    make_encounter(adult, discharged="2026-03-20 10:00", diagnosis="股骨颈骨折")
    other = make_patient("卫六", id_number=make_id_number(seq=309))
    make_encounter(other, discharged="2026-03-20 10:00", diagnosis="肺炎")
    assert list(FollowupTask.objects.filter(plan__template=surgery).values_list("patient_id", flat=True)) == [adult.pk]


def test_export_writes_every_task(tmp_path: Path, org, agent):
    p = make_patient("蒋七", inpatient_no="Z77", id_number=make_id_number(seq=310))
    make_encounter(p, discharged="2026-03-20 10:00")
    FollowupTask.objects.filter(step_key="1").update(assignee=agent, status="assigned")
    out = tmp_path / "tasks.csv"
    call_command("followups_export", "--out", str(out), verbosity=0)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "record_no,patient_id,plan,step,due_date,status,assignee"
    assert lines[1] == f"Z77,{p.pk},discharge,1,2026-03-27,assigned,xiaowang"
    assert len(lines) == 8


def test_seed_demo_makes_followup_tasks_once(org):
    call_command("seed_demo", "--patients", "40", "--seed", "2", verbosity=0)
    first = FollowupTask.objects.count()
    assert first > 0
    from django.utils import timezone

    due_now = FollowupTask.objects.filter(due_date__lte=timezone.localdate(), status__in=["open", "assigned"])
    assert not due_now.exists() or due_now.filter(assignee__username="agent").exists()
    call_command("seed_demo", "--patients", "40", "--seed", "2", verbosity=0)
    assert FollowupTask.objects.count() == first


def test_history_older_than_every_plan_plans_nothing_and_reads_nothing(org, settings, django_assert_num_queries):
    """An import of past years: a plan whose every step would be due before the backfill window is
    not started at all; a discharge whose schedule still reaches into the window gets only the
    steps still to come."""
    settings.FOLLOWUP_BACKFILL_DAYS = 30
    today = date(2026, 11, 23)
    patient = make_patient()
    old = make_encounter(patient, discharged="2024-05-06 10:00")
    visit = make_encounter(patient, kind="outpatient", visit="2026-06-01 10:00")
    FollowupPlan.objects.all().delete()
    stubs = [type(e)(pk=e.pk, patient_id=e.patient_id, kind=e.kind, status=e.status, visit_at=e.visit_at,
                     discharged_at=e.discharged_at) for e in (old, visit)]  # as a bulk path passes them
    with django_assert_num_queries(1):  # the template cache's stamp, nothing else
        result = generate.generate_for_encounters(stubs, today=today)
    assert result.plans_offered == 0 and not FollowupPlan.objects.exists()
    recent = make_encounter(patient, discharged="2026-05-20 10:00")  # +12 months reaches 2027
    FollowupPlan.objects.all().delete()
    result = generate.generate_for_encounters([recent.pk], today=today)
    assert result.plans_offered == 1
    dues = sorted(FollowupTask.objects.filter(encounter=recent).values_list("due_date", flat=True))
    assert dues and dues[0] >= date(2026, 10, 24)  # nothing due before the 30-day window


def test_planning_encounters_given_by_id_costs_the_same_queries_for_one_or_many(org, monkeypatch, django_assert_num_queries):
    """Encounters passed by id are read with only the fields planning uses: reading any other field
    would cost a query per encounter, and the counts below would differ."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from caredesk.followups import hooks

    monkeypatch.setattr(hooks, "on_encounters", lambda es: None)  # planned below, by id
    surgery = PlanTemplate.objects.create(code="wound", name="术后伤口回访", trigger="discharge", diagnosis_pattern="骨折",
                                          min_age=18, vip_only=False, customer_types=["inpatient"])
    surgery.steps.create(order=1, label="术后第3天", offset=3)
    ids = []
    for seq in range(4):
        p = make_patient(f"褚{seq}", id_number=make_id_number(seq=320 + seq))
        p.customer_type = "inpatient"
        p.save()
        ids.append(make_encounter(p, discharged="2026-03-20 10:00", diagnosis="股骨颈骨折", department="骨科").pk)
    generate.generate_for_encounters(ids[:1], today=date(2026, 3, 21))  # warms the template cache
    FollowupPlan.objects.all().delete()
    with CaptureQueriesContext(connection) as one:
        generate.generate_for_encounters(ids[:1], today=date(2026, 3, 21))
    with django_assert_num_queries(len(one.captured_queries)):
        result = generate.generate_for_encounters(ids, today=date(2026, 3, 21))
    assert result.encounters == 4
    assert FollowupPlan.objects.filter(template=surgery).count() == 4


def test_plans_and_tasks_go_in_whole_over_several_batches_and_a_second_insert_adds_nothing(monkeypatch):
    """``insert_plans``/``insert_tasks`` (``executemany``; on PostgreSQL with the values bound on the
    server): every value arrives as given, quotes, placeholders and Chinese included, in batches,
    and the conflict clause keeps a repeat out."""
    from django.utils import timezone

    monkeypatch.setattr(generate, "TASK_BATCH", 3)
    template = PlanTemplate.objects.get(code=DISCHARGE)
    patients = [make_patient(name=f"测试{i}") for i in range(4)]
    keys = ["enc:1", "it's \\ %s $1 ；出院", "enc:3", "enc:4"]
    rows = [(template.pk, p.pk, None, key, date(2026, 3, i + 1), None) for i, (p, key) in enumerate(zip(patients, keys, strict=True))]
    generate.insert_plans(rows)
    generate.insert_plans(rows)
    assert sorted(FollowupPlan.objects.values_list("source_key", "patient_id", "trigger_date")) == sorted(
        (key, p.pk, date(2026, 3, i + 1)) for i, (p, key) in enumerate(zip(patients, keys, strict=True)))
    plans = {plan.source_key: plan for plan in FollowupPlan.objects.all()}
    now = timezone.now()
    tasks = [generate.TaskRow(plans[key].pk, None, f"step'{n}", p.pk, None, None, date(2026, 4, n + 1), "phone", n, now)
             for p, key in zip(patients, keys, strict=True) for n in range(2)]
    generate.insert_tasks(tasks)
    generate.insert_tasks(tasks)
    stored = sorted(FollowupTask.objects.values_list("plan_id", "step_key", "due_date", "priority", "created_at"))
    assert stored == sorted((t.plan_id, t.step_key, t.due_date, t.priority, now) for t in tasks)
