"""Pages of the follow-up centre: the agent's queue, the call screen, supervision (bulk
reassignment, alerts), weekly reports and figures. Thin views; writes go through ``actions``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from caredesk.core import audit, pii, workcalendar
from caredesk.core.scope import scope_to_user

from . import actions, context, links
from .forms import AttemptForm, ReassignForm, RecordForm
from .models import OPEN_STATUSES, CallAttempt, FollowupAlert, FollowupProblem, FollowupTask, WeeklyReport

WORK = "followups.work_followups"
SUPERVISE = "followups.supervise_followups"
QUEUE_LIMIT = 500


def _today() -> date:
    return timezone.localdate()


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=workcalendar._tz())


def _task_for(request: HttpRequest, pk: int) -> FollowupTask:
    """The agent's own task, an unassigned one, or any task for a supervisor."""
    qs = FollowupTask.objects.select_related("patient", "department", "plan__template", "step", "encounter__department", "assignee")
    task = get_object_or_404(qs, pk=pk)
    user: Any = request.user
    if user.has_perm(SUPERVISE) or task.assignee_id in (None, user.pk):
        return task
    raise Http404


@login_required
@permission_required(WORK, raise_exception=True)
def queue(request: HttpRequest) -> HttpResponse:
    """Today's and overdue tasks of the signed-in agent, by priority (日清日结: what is left today)."""
    today = _today()
    user: Any = request.user
    mine = FollowupTask.objects.filter(assignee=user)
    tasks = list(
        mine.filter(actions.open_task_filter(today))
        .select_related("patient", "department", "plan__template", "step")
        .order_by("-priority", "due_date", "pk")[:QUEUE_LIMIT]
    )
    start = _day_start(today)
    counts = mine.aggregate(
        done_today=Count("pk", filter=Q(closed_at__gte=start, status__in=["done", "unreachable"])),
        waiting=Count("pk", filter=Q(status__in=OPEN_STATUSES, due_date__lte=today, next_attempt_at__gte=start + timedelta(days=1))),
        upcoming=Count("pk", filter=Q(status__in=OPEN_STATUSES, due_date__gt=today)),
    )
    pool = FollowupTask.objects.filter(status=FollowupTask.Status.OPEN, due_date__lte=today).count()
    rows = [{
        "task": t, "name": pii.mask_name(t.patient.name), "overdue": t.due_date < today,
        "plan": t.plan.template.name, "step": t.step.label if t.step else t.step_key,
    } for t in tasks]
    return render(request, "followups/queue.html", {
        "rows": rows, "left": len(tasks), "counts": counts, "pool": pool, "today": today,
        "can_supervise": request.user.has_perm(SUPERVISE),
    })


@login_required
@permission_required(WORK, raise_exception=True)
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    ctx = context.call_context(task, request.user)
    ctx.update({
        "task": task,
        "attempt_form": AttemptForm(),
        "record_form": RecordForm(),
        "outcomes": CallAttempt.Outcome,
        "name": pii.mask_name(task.patient.name),
        "phone": pii.mask_phone(task.patient.mobile) if task.patient.mobile else "",
        "reached": task.call_attempts.filter(outcome=CallAttempt.Outcome.REACHED).exists(),
    })
    return render(request, "followups/task.html", ctx)


