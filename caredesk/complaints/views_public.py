"""Patient self-service (H5): file a complaint or a praise, look up a case's status. No login.

The phone number is proved by an SMS code (``core.smscode``); sending codes is rate-limited per
number and per client address, and after a few uses from one address the page also asks for an
arithmetic captcha (``core.captcha``) before it sends a code or accepts a form. A verified number
stays verified in the session for 30 minutes, so filing and then looking up needs one code.

The status page shows the step and the dates of a case whose number AND verified phone match;
nothing else (no content, no names), and the same "not found" for a wrong number or a wrong phone.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from caredesk.core import audit, captcha, pii, smscode
from caredesk.core.middleware import client_ip

from . import actions
from .forms_extra import H5ComplaintForm, H5PraiseForm, H5StatusForm
from .models import Channel, Complaint, ComplaintDeadline, DeadlineKind, Relation, Status
from .models_extra import Praise
from .praise import register_praise

PURPOSE = "complaints-h5"
SCOPE = "complaints-h5"

# what a patient reads for each internal status
PATIENT_STATUS = {
    Status.REGISTERED: gettext_lazy("已登记，等待受理"),
    Status.ACCEPTED: gettext_lazy("已受理"),
    Status.VERIFYING: gettext_lazy("正在调查核实"),
    Status.RESOLVING: gettext_lazy("正在处理"),
    Status.FEEDBACK: gettext_lazy("已处理，正在答复您"),
    Status.ARCHIVED: gettext_lazy("已办结"),
    Status.ANALYSED: gettext_lazy("已办结"),
    Status.MERGED: gettext_lazy("已与同一问题的投诉合并处理"),
}


def _render(request: HttpRequest, template: str, form: Any, status: int = 200, **ctx: Any) -> HttpResponse:
    ip = client_ip(request)
    image = captcha.new_challenge(request.session, SCOPE) if captcha.required(SCOPE, ip) else ""
    verified = smscode.verified_phone(request.session, purpose=PURPOSE)
    return render(request, template, {"form": form, "captcha_image": image, "verified_phone": pii.mask_phone(verified) if verified else "",
                                      **ctx}, status=status)


def _captcha_ok(request: HttpRequest, form: Any) -> bool:
    """When the page asked for a captcha, check the answer (one try per picture)."""
    if not captcha.required(SCOPE, client_ip(request)):
        return True
    if captcha.check(request.session, SCOPE, request.POST.get("captcha", "")):
        return True
    form.add_error("captcha" if form.is_bound else None, _("算式结果不正确，请重新计算新的图片。"))
    return False


def _send_code(request: HttpRequest, form_class: type, template: str, **ctx: Any) -> HttpResponse:
    """The "获取验证码" button: keep what was typed, check the captcha, send a code."""
    keep = {k: v for k, v in request.POST.items() if k not in {"csrfmiddlewaretoken", "code", "captcha", "action"}}
    form = form_class(initial=keep)
    bound = form_class(request.POST)  # only to carry errors for the phone / captcha fields
    bound.full_clean()
    bound._errors = {}
    if not _captcha_ok(request, bound):
        return _render(request, template, bound, status=422, **ctx)
    ip = client_ip(request)
    captcha.note_use(SCOPE, ip)
    try:
        smscode.issue(request.POST.get("phone", ""), purpose=PURPOSE, ip=ip)
    except smscode.SmsCodeError as exc:
        bound.add_error("phone", str(exc))
        return _render(request, template, bound, status=429 if isinstance(exc, smscode.RateLimited) else 422, **ctx)
    return _render(request, template, form, code_sent=True, **ctx)


def _verified(request: HttpRequest, form: Any) -> str | None:
    """The form's phone once proved (already in this session, or by the code just typed)."""
    try:
        phone = smscode.normalise_phone(form.cleaned_data.get("phone", ""))
    except smscode.InvalidPhone as exc:
        form.add_error("phone", str(exc))
        return None
    if smscode.verified_phone(request.session, purpose=PURPOSE) == phone:
        return phone
    code = (form.cleaned_data.get("code") or "").strip()
    if not code:
        form.add_error("code", _("请输入短信验证码。"))
        return None
    result = smscode.verify(phone, code, purpose=PURPOSE)
    if result is not smscode.Result.OK:
        form.add_error("code", result.message)
        return None
    smscode.mark_verified(request.session, phone, purpose=PURPOSE)
    return phone


@never_cache
def h5_home(request: HttpRequest) -> HttpResponse:
    return render(request, "complaints/extra/h5_home.html")


