"""Exports: every task as CSV (``followups_export``), a weekly report as Excel."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from caredesk.core import audit

from .models import FollowupTask, WeeklyReport

TASK_COLUMNS = ["record_no", "patient_id", "plan", "step", "due_date", "status", "assignee"]


def write_tasks_csv(path: Path) -> int:
    """record_no is the patient's 住院号 (else 门诊号); assignee is the username. Streams in id order."""
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(TASK_COLUMNS)
        qs = (
            FollowupTask.objects.order_by("pk")
            .values_list("patient__inpatient_no", "patient__outpatient_no", "patient_id", "plan__template__code",
                         "step_key", "due_date", "status", "assignee__username")
        )
        for inp, outp, patient_id, plan, step, due, status, assignee in qs.iterator(chunk_size=5000):
            writer.writerow([inp or outp or "", patient_id, plan, step, due.isoformat(), status, assignee or ""])
            n += 1
    audit.record(actor=None, verb="followups.tasks_exported", object_type="followups.task", rows=n)
    return n


def report_xlsx(report: WeeklyReport, *, acting_user: Any) -> bytes:
    """The report as an Excel workbook: the signed snapshot when signed, else the live draft."""
    from openpyxl import Workbook

    data = report.snapshot or {
        "week_start": report.week_start.isoformat(), "figures": report.figures, "agent_notes": report.agent_notes,
        "guidance": report.guidance, "agent": str(report.agent) if report.agent_id else None,
    }
    fig = data.get("figures") or {}
    wb = Workbook()
    ws = wb.active
    ws.title = "回访报告"
    ws.append(["患者回访报告"])
    ws.append(["周一", data.get("week_start")])
    ws.append(["回访人", data.get("agent") or "全组"])
    ws.append(["状态", report.get_status_display()])
    if report.signed_at:
        ws.append(["签发人", data.get("signed_by_name", "")])
        ws.append(["签发时间", data.get("signed_at", "")])
        ws.append(["存档校验 SHA-256", report.snapshot_sha256])
    ws.append([])
    for label, key in (("应回访", "due"), ("已完成", "done"), ("已接通", "reached"), ("无法联系", "unreachable"),
                       ("未完成", "open"), ("接通率（%）", "contact_rate"), ("平均满意度", "satisfaction_avg"),
                       ("问题与建议", "problems")):
        ws.append([label, fig.get(key)])
    ws.append([])
    ws.append(["回访人小结", data.get("agent_notes", "")])
    ws.append(["主管指导意见", data.get("guidance", "")])
    problems = wb.create_sheet("问题与建议")
    problems.append(["编号", "类别", "患者原话", "状态", "回访任务"])
    for p in fig.get("problem_list", []):
        problems.append([p["id"], p["kind"], p["words"], p["status"], p["task_id"]])
    buf = io.BytesIO()
    wb.save(buf)
    audit.record(actor=acting_user, verb="followups.report_exported", target=report)
    return buf.getvalue()
