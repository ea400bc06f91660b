"""Plain SQL for the hot paths of the intake feeds (the HL7 listener applies each message in its
own transaction, several hundred a second).

``insert(obj)`` (from ``caredesk.core.sqlinsert``) writes one new row exactly as ``obj.save()``
would; ``insert_many`` does the same for a batch. A test checks that none of the models written
this way gained a ``save()`` override or a save signal receiver. ``first(model, **equal)`` reads
one row as the ORM's ``filter(**equal).order_by("pk").first()`` does, and ``update(obj, names)``
(``update_many`` for a batch) writes fields of a row as ``obj.save(update_fields=names)`` does,
without compiling the query again for every message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from operator import attrgetter
from typing import Any

from django.db import connection, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from caredesk.core.sqlinsert import _converter, insert

__all__ = ["first", "insert", "insert_many", "new_instance", "update", "update_many"]


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


@lru_cache(maxsize=32)
def _row_values(model: type[models.Model], vendor: str) -> Callable[[Any, Any], list[Any]]:
    """A function giving the values ``_bulk_plan``'s columns take for an object, converted for the
    database, with ``now`` for its ``auto_now`` fields: the attributes read in one ``attrgetter``
    call, the converters applied only where a field has one (a getattr and a check per field cost
    more than the rest of a row's work in the bulk paths)."""
    plan = _bulk_plan(model, vendor)[0]
    names = [attname for _f, attname, _c, _auto in plan]
    # one name alone gives the value, not a tuple
    read = attrgetter(*names) if len(names) > 1 else (lambda obj: (getattr(obj, names[0]),))
    auto = [field for field, _a, _c, is_auto in plan if is_auto]
    converts = [(i, convert) for i, (_f, _a, convert, _auto) in enumerate(plan) if convert is not None]

    def values(obj: Any, now: Any) -> list[Any]:
        for field in auto:
            _auto_value(obj, field, now)  # sets the attribute, read below with the others
        row = list(read(obj))
        for i, convert in converts:
            if row[i] is not None:
                row[i] = convert(row[i])
        return row

    return values


def insert_many(objs: list[Any]) -> None:
    """Insert new rows of one model with multi-row ``INSERT … VALUES (…), (…) RETURNING id`` and set
    each object's pk (rows come back in insert order on SQLite ≥ 3.35 and PostgreSQL, which
    Django's own ``bulk_create`` relies on too). Same values as ``save()`` (see ``insert``), except
    that ``auto_now``/``auto_now_add`` fields get one time for the whole call."""
    if not objs:
        return
    plan, per_statement, head, tail = _bulk_plan(objs[0].__class__, connection.vendor)
    values = _row_values(objs[0].__class__, connection.vendor)
    row_sql = "(" + ", ".join(["%s"] * len(plan)) + ")"
    now = timezone.now()
    alias = connection.alias  # once: each access through the proxy looks the connection up again
    with connection.cursor() as cur:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start:start + per_statement]
            params: list[Any] = []
            for obj in chunk:
                params += values(obj, now)
            cur.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
            ids = cur.fetchall()
            if len(ids) != len(chunk):
                raise RuntimeError("insert_many: the database returned fewer ids than rows")
            for obj, (pk,) in zip(chunk, ids, strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = alias


def _auto_value(obj: Any, field: Any, now: Any) -> Any:
    """What ``pre_save`` does for an ``auto_now``/``auto_now_add`` field of a new row (sets it to the
    current time), with one time for the whole batch instead of a clock read per row (a date field
    still gets today's date from its own ``pre_save``)."""
    if not isinstance(field, models.DateTimeField):
        return field.pre_save(obj, True)
    setattr(obj, field.attname, now)
    return now


@lru_cache(maxsize=32)
def _prototype(model: type[models.Model]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    proto = model()
    state = {k: v for k, v in proto.__dict__.items() if k != "_state"}
    fresh = tuple((f.attname, f.default) for f in model._meta.concrete_fields
                  if f.has_default() and callable(f.default))
    return state, fresh


def new_instance(model: type[models.Model], **values: Any) -> Any:
    """``model(**values)`` for the bulk paths: an unsaved instance with every field at its default
    (callable defaults called for each instance, e.g. ``created_at``, unless ``values`` names the
    field) and ``values`` assigned through the model's attributes (so a related object sets its
    ``_id`` as in ``__init__``).
    Django's ``__init__`` walks all fields with per-field dispatch, ~0.1 ms an instance; this is a
    dict copy. Models with init signal receivers go through ``__init__``."""
    # (an empty receiver list first: the precise check costs as much as the rest of this function)
    if (pre_init.receivers or post_init.receivers) and (pre_init.has_listeners(model) or post_init.has_listeners(model)):
        return model(**values)
    state, fresh = _prototype(model)
    obj = model.__new__(model)
    obj._state = ModelState()
    obj.__dict__.update(state)
    for attname, default in fresh:
        if attname not in values:  # a value given (e.g. the batch's one timestamp) replaces the call
            obj.__dict__[attname] = default()
    for name, value in values.items():
        setattr(obj, name, value)
    return obj


_TYPES: dict[tuple[str, str, tuple[str, ...]], list[int]] = {}


def _column_types(cur: Any, table: str, columns: tuple[str, ...]) -> list[int]:
    """PostgreSQL: the type oids of a table's columns, in the given order (a binary ``COPY`` needs
    them), read from the catalogue once per process and database."""
    key = (str(connection.settings_dict["NAME"]), table, columns)
    if key not in _TYPES:
        cur.execute("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped", [connection.ops.quote_name(table)])
        oids = dict(cur.fetchall())
        _TYPES[key] = [int(oids[c]) for c in columns]
    return _TYPES[key]


def copy_insert(objs: list[Any], *, meanwhile: Callable[[], None] | None = None) -> None:
    """PostgreSQL: ``insert_many`` through ``COPY`` (the fastest way in): the ids are taken from the
    table's sequence first (``nextval`` once per row, in list order, so ids ascend as with
    ``INSERT``), then every row is copied with them. Same values as ``save()`` (see ``insert``).
    Row triggers on the table fire for ``COPY`` as for ``INSERT``.

    ``meanwhile``: work for this process while the server is still taking the rows in (they are
    sent as they are written, and the server inserts them more slowly than they are written). It is
    called once every row is written and every object has its id, before the ``COPY`` ends: it must
    not use the connection. Called at once when there is nothing to insert."""
    if not objs:
        if meanwhile is not None:
            meanwhile()
        return
    model = objs[0].__class__
    meta = model._meta
    plan, _per, _head, _tail = _bulk_plan(model, connection.vendor)
    qn = connection.ops.quote_name
    pk_column = str(meta.pk.column) if meta.pk is not None else "id"
    now = timezone.now()
    alias = connection.alias
    with connection.cursor() as cur:
        # the sequence is resolved once (materialised): as an argument of nextval() it was looked up
        # in the catalogue again for every row, 8x the time (4 µs an id, 1.3 s of server time per 300k patients)
        cur.execute("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
                    "SELECT nextval(s.seq) FROM s, generate_series(1, %s)", [meta.db_table, pk_column, len(objs)])
        ids = [r[0] for r in cur.fetchall()]
        columns = ", ".join([qn(pk_column), *(qn(str(f.column)) for f, _a, _c, _auto in plan)])
        values = _row_values(model, connection.vendor)
        types = _column_types(cur, meta.db_table, (pk_column, *(str(f.column) for f, _a, _c, _auto in plan)))
        # binary: psycopg writes a row several times faster than it formats it as text
        with cur.cursor.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for obj, pk in zip(objs, ids, strict=True):
                copy.write_row([pk, *values(obj, now)])
            for obj, pk in zip(objs, ids, strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = alias
            if meanwhile is not None:
                meanwhile()


def _fields_by_name(model: type[models.Model]) -> dict[str, Any]:
    """The concrete fields by name and by attname (``patient`` and ``patient_id`` alike)."""
    fields = model._meta.concrete_fields
    return {f.name: f for f in fields} | {f.attname: f for f in fields}


@lru_cache(maxsize=32)
def _select_plan(model: type[models.Model], columns: tuple[str, ...], for_update: bool, vendor: str
                 ) -> tuple[str, list[str], list[tuple[int, list[Any], Any]]]:
    """The statement, the attribute names and the converters (position, converters, column) of
    ``first``: every concrete field, as the ORM's query selects them, with the converters its
    compiler would apply (database and field converters, e.g. decryption or SQLite's datetimes)."""
    meta = model._meta
    qn = connection.ops.quote_name
    fields = list(meta.concrete_fields)
    table = str(meta.db_table)
    by_name = _fields_by_name(model)
    where = " AND ".join(f"{qn(str(by_name[c].column))} = %s" for c in columns)
    pk = qn(str(meta.pk.column)) if meta.pk is not None else "id"
    lock = " FOR UPDATE" if for_update and connection.features.has_select_for_update else ""
    sql = (f"SELECT {', '.join(qn(str(f.column)) for f in fields)} FROM {qn(table)} "  # noqa: S608 - names from the model
           f"WHERE {where} ORDER BY {pk} LIMIT 1{lock}")
    converters = []
    for i, f in enumerate(fields):
        col = f.get_col(table)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            converters.append((i, found, col))
    return sql, [f.attname for f in fields], converters


def first(model: type[models.Model], *, for_update: bool = False, **equal: Any) -> Any:
    """``model.objects.filter(**equal).order_by("pk").first()`` (``select_for_update()`` with
    ``for_update``), for exact matches on concrete fields given by name (``pk`` for the primary
    key): the row read in plain SQL, its values converted as the ORM converts them, the instance
    built by ``from_db``. The ORM compiled the same query again for each message of a feed (0.2–0.4
    ms, a tenth of the message). None when nothing matches."""
    pk = model._meta.pk
    names = tuple(pk.name if name == "pk" and pk is not None else name for name in equal)
    sql, attnames, converters = _select_plan(model, names, for_update, connection.vendor)
    with connection.cursor() as cur:
        cur.execute(sql, list(equal.values()))
        row = cur.fetchone()
    if row is None:
        return None
    values = list(row)
    for i, found, col in converters:
        value = values[i]
        for convert in found:
            value = convert(value, col, connection)
        values[i] = value
    return model.from_db(connection.alias, attnames, values)


@lru_cache(maxsize=64)
def _update_plan(model: type[models.Model], names: tuple[str, ...], auto_now: bool, vendor: str
                 ) -> tuple[str, tuple[tuple[Any, Any, bool], ...]]:
    """``update``'s statement and, per field set, (field, converter, auto_now): the named fields, then
    the ``auto_now`` ones (as ``save(update_fields=…)`` sets them) unless ``auto_now`` is False (then
    an ``auto_now`` field that is named takes the object's value)."""
    meta = model._meta
    by_name = _fields_by_name(model)
    fields = list(dict.fromkeys(by_name[n] for n in names))
    if auto_now:
        fields += [f for f in meta.concrete_fields if getattr(f, "auto_now", False) and f not in fields]
    qn = connection.ops.quote_name
    pk = qn(str(meta.pk.column)) if meta.pk is not None else "id"
    sql = (f"UPDATE {qn(str(meta.db_table))} SET {', '.join(f'{qn(str(f.column))} = %s' for f in fields)} "  # noqa: S608
           f"WHERE {pk} = %s")
    return sql, tuple((f, _converter(f), auto_now and getattr(f, "auto_now", False)) for f in fields)


def update(obj: models.Model, names: list[str], *, auto_now: bool = True) -> None:
    """``obj.save(update_fields=names)`` in plain SQL, for an existing row of a model without a
    ``save()`` override or save signal receivers: the named fields (by name or attname) and the
    ``auto_now`` ones, which get the current time on the object too, converted as ``insert``
    converts them. ``auto_now=False``: the named fields only, as a queryset's ``update()`` writes
    them. The ORM compiled the statement again for each message of a feed."""
    if obj.pk is None:
        raise ValueError("update() is for existing rows")
    if not names:
        return
    sql, plan = _update_plan(type(obj), tuple(names), auto_now, connection.vendor)
    with connection.cursor() as cur:
        cur.execute(sql, _update_params(plan, obj))


def update_many(objs: list[Any], names: list[str], *, auto_now: bool = True) -> None:
    """``update`` for existing rows of one model, one ``executemany`` of the statement: a statement
    per row in one round of the driver (Django's ``bulk_update`` builds a CASE expression per field
    and row, seconds per thousand rows)."""
    if not objs or not names:
        return
    model: type[models.Model] = type(objs[0])
    sql, plan = _update_plan(model, tuple(names), auto_now, connection.vendor)
    with connection.cursor() as cur:
        cur.executemany(sql, [_update_params(plan, obj) for obj in objs])


def _update_params(plan: tuple[tuple[Any, Any, bool], ...], obj: Any) -> list[Any]:
    params: list[Any] = []
    for field, convert, auto in plan:
        value = field.pre_save(obj, False) if auto else getattr(obj, field.attname)
        params.append(value if convert is None or value is None else convert(value))
    params.append(obj.pk)
    return params
