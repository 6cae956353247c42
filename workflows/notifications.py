"""Telling people: in-app notifications and e-mail through the outbox.

A notification is written in the same transaction as the change that causes it; an e-mail is written to the
outbox in that transaction and sent after commit by the scheduler (service.mailer), with retries. Nothing is
sent for a change that rolled back, and nothing is lost when the mail server is down. The audit trail records
each notice (`notification_sent`) and each delivered or finally failed e-mail (`email_sent`, `email_failed`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from workflows import audit, schema
from workflows.context import Ctx

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    body: str = ""
    instance_id: str | None = None
    task_id: str | None = None


def members(ctx: Ctx, groups: Iterable[str]) -> list[str]:
    """Active users in any of the groups."""
    wanted = list(dict.fromkeys(groups))
    if not wanted:
        return []
    query = (sa.select(schema.Membership.user_id).join(schema.User, schema.User.id == schema.Membership.user_id)
             .where(schema.Membership.group_id.in_(wanted), schema.User.active.is_(True)).distinct())
    return sorted(ctx.session.scalars(query))


def notify(ctx: Ctx, users: Iterable[str], notice: Notice, *, email: bool = True) -> int:
    """Notify each user in the app and (if they have an address) by e-mail; returns how many were notified."""
    recipients = sorted(set(u for u in users if u))
    if not recipients:
        return 0
    now = ctx.now()
    ctx.session.execute(sa.insert(schema.Notification), [{
        "id": str(uuid.uuid4()), "user_id": user, "kind": notice.kind, "title": notice.title[:500],
        "body": notice.body, "instance_id": notice.instance_id, "task_id": notice.task_id, "created_at": now,
        "read_at": None} for user in recipients])
    if email:
        _queue_mail(ctx, recipients, notice)
    audit.record(ctx, "notification_sent", instance_id=notice.instance_id, task_id=notice.task_id,
                 details={"kind": notice.kind, "recipients": recipients, "title": notice.title, "email": email})
    return len(recipients)


def _queue_mail(ctx: Ctx, users: list[str], notice: Notice) -> None:
    addresses = ctx.session.execute(sa.select(schema.User.id, schema.User.email).where(schema.User.id.in_(users),
                                                                                        schema.User.email.is_not(None)))
    now = ctx.now()
    rows = [{"id": str(uuid.uuid4()), "channel": "email", "recipient": address, "subject": notice.title[:500],
             "body": notice.body or notice.title, "created_at": now, "next_attempt_at": now, "attempts": 0,
             "sent_at": None, "last_error": None, "claimed_until": None}
            for _user, address in addresses if address]
    if rows:
        ctx.session.execute(sa.insert(schema.OutboxMessage), rows)


def unread_count(ctx: Ctx, user_id: str) -> int:
    query = sa.select(sa.func.count()).select_from(schema.Notification).where(
        schema.Notification.user_id == user_id, schema.Notification.read_at.is_(None))
    return int(ctx.session.scalar(query) or 0)


def for_user(ctx: Ctx, user_id: str, *, limit: int = 50) -> list[schema.Notification]:
    query = (sa.select(schema.Notification).where(schema.Notification.user_id == user_id)
             .order_by(schema.Notification.created_at.desc()).limit(limit))
    return list(ctx.session.scalars(query))


def mark_read(ctx: Ctx, user_id: str, notification_ids: Iterable[str] | None = None) -> None:
    query = sa.update(schema.Notification).where(schema.Notification.user_id == user_id,
                                                 schema.Notification.read_at.is_(None))
    if notification_ids is not None:
        query = query.where(schema.Notification.id.in_(list(notification_ids)))
    ctx.session.execute(query.values(read_at=ctx.now()))


# --- the outbox ------------------------------------------------------------------------------------------------


def claim_due_mail(ctx: Ctx, *, limit: int = 50, hold_seconds: int = 120) -> list[schema.OutboxMessage]:
    """Take due messages for sending (FOR UPDATE SKIP LOCKED on PostgreSQL); the claim expires if we crash."""
    now = ctx.now()
    model = schema.OutboxMessage
    query = (sa.select(model).where(model.sent_at.is_(None), model.next_attempt_at <= now,
                                    model.attempts < MAX_ATTEMPTS,
                                    sa.or_(model.claimed_until.is_(None), model.claimed_until < now))
             .order_by(model.next_attempt_at).limit(limit))
    if ctx.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(ctx.session.scalars(query))
    for row in rows:
        row.claimed_until = now + timedelta(seconds=hold_seconds)
    ctx.session.flush()
    return rows


def mark_sent(ctx: Ctx, message_id: str) -> None:
    row = ctx.session.get(schema.OutboxMessage, message_id)
    if row is not None:
        row.sent_at, row.claimed_until = ctx.now(), None
        row.attempts += 1
        audit.record(ctx, "email_sent", details={"message_id": row.id, "recipient": row.recipient,
                                                 "subject": row.subject, "attempts": row.attempts})


def mark_failed(ctx: Ctx, message_id: str, error: str) -> None:
    row = ctx.session.get(schema.OutboxMessage, message_id)
    if row is None:
        return
    row.attempts += 1
    row.last_error = error[:2000]
    row.claimed_until = None
    row.next_attempt_at = ctx.now() + timedelta(seconds=min(60 * 2 ** row.attempts, 6 * 3600))
    if row.attempts >= MAX_ATTEMPTS:
        audit.record(ctx, "email_failed", details={"message_id": row.id, "recipient": row.recipient,
                                                   "error": row.last_error})
