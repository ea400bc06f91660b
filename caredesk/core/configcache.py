"""Per-process caches of small configuration tables that the intake hot paths read for every
message (the follow-up plan templates, the survey rules), kept right across processes and
transactions without a time-to-live.

Each cache has a row in ``ConfigStamp`` holding a random token. Saving or deleting any watched
model (signals, including many-to-many changes) writes a new token in the same transaction. A read
costs one primary-key query for the token; the cached value is used only while the token is the
one it was loaded under. Because tokens are random, a change that is rolled back (or made in
another process) can never leave a matching stale entry behind: the token in the database simply
differs from the cached one and the value is loaded again.

Queryset ``update()``/``bulk_create()`` send no signals: code that changes watched tables that way
must call ``bump(name)`` itself.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

T = TypeVar("T")

_SQL = "SELECT token FROM core_configstamp WHERE name = %s"


def current_token(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(_SQL, [name])
        row = cursor.fetchone()
    if row:
        return str(row[0])
    from .models import ConfigStamp

    try:
        with transaction.atomic():
            return ConfigStamp.objects.create(name=name, token=uuid.uuid4().hex).token
    except IntegrityError:  # created by a concurrent reader
        return ConfigStamp.objects.get(name=name).token


def bump(name: str) -> None:
    """Mark the configuration ``name`` changed (every process reloads it on its next read)."""
    from .models import ConfigStamp

    token = uuid.uuid4().hex
    if not ConfigStamp.objects.filter(name=name).update(token=token):
        ConfigStamp.objects.get_or_create(name=name, defaults={"token": token})


class StampedCache(Generic[T]):
    """``get()`` returns ``loader()``'s value, loading it again only after the stamp changed."""

    def __init__(self, name: str, loader: Callable[[], T]) -> None:
        self.name = name
        self.loader = loader
        self._entry: tuple[str, T] | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        token = current_token(self.name)
        entry = self._entry
        if entry is not None and entry[0] == token:
            return entry[1]
        with self._lock:
            # The token was read before loading: a change made while loading gives a new token,
            # so the next read loads again rather than keeping a half-old value.
            value = self.loader()
            self._entry = (token, value)
        return value

    def clear(self) -> None:
        self._entry = None

    def watch(self, *models: Any) -> None:
        """Bump the stamp whenever one of ``models`` (or a many-to-many ``through``) changes."""

        def changed(**kwargs: Any) -> None:
            if kwargs.get("raw"):  # fixture loading
                return
            if kwargs.get("signal") is m2m_changed and not str(kwargs.get("action", "")).startswith("post_"):
                return
            bump(self.name)

        for model in models:
            uid = f"configcache:{self.name}:{model._meta.label}"
            if model._meta.auto_created:
                m2m_changed.connect(changed, sender=model, dispatch_uid=uid, weak=False)
            else:
                post_save.connect(changed, sender=model, dispatch_uid=uid + ":save", weak=False)
                post_delete.connect(changed, sender=model, dispatch_uid=uid + ":delete", weak=False)
