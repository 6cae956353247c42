"""Comments on cases and their tasks (Camunda's task comments, and notes on the whole case)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from workflows import audit, schema
from workflows.context import Ctx
from workflows.errors import InvalidInputError

MAX_LENGTH = 4000


def add(ctx: Ctx, message: str, *, instance_id: str, task_id: str | None = None) -> schema.Comment:
    text = (message or "").strip()
    if not text:
        raise InvalidInputError("A comment needs some text.")
    if len(text) > MAX_LENGTH:
        raise InvalidInputError(f"A comment may have at most {MAX_LENGTH} characters.")
    comment = schema.Comment(id=str(uuid.uuid4()), instance_id=instance_id, task_id=task_id, user_id=ctx.actor.id,
                             created_at=ctx.now(), message=text)
    ctx.session.add(comment)
    ctx.session.flush()
    audit.record(ctx, "comment_added", instance_id=instance_id, task_id=task_id,
                 details={"comment_id": comment.id, "length": len(text)})
    return comment


def for_task(ctx: Ctx, task_id: str) -> list[schema.Comment]:
    query = sa.select(schema.Comment).where(schema.Comment.task_id == task_id).order_by(schema.Comment.created_at)
    return list(ctx.session.scalars(query))


def for_instance(ctx: Ctx, instance_id: str) -> list[schema.Comment]:
    query = (sa.select(schema.Comment).where(schema.Comment.instance_id == instance_id)
             .order_by(schema.Comment.created_at))
    return list(ctx.session.scalars(query))

