"""Build the pre-aggregated statistics tables (models_stats) from the answers.

``rebuild_day(day)`` is idempotent: inside one transaction it deletes the day's rows and inserts
them again from grouped ORM queries (GROUP BY in the database, never a Python loop over answers),
then rebuilds the week and month rows containing the day from the day rows. Only the free-text
comments of the day are read one by one, because sentiment and themes need the classifier.

Run by the beat tasks in tasks.py (yesterday at night, today every few minutes) and by
``manage.py surveys_aggregate``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, F, FloatField, Model, Q, Sum, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from caredesk.questionnaires.models import Answer, Item, Questionnaire, Response

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

KEYS = ("questionnaire_id", "department_id", "setting", "channel")
TEXT_KINDS = (Item.Kind.TEXT, Item.Kind.TEXTAREA)
KEYWORDS_PER_GROUP = 30
HIGH_MEAN = 4.0  # mean item score (1–5) counted as "high"
HIGH_RECOMMEND = 9
STOPWORDS = frozenset(
    str.split(
    "我们 你们 他们 她们 自己 这个 那个 这里 那里 就是 还是 但是 因为 所以 如果 虽然 然后 而且 可以 没有 一个 一些 "
    "什么 怎么 这样 那样 时候 非常 比较 觉得 感觉 一下 已经 还有 希望 医院 问题 现在 今天 昨天 知道"
    )
)

# Measures per table (summed when rolling days up into weeks and months).
RESPONSE_MEASURES = (
    "responses", "score_sum", "score_count", "recommend_count", "recommend_sum", "promoters", "passives",
    "detractors", "comments", "negative_comments", "high_score_negative", "invitations_sent", "invitations_answered",
)
ITEM_MEASURES = ("answers", "scored", "score_sum", *(f"n{v}" for v in SCORE_VALUES))
TABLES: tuple[tuple[type[Model], tuple[str, ...], tuple[str, ...]], ...] = (
    (DailyResponseStat, (*KEYS, "doctor_id"), RESPONSE_MEASURES),
    (DailyDimensionStat, (*KEYS, "doctor_id", "dimension_id"), ("score_sum", "score_count")),
    (DailyItemStat, (*KEYS, "item_id"), ITEM_MEASURES),
    (DailyThemeStat, (*KEYS, "theme"), ("comments", "negative")),
    (DailyKeywordStat, (*KEYS, "word"), ("count",)),
)


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min), tz)
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min), tz)
    return start, end


def _day_fields(day: dt.date) -> dict[str, Any]:
    return {"grain": Grain.DAY, "day": day, "week": monday(day), "month": first_of_month(day)}


def _key(row: dict[str, Any], keys: Iterable[str]) -> tuple[Any, ...]:
    return tuple(row[k] for k in keys)


# --- the day rows -------------------------------------------------------------------------------------


def _responses(day: dt.date) -> Any:
    """The day's completed responses. The questionnaire list lets the database use the
    (questionnaire, submitted_at) index instead of scanning every response."""
    start, end = day_bounds(day)
    questionnaires = list(Questionnaire.objects.order_by().values_list("id", flat=True))
    return Response.objects.filter(
        questionnaire_id__in=questionnaires, status=Response.Status.COMPLETED, submitted_at__gte=start, submitted_at__lt=end,
    )


def _response_rows(day: dt.date) -> dict[tuple[Any, ...], dict[str, Any]]:
    keys = (*KEYS, "doctor_id")
    rows = (
        _responses(day)
        .annotate(setting=Coalesce(F("encounter__kind"), Value("")))
        .values(*keys)
        .annotate(
            responses=Count("id"),
            recommend_count=Count("recommend"),
            recommend_sum=Coalesce(Sum("recommend"), 0),
            promoters=Count("id", filter=Q(recommend__gte=9)),
            passives=Count("id", filter=Q(recommend__gte=7, recommend__lte=8)),
            detractors=Count("id", filter=Q(recommend__lte=6)),
        )
        .order_by()
    )
    out = {_key(r, keys): dict(r, score_sum=0.0, score_count=0) for r in rows}
    scores = (
        _answers(day)
        .filter(score__isnull=False)
        .exclude(item__kind=Item.Kind.RECOMMEND)
        .values(*(f"r_{k}" for k in keys))
        .annotate(score_sum=Sum(Cast("score", FloatField())), score_count=Count("id"))
        .order_by()
    )
    for s in scores:
        key = tuple(s[f"r_{k}"] for k in keys)
        if key in out:
            out[key]["score_sum"] = float(s["score_sum"] or 0)
            out[key]["score_count"] = s["score_count"]
    return out


def _answers(day: dt.date) -> Any:
    """Answers of the day's completed responses, with the response keys as r_* columns."""
    return Answer.objects.filter(response_id__in=_responses(day).values("id")).annotate(
        r_questionnaire_id=F("response__questionnaire_id"),
        r_department_id=F("response__department_id"),
        r_doctor_id=F("response__doctor_id"),
        r_setting=Coalesce(F("response__encounter__kind"), Value("")),
        r_channel=F("response__channel"),
    )


