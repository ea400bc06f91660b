"""``insert(obj)``: one new row in plain SQL, for the write paths that run for every message of a
feed (the HL7 listener's patients, encounters and audit rows).

It writes the row exactly as ``obj.save()`` would for a model without a ``save()`` override that
matters for inserts and without ``pre_save``/``post_save`` receivers: every concrete field goes
through its own ``pre_save`` (auto_now, defaults already set on the instance) and
``get_db_prep_save`` (so encrypted fields are encrypted, JSON dumped, datetimes adapted). Django's
generic insert path builds the same statement through its query compiler, which costs ~0.5 ms a row
here; this costs a tenth of that.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db import connection, models


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
