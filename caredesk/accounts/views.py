from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from caredesk.core import audit

from .actions import change_password
from .forms import LoginForm, OTPForm, PasswordChangeForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("您已安全退出。"))
    return redirect("accounts:login")


def locked_out(request: HttpRequest, credentials: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> HttpResponse:
    """Shown by django-axes when an account has too many failed logins."""
    return render(request, "accounts/locked_out.html", status=429)


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or default
    return nxt if url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}) else default


def _qr_svg(data: str) -> str:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    img.save(buf)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


@login_required
def otp_view(request: HttpRequest) -> HttpResponse:
    """Second factor: set up a TOTP device on first use, then verify a code at every login."""
    user: Any = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    setting_up = confirmed is None
    device: TOTPDevice = confirmed or (
        TOTPDevice.objects.filter(user=user, confirmed=False).first()
        or TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    )
    form = OTPForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            if setting_up:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                audit.record(actor=user, verb="auth.otp_enrolled", target=user)
            otp_login(request, device)
            audit.record(actor=user, verb="auth.otp_verified", target=user)
            return redirect(_safe_next(request))
        audit.record(actor=user, verb="auth.otp_failed", target=user, result="failed")
        form.add_error("token", _("验证码不正确或已过期，请重新输入。"))
    context = {"form": form, "setting_up": setting_up, "next": _safe_next(request)}
    if setting_up:
        context["qr"] = _qr_svg(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "accounts/otp.html", context, status=422 if form.errors else 200)


@login_required
def password_view(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        change_password(request.user, form.cleaned_data["new_password1"], acting_user=request.user)  # type: ignore[arg-type]
        from django.contrib.auth import update_session_auth_hash

        update_session_auth_hash(request, request.user)  # type: ignore[arg-type]
        messages.success(request, _("密码已修改。"))
        return redirect("core:home")
    return render(request, "accounts/password.html", {"form": form}, status=422 if form.errors else 200)