@never_cache
def h5_complaint(request: HttpRequest) -> HttpResponse:
    template = "complaints/extra/h5_complaint.html"
    if request.method != "POST":
        return _render(request, template, H5ComplaintForm(initial={"relation": Relation.SELF}))
    if request.POST.get("action") == "send":
        return _send_code(request, H5ComplaintForm, template)
    form = H5ComplaintForm(request.POST)
    if not form.is_valid() or not _captcha_ok(request, form):
        return _render(request, template, form, status=422)
    phone = _verified(request, form)
    if phone is None:
        return _render(request, template, form, status=422)
    data = form.cleaned_data
    event_at = None
    if data["event_date"]:
        event_at = timezone.make_aware(datetime.combine(data["event_date"], time(12, 0)))
    try:
        complaint = actions.register_complaint(actions.ComplaintData(
            channel=Channel.ONLINE, content=data["content"], complainant_name=data["complainant_name"],
            complainant_phone=phone, relation=data["relation"], department_id=data["department"].pk if data["department"] else None,
            staff_text=data["staff_text"], event_at=event_at, demands=data["demands"],
        ), acting_user=None)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _render(request, template, form, status=422)
    captcha.note_use(SCOPE, client_ip(request))
    reply = complaint.deadlines.filter(kind=DeadlineKind.REPLY).order_by("-round").first()
    request.session["complaints.h5.done"] = {
        "kind": "complaint", "number": complaint.case_no, "reply_due": reply.due_at.isoformat() if reply else "",
    }
    return redirect("complaints:h5_done")


@never_cache
def h5_praise(request: HttpRequest) -> HttpResponse:
    template = "complaints/extra/h5_praise.html"
    if request.method != "POST":
        return _render(request, template, H5PraiseForm())
    if request.POST.get("action") == "send":
        return _send_code(request, H5PraiseForm, template)
    form = H5PraiseForm(request.POST)
    if not form.is_valid() or not _captcha_ok(request, form):
        return _render(request, template, form, status=422)
    phone = _verified(request, form)
    if phone is None:
        return _render(request, template, form, status=422)
    data = form.cleaned_data
    praise = register_praise(
        channel=Channel.ONLINE, kind=Praise.Kind.ONLINE, department=data["department"], content=data["content"],
        staff_name=data["staff_name"], praiser_name=data["praiser_name"], praiser_phone=phone, acting_user=None,
    )
    captcha.note_use(SCOPE, client_ip(request))
    request.session["complaints.h5.done"] = {"kind": "praise", "number": praise.ref_no, "reply_due": ""}
    return redirect("complaints:h5_done")


@never_cache
def h5_done(request: HttpRequest) -> HttpResponse:
    done = request.session.get("complaints.h5.done")
    if not done:
        return redirect("complaints:h5_home")
    reply_due = datetime.fromisoformat(done["reply_due"]) if done.get("reply_due") else None
    return render(request, "complaints/extra/h5_done.html", {"done": done, "reply_due": reply_due})


def case_status(complaint: Complaint) -> dict[str, Any]:
    """What the status page may show: the step and dates, nothing about the content or people."""
    case = complaint
    while case.status == Status.MERGED and case.merged_into_id:
        case = Complaint.objects.get(pk=case.merged_into_id)
    reply = ComplaintDeadline.objects.filter(complaint=case, kind=DeadlineKind.REPLY).order_by("-round").first()
    steps = [
        (_("登记"), complaint.received_at),
        (_("受理"), case.accepted_at),
        (_("调查核实"), case.classified_at),
        (_("处理完成"), case.resolved_at),
        (_("答复您"), case.feedback_at),
        (_("办结"), case.archived_at),
    ]
    return {
        "case_no": complaint.case_no,
        "status": PATIENT_STATUS.get(Status(case.status), ""),
        "received_at": complaint.received_at,
        "reply_due": reply.due_at if reply and not case.feedback_at else None,
        "paused": case.is_paused,
        "steps": steps,
    }


@never_cache
def h5_status(request: HttpRequest) -> HttpResponse:
    template = "complaints/extra/h5_status.html"
    if request.method != "POST":
        return _render(request, template, H5StatusForm())
    if request.POST.get("action") == "send":
        return _send_code(request, H5StatusForm, template)
    form = H5StatusForm(request.POST)
    if not form.is_valid() or not _captcha_ok(request, form):
        return _render(request, template, form, status=422)
    phone = _verified(request, form)
    if phone is None:
        return _render(request, template, form, status=422)
    captcha.note_use(SCOPE, client_ip(request))
    complaint = Complaint.objects.filter(
        case_no=form.cleaned_data["case_no"], complainant_phone_bidx=pii.blind_index("phone", phone),
    ).first()
    if complaint is None:
        messages.error(request, _("未找到与该手机号码对应的投诉编号，请核对后再试。"))
        return _render(request, template, form, status=404)
    audit.record(actor=None, verb="complaint.h5_status_viewed", target=complaint, actor_label="patient-h5")
    return _render(request, template, H5StatusForm(initial={"case_no": complaint.case_no}), result=case_status(complaint))
