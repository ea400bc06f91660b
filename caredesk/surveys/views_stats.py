"""The satisfaction statistics dashboard and its Excel export (reads only the aggregate tables)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from caredesk.accounts.models import Department, Doctor
from caredesk.core import audit, exports
from caredesk.questionnaires.models import Questionnaire, Response

from . import stats

PERMISSION = "surveys.view_survey_stats"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filters_from(request: HttpRequest) -> tuple[stats.Filters, dict[str, Any]]:
    """Filters from the query string, limited to what the user may see (a department head: own departments)."""
    user: Any = request.user
    visible = user.visible_department_ids()
    questionnaires = list(Questionnaire.objects.filter(purpose=Questionnaire.Purpose.SURVEY).order_by("code"))
    chosen = _int(request.GET.get("questionnaire"))
    questionnaire = next((q for q in questionnaires if q.pk == chosen), questionnaires[0] if questionnaires else None)
    today = timezone.localdate()
    start, end = stats.default_period(today)
    start = _date(request.GET.get("start")) or start
    end = _date(request.GET.get("end")) or end
    if end < start:
        start, end = end, start
    departments = Department.objects.filter(is_active=True).order_by("sort_order", "code")
    doctors = Doctor.objects.filter(is_active=True).select_related("department").order_by("department__sort_order", "name")
    if visible is not None:
        departments = departments.filter(pk__in=visible)
        doctors = doctors.filter(department_id__in=visible)
    department_id = _int(request.GET.get("department"))
    if department_id and visible is not None and department_id not in visible:
        raise Http404
    doctor_id = _int(request.GET.get("doctor"))
    setting = request.GET.get("setting", "")
    setting = setting if setting in ("outpatient", "inpatient") else ""
    channel = request.GET.get("channel", "")
    channel = channel if channel in Response.Channel.values else ""
    f = stats.Filters(
        questionnaire=questionnaire, start=start, end=end, department_id=department_id, doctor_id=doctor_id,
        setting=setting, channel=channel, visible_departments=visible,
    )
    options = {
        "questionnaires": questionnaires, "departments": list(departments), "doctors": list(doctors),
        "channels": Response.Channel.choices,
        "settings": [("outpatient", _("门诊")), ("inpatient", _("住院（病区）"))],
    }
    return f, options


def _charts(board: stats.Dashboard) -> dict[str, Any]:
    """Plain JSON for static/js/survey-stats.js (passed with json_script)."""
    return {
        "monthly": board.monthly, "weekly": board.weekly,
        "dimensions": board.dimensions,
        # The 0–10 recommend item is shown as NPS; the stacked chart keeps to the 1–5 scales.
        "items": [
            {"text": i["text"], "distribution": i["distribution"]}
            for i in board.items if i["distribution"] and i["kind"] != "recommend"
        ],
        "departments": [
            {"name": d["name"], "mean": d["mean_score"], "nps": d["nps"], "responses": d["responses"]} for d in board.departments
        ],
        "themes": board.themes, "department_themes": board.department_themes, "keywords": board.keywords,
        "labels": {
            "responses": _("答卷数"), "mean": _("平均分"), "nps": _("推荐净值 NPS"), "dimension": _("维度平均分"),
            "comments": _("评论数"), "negative": _("其中负面"), "count": _("出现次数"),
        },
    }


@login_required
@permission_required(PERMISSION, raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    f, options = filters_from(request)
    board = stats.dashboard(f)
    query = request.GET.copy()
    query.pop("format", None)
    return render(request, "surveys/stats/dashboard.html", {
        "board": board, "f": f, **options, "charts": _charts(board), "query": query.urlencode(),
    })


@login_required
@permission_required(PERMISSION, raise_exception=True)
def export(request: HttpRequest) -> FileResponse:
    f, _options = filters_from(request)
    board = stats.dashboard(f)
    audit.record(actor=request.user, verb="surveys.stats_exported", target=f.questionnaire,
                 start=f.start.isoformat(), end=f.end.isoformat(), department=f.department_id or 0)
    return exports.xlsx_response(f"satisfaction-{f.start:%Y%m%d}-{f.end:%Y%m%d}.xlsx", export_sheets(board))


def _fig_row(r: dict[str, Any]) -> list[Any]:
    return [r["responses"], r["mean_score"], r["nps"], r["promoters"], r["passives"], r["detractors"],
            r["invitations_sent"], r["response_rate"], r["comments"], r["negative_share"]]


FIG_HEADERS = ["答卷数", "平均分", "NPS", "推荐者", "中立者", "贬损者", "邀请数", "回收率%", "评论数", "负面评论%"]


def export_sheets(board: stats.Dashboard) -> list[exports.Sheet]:
    f = board.filters
    t = board.totals
    overview: list[list[Any]] = [
        ["问卷", f.questionnaire.title if f.questionnaire else ""], ["开始日期", f.start], ["结束日期", f.end],
        *[[h, v] for h, v in zip(FIG_HEADERS, _fig_row(t), strict=True)],
        ["高分负面评论", t["high_score_negative"]],
    ]
    return [
        exports.Sheet("概览", ["项目", "数值"], overview),
        exports.Sheet("维度", ["维度", "平均分", "评分次数"], [[d["name"], d["mean"], d["answers"]] for d in board.dimensions]),
        exports.Sheet("月趋势", ["月份", *FIG_HEADERS], [[m["period"][:7], *_fig_row(m)] for m in board.monthly]),
        exports.Sheet("周趋势", ["周（周一）", *FIG_HEADERS], [[w["period"], *_fig_row(w)] for w in board.weekly]),
        exports.Sheet("科室排名", ["名次", "科室", *FIG_HEADERS], [[d["rank"], d["name"], *_fig_row(d)] for d in board.departments]),
        exports.Sheet("病区排名", ["名次", "病区", *FIG_HEADERS], [[d["rank"], d["name"], *_fig_row(d)] for d in board.wards]),
        exports.Sheet("医生排名", ["名次", "医生", "科室", *FIG_HEADERS],
                   [[d["rank"], d["name"], d["doctor__department__name"], *_fig_row(d)] for d in board.doctors]),
        exports.Sheet("渠道", ["渠道", *FIG_HEADERS], [[c["name"], *_fig_row(c)] for c in board.channels]),
        exports.Sheet("题目分布", ["题目", "回答数", "平均分", "分布"], [
            [i["text"], i["answers"], i["mean"], "；".join(f"{d['label']}:{d['count']}" for d in i["distribution"])]
            for i in board.items
        ]),
        exports.Sheet("主题", ["主题", "评论数", "负面"], [[t["name"], t["comments"], t["negative"]] for t in board.themes]),
        exports.Sheet("关键词", ["词语", "次数"], [[k["word"], k["count"]] for k in board.keywords]),
    ]
