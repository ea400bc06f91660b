"""Plain-SQL inserts for the hot paths of the intake feeds (the HL7 listener applies each message
in its own transaction, several hundred a second).

``insert(obj)`` writes a new row exactly as ``obj.save()`` would for a model that neither
overrides ``save()`` nor has ``pre_save``/``post_save`` receivers: every concrete field goes
through its own ``pre_save`` (auto_now, defaults already set on the instance) and
``get_db_prep_save`` (so encrypted fields are encrypted, datetimes adapted). Django's generic
insert path builds the same statement through its query compiler, which costs ~0.5 ms a row here;
this costs a tenth of that. ``USES`` lists the models it is used for; a test checks that none of
them gained a ``save()`` override or a save signal receiver.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


@lru_cache(maxsize=32)
def _insert_sql(model: type[models.Model], vendor: str) -> tuple[str, tuple[models.Field[Any, Any], ...]]:
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    qn = connection.ops.quote_name
    columns = ", ".join(qn(str(f.column)) for f in fields)
    pk_column = qn(str(meta.pk.column)) if meta.pk is not None else "id"
    sql = (f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608
           f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {pk_column}")
    return sql, fields


def insert(obj: models.Model) -> models.Model:
    if obj.pk is not None:
        raise ValueError("insert() is for new rows")
    sql, fields = _insert_sql(type(obj), connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        obj.pk = cur.fetchone()[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def _converter(field: models.Field[Any, Any]) -> Any:
    """A function value -> database value equal to ``field.get_db_prep_save`` for the field types
    of the archive tables, without the generic per-value dispatch (which dominates bulk inserts)."""
    from caredesk.core.pii import EncryptedTextField

    ops = connection.ops
    if isinstance(field, EncryptedTextField):
        return field.get_prep_value
    if isinstance(field, models.DateTimeField):  # before DateField, its base class
        if connection.vendor == "sqlite" and settings.USE_TZ:
            return _sqlite_datetime(ops.adapt_datetimefield_value, connection.timezone)
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.ForeignKey | models.CharField | models.TextField | models.BooleanField | models.IntegerField):
        return None  # the driver takes the Python value as it is
    return lambda value: field.get_db_prep_save(value, connection)


def _sqlite_datetime(adapt: Any, tz: Any) -> Any:
    """SQLite's ``adapt_datetimefield_value`` for an aware datetime is
    ``str(timezone.make_naive(value, connection.timezone))``; this does the same without the
    settings and ``timezone`` look-ups per value (a sixth of the bulk insert's time). Anything
    else (naive values, expressions) goes through Django's own function."""

    def convert(value: Any) -> Any:
        if type(value) is datetime and value.utcoffset() is not None:
            return str(value.astimezone(tz).replace(tzinfo=None))
        return adapt(value)

    return convert


@lru_cache(maxsize=32)
def _bulk_plan(model: type[models.Model], vendor: str) -> tuple[tuple[Any, ...], int, str, str]:
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    plan = tuple((f, f.attname, _converter(f), getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))
                 for f in fields)
    qn = connection.ops.quote_name
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(str(f.column)) for f in fields)}) VALUES "  # noqa: S608
    pk_column = qn(str(meta.pk.column)) if meta.pk is not None else "id"
    # SQLite allows 32,766 parameters per statement; PostgreSQL 65,535.
    per_statement = max(1, min(500, 30000 // len(fields)))
    return plan, per_statement, head, f" RETURNING {pk_column}"


def insert_many(objs: list[Any]) -> None:
    """Insert new rows of one model with multi-row ``INSERT … VALUES (…), (…) RETURNING id`` and set
    each object's pk (rows come back in insert order on SQLite ≥ 3.35 and PostgreSQL, which
    Django's own ``bulk_create`` relies on too). Same values as ``save()`` (see ``insert``)."""
    if not objs:
        return
    plan, per_statement, head, tail = _bulk_plan(objs[0].__class__, connection.vendor)
    row_sql = "(" + ", ".join(["%s"] * len(plan)) + ")"
    with connection.cursor() as cur:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start:start + per_statement]
            params: list[Any] = []
            for obj in chunk:
                for field, attname, convert, auto in plan:
                    value = field.pre_save(obj, True) if auto else getattr(obj, attname)
                    params.append(value if convert is None or value is None else convert(value))
            cur.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
            ids = cur.fetchall()
            if len(ids) != len(chunk):
                raise RuntimeError("insert_many: the database returned fewer ids than rows")
            for obj, (pk,) in zip(chunk, ids, strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias


@lru_cache(maxsize=32)
def _prototype(model: type[models.Model]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    proto = model()
    state = {k: v for k, v in proto.__dict__.items() if k != "_state"}
    fresh = tuple((f.attname, f.default) for f in model._meta.concrete_fields
                  if f.has_default() and callable(f.default))
    return state, fresh


def new_instance(model: type[models.Model], **values: Any) -> Any:
    """``model(**values)`` for the bulk paths: an unsaved instance with every field at its default
    (callable defaults called for each instance, e.g. ``created_at``) and ``values`` assigned
    through the model's attributes (so a related object sets its ``_id`` as in ``__init__``).
    Django's ``__init__`` walks all fields with per-field dispatch, ~0.1 ms an instance; this is a
    dict copy. Models with init signal receivers go through ``__init__``."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model(**values)
    state, fresh = _prototype(model)
    obj = model.__new__(model)
    obj._state = ModelState()
    obj.__dict__.update(state)
    for attname, default in fresh:
        obj.__dict__[attname] = default()
    for name, value in values.items():
        setattr(obj, name, value)
    return obj


def copy_insert(objs: list[Any]) -> None:
    """PostgreSQL: ``insert_many`` through ``COPY`` (the fastest way in): the ids are taken from the
    table's sequence first (``nextval`` once per row, in list order, so ids ascend as with
    ``INSERT``), then every row is copied with them. Same values as ``save()`` (see ``insert``).
    Row triggers on the table fire for ``COPY`` as for ``INSERT``."""
    if not objs:
        return
    model = objs[0].__class__
    meta = model._meta
    plan, _per, _head, _tail = _bulk_plan(model, connection.vendor)
    qn = connection.ops.quote_name
    pk_column = str(meta.pk.column) if meta.pk is not None else "id"
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, pk_column, len(objs)])
        ids = [r[0] for r in cur.fetchall()]
        columns = ", ".join([qn(pk_column), *(qn(str(f.column)) for f, _a, _c, _auto in plan)])
        with cur.cursor.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj, pk in zip(objs, ids, strict=True):
                row: list[Any] = [pk]
                for field, attname, convert, auto in plan:
                    value = field.pre_save(obj, True) if auto else getattr(obj, attname)
                    row.append(value if convert is None or value is None else convert(value))
                copy.write_row(row)
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
