"""Database tables. Engine state is one column of process_instance; everything a list or the scheduler reads
is a plain indexed projection table (human_task, timer, message_subscription, external_task, incident,
audit_event) so that queries never touch engine state.

Schema changes go through Alembic migrations in workflows/migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores UTC and always hands back aware UTC datetimes, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
Id = sa.String(64)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def table(model: type[Base]) -> sa.Table:
    """The Core table of a model, for bulk statements on the hot path."""
    return cast(sa.Table, model.__table__)


# --- definitions -------------------------------------------------------------------------------------------


class Deployment(Base):
    __tablename__ = "deployment"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(255))
    source: Mapped[str | None] = mapped_column(sa.String(255))
    tenant_id: Mapped[str | None] = mapped_column(sa.String(64))
    deployed_at: Mapped[datetime] = mapped_column(index=True)
    deployed_by: Mapped[str | None] = mapped_column(sa.String(255))


class DeploymentResource(Base):
    __tablename__ = "deployment_resource"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(sa.ForeignKey("deployment.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(16))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)


class ProcessSpec(Base):
    """A parsed and serialized process spec, stored once per content hash and shared by versions."""

    __tablename__ = "process_spec"
    hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    serializer_version: Mapped[str] = mapped_column(sa.String(32))
    content: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]


class ProcessDefinition(Base):
    __tablename__ = "process_definition"
    __table_args__ = (sa.UniqueConstraint("key", "version", "tenant_id"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), index=True)
    version: Mapped[int]
    name: Mapped[str | None] = mapped_column(sa.String(255))
    version_tag: Mapped[str | None] = mapped_column(sa.String(255))
    tenant_id: Mapped[str | None] = mapped_column(sa.String(64))
    deployment_id: Mapped[str] = mapped_column(sa.ForeignKey("deployment.id"), index=True)
    resource_name: Mapped[str] = mapped_column(sa.String(255))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    spec_hash: Mapped[str] = mapped_column(sa.ForeignKey("process_spec.hash"))
    history_time_to_live: Mapped[int | None]
    candidate_starter_groups: Mapped[list[Any]] = mapped_column(default=list)
    candidate_starter_users: Mapped[list[Any]] = mapped_column(default=list)
    start_form: Mapped[dict[str, Any] | None]
    start_events: Mapped[list[Any]] = mapped_column(default=list)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    suspended: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class ProcessDefinitionGroup(Base):
    """The groups a process belongs to (candidate and starter groups named in the model): who may see its cases."""

    __tablename__ = "process_definition_group"
    definition_id: Mapped[str] = mapped_column(sa.ForeignKey("process_definition.id", ondelete="CASCADE"),
                                               primary_key=True)
    group_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True, index=True)


class DecisionDefinition(Base):
    __tablename__ = "decision_definition"
    __table_args__ = (sa.UniqueConstraint("key", "version", "tenant_id"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), index=True)
    version: Mapped[int]
    name: Mapped[str | None] = mapped_column(sa.String(255))
    version_tag: Mapped[str | None] = mapped_column(sa.String(255))
    tenant_id: Mapped[str | None] = mapped_column(sa.String(64))
    deployment_id: Mapped[str] = mapped_column(sa.ForeignKey("deployment.id"), index=True)
    resource_name: Mapped[str] = mapped_column(sa.String(255))
    resource_id: Mapped[str] = mapped_column(sa.ForeignKey("deployment_resource.id"))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    history_time_to_live: Mapped[int | None]
    created_at: Mapped[datetime]


class FormDefinition(Base):
    __tablename__ = "form_definition"
    __table_args__ = (sa.UniqueConstraint("key", "version", "tenant_id"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), index=True)
    version: Mapped[int]
    tenant_id: Mapped[str | None] = mapped_column(sa.String(64))
    deployment_id: Mapped[str] = mapped_column(sa.ForeignKey("deployment.id"), index=True)
    resource_name: Mapped[str] = mapped_column(sa.String(255), index=True)
    resource_id: Mapped[str] = mapped_column(sa.ForeignKey("deployment_resource.id"))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]


# --- runtime -----------------------------------------------------------------------------------------------


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    definition_id: Mapped[str] = mapped_column(sa.ForeignKey("process_definition.id"), index=True)
    definition_key: Mapped[str] = mapped_column(sa.String(255), index=True)
    business_key: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    tenant_id: Mapped[str | None] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(32), index=True)
    revision: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime]
    started_by: Mapped[str | None] = mapped_column(sa.String(255))
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(sa.Text)
    last_activity_at: Mapped[datetime] = mapped_column(index=True)
    super_instance_id: Mapped[str | None] = mapped_column(Id, index=True)
    super_task_id: Mapped[str | None] = mapped_column(Id)
    open_incidents: Mapped[int] = mapped_column(default=0)
    projection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    serializer_version: Mapped[str] = mapped_column(sa.String(32))
    engine_state: Mapped[str] = mapped_column(sa.Text)
    __mapper_args__ = {"version_id_col": revision}


class ProcessVariable(Base):
    """Projection of an instance's variables, for lists, search and correlation by variable value."""

    __tablename__ = "process_variable"
    instance_id: Mapped[str] = mapped_column(
        sa.ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    text_value: Mapped[str | None] = mapped_column(sa.String(255))
    __table_args__ = (sa.Index("ix_process_variable_name_text", "name", "text_value"),)


class HumanTask(Base):
    """An open user task. Completed tasks leave this table; their history is in audit_event."""

    __tablename__ = "human_task"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        sa.ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    definition_id: Mapped[str] = mapped_column(Id)
    definition_key: Mapped[str] = mapped_column(sa.String(255), index=True)
    business_key: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    task_definition_key: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str | None] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)
    assignee: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    candidate_groups: Mapped[list[Any]] = mapped_column(default=list)
    candidate_users: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    follow_up_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(default=50)
    form: Mapped[dict[str, Any] | None]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    suspended: Mapped[bool] = mapped_column(default=False)
    draft: Mapped[dict[str, Any] | None]
    escalation_level: Mapped[int] = mapped_column(default=0)
    escalated_at: Mapped[datetime | None]
    follow_up_notified_at: Mapped[datetime | None]  # the follow-up reminder went out (reset it with follow_up_at)
    __table_args__ = (
        sa.Index("ix_human_task_escalation", "escalation_level", "due_at"),  # the scheduler's escalation scan
        sa.Index("ix_human_task_follow_up_pending", "follow_up_notified_at", "follow_up_at"),  # its reminders
    )