@login_required
@permission_required(WORK, raise_exception=True)
@require_POST
def task_dial(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the number to call for this task (audited as a reveal with the purpose 回访拨号)."""
    task = _task_for(request, pk)
    if not task.is_open:
        raise PermissionDenied
    number = task.patient.mobile or ""
    audit.record(actor=request.user, verb="pii.reveal", target=task.patient, purpose="回访拨号", field="mobile", task_id=task.pk)
    return render(request, "followups/task.html#dial", {"number": number, "task": task})


@login_required
@permission_required(WORK, raise_exception=True)
@require_POST
def task_attempt(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    form = AttemptForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, str(e))
        return redirect("followups:task", pk=task.pk)
    outcome = form.cleaned_data["outcome"]
    try:
        actions.log_attempt(task, outcome=outcome, agent=request.user, callback_at=form.cleaned_data.get("callback_at"),
                            note=form.cleaned_data.get("note") or "")
    except ValidationError as exc:
        for e in exc.messages:
            messages.error(request, e)
        return redirect("followups:task", pk=task.pk)
    label = CallAttempt.Outcome(outcome).label
    if outcome == CallAttempt.Outcome.REACHED:
        messages.success(request, _("已记录接通，请填写回访记录。"))
        return redirect("followups:task", pk=task.pk)
    messages.success(request, _("已记录：%(outcome)s。") % {"outcome": label})
    return redirect("followups:queue")


class _Invalid(Exception):
    pass


def _q_values(data: Any) -> dict[str, Any]:
    return {k[len(context.PREFIX):]: (data.getlist(k) if len(data.getlist(k)) > 1 else data.get(k))
            for k in data if k.startswith(context.PREFIX)}


@login_required
@permission_required(WORK, raise_exception=True)
@require_POST
def task_record(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task_for(request, pk)
    form = RecordForm(request.POST)
    redisplay = None
    red_flags: list[str] = []
    try:
        with transaction.atomic():
            if not form.is_valid():
                raise _Invalid
            response_id, red_flags, redisplay = context.save_questionnaire(task, request.POST, request.user)
            if redisplay is not None:
                raise _Invalid
            if form.cleaned_data.get("red_flag"):
                red_flags.append(form.cleaned_data["red_flag"])
            actions.save_record(
                task, agent=request.user, satisfaction=form.cleaned_data.get("satisfaction"),
                problems=[actions.ProblemInput(kind, words) for kind, words in form.problems()],
                summary=form.cleaned_data.get("summary") or "", recovered=bool(form.cleaned_data.get("recovered")),
                red_flags=red_flags, response_id=response_id,
            )
    except _Invalid:
        ctx = context.call_context(task, request.user)
        if redisplay is None and task.step is not None:
            redisplay = context.questionnaire_form(task, _q_values(request.POST))
        ctx.update({"task": task, "attempt_form": AttemptForm(), "record_form": form, "outcomes": CallAttempt.Outcome,
                    "name": pii.mask_name(task.patient.name), "reached": True, "questionnaire": redisplay,
                    "questionnaire_invalid": redisplay is not None and any(f.error for f in redisplay["fields"]),
                    "phone": pii.mask_phone(task.patient.mobile) if task.patient.mobile else ""})
        return render(request, "followups/task.html", ctx, status=422)
    except ValidationError as exc:
        for e in exc.messages:
            messages.error(request, e)
        return redirect("followups:task", pk=task.pk)
    if red_flags:
        messages.warning(request, _("已发出紧急提醒给科室值班联系人。"))
    messages.success(request, _("回访记录已保存。"))
    return redirect("followups:queue")


@login_required
@permission_required(WORK, raise_exception=True)
@require_POST
def problem_action(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """One click: turn a problem into a complaint or a department feedback item (see links.py)."""
    problem = get_object_or_404(FollowupProblem.objects.select_related("record__task"), pk=pk)
    _task_for(request, problem.record.task_id)
    try:
        if kind == "complaint":
            links.make_complaint(problem, acting_user=request.user)
            messages.success(request, _("已转为投诉。"))
        elif kind == "feedback":
            links.make_department_feedback(problem, acting_user=request.user)
            messages.success(request, _("已转科室反馈。"))
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    return redirect("followups:task", pk=problem.record.task_id)


# --- supervision --------------------------------------------------------------------------------


@login_required
@permission_required(SUPERVISE, raise_exception=True)
def supervise(request: HttpRequest) -> HttpResponse:
    """All open tasks due by a day, with checkboxes for bulk reassignment."""
    day = _today()
    raw = request.GET.get("day") or ""
    try:
        day = date.fromisoformat(raw) if raw else day
    except ValueError:
        messages.error(request, _("日期格式应为 YYYY-MM-DD。"))
    tasks = FollowupTask.objects.filter(status__in=OPEN_STATUSES, due_date__lte=day)
    tasks = scope_to_user(tasks, request.user)
    assignee = request.GET.get("assignee") or ""
    if assignee == "none":
        tasks = tasks.filter(assignee__isnull=True)
    elif assignee.isdigit():
        tasks = tasks.filter(assignee_id=int(assignee))
    tasks = tasks.select_related("patient", "department", "plan__template", "assignee").order_by("-priority", "due_date", "pk")
    page = Paginator(tasks, 100).get_page(request.GET.get("page"))
    rows = [{"task": t, "name": pii.mask_name(t.patient.name)} for t in page]
    return render(request, "followups/supervise.html", {
        "page": page, "rows": rows, "day": day, "form": ReassignForm(), "assignee": assignee,
        "agents": ReassignForm().fields["to_user"].queryset,  # type: ignore[attr-defined]
        "alerts": FollowupAlert.objects.filter(acknowledged_at__isnull=True).count(),
    })


@login_required
@permission_required(SUPERVISE, raise_exception=True)
@require_POST
def reassign(request: HttpRequest) -> HttpResponse:
    form = ReassignForm(request.POST)
    ids = [int(x) for x in request.POST.getlist("task") if x.isdigit()]
    if not ids:
        messages.error(request, _("请至少勾选一个任务。"))
    elif not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, str(e))
    else:
        visible = list(scope_to_user(FollowupTask.objects.filter(pk__in=ids), request.user).values_list("pk", flat=True))
        n = actions.reassign(visible, to_user=form.cleaned_data["to_user"], acting_user=request.user)
        messages.success(request, _("已重新分派 %(n)s 个任务。") % {"n": n})
    return redirect(request.POST.get("next") or "followups:supervise")


@login_required
@permission_required(SUPERVISE, raise_exception=True)
@require_POST
def assign_now(request: HttpRequest) -> HttpResponse:
    counts = actions.assign_day(_today(), acting_user=request.user)
    messages.success(request, _("已自动分派 %(a)s 个任务，%(u)s 个无人可分。") % {"a": counts["assigned"], "u": counts["unassigned"]})
    return redirect("followups:supervise")


@login_required
@permission_required(SUPERVISE, raise_exception=True)
def alerts(request: HttpRequest) -> HttpResponse:
    qs = scope_to_user(FollowupAlert.objects.all(), request.user).select_related("patient", "department", "task", "acknowledged_by")
    page = Paginator(qs.order_by("acknowledged_at", "-created_at"), 50).get_page(request.GET.get("page"))
    rows = [{"alert": a, "name": pii.mask_name(a.patient.name)} for a in page]
    return render(request, "followups/alerts.html", {"page": page, "rows": rows})


@login_required
@permission_required(SUPERVISE, raise_exception=True)
@require_POST
def alert_ack(request: HttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(scope_to_user(FollowupAlert.objects.all(), request.user), pk=pk)
    actions.acknowledge_alert(alert, acting_user=request.user)
    messages.success(request, _("已确认处理。"))
    return redirect("followups:alerts")


# --- weekly reports -------------------------------------------------------------------------------


@login_required
@permission_required(WORK, raise_exception=True)
def reports(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    qs = WeeklyReport.objects.select_related("agent", "reviewed_by")
    if not user.has_perm(SUPERVISE):
        qs = qs.filter(agent=user)
    page = Paginator(qs.order_by("-week_start", "scope_key"), 50).get_page(request.GET.get("page"))
    this_week = actions.week_start(_today())
    return render(request, "followups/reports.html", {
        "page": page, "this_week": this_week, "last_week": this_week - timedelta(days=7), "can_supervise": user.has_perm(SUPERVISE),
    })


@login_required
@permission_required(WORK, raise_exception=True)
@require_POST
def report_prepare(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    try:
        week = date.fromisoformat(request.POST.get("week") or "")
    except ValueError:
        messages.error(request, _("日期格式应为 YYYY-MM-DD。"))
        return redirect("followups:reports")
    team = request.POST.get("scope") == "team"
    if team and not user.has_perm(SUPERVISE):
        raise PermissionDenied
    report = actions.prepare_report(week, agent=None if team else user, acting_user=user)
    return redirect("followups:report", pk=report.pk)


def _report_for(request: HttpRequest, pk: int) -> WeeklyReport:
    report = get_object_or_404(WeeklyReport.objects.select_related("agent", "reviewed_by"), pk=pk)
    user: Any = request.user
    if not user.has_perm(SUPERVISE) and report.agent_id != user.pk:
        raise Http404
    return report


@login_required
@permission_required(WORK, raise_exception=True)
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report_for(request, pk)
    figures = (report.snapshot or {}).get("figures") if report.snapshot else report.figures
    return render(request, "followups/report.html", {
        "report": report, "figures": figures or {}, "can_supervise": request.user.has_perm(SUPERVISE),
        "is_owner": report.agent_id == request.user.pk, "problem_status": dict(FollowupProblem.Status.choices),
        "problem_kind": dict(FollowupProblem.Kind.choices),
    })


@login_required
@permission_required(WORK, raise_exception=True)
@require_POST
def report_submit(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report_for(request, pk)
    user: Any = request.user
    if report.agent_id != user.pk and not user.has_perm(SUPERVISE):
        raise PermissionDenied
    try:
        actions.submit_report(report, notes=(request.POST.get("notes") or "")[:4000], acting_user=user)
        messages.success(request, _("周报已提交审核。"))
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    return redirect("followups:report", pk=report.pk)


@login_required
@permission_required(SUPERVISE, raise_exception=True)
@require_POST
def report_sign(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report_for(request, pk)
    try:
        actions.sign_report(report, guidance=(request.POST.get("guidance") or "")[:4000], acting_user=request.user)
        messages.success(request, _("周报已审核签发并存档。"))
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    return redirect("followups:report", pk=report.pk)


@login_required
@permission_required(WORK, raise_exception=True)
def report_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    from .exports import report_xlsx as build

    report = _report_for(request, pk)
    response = HttpResponse(build(report, acting_user=request.user),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    scope = report.scope_key.replace(":", "-")
    response["Content-Disposition"] = f'attachment; filename="followup-report-{report.week_start}-{scope}.xlsx"'
    return response


# --- figures ------------------------------------------------------------------------------------


@login_required
@permission_required(SUPERVISE, raise_exception=True)
def figures(request: HttpRequest) -> HttpResponse:
    from . import figures as fig

    filters, errors = fig.clean_filters(request.GET, _today())
    data = fig.compute(filters, request.user)
    return render(request, "followups/figures.html", {"filters": filters, "errors": errors, "data": data, "labels": fig.chart_labels()})


# --- plan templates -----------------------------------------------------------------------------

EDIT_TEMPLATES = "followups.change_plantemplate"


@login_required
@permission_required(EDIT_TEMPLATES, raise_exception=True)
def templates(request: HttpRequest) -> HttpResponse:
    from .models import PlanTemplate

    rows = PlanTemplate.objects.prefetch_related("steps").order_by("-priority", "code")
    return render(request, "followups/templates.html", {"templates": rows})


@login_required
@permission_required(EDIT_TEMPLATES, raise_exception=True)
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    from .forms import TemplateForm, step_formset
    from .models import PlanTemplate

    template = get_object_or_404(PlanTemplate, pk=pk)
    Steps = step_formset()
    form = TemplateForm(request.POST or None, instance=template)
    steps = Steps(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid() and steps.is_valid():
        with transaction.atomic():
            form.save()
            steps.save()
            audit.record(actor=request.user, verb="followups.template_changed", target=template,
                         fields=sorted(form.changed_data))
        messages.success(request, _("回访计划模板已保存；新生成的任务按新设置执行。"))
        return redirect("followups:templates")
    return render(request, "followups/template_edit.html", {"template": template, "form": form, "steps": steps},
                  status=422 if request.method == "POST" else 200)
