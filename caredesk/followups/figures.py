"""Figures of the follow-up centre: coverage (discharges with a plan / discharges), completion,
contact rate and satisfaction, grouped by department, doctor, agent or week. A fixed number of
aggregate queries whatever the volume."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, Exists, OuterRef, Q
from django.db.models.functions import TruncWeek
from django.utils.translation import gettext as _

from caredesk.core import workcalendar
from caredesk.core.scope import scope_to_user

from .models import FollowupPlan, FollowupTask, PlanTemplate

GROUPS = {"department": "department", "doctor": "doctor", "agent": "agent", "week": "week"}
CLOSED = ["done", "unreachable"]
COUNTED = ["open", "assigned", "done", "unreachable"]


def chart_labels() -> dict[str, str]:
    return {"completion": _("完成率（%）"), "contact": _("接通率（%）"), "coverage": _("覆盖率（%）"),
            "satisfaction": _("平均满意度"), "rate": _("百分比"), "score": _("分（1–5）")}


def clean_filters(params: Any, today: date) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    end, start = today, today - timedelta(weeks=8)
    try:
        if params.get("start"):
            start = date.fromisoformat(params["start"])
        if params.get("end"):
            end = date.fromisoformat(params["end"])
    except ValueError:
        errors.append(_("日期格式应为 YYYY-MM-DD。"))
    if start > end:
        errors.append(_("开始日期不能晚于结束日期。"))
        start, end = end, start
    group = params.get("group") or "department"
    if group not in GROUPS:
        errors.append(_("未知的分组方式。"))
        group = "department"
    return {"start": start, "end": end, "group": group}, errors


def _pct(a: int, b: int) -> float | None:
    return round(100 * a / b, 1) if b else None


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = workcalendar._tz()
    return datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)


def compute(filters: dict[str, Any], user: Any) -> dict[str, Any]:
    from caredesk.patients.models import Encounter

    start, end, group = filters["start"], filters["end"], filters["group"]
    tasks = scope_to_user(FollowupTask.objects.filter(due_date__gte=start, due_date__lte=end, status__in=COUNTED), user)
    key = {"department": "department__name", "doctor": "encounter__doctor__name", "agent": "assignee__display_name",
           "week": "week"}[group]
    if group == "week":
        tasks = tasks.annotate(week=TruncWeek("due_date"))
    rows: dict[Any, dict[str, Any]] = {}
    for r in tasks.values(key).annotate(
        due=Count("pk"), closed=Count("pk", filter=Q(status__in=CLOSED)),
        reached=Count("pk", filter=Q(outcome="reached")), sat=Avg("satisfaction"), sat_n=Count("satisfaction"),
    ).order_by(key):
        label = r[key]
        rows[label] = {"label": label, "due": r["due"], "completion": _pct(r["closed"], r["due"]),
                       "contact": _pct(r["reached"], r["closed"]), "satisfaction": round(r["sat"], 2) if r["sat"] else None,
                       "sat_n": r["sat_n"], "coverage": None, "discharges": None}
    totals = tasks.aggregate(due=Count("pk"), closed=Count("pk", filter=Q(status__in=CLOSED)),
                             reached=Count("pk", filter=Q(outcome="reached")), sat=Avg("satisfaction"))
    # coverage: discharges in the period with a discharge plan
    lo, hi = _bounds(start, end)
    discharges = scope_to_user(Encounter.objects.filter(kind="inpatient", status="discharged", discharged_at__gte=lo,
                                                        discharged_at__lt=hi), user, "department")
    planned = Exists(FollowupPlan.objects.filter(encounter=OuterRef("pk"), template__trigger=PlanTemplate.Trigger.DISCHARGE)
                     .exclude(status=FollowupPlan.Status.WITHDRAWN))
    discharges = discharges.annotate(planned=planned)
    cov_total = discharges.aggregate(n=Count("pk"), covered=Count("pk", filter=Q(planned=True)))
    ckey = {"department": "department__name", "doctor": "doctor__name", "week": "week"}.get(group)
    if ckey:
        if group == "week":
            discharges = discharges.annotate(week=TruncWeek("discharged_at"))
        for r in discharges.values(ckey).annotate(n=Count("pk"), covered=Count("pk", filter=Q(planned=True))).order_by(ckey):
            label = r[ckey].date() if isinstance(r[ckey], datetime) else r[ckey]
            row = rows.setdefault(label, {"label": label, "due": 0, "completion": None, "contact": None, "satisfaction": None,
                                          "sat_n": 0})
            row["discharges"], row["coverage"] = r["n"], _pct(r["covered"], r["n"])
    ordered = sorted(rows.values(), key=lambda r: (r["label"] is None, str(r["label"])))
    for r in ordered:
        r["label"] = str(r["label"]) if r["label"] is not None else _("（未填）")
    return {
        "rows": ordered,
        "totals": {
            "due": totals["due"], "completion": _pct(totals["closed"], totals["due"]),
            "contact": _pct(totals["reached"], totals["closed"]),
            "satisfaction": round(totals["sat"], 2) if totals["sat"] else None,
            "discharges": cov_total["n"], "coverage": _pct(cov_total["covered"], cov_total["n"]),
        },
        "chart": {
            "labels": [r["label"] for r in ordered],
            "completion": [r["completion"] for r in ordered], "contact": [r["contact"] for r in ordered],
            "coverage": [r["coverage"] for r in ordered], "satisfaction": [r["satisfaction"] for r in ordered],
        },
    }
