"""Login events go to the audit trail. Django announces them with auth signals; this is the one
place we listen, because the login view of django.contrib.auth owns the flow."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from caredesk.core import audit
from caredesk.core.middleware import client_ip


def _ip(request: Any) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="caredesk_audit_login")
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session["last_activity"] = int(timezone.now().timestamp())
    audit.record(actor=user, verb="auth.login", target=user, ip=_ip(request))


@receiver(user_logged_out, dispatch_uid="caredesk_audit_logout")
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        reason = getattr(request, "_logout_reason", "user")
        audit.record(actor=user, verb="auth.logout", target=user, ip=_ip(request), reason=reason)


@receiver(user_login_failed, dispatch_uid="caredesk_audit_login_failed")
def audit_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit.record(
        actor=None, actor_label=username, verb="auth.login_failed", result="failed", ip=_ip(request)
    )
