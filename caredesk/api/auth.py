"""API authentication: the browser's session (with CSRF, as django-ninja does for session auth) or
an integration's bearer token (stored hashed, revocable)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from caredesk.accounts.models import APIToken, hash_token


class SessionAuth(APIKeyCookie):
    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return None
        if settings.SECURITY_PROFILE == "mlps3" and not user.is_verified():  # type: ignore[attr-defined]
            return None
        return user


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = (
            APIToken.objects.select_related("user")
            .filter(token_hash=hash_token(token), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if found is None:
            return None
        now = timezone.now()
        # Touch at most once a minute: a busy integration should not write on every call.
        if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
            APIToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user


session_auth = SessionAuth()
token_auth = TokenAuth()
API_AUTH = [token_auth, session_auth]
