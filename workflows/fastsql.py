"""Bulk writes on the hot path, sent as driver-level SQL (measured: a third of SQLAlchemy Core's CPU per statement).

Every engine command writes a handful of projection and audit rows. The statements are simple and few in
shape, so they are rendered here once per table and column set, and values are converted the way
SQLAlchemy's own types store them (aware UTC timestamps, JSON), so that ORM and Core reads see the same data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.orm import Session

from workflows.schema import UTCDateTime


@lru_cache(maxsize=64)
def _column_kinds(table: sa.Table) -> dict[str, str]:
    kinds = {}
    for column in table.columns:
        if isinstance(column.type, UTCDateTime):
            kinds[column.name] = "datetime"
        elif isinstance(column.type, sa.JSON):
            kinds[column.name] = "json"
        else:
            kinds[column.name] = "plain"
    return kinds


def _convert(dialect: str, kind: str, value: Any) -> Any:
    if value is None or kind == "plain":
        return value
    if kind == "json":
        if dialect == "postgresql":
            from psycopg.types.json import Jsonb  # only on PostgreSQL

            return Jsonb(value)
        return json.dumps(value, separators=(",", ":"))
    moment: datetime = value.astimezone(UTC)
    if dialect == "postgresql":
        return moment
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@lru_cache(maxsize=256)
def _insert_sql(dialect: str, table: sa.Table, columns: tuple[str, ...], rows: int) -> str:
    def marker(row: int, column: int) -> str:
        name = f"p{row}_{column}"
        return f"%({name})s" if dialect == "postgresql" else f":{name}"

    values = ", ".join("(" + ", ".join(marker(r, c) for c in range(len(columns))) + ")" for r in range(rows))
    quoted = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO {table.name} ({quoted}) VALUES {values}'


@dataclass(frozen=True)
class Statement:
    """One driver-level statement; `checked` ones must change exactly one row (the instance's revision check)."""

    sql: str
    params: dict[str, Any]
    checked: bool = False


def insert_statement(dialect: str, table: sa.Table, rows: Sequence[dict[str, Any]]) -> Statement:
    """INSERT of rows (all with the same keys) as one statement."""
    columns = tuple(rows[0])
    kinds = _column_kinds(table)
    params = {f"p{r}_{c}": _convert(dialect, kinds.get(name, "plain"), row[name])
              for r, row in enumerate(rows) for c, name in enumerate(columns)}
    return Statement(_insert_sql(dialect, table, columns, len(rows)), params)


def delete_statement(dialect: str, table: sa.Table, column: str | None = None, values: Sequence[Any] = (),
                     **equal: Any) -> Statement:
    """DELETE FROM table WHERE [column IN (values)] [AND other = value ...]."""
    postgres = dialect == "postgresql"
    params = {f"v{i}": value for i, value in enumerate(values)}
    params.update({f"e_{name}": value for name, value in equal.items()})
    conditions = [f'"{column}" IN ({", ".join(_marker(postgres, f"v{i}") for i in range(len(values)))})'] \
        if column else []
    conditions += [f'"{name}" = {_marker(postgres, f"e_{name}")}' for name in equal]
    return Statement(f"DELETE FROM {table.name} WHERE {' AND '.join(conditions)}", params)


def update_checked_statement(dialect: str, table: sa.Table, values: dict[str, Any], *, revision: int,
                             **equal: Any) -> Statement:
    """UPDATE ... SET values, revision = revision + 1 WHERE equal AND revision = :revision (checked)."""
    postgres = dialect == "postgresql"
    kinds = _column_kinds(table)
    assignments = [f'"{name}" = {_marker(postgres, f"s_{name}")}' for name in values]
    assignments.append('"revision" = "revision" + 1')
    where, params = _where(postgres, {**equal, "revision": revision})
    params.update({f"s_{name}": _convert(dialect, kinds.get(name, "plain"), value) for name, value in values.items()})
    return Statement(f"UPDATE {table.name} SET {', '.join(assignments)} WHERE {where}", params, checked=True)


def update_statement(dialect: str, table: sa.Table, values: dict[str, Any], **equal: Any) -> Statement:
    """UPDATE ... SET values WHERE equal (unchecked: any number of rows)."""
    postgres = dialect == "postgresql"
    kinds = _column_kinds(table)
    assignments = [f'"{name}" = {_marker(postgres, f"s_{name}")}' for name in values]
    where, params = _where(postgres, equal)
    params.update({f"s_{name}": _convert(dialect, kinds.get(name, "plain"), value) for name, value in values.items()})
    return Statement(f"UPDATE {table.name} SET {', '.join(assignments)} WHERE {where}", params)


def run(session: Session, statements: Sequence[Statement]) -> bool:
    """Execute statements in order; False (and nothing after it run) when a checked statement missed its row.

    On PostgreSQL the statements go out in one pipeline: one network round trip for all of them instead of one
    each. A missed check there is noticed after the pipeline ran; the caller raises and the transaction rolls
    back, so a command that lost a race still leaves nothing behind.
    """
    if not statements:
        return True
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(statements) > 1:
        return _run_pipelined(connection, statements)
    for statement in statements:
        result = connection.exec_driver_sql(statement.sql, statement.params)
        if statement.checked and result.rowcount != 1:
            return False
    return True


def _run_pipelined(connection: sa.Connection, statements: Sequence[Statement]) -> bool:
    raw = connection.connection.driver_connection
    assert raw is not None
    cursors: list[Any] = []
    try:
        with raw.pipeline():
            for statement in statements:
                cursors.append(raw.execute(statement.sql, statement.params))
    except psycopg.Error:
        # A command that lost the race runs on after its missed check, and its writes can then collide with the
        # winner's (the same next task inserted twice): that is the conflict, not a database failure.
        if _missed(cursors, statements):
            return False
        raise
    return all(cursor.rowcount == 1 for cursor, statement in zip(cursors, statements, strict=True)
               if statement.checked)


def _missed(cursors: Sequence[Any], statements: Sequence[Statement]) -> bool:
    """Whether a checked statement that has run changed no row (a cursor without a result yet reads -1)."""
    return any(cursor.rowcount == 0 for cursor, statement in zip(cursors, statements, strict=False)
               if statement.checked)


def insert(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys) in one statement."""
    if rows:
        run(session, [insert_statement(session.connection().dialect.name, table, rows)])


def delete_in(session: Session, table: sa.Table, column: str, values: Sequence[Any], **equal: Any) -> None:
    """DELETE FROM table WHERE column IN (values) [AND other = value ...]."""
    if values:
        run(session, [delete_statement(session.connection().dialect.name, table, column, values, **equal)])


def _marker(postgres: bool, name: str) -> str:
    return f"%({name})s" if postgres else f":{name}"


def _decode(dialect: str, kind: str, value: Any) -> Any:
    if value is None or kind == "plain" or dialect == "postgresql":
        return value
    if kind == "json":
        return json.loads(value) if isinstance(value, str) else value
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _where(postgres: bool, equal: dict[str, Any], prefix: str = "") -> tuple[str, dict[str, Any]]:
    conditions = [f'{prefix}"{name}" IS NULL' if value is None
                  else f'{prefix}"{name}" = {_marker(postgres, f"w_{name}")}' for name, value in equal.items()]
    return " AND ".join(conditions), {f"w_{name}": value for name, value in equal.items() if value is not None}


def select_all(session: Session, table: sa.Table, columns: Sequence[str], *, order_by: str | None = None,
               limit: int | None = None, **equal: Any) -> list[dict[str, Any]]:
    """SELECT columns FROM table WHERE column = value AND ... (None compares with IS NULL)."""
    connection = session.connection()
    dialect = connection.dialect.name
    where, params = _where(dialect == "postgresql", equal)
    quoted = ", ".join(f'"{c}"' for c in columns)
    sql = f"SELECT {quoted} FROM {table.name} WHERE {where}"
    if order_by:
        sql += f' ORDER BY "{order_by.lstrip("-")}"' + (" DESC" if order_by.startswith("-") else "")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    kinds = _column_kinds(table)
    return [{name: _decode(dialect, kinds[name], value) for name, value in zip(columns, row, strict=True)}
            for row in _fetch(connection, sql, params)]


def select_joined(session: Session, first: tuple[sa.Table, Sequence[str]], second: tuple[sa.Table, Sequence[str]],
                  on: tuple[str, str], **equal: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """One row of `first` JOIN `second` ON first.on[0] = second.on[1], filtered on columns of `first`."""
    connection = session.connection()
    dialect = connection.dialect.name
    (table_a, columns_a), (table_b, columns_b) = first, second
    where, params = _where(dialect == "postgresql", equal, prefix="a.")
    quoted = ", ".join([f'a."{c}"' for c in columns_a] + [f'b."{c}"' for c in columns_b])
    sql = (f'SELECT {quoted} FROM {table_a.name} a JOIN {table_b.name} b ON a."{on[0]}" = b."{on[1]}" '
           f"WHERE {where}")
    rows = _fetch(connection, sql, params)
    if not rows:
        return None
    row, kinds_a, kinds_b = rows[0], _column_kinds(table_a), _column_kinds(table_b)
    values_a = {name: _decode(dialect, kinds_a[name], row[i]) for i, name in enumerate(columns_a)}
    values_b = {name: _decode(dialect, kinds_b[name], row[len(columns_a) + i]) for i, name in enumerate(columns_b)}
    return values_a, values_b


def _fetch(connection: sa.Connection, sql: str, params: dict[str, Any]) -> Sequence[Any]:
    """Rows of a query. On PostgreSQL straight through the driver, and the transaction's BEGIN goes out in the
    same round trip as a command's first query (psycopg otherwise waits for BEGIN's answer first)."""
    if connection.dialect.name != "postgresql":
        return connection.exec_driver_sql(sql, params).fetchall()
    raw = connection.connection.driver_connection
    assert raw is not None
    if raw.info.transaction_status == TransactionStatus.IDLE:
        with raw.pipeline():
            cursor = raw.execute(sql, params)
        return cursor.fetchall()
    return raw.execute(sql, params).fetchall()


def select_one(session: Session, table: sa.Table, columns: Sequence[str], **equal: Any) -> dict[str, Any] | None:
    rows = select_all(session, table, columns, **equal)
    return rows[0] if rows else None


def update_checked(session: Session, table: sa.Table, values: dict[str, Any], *, revision: int,
                   **equal: Any) -> bool:
    """UPDATE ... SET values, revision = revision + 1 WHERE equal AND revision = :revision; True if it matched."""
    dialect = session.connection().dialect.name
    return run(session, [update_checked_statement(dialect, table, values, revision=revision, **equal)])
