"""The monthly complaint bulletin (投诉统计简报): the figures management and the departments get.

For one calendar month (local time) and a set of visible departments (None = the whole hospital):

- complaints received, by department, category, channel and severity;
- on-time rate per step (first response, written statement, reply): of the deadlines that fell due
  in the month and are decided — met, or missed (met late, or still open after the due time) —
  the share met in time; deadlines cancelled (e.g. by a merge) or not yet due are left out;
- average handling time of the cases answered in the month (received → feedback to the complainant),
  in calendar days and in working hours (the working calendar);
- repeat problems: the same department and subcategory more than once in the month;
- top keywords of the month's complaint texts (TF-IDF over the month, ``textmining.keywords``) with
  the number of complaints that mention each;
- praise per department and per person (``praise.praise_counts``); complainants' ratings.

The number of queries does not depend on the number of complaints (one per figure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Q, QuerySet
from django.utils import timezone

from caredesk.core import workcalendar

from .models import Category, Channel, Complaint, ComplaintDeadline, DeadlineKind, Severity, Status
from .praise import PraiseCounts, praise_counts

TOP_KEYWORDS = 12


@dataclass(frozen=True)
class Row:
    label: str
    count: int
    share: float  # percent of the month's total


@dataclass(frozen=True)
class StepRate:
    kind: str
    label: str
    on_time: int
    late: int

    @property
    def decided(self) -> int:
        return self.on_time + self.late

    @property
    def rate(self) -> float | None:
        return round(self.on_time * 100 / self.decided, 1) if self.decided else None


@dataclass(frozen=True)
class RepeatProblem:
    department: str
    subcategory: str
    count: int
    case_nos: list[str]


@dataclass
class Bulletin:
    month: date
    start: datetime
    end: datetime
    scope_label: str
    total: int = 0
    by_department: list[Row] = field(default_factory=list)
    by_category: list[Row] = field(default_factory=list)
    by_channel: list[Row] = field(default_factory=list)
    by_severity: list[Row] = field(default_factory=list)
    steps: list[StepRate] = field(default_factory=list)
    answered: int = 0
    avg_days: float | None = None
    avg_working_hours: float | None = None
    avg_rating: float | None = None
    repeats: list[RepeatProblem] = field(default_factory=list)
    keywords: list[tuple[str, int]] = field(default_factory=list)
    praise: PraiseCounts | None = None

    @property
    def title(self) -> str:
        return f"投诉统计简报 {self.month:%Y}年{self.month.month}月"


def month_bounds(month: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(first, time.min, tzinfo=tz), datetime.combine(following, time.min, tzinfo=tz)


def _rows(pairs: list[tuple[str, int]], total: int) -> list[Row]:
    return [Row(label, n, round(n * 100 / total, 1) if total else 0.0) for label, n in pairs]


def build(month: date, departments: set[int] | None = None, scope_label: str = "全院", now: datetime | None = None) -> Bulletin:
    """The bulletin of ``month`` for the complaints of ``departments`` (None: all)."""
    now = now or timezone.now()
    start, end = month_bounds(month)
    b = Bulletin(month=start.date(), start=start, end=end, scope_label=scope_label)
    base: QuerySet[Complaint] = Complaint.objects.exclude(status=Status.MERGED)
    if departments is not None:
        base = base.filter(department_id__in=departments)
    received = base.filter(received_at__gte=start, received_at__lt=end)

    # 1-4: counts by dimension (four grouped queries)
    dept_pairs = [
        (r["department__name"] or "未指定科室", r["n"])
        for r in received.values("department__name").annotate(n=Count("id")).order_by("-n", "department__name")
    ]
    b.total = sum(n for _label, n in dept_pairs)
    b.by_department = _rows(dept_pairs, b.total)
    labels = {"category": dict(Category.choices), "channel": dict(Channel.choices), "severity": dict(Severity.choices)}
    for dim, target in (("category", "by_category"), ("channel", "by_channel"), ("severity", "by_severity")):
        pairs = [(str(labels[dim].get(r[dim], r[dim])), r["n"])
                 for r in received.values(dim).annotate(n=Count("id")).order_by("-n", dim)]
        setattr(b, target, _rows(pairs, b.total))

    # 5: on-time rate per step, over the deadlines due in the month
    due = ComplaintDeadline.objects.filter(complaint__in=base, due_at__gte=start, due_at__lt=end, cancelled_at__isnull=True)
    per_kind: dict[str, dict[str, int]] = {
        r["kind"]: {"on_time": r["on_time"], "late": r["late"]} for r in due.values("kind").annotate(
            on_time=Count("id", filter=Q(met_at__isnull=False, met_at__lte=F("due_at"))),
            late=Count("id", filter=Q(met_at__gt=F("due_at")) | Q(met_at__isnull=True, due_at__lte=now)),
        )
    }
    b.steps = [
        StepRate(kind, str(label), per_kind.get(kind, {}).get("on_time", 0), per_kind.get(kind, {}).get("late", 0))
        for kind, label in DeadlineKind.choices
    ]

    # 6: handling time of the cases answered this month
    answered: list[tuple[datetime, datetime]] = [
        (r, f) for r, f in base.filter(feedback_at__gte=start, feedback_at__lt=end).values_list("received_at", "feedback_at")
        if f is not None
    ]
    b.answered = len(answered)
    if answered:
        seconds = sum((f - r).total_seconds() for r, f in answered)
        hours = sum(workcalendar.working_hours_between(r, f) for r, f in answered)
        b.avg_days = round(seconds / 86400 / len(answered), 1)
        b.avg_working_hours = round(hours / len(answered), 1)
    b.avg_rating = base.filter(feedback_at__gte=start, feedback_at__lt=end, satisfaction__isnull=False).aggregate(
        a=Avg("satisfaction"))["a"]
    if b.avg_rating is not None:
        b.avg_rating = round(b.avg_rating, 1)

    # 7: repeat problems (same department and subcategory more than once): one query
    repeats: dict[tuple[str, str], list[str]] = {}
    for dept, sub, case_no in (
        received.filter(subcategory__isnull=False, department__isnull=False)
        .values_list("department__name", "subcategory__name", "case_no").order_by("department__name", "subcategory__name", "case_no")
    ):
        repeats.setdefault((dept, sub), []).append(case_no)
    b.repeats = sorted(
        (RepeatProblem(d, s, len(nos), nos) for (d, s), nos in repeats.items() if len(nos) > 1),
        key=lambda r: (-r.count, r.department, r.subcategory),
    )

    # 8: keywords over the month's texts: one query
    texts = [f"{s} {c}" for s, c in received.values_list("summary", "content")]
    b.keywords = top_keywords(texts)

    # 9: praise (two queries)
    b.praise = praise_counts(start, end, department=departments)
    return b


def top_keywords(texts: list[str], top: int = TOP_KEYWORDS) -> list[tuple[str, int]]:
    """The month's keywords by TF-IDF over all texts, each with the number of texts mentioning it."""
    if not texts:
        return []
    from caredesk.textmining import keywords

    words = keywords.tfidf("\n".join(texts), top=top)
    return sorted(((w, sum(1 for t in texts if w in t)) for w in words), key=lambda p: -p[1])


