"""SMS verification codes for the patient self-service (H5) pages.

A patient proves a mobile number by typing back a six-digit code sent to it. Rules:

- a code lives ``CODE_TTL`` seconds (5 min) and only its keyed hash is stored (in the cache, keyed
  by the phone's blind index: neither the number nor the code is kept in clear);
- a wrong code counts an attempt; after ``MAX_ATTEMPTS`` (5) the code is dead and a new one must be
  requested, so six digits cannot be guessed;
- one code per number per ``RESEND_SECONDS`` (60 s), at most ``PHONE_HOURLY_LIMIT`` (5) per number
  and ``IP_HOURLY_LIMIT`` (20) per client address per hour: the page cannot be used to flood a
  number or to burn the hospital's SMS budget;
- the code is sent through the messaging outbox (template ``smscode``), never directly;
- after a successful check the page keeps the verified number in the session for
  ``VERIFIED_TTL`` seconds (``mark_verified`` / ``verified_phone``).

Each limit can be changed in settings (``SMSCODE_<NAME>``). The cache must be shared by all web
processes (settings ``CACHES``; the default is a file cache under DATA_DIR).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from caredesk.core import pii

TEMPLATE = "smscode"
_DEFAULTS = {
    "CODE_TTL": 300,
    "RESEND_SECONDS": 60,
    "PHONE_HOURLY_LIMIT": 5,
    "IP_HOURLY_LIMIT": 20,
    "MAX_ATTEMPTS": 5,
    "VERIFIED_TTL": 1800,
}
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def limit(name: str) -> int:
    return int(getattr(settings, f"SMSCODE_{name}", _DEFAULTS[name]))


def _register_template() -> None:
    from caredesk.messaging.actions import register_template

    register_template(TEMPLATE, "【验证码】{code}，{minutes}分钟内有效，仅用于本人提交投诉/表扬或查询进度。如非本人操作请忽略。")


_register_template()


class SmsCodeError(Exception):
    """A refusal the page shows to the patient as it is (Chinese, no internals)."""


class InvalidPhone(SmsCodeError):
    pass


class RateLimited(SmsCodeError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Result(enum.Enum):
    OK = "ok"
    WRONG = "wrong"      # wrong code, attempts left
    EXPIRED = "expired"  # no live code: never sent, expired, or already used
    LOCKED = "locked"    # too many wrong tries: request a new code

    @property
    def message(self) -> str:
        return {
            Result.OK: _("验证成功"),
            Result.WRONG: _("验证码不正确，请重新输入"),
            Result.EXPIRED: _("验证码已失效，请重新获取"),
            Result.LOCKED: _("错误次数过多，请重新获取验证码"),
        }[self]


def normalise_phone(raw: str) -> str:
    """A mainland mobile number as 11 digits (spaces, dashes and +86 removed), else InvalidPhone."""
    digits = pii.normalise("phone", raw or "")
    if not MOBILE_RE.match(digits):
        raise InvalidPhone(_("请输入正确的11位手机号码"))
    return digits


def _phone_key(purpose: str, phone: str) -> str:
    return f"smscode:{purpose}:{pii.blind_index('phone', phone)}"


def _code_hash(key: str, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{key}|{code}".encode(), hashlib.sha256).hexdigest()


def _ip_key(ip: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}|ip|{ip}".encode()).hexdigest()[:32]


def _count(key: str, window: int) -> int:
    """Increment a counter that expires ``window`` seconds after it was created."""
    cache.add(key, 0, window)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return 1


def issue(phone: str, *, purpose: str, ip: str = "", now: float | None = None) -> None:
    """Send a new code to ``phone`` for ``purpose`` (e.g. ``"complaints-h5"``), replacing any
    earlier one. Raises InvalidPhone or RateLimited (with ``retry_after`` seconds)."""
    from caredesk.messaging.actions import enqueue

    phone = normalise_phone(phone)
    key = _phone_key(purpose, phone)
    hour = int((now or time.time()) // 3600)
    if not cache.add(f"{key}:gap", 1, limit("RESEND_SECONDS")):
        raise RateLimited(_("发送太频繁，请稍后再试"), limit("RESEND_SECONDS"))
    if _count(f"{key}:h{hour}", 3600) > limit("PHONE_HOURLY_LIMIT"):
        raise RateLimited(_("该号码本小时获取验证码次数已达上限，请稍后再试"), 3600)
    if ip and _count(f"smscode:ip:{_ip_key(ip)}:h{hour}", 3600) > limit("IP_HOURLY_LIMIT"):
        raise RateLimited(_("当前网络获取验证码次数过多，请稍后再试"), 3600)
    code = f"{secrets.randbelow(10**6):06d}"
    cache.set(key, {"hash": _code_hash(key, code), "attempts": 0}, limit("CODE_TTL"))
    enqueue(
        "sms", phone, TEMPLATE, {"code": code, "minutes": limit("CODE_TTL") // 60},
        idempotency_key=f"smscode:{purpose}:{uuid.uuid4().hex}",
    )


def verify(phone: str, code: str, *, purpose: str) -> Result:
    """Check a typed code. A correct code is used up; a wrong one counts an attempt."""
    try:
        phone = normalise_phone(phone)
    except InvalidPhone:
        return Result.EXPIRED
    key = _phone_key(purpose, phone)
    entry: dict[str, Any] | None = cache.get(key)
    if entry is None:
        return Result.EXPIRED
    if entry["attempts"] >= limit("MAX_ATTEMPTS"):
        return Result.LOCKED
    if hmac.compare_digest(entry["hash"], _code_hash(key, (code or "").strip())):
        cache.delete(key)
        return Result.OK
    entry["attempts"] += 1
    cache.set(key, entry, limit("CODE_TTL"))
    return Result.LOCKED if entry["attempts"] >= limit("MAX_ATTEMPTS") else Result.WRONG


def mark_verified(session: Any, phone: str, *, purpose: str, now: float | None = None) -> None:
    session[f"smscode.verified.{purpose}"] = {"phone": normalise_phone(phone), "at": now or time.time()}


def verified_phone(session: Any, *, purpose: str, now: float | None = None) -> str | None:
    """The number this session proved for ``purpose`` within VERIFIED_TTL, else None."""
    entry = session.get(f"smscode.verified.{purpose}")
    if not entry or (now or time.time()) - entry["at"] > limit("VERIFIED_TTL"):
        return None
    return str(entry["phone"])


def forget_verified(session: Any, *, purpose: str) -> None:
    session.pop(f"smscode.verified.{purpose}", None)
