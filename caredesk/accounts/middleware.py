"""Session rules applied on every staff page: idle logout, and for the mlps3 profile a verified
TOTP second factor and a password younger than PASSWORD_MAX_AGE_DAYS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

EXEMPT_PREFIXES = ("/static/", "/healthz", "/i18n/", "/accounts/login", "/accounts/logout", "/p/", "/fhir/")
SECOND_STEP_PREFIXES = ("/accounts/otp", "/accounts/password")


def password_expired(user: object) -> bool:
    changed = getattr(user, "password_changed_at", None)
    if changed is None:
        return True
    return timezone.now() - changed > timedelta(days=settings.PASSWORD_MAX_AGE_DAYS)


class LoginSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        path = request.path
        if not user.is_authenticated or path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)

        now = int(timezone.now().timestamp())
        last = request.session.get("last_activity")
        if last is not None and now - int(last) > settings.SESSION_IDLE_TIMEOUT_SECONDS:
            request._logout_reason = "idle"  # type: ignore[attr-defined]
            logout(request)
            if path.startswith("/api/"):
                return JsonResponse({"error": {"code": "session_expired", "message": _("会话已超时，请重新登录。")}}, status=401)
            messages.info(request, _("您已较长时间未操作，为保护患者信息已自动退出，请重新登录。"))
            return redirect(f"{reverse('accounts:login')}?next={path}")
        request.session["last_activity"] = now

        if settings.SECURITY_PROFILE == "mlps3" and not path.startswith(SECOND_STEP_PREFIXES):
            if not user.is_verified():  # type: ignore[attr-defined]
                if path.startswith("/api/"):
                    return JsonResponse({"error": {"code": "otp_required", "message": _("需要完成双因素认证。")}}, status=401)
                return redirect(f"{reverse('accounts:otp')}?next={path}")
            if password_expired(user):
                messages.warning(request, _("密码已超过 %(d)d 天未修改，请先修改密码。") % {"d": settings.PASSWORD_MAX_AGE_DAYS})
                return redirect("accounts:password")
        return self.get_response(request)