def chart_data(b: Bulletin) -> dict[str, Any]:
    """What the page's charts draw (embedded with json_script)."""
    return {
        "department": {"labels": [r.label for r in b.by_department], "values": [r.count for r in b.by_department]},
        "category": {"labels": [r.label for r in b.by_category], "values": [r.count for r in b.by_category]},
        "channel": {"labels": [r.label for r in b.by_channel], "values": [r.count for r in b.by_channel]},
        "steps": {"labels": [s.label for s in b.steps], "values": [s.rate if s.rate is not None else 0 for s in b.steps]},
        "praise": {"labels": [d.department_name for d in b.praise.by_department] if b.praise else [],
                   "values": [d.count for d in b.praise.by_department] if b.praise else []},
    }


# --- exports --------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def xlsx_sheets(b: Bulletin) -> list[Any]:
    from caredesk.core.exports import Column, Sheet

    def dim(title: str, label: str, rows: list[Row]) -> Sheet:
        return Sheet(title, [label, "投诉数", Column("占比", number_format="0.0")], [[r.label, r.count, r.share] for r in rows])

    summary: list[list[Any]] = [
        ["统计月份", f"{b.month:%Y-%m}"], ["统计范围", b.scope_label], ["投诉总数", b.total],
        ["本月答复件数", b.answered], ["平均处理天数", b.avg_days if b.avg_days is not None else "—"],
        ["平均处理工作小时", b.avg_working_hours if b.avg_working_hours is not None else "—"],
        ["投诉人满意度（1–5）", b.avg_rating if b.avg_rating is not None else "—"],
        ["表扬总数", b.praise.total if b.praise else 0],
    ]
    sheets = [
        Sheet("概况", ["项目", "数值"], summary),
        dim("按科室", "科室", b.by_department),
        dim("按类别", "类别", b.by_category),
        dim("按渠道", "渠道", b.by_channel),
        dim("按严重程度", "严重程度", b.by_severity),
        Sheet("时限达标", ["环节", "按时", "超时", "按时率"], [[s.label, s.on_time, s.late, _pct(s.rate)] for s in b.steps]),
        Sheet("重复问题", ["科室", "子类", "次数", Column("投诉编号", width=50)],
              [[r.department, r.subcategory, r.count, "、".join(r.case_nos)] for r in b.repeats]),
        Sheet("关键词", ["关键词", "涉及投诉数"], [list(k) for k in b.keywords]),
    ]
    if b.praise:
        sheets += [
            Sheet("表扬（科室）", ["科室", "表扬", "锦旗", "表扬信"],
                  [[d.department_name, d.count, d.banners, d.letters] for d in b.praise.by_department]),
            Sheet("表扬（人员）", ["人员", "科室", "表扬", "锦旗", "表扬信"],
                  [[p.name, p.department_name, p.count, p.banners, p.letters] for p in b.praise.by_person]),
        ]
    return sheets


