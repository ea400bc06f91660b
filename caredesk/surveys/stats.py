"""Read the survey statistics for the dashboard and the Excel export — from the aggregate tables only.

``dashboard(filters)`` runs a fixed number of grouped queries whatever the number of answers: a
period is covered by month rows, then week rows, then day rows at its edges (see models_stats).
Item distributions, themes and keywords have no doctor key; with a doctor selected they show the
doctor's department(s) as filtered otherwise (the page says so).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from caredesk.core.pii import mask_name
from caredesk.questionnaires.models import Item, Questionnaire

from .aggregates import first_of_month, monday, next_month
from .models_stats import (
    SCORE_VALUES,
    CommentInsight,
    DailyDimensionStat,
    DailyItemStat,
    DailyKeywordStat,
    DailyResponseStat,
    DailyThemeStat,
    Grain,
    StatBuild,
)

RANKING_MIN_RESPONSES = 5  # doctors with fewer answers are listed but not ranked first
DOCTOR_ROWS = 30
KEYWORD_ROWS = 30
COMMENT_ROWS = 20


@dataclass
class Filters:
    questionnaire: Questionnaire | None
    start: dt.date
    end: dt.date  # inclusive
    department_id: int | None = None
    doctor_id: int | None = None
    setting: str = ""  # "" | outpatient | inpatient (inpatient departments are the wards)
    channel: str = ""
    visible_departments: set[int] | None = None  # None: every department (the user's scope)

    def q(self, *, doctor: bool = True) -> Q:
        q = Q()
        if self.questionnaire is not None:
            q &= Q(questionnaire_id=self.questionnaire.pk)
        if self.visible_departments is not None:
            q &= Q(department_id__in=sorted(self.visible_departments))
        if self.department_id:
            q &= Q(department_id=self.department_id)
        if doctor and self.doctor_id:
            q &= Q(doctor_id=self.doctor_id)
        if self.setting:
            q &= Q(setting=self.setting)
        if self.channel:
            q &= Q(channel=self.channel)
        return q


# --- covering a period with month, week and day rows ---------------------------------------------------


def _full_months(start: dt.date, end: dt.date) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    months: list[dt.date] = []
    first = start if start.day == 1 else next_month(start)
    month = first
    while next_month(month) - dt.timedelta(days=1) <= end:
        months.append(month)
        month = next_month(month)
    if not months:
        return [], [(start, end)]
    rest = []
    if start < months[0]:
        rest.append((start, months[0] - dt.timedelta(days=1)))
    last_day = next_month(months[-1]) - dt.timedelta(days=1)
    if last_day < end:
        rest.append((last_day + dt.timedelta(days=1), end))
    return months, rest


def _full_weeks(start: dt.date, end: dt.date) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    first = start if start.weekday() == 0 else monday(start) + dt.timedelta(days=7)
    weeks = []
    week = first
    while week + dt.timedelta(days=6) <= end:
        weeks.append(week)
        week += dt.timedelta(days=7)
    if not weeks:
        return [], [(start, end)]
    rest = []
    if start < weeks[0]:
        rest.append((start, weeks[0] - dt.timedelta(days=1)))
    if weeks[-1] + dt.timedelta(days=6) < end:
        rest.append((weeks[-1] + dt.timedelta(days=7), end))
    return weeks, rest


def cover(start: dt.date, end: dt.date, by: str = "total", base: Q | None = None) -> Q:
    """A filter selecting rows that add up to exactly [start, end]: by="month" (month + day rows,
    for monthly trends), "week" (week + day rows) or "total" (months, then weeks, then days).
    ``base`` (the other filters) is repeated inside each OR branch so that every branch can use the
    (grain, questionnaire, day) index on its own."""
    months: list[dt.date] = []
    weeks: list[dt.date] = []
    days: list[tuple[dt.date, dt.date]] = []
    if by == "week":
        weeks, days = _full_weeks(start, end)
    else:
        months, rest = _full_months(start, end)
        for a, b in rest:
            if by == "total":
                w, d = _full_weeks(a, b)
                weeks += w
                days += d
            else:
                days.append((a, b))
    parts = []
    if months:
        parts.append(Q(grain=Grain.MONTH, day__in=months))
    if weeks:
        parts.append(Q(grain=Grain.WEEK, day__in=weeks))
    parts += [Q(grain=Grain.DAY, day__gte=a, day__lte=b) for a, b in days if a <= b]
    if base is not None:
        parts = [part & base for part in parts]
    if not parts:
        return Q(pk__in=[])
    q = parts[0]
    for part in parts[1:]:
        q |= part
    return q


# --- figures ------------------------------------------------------------------------------------------

RESPONSE_SUMS = (
    "responses", "score_sum", "score_count", "recommend_count", "recommend_sum", "promoters", "passives",
    "detractors", "comments", "negative_comments", "high_score_negative", "invitations_sent", "invitations_answered",
)


def _sums(fields: tuple[str, ...] = RESPONSE_SUMS) -> dict[str, Sum]:
    return {f"t_{f}": Sum(f) for f in fields}


def figures(row: dict[str, Any]) -> dict[str, Any]:
    """Derived figures from summed measures (t_* keys): mean score, NPS, response rate…"""
    t = {k[2:]: (v or 0) for k, v in row.items() if k.startswith("t_")}
    rc = t.get("recommend_count", 0)
    out = dict(t)
    out["mean_score"] = round(t["score_sum"] / t["score_count"], 2) if t.get("score_count") else None
    out["nps"] = round(100 * (t["promoters"] - t["detractors"]) / rc, 1) if rc else None
    out["recommend_mean"] = round(t["recommend_sum"] / rc, 2) if rc else None
    sent = t.get("invitations_sent", 0)
    out["response_rate"] = round(100 * t["invitations_answered"] / sent, 1) if sent else None
    comments = t.get("comments", 0)
    out["negative_share"] = round(100 * t["negative_comments"] / comments, 1) if comments else None
    return out


def _response_stats(f: Filters, by: str = "total") -> QuerySet[DailyResponseStat]:
    return DailyResponseStat.objects.filter(cover(f.start, f.end, by, f.q()))


def totals(f: Filters) -> dict[str, Any]:
    return figures(_response_stats(f).aggregate(**_sums()))


def dimensions(f: Filters) -> list[dict[str, Any]]:
    rows = (
        DailyDimensionStat.objects.filter(cover(f.start, f.end, base=f.q()))
        .values("dimension_id", "dimension__name", "dimension__order")
        .annotate(s=Sum("score_sum"), n=Sum("score_count"))
        .order_by("dimension__order", "dimension_id")
    )
    return [{"name": r["dimension__name"], "mean": round(r["s"] / r["n"], 2) if r["n"] else None, "answers": r["n"]} for r in rows]


def trend(f: Filters, by: str) -> list[dict[str, Any]]:
    """One point per month (by="month") or week (by="week") in the period."""
    rows = _response_stats(f, by).values(by).annotate(**_sums()).order_by(by)
    return [{"period": r[by].isoformat(), **figures(r)} for r in rows]


def _ranking(rows: Any, name_key: str, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        fig = figures(r)
        out.append({"name": r[name_key] or _("未指定"), **{k: r[k] for k in extra}, **fig})
    out.sort(key=lambda x: (x["responses"] < RANKING_MIN_RESPONSES, -(x["mean_score"] or 0), -(x["nps"] or -1000)))
    for n, row in enumerate(out, start=1):
        row["rank"] = n
    return out


def department_ranking(f: Filters, *, setting: str | None = None) -> list[dict[str, Any]]:
    qs = _response_stats(f)
    if setting is not None:
        qs = qs.filter(setting=setting)
    rows = qs.values("department_id", "department__name").annotate(**_sums()).order_by()
    return _ranking(rows, "department__name", ("department_id",))


def doctor_ranking(f: Filters) -> list[dict[str, Any]]:
    rows = (
        _response_stats(f).filter(doctor__isnull=False)
        .values("doctor_id", "doctor__name", "doctor__department__name")
        .annotate(**_sums()).order_by()
    )
    return _ranking(rows, "doctor__name", ("doctor_id", "doctor__department__name"))[:DOCTOR_ROWS]


def channels(f: Filters) -> list[dict[str, Any]]:
    from caredesk.questionnaires.models import Response

    labels = dict(Response.Channel.choices)
    rows: Any = _response_stats(f).values("channel").annotate(**_sums()).order_by("channel")
    return [{"channel": r["channel"], "name": str(labels.get(r["channel"], r["channel"])), **figures(r)} for r in rows]


def _value_labels(item: dict[str, Any]) -> dict[int, str]:
    if item["kind"] == Item.Kind.RECOMMEND:
        return {v: str(v) for v in range(11)}
    if item["kind"] == Item.Kind.RATING:
        return {v: _("%(n)s分") % {"n": v} for v in range(1, 6)}
    labels: dict[int, str] = {}
    for choice in item.get("choices") or []:
        score = choice.get("score")
        if score is not None and float(score).is_integer() and 0 <= int(score) <= 10:
            labels.setdefault(int(score), str(choice.get("label", score)))
    return labels


def items(f: Filters) -> list[dict[str, Any]]:
    """Distribution per item (grouped by link_id across versions), in questionnaire order."""
    if f.questionnaire is None:
        return []
    sums = {f"s_n{v}": Sum(f"n{v}") for v in SCORE_VALUES}
    rows: Any = (
        DailyItemStat.objects.filter(cover(f.start, f.end, base=f.q(doctor=False)))
        .values("item__link_id")
        .annotate(answers=Sum("answers"), scored=Sum("scored"), score_sum=Sum("score_sum"), order=Max("item__order"), **sums)
        .order_by("order", "item__link_id")
    )
    latest: dict[str, Any] = {}
    for it in (
        Item.objects.filter(version__questionnaire=f.questionnaire)
        .order_by("-version__number")
        .values("link_id", "text", "kind", "choices")
    ):
        latest.setdefault(it["link_id"], it)
    out = []
    for r in rows:
        meta = latest.get(r["item__link_id"], {"text": r["item__link_id"], "kind": "", "choices": []})
        labels = _value_labels(meta)
        dist = [{"value": v, "label": labels[v], "count": r[f"s_n{v}"] or 0} for v in sorted(labels)]
        out.append({
            "link_id": r["item__link_id"], "text": meta["text"], "kind": meta["kind"], "answers": r["answers"] or 0,
            "mean": round(r["score_sum"] / r["scored"], 2) if r["scored"] else None, "distribution": dist,
        })
    return out


def themes(f: Filters) -> list[dict[str, Any]]:
    from caredesk.textmining.themes import labels

    names = labels()
    rows = (
        DailyThemeStat.objects.filter(cover(f.start, f.end, base=f.q(doctor=False)))
        .values("theme").annotate(n=Sum("comments"), neg=Sum("negative")).order_by("-n", "theme")
    )
    return [{"theme": r["theme"], "name": names.get(r["theme"], r["theme"]), "comments": r["n"], "negative": r["neg"]} for r in rows]


def department_themes(f: Filters) -> dict[str, Any]:
    """A department × theme table of comment counts (for the per-department theme chart)."""
    from caredesk.textmining.themes import labels

    names = labels()
    rows = (
        DailyThemeStat.objects.filter(cover(f.start, f.end, base=f.q(doctor=False)))
        .values("department__name", "theme").annotate(n=Sum("comments")).order_by("department__name", "theme")
    )
    departments: dict[str, dict[str, int]] = {}
    seen: list[str] = []
    for r in rows:
        departments.setdefault(r["department__name"] or _("未指定"), {})[r["theme"]] = r["n"]
        if r["theme"] not in seen:
            seen.append(r["theme"])
    return {
        "themes": [{"code": t, "name": names.get(t, t)} for t in seen],
        "rows": [{"department": d, "counts": [counts.get(t, 0) for t in seen]} for d, counts in departments.items()],
    }


def keywords(f: Filters) -> list[dict[str, Any]]:
    rows = (
        DailyKeywordStat.objects.filter(cover(f.start, f.end, base=f.q(doctor=False)))
        .values("word").annotate(n=Sum("count")).order_by("-n", "word")[:KEYWORD_ROWS]
    )
    return [{"word": r["word"], "count": r["n"]} for r in rows]


def comments(f: Filters, *, flagged: bool) -> list[dict[str, Any]]:
    """Latest analysed comments (masked patient); ``flagged``: only "high score, negative comment"."""
    qs = CommentInsight.objects.filter(f.q(), day__gte=f.start, day__lte=f.end)
    if flagged:
        qs = qs.filter(high_score_negative=True)
    rows = qs.select_related("response__patient", "department", "doctor").order_by("-day", "-id")[:COMMENT_ROWS]
    from caredesk.textmining.themes import labels

    names = labels() if rows else {}
    return [
        {
            "id": c.pk, "response_id": c.response_id, "day": c.day, "department": c.department.name if c.department else "",
            "doctor": c.doctor.name if c.doctor else "",
            "patient": mask_name(c.response.patient.name) if c.response.patient else _("匿名"),
            "text": c.text, "mean_score": c.mean_score, "recommend": c.recommend, "sentiment": c.sentiment,
            "sentiment_score": c.sentiment_score, "themes": [names.get(t, t) for t in c.themes],
        }
        for c in rows
    ]


def last_built() -> dt.datetime | None:
    return StatBuild.objects.aggregate(m=Max("built_at"))["m"]


@dataclass
class Dashboard:
    filters: Filters
    totals: dict[str, Any]
    dimensions: list[dict[str, Any]]
    monthly: list[dict[str, Any]]
    weekly: list[dict[str, Any]]
    departments: list[dict[str, Any]]
    wards: list[dict[str, Any]]
    doctors: list[dict[str, Any]]
    channels: list[dict[str, Any]]
    items: list[dict[str, Any]]
    themes: list[dict[str, Any]]
    department_themes: dict[str, Any]
    keywords: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    recent_comments: list[dict[str, Any]]
    built_at: dt.datetime | None
    notes: list[str] = field(default_factory=list)


def dashboard(f: Filters) -> Dashboard:
    return Dashboard(
        filters=f,
        totals=totals(f),
        dimensions=dimensions(f),
        monthly=trend(f, "month"),
        weekly=trend(f, "week"),
        departments=department_ranking(f),
        wards=department_ranking(f, setting="inpatient"),
        doctors=doctor_ranking(f),
        channels=channels(f),
        items=items(f),
        themes=themes(f),
        department_themes=department_themes(f),
        keywords=keywords(f),
        flagged=comments(f, flagged=True),
        recent_comments=comments(f, flagged=False),
        built_at=last_built(),
    )


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last twelve months including the current one (whole months plus this month so far)."""
    start = first_of_month(today)
    for _i in range(11):
        start = first_of_month(start - dt.timedelta(days=1))
    return start, today


def topic_scores(*, department_id: int, topic: str, since: dt.datetime) -> list[Any]:
    """For rectification items (complaints.rectification.later_scores, via the setting
    RECTIFICATION_SCORES_PROVIDER): the department's mean score per month on the dimension named
    ``topic`` (name or code, e.g. 服务态度), from the day after ``since`` on. Reads the day rows
    of the aggregate tables only."""
    from caredesk.complaints.rectification import TopicScore
    from caredesk.questionnaires.models import Dimension

    dimension = Dimension.objects.filter(Q(name=topic) | Q(code=topic)).first()
    if dimension is None:
        return []
    rows = (
        DailyDimensionStat.objects.filter(
            grain=Grain.DAY, department_id=department_id, dimension=dimension, day__gt=since.date(),
        )
        .values("month").annotate(total=Sum("score_sum"), count=Sum("score_count")).order_by("month")
    )
    return [
        TopicScore(period=f"{row['month']:%Y-%m}", score=round(row["total"] / row["count"], 2), scale=5.0,
                   responses=row["count"])
        for row in rows if row["count"]
    ]
