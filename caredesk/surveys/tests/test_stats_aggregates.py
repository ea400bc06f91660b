"""Daily aggregates: built from the answers in SQL, idempotent, rolled up into weeks and months,
and read back by the dashboard functions with the same figures as a direct computation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from caredesk.accounts.models import Doctor
from caredesk.questionnaires.actions import save_response
from caredesk.questionnaires.models import Response
from caredesk.surveys import aggregates, stats, statsdemo
from caredesk.surveys.models_stats import (
    CommentInsight,
    DailyDimensionStat,
    DailyItemStat,
    DailyResponseStat,
    DailyThemeStat,
    Grain,
)

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 10)  # a Tuesday


def answers(rating: int, recommend: int, comment: str = "") -> dict[str, Any]:
    raw: dict[str, Any] = {code: rating for code, _t, _d in statsdemo._RATINGS}
    raw.update(overall=str(rating), recommend=recommend, comment=comment)
    return raw


def submit(version: Any, raw: dict[str, Any], *, doctor: Any, when: dt.datetime, channel: str = "qr", encounter: Any = None) -> Response:
    response = save_response(version, raw, doctor=doctor, department=doctor.department, channel=channel, encounter=encounter)
    Response.objects.filter(pk=response.pk).update(submitted_at=when)
    return response


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def doctors(org: dict[str, Any]) -> dict[str, Doctor]:
    return {
        "gk": Doctor.objects.create(name="钱骨科", department=org["gk"], staff_no="D1"),
        "nk": Doctor.objects.create(name="孙内科", department=org["nk"], staff_no="D2"),
    }


@pytest.fixture
def version(db: Any) -> Any:
    return statsdemo.demo_version()


def test_rebuild_day_counts_scores_nps_and_distribution(version: Any, doctors: dict[str, Doctor]) -> None:
    submit(version, answers(5, 10), doctor=doctors["gk"], when=at(DAY))
    submit(version, answers(4, 9), doctor=doctors["gk"], when=at(DAY, 23))
    submit(version, answers(2, 3, "排队等了三个小时，太慢了，护士态度也很差"), doctor=doctors["nk"], when=at(DAY))
    submit(version, answers(1, 0), doctor=doctors["nk"], when=at(DAY + dt.timedelta(days=1)))  # another day

    result = aggregates.rebuild_day(DAY)
    assert result["responses"] == 3

    gk = DailyResponseStat.objects.get(grain=Grain.DAY, day=DAY, doctor=doctors["gk"])
    assert (gk.responses, gk.promoters, gk.passives, gk.detractors, gk.recommend_sum) == (2, 2, 0, 0, 19)
    assert gk.score_count == 2 * 16  # 15 ratings + the overall choice, recommend excluded
    assert gk.score_sum == pytest.approx(16 * 5 + 16 * 4)
    nk = DailyResponseStat.objects.get(grain=Grain.DAY, day=DAY, doctor=doctors["nk"])
    assert (nk.responses, nk.detractors, nk.comments, nk.negative_comments) == (1, 1, 1, 1)

    item = DailyItemStat.objects.filter(grain=Grain.DAY, day=DAY, item__link_id="wait_time")
    assert sum(i.n5 for i in item) == 1 and sum(i.n4 for i in item) == 1 and sum(i.n2 for i in item) == 1
    rec = DailyItemStat.objects.filter(grain=Grain.DAY, day=DAY, item__link_id="recommend")
    assert sum(i.n10 for i in rec) == 1 and sum(i.n3 for i in rec) == 1
    attitude = DailyDimensionStat.objects.filter(grain=Grain.DAY, day=DAY, dimension__code="attitude", doctor=doctors["gk"]).get()
    assert attitude.score_count == 2 * 4 and attitude.score_sum == pytest.approx(4 * 5 + 4 * 4)

    insight = CommentInsight.objects.get(day=DAY)
    assert insight.sentiment == "negative" and "waiting" in insight.themes and not insight.high_score_negative
    assert DailyThemeStat.objects.filter(grain=Grain.DAY, day=DAY, theme="waiting").get().negative == 1


def test_rebuild_is_idempotent_and_rolls_up(version: Any, doctors: dict[str, Doctor]) -> None:
    for offset in range(3):
        submit(version, answers(4, 8), doctor=doctors["gk"], when=at(DAY + dt.timedelta(days=offset)))
    for offset in range(3):
        aggregates.rebuild_day(DAY + dt.timedelta(days=offset))
    before = DailyResponseStat.objects.count()
    aggregates.rebuild_day(DAY)
    aggregates.rebuild_day(DAY)
    assert DailyResponseStat.objects.count() == before

    month = DailyResponseStat.objects.get(grain=Grain.MONTH, day=dt.date(2026, 3, 1))
    week = DailyResponseStat.objects.get(grain=Grain.WEEK, day=dt.date(2026, 3, 9))
    assert month.responses == 3 and week.responses == 3 and month.passives == 3

    # A response removed after the first build disappears from day, week and month on rebuild.
    Response.objects.filter(submitted_at__date=DAY + dt.timedelta(days=1)).delete()
    aggregates.rebuild_day(DAY + dt.timedelta(days=1))
    assert DailyResponseStat.objects.get(grain=Grain.MONTH, day=dt.date(2026, 3, 1)).responses == 2


def test_high_score_with_negative_comment_is_flagged(version: Any, doctors: dict[str, Doctor]) -> None:
    submit(version, answers(5, 10, "排队排了三个小时，太慢了，没人管"), doctor=doctors["gk"], when=at(DAY))
    submit(version, answers(5, 10, "医生很耐心，解释得很清楚，非常满意"), doctor=doctors["gk"], when=at(DAY))
    aggregates.rebuild_day(DAY)
    flagged = CommentInsight.objects.filter(high_score_negative=True)
    assert [c.text for c in flagged] == ["排队排了三个小时，太慢了，没人管"]
    assert DailyResponseStat.objects.get(grain=Grain.DAY, day=DAY).high_score_negative == 1


PERIODS = [
    (dt.date(2026, 1, 1), dt.date(2026, 3, 31)),  # whole months
    (dt.date(2026, 1, 14), dt.date(2026, 3, 3)),  # edges of months and weeks
    (dt.date(2026, 2, 3), dt.date(2026, 2, 5)),  # days only
    (dt.date(2026, 2, 2), dt.date(2026, 2, 15)),  # two whole weeks
]


def test_any_period_reads_the_same_totals_as_the_answers(version: Any, doctors: dict[str, Doctor]) -> None:
    from caredesk.questionnaires.models import Answer

    day0 = dt.date(2026, 1, 1)
    statsdemo.generate(version, responses=180, start=day0, days=90, doctors=list(doctors.values()), seed=3)
    aggregates.rebuild_range(day0, day0 + dt.timedelta(days=89))
    for start, end in PERIODS:
        f = stats.Filters(questionnaire=version.questionnaire, start=start, end=end)
        expected = Response.objects.filter(submitted_at__date__gte=start, submitted_at__date__lte=end)
        totals = stats.totals(f)
        assert totals["responses"] == expected.count()
        promoters = expected.filter(recommend__gte=9).count()
        detractors = expected.filter(recommend__lte=6).count()
        assert totals["nps"] == round(100 * (promoters - detractors) / expected.count(), 1)
        assert sum(p["responses"] for p in stats.trend(f, "month")) == expected.count()
        assert sum(p["responses"] for p in stats.trend(f, "week")) == expected.count()
        wait = Answer.objects.filter(response__in=expected, item__link_id="wait_time")
        item = next(i for i in stats.items(f) if i["link_id"] == "wait_time")
        assert [d["count"] for d in item["distribution"]] == [wait.filter(score=v).count() for v in range(1, 6)]
        scored = [float(a) for a in wait.values_list("score", flat=True)]
        assert item["mean"] == round(sum(scored) / len(scored), 2)


def test_scope_and_filters_limit_the_rows(version: Any, doctors: dict[str, Doctor], org: dict[str, Any]) -> None:
    submit(version, answers(5, 10), doctor=doctors["gk"], when=at(DAY))
    submit(version, answers(3, 5), doctor=doctors["nk"], when=at(DAY), channel="phone")
    aggregates.rebuild_day(DAY)
    base = {"questionnaire": version.questionnaire, "start": DAY, "end": DAY}
    assert stats.totals(stats.Filters(**base))["responses"] == 2
    assert stats.totals(stats.Filters(**base, visible_departments={org["wk"].pk, org["gk"].pk}))["responses"] == 1
    assert stats.totals(stats.Filters(**base, channel="phone"))["responses"] == 1
    assert stats.totals(stats.Filters(**base, doctor_id=doctors["nk"].pk))["nps"] == -100.0
    ranking = stats.department_ranking(stats.Filters(**base))
    assert [r["name"] for r in ranking] == ["骨科", "内科"]


def test_cover_uses_months_weeks_and_days() -> None:
    q = stats.cover(dt.date(2026, 1, 14), dt.date(2026, 3, 3))
    text = str(q)
    assert "Grain.MONTH" in text and "Grain.WEEK" in text and "Grain.DAY" in text
    assert stats._full_months(dt.date(2026, 1, 1), dt.date(2026, 12, 31))[0][-1] == dt.date(2026, 12, 1)
