"""A real SMS gateway over HTTPS (the JSON-over-HTTP style most Chinese SMS providers offer).

Request: ``POST SMS_GATEWAY_URL`` with a JSON body
``{"account", "client_ref", "mobile", "sign_name", "template_id", "params", "timestamp", "nonce"}``
and the header ``X-Signature: hex(HMAC-SHA256(SMS_GATEWAY_SECRET, "<timestamp>\\n<nonce>\\n<body>"))``.
``client_ref`` is the outbox idempotency key, so a gateway that de-duplicates on it never sends a
message twice even when we retry after a lost response.

Response: JSON ``{"code": "0" | "OK", "message_id": "…", "message": "…"}``.
2xx with code 0/OK → sent; 429 and 5xx, timeouts and connection errors → retry later;
any other 4xx, or 2xx with an error code → permanent failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import PermanentError, TransientError, Transport

if TYPE_CHECKING:
    from caredesk.messaging.models import OutboxMessage

OK_CODES = {"0", "OK", "ok", "success"}


def sign(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    msg = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


class HttpSmsTransport(Transport):
    def __init__(
        self,
        *,
        url: str | None = None,
        account: str | None = None,
        secret: str | None = None,
        signature: str | None = None,
        templates: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.url = url if url is not None else settings.SMS_GATEWAY_URL
        self.account = account if account is not None else settings.SMS_GATEWAY_ACCOUNT
        self.secret = secret if secret is not None else settings.SMS_GATEWAY_SECRET
        self.signature = signature if signature is not None else settings.SMS_GATEWAY_SIGNATURE
        self.templates = templates if templates is not None else dict(settings.SMS_GATEWAY_TEMPLATES)
        self.timeout = timeout if timeout is not None else settings.SMS_GATEWAY_TIMEOUT
        if not self.url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("SMS_GATEWAY_URL must be an http(s) URL.")
        if not (self.account and self.secret and self.signature):
            raise ImproperlyConfigured("SMS_GATEWAY_ACCOUNT, SMS_GATEWAY_SECRET and SMS_GATEWAY_SIGNATURE are required.")

    def build_request(self, message: OutboxMessage) -> urllib.request.Request:
        template_id = self.templates.get(message.template)
        if not template_id:
            raise PermanentError(f"no gateway template id configured for template {message.template!r}")
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(8)
        payload = {
            "account": self.account,
            "client_ref": message.idempotency_key,
            "mobile": message.recipient,
            "sign_name": self.signature,
            "template_id": template_id,
            "params": {k: str(v) for k, v in message.params.items()},
            "timestamp": timestamp,
            "nonce": nonce,
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return urllib.request.Request(  # noqa: S310 - URL from settings, scheme checked in __init__
            self.url, data=body, method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Account": self.account,
                "X-Timestamp": timestamp,
                "X-Nonce": nonce,
                "X-Signature": sign(self.secret, timestamp, nonce, body),
            },
        )

    def send(self, message: OutboxMessage) -> str:
        if message.channel != "sms":
            raise PermanentError(f"channel {message.channel} is not handled by the SMS gateway")
        request = self.build_request(message)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - see above
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read() if exc.fp else b""
        except TimeoutError as exc:
            raise TransientError(f"gateway timeout after {self.timeout}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise TransientError(f"gateway timeout after {self.timeout}s") from exc
            raise TransientError(f"gateway unreachable: {type(exc.reason).__name__}") from exc
        data = _parse(raw)
        if status == 429 or status >= 500:
            raise TransientError(f"gateway HTTP {status} code={data.get('code', '')}")
        if status >= 400:
            raise PermanentError(f"gateway HTTP {status} code={data.get('code', '')} {str(data.get('message', ''))[:100]}")
        code = str(data.get("code", ""))
        if code not in OK_CODES:
            raise PermanentError(f"gateway refused: code={code} {str(data.get('message', ''))[:100]}")
        message_id = str(data.get("message_id") or data.get("id") or "")
        if not message_id:
            raise PermanentError("gateway answered OK without a message id")
        return message_id


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
