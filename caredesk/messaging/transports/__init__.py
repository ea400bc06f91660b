"""Transports deliver one outbox message. ``send`` returns the provider's message id, raises
``TransientError`` when a later retry may succeed, ``PermanentError`` when it never will.

Error messages must never contain the recipient or the body: they are stored in ``last_error``
and logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from caredesk.core.pii import mask_phone

if TYPE_CHECKING:
    from caredesk.messaging.models import OutboxMessage

log = logging.getLogger("caredesk.messaging")


class TransientError(Exception):
    """A retry later may succeed (timeout, 5xx, rate limit)."""


class PermanentError(Exception):
    """Retrying will not help (bad number, rejected template, 4xx)."""


class Transport:
    def send(self, message: OutboxMessage) -> str:
        raise NotImplementedError


class FileTransport(Transport):
    """Development: appends one JSON line per message to DATA_DIR/outbox/<date>.jsonl.

    The line holds ids, the template and a masked recipient; never the clear recipient or body
    (a digest of the body lets a developer tell messages apart)."""

    def send(self, message: OutboxMessage) -> str:
        directory = settings.DATA_DIR / "outbox"
        directory.mkdir(parents=True, exist_ok=True)
        now = timezone.localtime()
        line = {
            "id": message.pk,
            "at": now.isoformat(),
            "channel": message.channel,
            "recipient": mask_phone(message.recipient) if message.channel == "sms" else "***",
            "template": message.template,
            "param_keys": sorted(message.params),
            "body_sha256": hashlib.sha256(message.body.encode()).hexdigest(),
            "idempotency_key": message.idempotency_key,
        }
        with open(directory / f"{now:%Y-%m-%d}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        return f"file-{message.pk}"


class ConsoleTransport(Transport):
    """Development: logs that a message would be sent (ids only)."""

    def send(self, message: OutboxMessage) -> str:
        log.info("outbox message %s (%s, template %s) sent to console", message.pk, message.channel, message.template)
        return f"console-{message.pk}"


def get_transport() -> Transport:
    cls = import_string(settings.MESSAGING_TRANSPORT)
    return cls()
