"""The audit trail: who did what when to a case, and every finished activity (the history).

Audit events are written in the same transaction as the change they describe, so the trail is exactly as
complete as the data. They are append-only; nothing in kimflow updates or deletes them except retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from workflows import fastsql, schema
from workflows.context import Ctx

AUDIT_EVENT = schema.table(schema.AuditEvent)


def record(ctx: Ctx, kind: str, *, instance_id: str | None = None, definition_key: str | None = None,
           element_id: str | None = None, task_id: str | None = None, details: dict[str, Any] | None = None,
           occurred_at: datetime | None = None) -> None:
    record_many(ctx, [{"kind": kind, "instance_id": instance_id, "definition_key": definition_key,
                       "element_id": element_id, "task_id": task_id, "details": details or {},
                       "occurred_at": occurred_at}])


def record_many(ctx: Ctx, events: Sequence[dict[str, Any]]) -> None:
    statement = statement_for(ctx, events)
    if statement is not None:
        fastsql.run(ctx.session, [statement])


def statement_for(ctx: Ctx, events: Sequence[dict[str, Any]]) -> fastsql.Statement | None:
    """The INSERT for a set of events, to run with other statements of the same command."""
    if not events:
        return None
    now = ctx.now()
    rows = [{
        "kind": event["kind"],
        "instance_id": event.get("instance_id"),
        "definition_key": event.get("definition_key"),
        "element_id": event.get("element_id"),
        "task_id": event.get("task_id"),
        "details": event.get("details") or {},
        "occurred_at": event.get("occurred_at") or now,
        "actor": event.get("actor", ctx.actor.id),
    } for event in events]
    return fastsql.insert_statement(ctx.dialect, AUDIT_EVENT, rows)


def for_instance(ctx: Ctx, instance_id: str, *, kinds: Sequence[str] | None = None,
                 limit: int = 1000) -> list[schema.AuditEvent]:
    query = sa.select(schema.AuditEvent).where(schema.AuditEvent.instance_id == instance_id)
    if kinds:
        query = query.where(schema.AuditEvent.kind.in_(kinds))
    return list(ctx.session.scalars(query.order_by(schema.AuditEvent.id).limit(limit)))


FILTERABLE = ("instance_id", "definition_key", "element_id", "task_id", "actor")


def query(ctx: Ctx, *, kinds: Sequence[str] | None = None, since: datetime | None = None, first: int = 0,
          limit: int = 100, **equal: str | None) -> list[schema.AuditEvent]:
    """Events in the order they happened; `equal` filters on instance_id, definition_key, element_id, task_id
    or actor (None: no filter)."""
    model = schema.AuditEvent
    statement = sa.select(model)
    for name, value in equal.items():
        if name not in FILTERABLE:
            raise TypeError(f"cannot filter audit events by {name}")
        if value is not None:
            statement = statement.where(getattr(model, name) == value)
    if kinds:
        statement = statement.where(model.kind.in_(kinds))
    if since is not None:
        statement = statement.where(model.occurred_at >= since)
    return list(ctx.session.scalars(statement.order_by(model.id).offset(first).limit(limit)))