def _dimension_rows(day: dt.date) -> list[dict[str, Any]]:
    keys = (*KEYS, "doctor_id")
    rows = (
        _answers(day)
        .filter(score__isnull=False, item__dimension__isnull=False)
        .exclude(item__kind=Item.Kind.RECOMMEND)
        .values(*(f"r_{k}" for k in keys), "item__dimension_id")
        .annotate(score_sum=Sum(Cast("score", FloatField())), score_count=Count("id"))
        .order_by()
    )
    return [
        {**{k: r[f"r_{k}"] for k in keys}, "dimension_id": r["item__dimension_id"],
         "score_sum": float(r["score_sum"] or 0), "score_count": r["score_count"]}
        for r in rows
    ]


def _item_rows(day: dt.date) -> list[dict[str, Any]]:
    # The distribution is over the score (rating, choice scores) or, for 0–10 recommend items, the value.
    buckets = {
        f"n{v}": Count("id", filter=Q(score=v) | Q(item__kind=Item.Kind.RECOMMEND, value_number=v)) for v in SCORE_VALUES
    }
    rows = (
        _answers(day)
        .values(*(f"r_{k}" for k in KEYS), "item_id")
        .annotate(
            answers=Count("id"),
            scored=Count("score"),
            score_sum=Coalesce(Sum(Cast("score", FloatField())), 0.0),
            **buckets,
        )
        .order_by()
    )
    return [{**{k: r[f"r_{k}"] for k in KEYS}, **{k: v for k, v in r.items() if not k.startswith("r_")}} for r in rows]


def _invitation_rows(day: dt.date) -> dict[tuple[Any, ...], dict[str, int]]:
    """Invitations sent that day (by their visit's keys; channel 短信链接) and how many were answered."""
    from .models import Invitation

    start, end = day_bounds(day)
    rows = (
        Invitation.objects.filter(sent_at__gte=start, sent_at__lt=end)
        .values("version__questionnaire_id", "department_id", "doctor_id")
        .annotate(setting=Coalesce(F("encounter__kind"), Value("")), sent=Count("id"),
                  answered=Count("id", filter=Q(answered_at__isnull=False)))
        .order_by()
    )
    out: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: {"invitations_sent": 0, "invitations_answered": 0})
    for r in rows:
        key = (r["version__questionnaire_id"], r["department_id"], r["setting"], Response.Channel.SMS_LINK, r["doctor_id"])
        out[key]["invitations_sent"] += r["sent"]
        out[key]["invitations_answered"] += r["answered"]
    return out


def _comments(day: dt.date) -> list[dict[str, Any]]:
    """One entry per response with free text: the joined text and the response's keys and scores."""
    keys = (*KEYS, "doctor_id")
    texts: dict[int, list[str]] = defaultdict(list)
    meta: dict[int, dict[str, Any]] = {}
    rows = (
        _answers(day)
        .filter(item__kind__in=TEXT_KINDS)
        .exclude(value_text="")
        .values("response_id", "value_text", "response__recommend", *(f"r_{k}" for k in keys))
        .order_by("response_id", "item__order", "item_id")
    )
    for r in rows:
        texts[r["response_id"]].append(r["value_text"].strip())
        meta[r["response_id"]] = {**{k: r[f"r_{k}"] for k in keys}, "recommend": r["response__recommend"]}
    if not texts:
        return []
    means = dict(
        Answer.objects.filter(response_id__in=list(texts), score__isnull=False)
        .exclude(item__kind=Item.Kind.RECOMMEND)
        .values("response_id")
        .annotate(mean=Avg(Cast("score", FloatField())))
        .order_by()
        .values_list("response_id", "mean")
    )
    return [
        {**meta[rid], "response_id": rid, "text": "；".join(t for t in parts if t), "mean_score": means.get(rid)}
        for rid, parts in texts.items()
    ]


def is_high_score(mean_score: float | None, recommend: int | None) -> bool:
    return (mean_score is not None and mean_score >= HIGH_MEAN) or (recommend is not None and recommend >= HIGH_RECOMMEND)


Analysed = tuple[list[CommentInsight], list[dict[str, Any]], list[dict[str, Any]], dict[tuple[Any, ...], Counter[str]]]


