"""Bulk writes for the paths that write thousands of rows at once: inserts by COPY (D21) for
imports, and updates by one statement per batch.

``copy_objects`` writes model instances and gives each its primary key, as ``bulk_create``
would; ``copy_rows`` writes plain tuples for rows nobody reads back (link and child tables, the
import's own row log), skipping the cost of building a model instance per row.
``rows_update`` writes some fields of many instances with one ``UPDATE … FROM (VALUES …)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import JSONField, Model

# PostgreSQL's protocol binds at most 65,535 parameters to a statement; Django binds them on
# the client, but a statement is kept to that size either way.
MAX_PARAMETERS = 65_535


def reserve_ids(model: type[Model], count: int) -> list[int]:
    """``count`` primary keys drawn from the table's sequence, in one statement."""
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def json_for_copy(field: JSONField) -> Callable[[Any], Any]:
    """A JSON column's value as COPY takes it: an empty object or list as its JSON text (most
    of an import's JSON cells: a row log's lists, a new record's empty scores), anything else
    through Django's preparation (a ``Jsonb`` adapter). One call per batch: the wrapper of this
    thread's connection is looked up once, not once a value."""
    database = connections[DEFAULT_DB_ALIAS]
    prep = field.get_db_prep_save

    def value(item: Any) -> Any:
        if not item and type(item) in (dict, list):
            return "{}" if type(item) is dict else "[]"
        return prep(item, database)

    return value


def copy_objects(model: type[Model], objects: Sequence[Model]) -> None:
    """Insert ``objects`` with one COPY; each object learns its primary key first."""
    if not objects:
        return
    # Generated columns (the search pieces) are computed by PostgreSQL, never written.
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    for obj, pk in zip(objects, reserve_ids(model, len(objects)), strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    # Only JSON needs preparing (a Jsonb adapter or a JSON text); psycopg copies the rest as is.
    prepared = [
        (field.attname, json_for_copy(field) if isinstance(field, JSONField) else None)
        for field in fields
    ]
    copy_rows(
        model,
        [field.attname for field in fields],
        (
            [
                getattr(obj, name) if prep is None else prep(getattr(obj, name))
                for name, prep in prepared
            ]
            for obj in objects
        ),
    )


def copy_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert ``rows`` (values in the order of ``columns``, field attnames) with one COPY.
    Columns left out take their database default (the primary key its sequence); JSON values
    must already be prepared (``Jsonb`` or a JSON text). No rows, no statement."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    column_of = {field.attname: field.column for field in meta.concrete_fields}
    names = ", ".join(quote(str(column_of[name])) for name in columns)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {quote(meta.db_table)} ({names}) FROM STDIN") as copy,
    ):
        copy.write_row(first)
        for row in rows:
            copy.write_row(row)


def rows_update(model: type[Model], rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of ``rows`` with one ``UPDATE … FROM (VALUES …)`` (more only past the
    protocol's parameter limit): each value cast to its column's type, so a statement costs
    one round trip and one plan whatever the number of rows, where Django's ``bulk_update``
    builds a ``CASE`` of every row for every field. The caller holds the rows locked."""
    if not rows:
        return
    meta = model._meta
    key = meta.pk
    if key is None:
        raise TypeError(f"{model.__name__} has no primary key")
    columns: list[Any] = [key, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    names = [quote(str(column.column)) for column in columns]
    row_sql = "(" + ", ".join(f"%s::{c.db_type(connection)}" for c in columns) + ")"
    assigned = ", ".join(f"{name} = v.{name}" for name in names[1:])
    table, pk = quote(meta.db_table), names[0]
    per_statement = MAX_PARAMETERS // len(columns)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params: list[Any] = []
        for row in chunk:
            params.extend(c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns)
        values = ", ".join([row_sql] * len(chunk))
        # Only quoted names from the model's metadata are formatted in; values are parameters.
        sql = (
            f"UPDATE {table} AS t SET {assigned} FROM (VALUES {values})"  # noqa: S608
            f" AS v({', '.join(names)}) WHERE t.{pk} = v.{pk}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
