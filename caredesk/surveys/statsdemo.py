# ruff: noqa: S608 - the bench SQL is built from numbers and ids only, never from user input
"""A satisfaction questionnaire of 20 items and generated answers, for the statistics demo,
tests, the screenshot test and ``bench/surveys_dashboard.py``.

``generate_sql`` writes responses and answers with set-based ``INSERT … SELECT`` statements (SQLite
and PostgreSQL), so a million responses take about a minute, not an hour of ORM saves.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from caredesk.questionnaires.actions import create_from_spec
from caredesk.questionnaires.models import Item, QuestionnaireVersion

CODE = "stats-demo-satisfaction"

_RATINGS = [
    ("reg_ease", "挂号/预约是否方便？", "efficiency"),
    ("wait_time", "候诊等待时间是否可以接受？", "efficiency"),
    ("pay_ease", "缴费、取药是否顺畅？", "efficiency"),
    ("doctor_attitude", "医生的服务态度", "attitude"),
    ("nurse_attitude", "护士的服务态度", "attitude"),
    ("staff_courtesy", "导诊、收费等工作人员是否礼貌？", "attitude"),
    ("explain", "医生是否把病情和治疗讲清楚？", "communication"),
    ("listen", "医生是否耐心听您讲述？", "communication"),
    ("clean", "环境是否干净整洁？", "environment"),
    ("signs", "指示标识是否清楚？", "environment"),
    ("quiet", "就诊区域是否安静、有座位？", "environment"),
    ("fee_clear", "收费项目是否清楚透明？", "fees"),
    ("fee_fair", "费用是否合理？", "fees"),
    ("privacy", "检查和问诊时是否注意保护隐私？", "privacy"),
    ("info_safe", "个人信息是否得到妥善保管？", "privacy"),
]

SATISFACTION = [
    {"code": "5", "label": "很满意", "score": 5}, {"code": "4", "label": "满意", "score": 4},
    {"code": "3", "label": "一般", "score": 3}, {"code": "2", "label": "不满意", "score": 2},
    {"code": "1", "label": "很不满意", "score": 1},
]


def spec() -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"link_id": code, "text": text, "kind": "rating", "required": True, "dimension": dim} for code, text, dim in _RATINGS
    ]
    items.insert(3, {"link_id": "overall", "text": "总体满意度", "kind": "single", "required": True,
                     "dimension": "attitude", "choices": SATISFACTION})
    items += [
        {"link_id": "recommend", "text": "您有多大可能向亲友推荐本院？（0–10）", "kind": "recommend", "required": True},
        {"link_id": "visit_date", "text": "就诊日期", "kind": "date"},
        {"link_id": "praise", "text": "您最想表扬的人或事", "kind": "text"},
        {"link_id": "comment", "text": "您的意见和建议", "kind": "textarea"},
    ]
    return {"code": CODE, "title": "门诊满意度调查（统计演示）", "purpose": "survey",
            "sections": [{"title": "满意度", "items": items}]}


def demo_version() -> QuestionnaireVersion:
    return create_from_spec(spec(), audited=False)


POSITIVE_COMMENTS = [
    "医生很耐心，讲得很清楚，谢谢！", "护士态度很好，打针一点都不疼。", "环境干净整洁，指示牌清楚。",
    "挂号很方便，手机上就能预约。", "整体很满意，流程顺畅。", "医生很专业，解释得很详细。",
]
NEGATIVE_COMMENTS = [
    "排队等了两个多小时，太慢了。", "收费窗口的工作人员态度很差，不耐烦。", "停车太难了，停车场一直满。",
    "卫生间很脏，有异味。", "费用清单看不懂，也没人解释。", "食堂饭菜太难吃了，还很贵。",
    "叫号系统混乱，来回跑了好几趟。",
]


@transaction.atomic
def generate(version: QuestionnaireVersion, *, responses: int, start: dt.date, days: int, doctors: list[Any],
             comment_rate: float = 0.05, seed: int = 7, patients: list[Any] | None = None) -> int:
    """Bulk-create ``responses`` completed responses (all items answered) spread over ``days`` days."""
    from caredesk.patients.models import Encounter
    from caredesk.questionnaires.models import Answer, Response

    rng = random.Random(seed)  # noqa: S311 - demo data
    items = list(Item.objects.filter(version=version).order_by("order", "id"))
    tz = timezone.get_current_timezone()
    channels = ["sms_link", "qr", "phone", "wechat"]
    created = 0
    batch: list[Response] = []

    def flush() -> None:
        Response.objects.bulk_create(batch)
        answers = []
        for r in batch:
            good = r.recommend is not None and r.recommend >= 7
            for it in items:
                answers.append(_demo_answer(rng, r, it, good))
        Answer.objects.bulk_create(answers, batch_size=5000)
        batch.clear()

    for n in range(responses):
        doctor = doctors[n % len(doctors)]
        day = start + dt.timedelta(days=n % days)
        when = timezone.make_aware(dt.datetime.combine(day, dt.time(8 + rng.randrange(10), rng.randrange(60))), tz)
        recommend = rng.choices(range(11), weights=[1, 1, 1, 1, 1, 2, 3, 6, 10, 14, 16])[0]
        patient = patients[n % len(patients)] if patients else None
        encounter = None
        if patient is not None:
            encounter = Encounter.objects.create(
                patient=patient, kind="inpatient" if n % 3 == 0 else "outpatient", source_system="demo",
                source_id=f"demo-{seed}-{n}", department=doctor.department, doctor=doctor, visit_at=when,
            )
        batch.append(Response(
            version=version, questionnaire_id=version.questionnaire_id, patient=patient, encounter=encounter,
            department_id=doctor.department_id, doctor=doctor, channel=channels[n % len(channels)],
            status=Response.Status.COMPLETED, submitted_at=when, recommend=recommend,
        ))
        created += 1
        if len(batch) >= 1000:
            flush()
    if batch:
        flush()
    return created


def _demo_answer(rng: random.Random, response: Any, item: Item, good: bool) -> Any:
    from decimal import Decimal

    from caredesk.questionnaires.models import Answer

    if item.kind == Item.Kind.RATING:
        v = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 3, 8, 12] if good else [3, 4, 5, 4, 2])[0]
        return Answer(response=response, item=item, value_number=Decimal(v), score=Decimal(v))
    if item.kind == Item.Kind.SINGLE:
        v = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 8, 12] if good else [3, 4, 5, 3, 1])[0]
        return Answer(response=response, item=item, value_text=str(v), score=Decimal(v))
    if item.kind == Item.Kind.RECOMMEND:
        return Answer(response=response, item=item, value_number=Decimal(response.recommend))
    if item.kind == Item.Kind.DATE:
        return Answer(response=response, item=item, value_date=response.submitted_at.date())
    if item.link_id == "comment" and rng.random() < 0.5:
        text = rng.choice(NEGATIVE_COMMENTS if not good or rng.random() < 0.2 else POSITIVE_COMMENTS)
        return Answer(response=response, item=item, value_text=text)
    return Answer(response=response, item=item, value_text="")


def generate_sql(version: QuestionnaireVersion, *, responses: int, start: dt.date, days: int,
                 comment_every: int = 20) -> None:
    """Set-based generation for the benchmark: responses from a counter, answers as responses × items.

    Doctors are taken round-robin from accounts.Doctor; scores are pseudo-random from the row ids;
    every ``comment_every``-th response gets a comment from the demo lists.
    """
    from caredesk.accounts.models import Doctor
    from caredesk.questionnaires.models import Answer, Response

    doctors = list(Doctor.objects.order_by("id").values_list("id", "department_id"))
    if not doctors:
        raise ValueError("no doctors")
    vendor = connection.vendor
    r_table, a_table = Response._meta.db_table, Answer._meta.db_table
    d_count = len(doctors)
    tz_offset = 8  # demo data: local working hours in Asia/Shanghai
    first_id = (Response.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    # Day, doctor and channel vary independently (a day sees every doctor, a doctor every channel),
    # so the aggregate tables get as many groups as real data would.
    doctor_idx = f"(((n / {days}) + (n % {days}) * 37) % {d_count})"
    chan = f"(((n / {days}) / {d_count} + n % {days}) % 4)"
    with connection.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE bench_doctor (idx integer primary key, doctor_id bigint, department_id bigint)")
        cur.executemany("INSERT INTO bench_doctor VALUES (%s, %s, %s)", [(i, d, dep) for i, (d, dep) in enumerate(doctors)])
        if vendor == "postgresql":
            counter = f"SELECT g AS n FROM generate_series(0, {responses - 1}) AS g"
            ts = (f"(TIMESTAMP '{start.isoformat()} 00:00:00' + ((n % {days}) || ' days')::interval"
                  f" + (((n * 7919) % 600) || ' minutes')::interval + interval '{8 - tz_offset} hours') AT TIME ZONE 'UTC'")
            channel = f"(ARRAY['sms_link','qr','phone','wechat'])[{chan} + 1]"
            recommend = "(CASE WHEN (n * 31) % 10 < 6 THEN 9 + (n % 2) WHEN (n * 31) % 10 < 8 THEN 7 + (n % 2) ELSE (n * 13) % 7 END)"
            prefix = "WITH c AS (" + counter + ")"
        else:
            ts = (f"strftime('%Y-%m-%d %H:%M:%S', '{start.isoformat()} 00:00:00', '+' || (n % {days}) || ' days',"
                  f" '+' || ((n * 7919) % 600) || ' minutes', '{8 - tz_offset:+d} hours')")
            channel = f"CASE {chan} WHEN 0 THEN 'sms_link' WHEN 1 THEN 'qr' WHEN 2 THEN 'phone' ELSE 'wechat' END"
            recommend = "(CASE WHEN (n * 31) % 10 < 6 THEN 9 + (n % 2) WHEN (n * 31) % 10 < 8 THEN 7 + (n % 2) ELSE (n * 13) % 7 END)"
            prefix = f"WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < {responses - 1})"
        cur.execute(
            f"{prefix} INSERT INTO {r_table} (id, version_id, questionnaire_id, department_id, doctor_id, channel, status,"
            " source_type, source_id, started_at, updated_at, submitted_at, dimension_scores, recommend, red_flags)"
            f" SELECT {first_id} + n, {int(version.pk)}, {int(version.questionnaire_id)}, d.department_id, d.doctor_id,"
            f" {channel}, 'completed', '', '', {ts}, {ts}, {ts}, '{{}}', {recommend}, '[]'"
            f" FROM c JOIN bench_doctor d ON d.idx = {doctor_idx}",
        )
        if vendor == "postgresql":
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{r_table}', 'id'), (SELECT MAX(id) FROM {r_table}))")
        comments = NEGATIVE_COMMENTS + POSITIVE_COMMENTS
        for it in Item.objects.filter(version=version).order_by("order"):
            score = "NULL"
            number = "NULL"
            text = "''"
            date = "NULL"
            good = "(r.recommend >= 7)"
            mix = "((r.id * 2654435761 + %d) %% 100)" % it.pk  # noqa: UP031
            high = f"(CASE WHEN {mix} < 55 THEN 5 WHEN {mix} < 88 THEN 4 WHEN {mix} < 96 THEN 3 WHEN {mix} < 98 THEN 2 ELSE 1 END)"
            low = f"(CASE WHEN {mix} < 15 THEN 5 WHEN {mix} < 35 THEN 4 WHEN {mix} < 65 THEN 3 WHEN {mix} < 85 THEN 2 ELSE 1 END)"
            value5 = f"(CASE WHEN {good} THEN {high} ELSE {low} END)"
            if it.kind == Item.Kind.RATING:
                score = number = value5
            elif it.kind == Item.Kind.SINGLE:
                score = value5
                text = f"CAST({value5} AS TEXT)" if vendor != "postgresql" else f"({value5})::text"
            elif it.kind == Item.Kind.RECOMMEND:
                number = "r.recommend"
            elif it.kind == Item.Kind.DATE:
                date = "CAST(r.submitted_at AS DATE)" if vendor == "postgresql" else "date(r.submitted_at)"
            elif it.link_id == "comment":
                cases = " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(comments))
                neg = len(NEGATIVE_COMMENTS)
                pick = f"(CASE WHEN {good} THEN {neg} + (r.id % {len(POSITIVE_COMMENTS)}) ELSE r.id % {neg} END)"
                text = f"(CASE WHEN r.id % {comment_every} = 0 THEN (CASE {pick} {cases} END) ELSE '' END)"
            cur.execute(
                f"INSERT INTO {a_table} (response_id, item_id, value_text, value_number, value_choices, value_date, score)"
                f" SELECT r.id, {int(it.pk)}, {text}, {number}, '[]', {date}, {score} FROM {r_table} r"
                f" WHERE r.id >= {int(first_id)} AND r.version_id = {int(version.pk)}",
            )
        cur.execute("DROP TABLE bench_doctor")