def pdf_report(b: Bulletin) -> Any:
    from caredesk.core.exports import BarChart, Heading, Para, PdfReport, PieChart, Table

    blocks: list[Any] = [
        Para(f"本月共受理投诉 {b.total} 件；答复 {b.answered} 件，平均处理 {_num(b.avg_days)} 天"
             f"（{_num(b.avg_working_hours)} 工作小时）；投诉人满意度 {_num(b.avg_rating)}；"
             f"收到表扬 {b.praise.total if b.praise else 0} 件。"),
        Heading("一、投诉分布"),
        BarChart("按科室", [r.label for r in b.by_department[:12]], {"投诉数": [r.count for r in b.by_department[:12]]}),
        Table(["科室", "投诉数", "占比"], [[r.label, r.count, f"{r.share:.1f}%"] for r in b.by_department]),
        PieChart("按类别", [r.label for r in b.by_category], [r.count for r in b.by_category]),
        Table(["渠道", "投诉数", "占比"], [[r.label, r.count, f"{r.share:.1f}%"] for r in b.by_channel]),
        Table(["严重程度", "投诉数", "占比"], [[r.label, r.count, f"{r.share:.1f}%"] for r in b.by_severity]),
        Heading("二、处理时效"),
        BarChart("各环节按时率（%）", [s.label for s in b.steps], {"按时率": [s.rate or 0 for s in b.steps]}, value_format="{:.0f}"),
        Table(["环节", "按时", "超时", "按时率"], [[s.label, s.on_time, s.late, _pct(s.rate)] for s in b.steps]),
        Heading("三、重复出现的问题"),
        Table(["科室", "子类", "次数", "投诉编号"], [[r.department, r.subcategory, r.count, "、".join(r.case_nos)] for r in b.repeats])
        if b.repeats else Para("本月无同一科室、同一子类重复出现的问题。"),
        Heading("四、投诉关键词"),
        Para("、".join(f"{w}（{n}）" for w, n in b.keywords) or "—"),
        Heading("五、表扬"),
    ]
    if b.praise and b.praise.total:
        blocks += [
            BarChart("各科室表扬数", [d.department_name for d in b.praise.by_department[:12]],
                     {"表扬": [d.count for d in b.praise.by_department[:12]]}),
            Table(["人员", "科室", "表扬", "锦旗"], [[p.name, p.department_name, p.count, p.banners] for p in b.praise.by_person[:20]]),
        ]
    else:
        blocks.append(Para("本月无表扬记录。"))
    return PdfReport(title=b.title, subtitle=f"{b.scope_label} · 生成于 {timezone.localtime():%Y-%m-%d %H:%M}", blocks=blocks)
