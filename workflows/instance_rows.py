"""The process_instance row: read into a plain record, written with explicit, revision-checked statements.

Every engine command reads one instance row and writes it back. Doing that with two driver-level statements
instead of the ORM's identity map and unit of work was measured to halve the database CPU of a command, and it
makes the optimistic lock explicit: `save` updates WHERE revision = the revision that was read, and a command
that lost a race gets a ConflictError before it writes anything else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflows import fastsql, schema
from workflows.errors import ConcurrentChangeError, ConflictError

TABLE = schema.table(schema.ProcessInstance)


@dataclass
class InstanceRecord:
    id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    tenant_id: str | None
    state: str
    revision: int
    started_at: datetime
    started_by: str | None
    ended_at: datetime | None
    end_reason: str | None
    last_activity_at: datetime
    super_instance_id: str | None
    super_task_id: str | None
    open_incidents: int
    projection: dict[str, Any]
    serializer_version: str
    engine_state: str
    _stored: bool = field(default=False, repr=False)


COLUMNS = tuple(f.name for f in fields(InstanceRecord) if not f.name.startswith("_"))
MUTABLE = ("business_key", "state", "ended_at", "end_reason", "last_activity_at", "projection", "engine_state")


def load(session: Session, instance_id: str) -> InstanceRecord | None:
    values = fastsql.select_one(session, TABLE, COLUMNS, id=instance_id)
    if values is None:
        return None
    return InstanceRecord(**values, _stored=True)


TASK_COLUMNS = ("id", "instance_id", "task_definition_key", "assignee", "candidate_users", "candidate_groups",
                "suspended")


@dataclass(frozen=True)
class TaskHead:
    """The few fields of an open user task that completing it needs (who may, and which instance)."""

    id: str
    instance_id: str
    task_definition_key: str
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    suspended: bool


def load_with_task(session: Session, task_id: str) -> tuple[TaskHead, InstanceRecord] | None:
    """An open user task and its instance in one query (a completion needs both, and nothing else)."""
    found = fastsql.select_joined(session, (schema.table(schema.HumanTask), TASK_COLUMNS), (TABLE, COLUMNS),
                                  on=("instance_id", "id"), id=task_id)
    if found is None:
        return None
    task, instance = found
    return TaskHead(**task), InstanceRecord(**instance, _stored=True)


def load_many(session: Session, **equal: Any) -> list[InstanceRecord]:
    return [InstanceRecord(**values, _stored=True) for values in fastsql.select_all(session, TABLE, COLUMNS, **equal)]


def save(session: Session, record: InstanceRecord) -> None:
    """Insert a new record, or update a stored one if nobody changed it since it was read."""
    if not fastsql.run(session, [save_statement(session.connection().dialect.name, record)]):
        raise conflict(record)
    saved(record)


def save_statement(dialect: str, record: InstanceRecord) -> fastsql.Statement:
    """The INSERT of a new record, or the revision-checked UPDATE of a stored one."""
    if not record._stored:
        return fastsql.insert_statement(dialect, TABLE, [{name: getattr(record, name) for name in COLUMNS}])
    values = {name: getattr(record, name) for name in MUTABLE}
    return fastsql.update_checked_statement(dialect, TABLE, values, id=record.id, revision=record.revision)


def saved(record: InstanceRecord) -> None:
    """Note that the statement from save_statement ran."""
    if record._stored:
        record.revision += 1
    record._stored = True


def conflict(record: InstanceRecord) -> ConflictError:
    return ConcurrentChangeError(f"Process instance {record.id} was changed by someone else in the meantime; "
                                 "reload and try again.")


def adjust_incidents(session: Session, instance_id: str, delta: int) -> None:
    """Count incidents up or down without touching the revision (counters do not conflict)."""
    session.execute(sa.update(TABLE).where(TABLE.c.id == instance_id)
                    .values(open_incidents=sa.func.max(TABLE.c.open_incidents + delta, 0)
                            if session.get_bind().dialect.name == "sqlite"
                            else sa.func.greatest(TABLE.c.open_incidents + delta, 0)))


def as_dict(record: InstanceRecord) -> dict[str, Any]:
    values = asdict(record)
    values.pop("_stored", None)
    return values