def _analyse_comments(day: dt.date) -> Analysed:
    from caredesk.textmining import analysis, tokenizer

    comments = _comments(day)
    if not comments:
        return [], [], [], {}
    results = analysis.analyse([c["text"] for c in comments], keywords=0)
    insights: list[CommentInsight] = []
    themes: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    words: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    per_response: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for c, res in zip(comments, results, strict=True):
        negative = res.sentiment == "negative"
        flagged = negative and is_high_score(c["mean_score"], c["recommend"])
        insights.append(CommentInsight(
            response_id=c["response_id"], day=day, questionnaire_id=c["questionnaire_id"],
            department_id=c["department_id"], doctor_id=c["doctor_id"], setting=c["setting"], channel=c["channel"],
            text=c["text"][:2000], mean_score=c["mean_score"], recommend=c["recommend"], sentiment=res.sentiment,
            sentiment_score=res.score, themes=res.themes, high_score_negative=flagged,
        ))
        group = _key(c, KEYS)
        for theme in res.themes:
            themes[(*group, theme)][0] += 1
            themes[(*group, theme)][1] += int(negative)
        words[group].update(w for w in set(tokenizer.cut(c["text"])) if len(w) > 1 and w not in STOPWORDS and not w.isdigit())
        counts = per_response[_key(c, (*KEYS, "doctor_id"))]
        counts["comments"] += 1
        counts["negative_comments"] += int(negative)
        counts["high_score_negative"] += int(flagged)
    theme_rows = [
        {**dict(zip(KEYS, key[:-1], strict=True)), "theme": key[-1], "comments": n, "negative": neg}
        for key, (n, neg) in themes.items()
    ]
    keyword_rows = [
        {**dict(zip(KEYS, group, strict=True)), "word": word[:40], "count": n}
        for group, counter in words.items()
        for word, n in counter.most_common(KEYWORDS_PER_GROUP)
    ]
    return insights, theme_rows, keyword_rows, per_response


@transaction.atomic
def rebuild_day(day: dt.date, *, rollup: bool = True) -> dict[str, int]:
    """Replace every statistics row of ``day`` (and its week and month unless ``rollup=False``)."""
    started = time.perf_counter()
    for model, _keys, _measures in TABLES:
        model.objects.filter(grain=Grain.DAY, day=day).delete()  # type: ignore[attr-defined]
    CommentInsight.objects.filter(day=day).delete()

    fields = _day_fields(day)
    responses = _response_rows(day)
    insights, theme_rows, keyword_rows, comment_counts = _analyse_comments(day)
    for key, counts in comment_counts.items():
        if key in responses:
            responses[key].update(counts)
    for key, invited in _invitation_rows(day).items():
        row = responses.setdefault(key, {**dict(zip((*KEYS, "doctor_id"), key, strict=True)), "responses": 0})
        row.update(invited)  # invitations of a group with no answers still count as sent

    DailyResponseStat.objects.bulk_create([DailyResponseStat(**fields, **r) for r in responses.values()], batch_size=2000)
    DailyDimensionStat.objects.bulk_create([DailyDimensionStat(**fields, **r) for r in _dimension_rows(day)], batch_size=2000)
    DailyItemStat.objects.bulk_create([DailyItemStat(**fields, **r) for r in _item_rows(day)], batch_size=2000)
    DailyThemeStat.objects.bulk_create([DailyThemeStat(**fields, **r) for r in theme_rows], batch_size=2000)
    DailyKeywordStat.objects.bulk_create([DailyKeywordStat(**fields, **r) for r in keyword_rows], batch_size=2000)
    CommentInsight.objects.bulk_create(insights, batch_size=1000)
    if rollup:
        rollup_week(monday(day))
        rollup_month(first_of_month(day))
    total = sum(r.get("responses", 0) for r in responses.values())
    StatBuild.objects.update_or_create(
        day=day, defaults={"built_at": timezone.now(), "responses": total, "seconds": round(time.perf_counter() - started, 3)},
    )
    return {"responses": total, "groups": len(responses), "comments": len(insights)}


# --- week and month rows ---------------------------------------------------------------------------


def _rollup(grain: str, start: dt.date, *, by: str) -> None:
    for model, keys, measures in TABLES:
        manager = model.objects  # type: ignore[attr-defined]
        manager.filter(grain=grain, day=start).delete()
        rows = (
            manager.filter(grain=Grain.DAY, **{by: start})
            .values(*keys)
            .annotate(**{f"s_{m}": Sum(m) for m in measures})
            .order_by()
        )
        extra = {"grain": grain, "day": start, "week": start if grain == Grain.WEEK else None,
                 "month": start if grain == Grain.MONTH else None}
        manager.bulk_create(
            [model(**extra, **{k: r[k] for k in keys}, **{m: r[f"s_{m}"] or 0 for m in measures}) for r in rows],
            batch_size=2000,
        )


@transaction.atomic
def rollup_week(week: dt.date) -> None:
    _rollup(Grain.WEEK, monday(week), by="week")


@transaction.atomic
def rollup_month(month: dt.date) -> None:
    _rollup(Grain.MONTH, first_of_month(month), by="month")


def rebuild_range(start: dt.date, end: dt.date, *, progress: Any = None) -> dict[str, int]:
    """Rebuild every day from ``start`` to ``end`` (inclusive), then each week and month once."""
    totals: Counter[str] = Counter()
    day = start
    weeks: set[dt.date] = set()
    months: set[dt.date] = set()
    while day <= end:
        totals.update(Counter(rebuild_day(day, rollup=False)))
        weeks.add(monday(day))
        months.add(first_of_month(day))
        if progress:
            progress(day)
        day += dt.timedelta(days=1)
    for week in sorted(weeks):
        rollup_week(week)
    for month in sorted(months):
        rollup_month(month)
    return dict(totals)