class HumanTaskCandidate(Base):
    """Who may see a task: one row per candidate group or user, so the inbox query is an index lookup."""

    __tablename__ = "human_task_candidate"
    task_id: Mapped[str] = mapped_column(sa.ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    __table_args__ = (sa.Index("ix_human_task_candidate_lookup", "kind", "value", "task_id"),)


class Timer(Base):
    __tablename__ = "timer"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    definition_id: Mapped[str | None] = mapped_column(Id, index=True)
    task_id: Mapped[str | None] = mapped_column(Id)
    element_id: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(32))
    due_at: Mapped[datetime] = mapped_column(index=True)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(255))
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MessageSubscription(Base):
    __tablename__ = "message_subscription"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        sa.ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(Id)
    element_id: Mapped[str] = mapped_column(sa.String(255))
    event_type: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(255))
    business_key: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime]
    __table_args__ = (sa.Index("ix_message_subscription_lookup", "event_type", "name", "business_key"),)


class ExternalTask(Base):
    __tablename__ = "external_task"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        sa.ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    definition_id: Mapped[str] = mapped_column(Id)
    definition_key: Mapped[str] = mapped_column(sa.String(255))
    activity_id: Mapped[str] = mapped_column(sa.String(255))
    business_key: Mapped[str | None] = mapped_column(sa.String(255))
    topic: Mapped[str] = mapped_column(sa.String(255), index=True)
    priority: Mapped[int] = mapped_column(default=0)
    worker_id: Mapped[str | None] = mapped_column(sa.String(255))
    lock_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    retries: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    error_details: Mapped[str | None] = mapped_column(sa.Text)
    available_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    suspended: Mapped[bool] = mapped_column(default=False)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Incident(Base):
    __tablename__ = "incident"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        sa.ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    definition_id: Mapped[str] = mapped_column(Id)
    task_id: Mapped[str | None] = mapped_column(Id)
    element_id: Mapped[str | None] = mapped_column(sa.String(255))
    incident_type: Mapped[str] = mapped_column(sa.String(32))
    message: Mapped[str] = mapped_column(sa.Text)
    stacktrace: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    resolved_at: Mapped[datetime | None]


class Notification(Base):
    """An in-app notice for one user (overdue task, escalation, backlog)."""

    __tablename__ = "notification"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    instance_id: Mapped[str | None] = mapped_column(Id)
    task_id: Mapped[str | None] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(index=True)
    read_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message that leaves the system (e-mail), written in the command's transaction, sent after commit."""

    __tablename__ = "outbox_message"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    recipient: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    claimed_until: Mapped[datetime | None]


class Comment(Base):
    """A note on a case or one of its tasks."""

    __tablename__ = "comment"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(Id, index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime]
    message: Mapped[str] = mapped_column(sa.Text)


class AuditEvent(Base):
    """Who did what when: every change to a case and every finished activity (history)."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    instance_id: Mapped[str | None] = mapped_column(Id, index=True)
    definition_key: Mapped[str | None] = mapped_column(sa.String(255))
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str | None] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(64))
    element_id: Mapped[str | None] = mapped_column(sa.String(255))
    task_id: Mapped[str | None] = mapped_column(Id)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (sa.Index("ix_audit_event_kind_time", "kind", "occurred_at"),)


# --- accounts ----------------------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "kim_user"
    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(255))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Group(Base):
    __tablename__ = "kim_group"
    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(255))
    domain: Mapped[str | None] = mapped_column(sa.String(64))


class Membership(Base):
    __tablename__ = "kim_membership"
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("kim_user.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[str] = mapped_column(sa.ForeignKey("kim_group.id", ondelete="CASCADE"), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_token"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("kim_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    token_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]



# --- the web app: documents, sessions, login attempts ------------------------------------------------------


class Document(Base):
    """An uploaded file on a case; the bytes live outside the database, named by their SHA-256."""

    __tablename__ = "document"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    media_type: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    uploaded_by: Mapped[str | None] = mapped_column(sa.String(255))
    uploaded_at: Mapped[datetime]


class WebSession(Base):
    """A login of the web app, kept on the server; the cookie holds a random token, this table its digest."""

    __tablename__ = "web_session"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginAttempt(Base):
    """Failed and successful logins, counted per user name and per address to pause password guessing."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    username: Mapped[str] = mapped_column(sa.String(255))
    address: Mapped[str] = mapped_column(sa.String(64))
    attempted_at: Mapped[datetime]
    success: Mapped[bool]
    __table_args__ = (sa.Index("ix_login_attempt_username_time", "username", "attempted_at"),
                      sa.Index("ix_login_attempt_address_time", "address", "attempted_at"))
