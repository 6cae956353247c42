"""Who may see which case: group-based visibility, so that case-management data and Ausländerbehörde data stay
apart (DOMAIN.md section 5).

A process belongs to the groups its model names (candidate groups of its tasks, candidate starter groups).
A user sees an instance when they share one of those groups, started it, or hold or are offered one of its
open tasks. Admins and technical clients (role `service`) see everything; process owners see models and
figures, not case content, unless they also belong to a case group.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from workflows import schema
from workflows.context import Actor, Ctx

PDG = schema.ProcessDefinitionGroup
HT = schema.HumanTask
CANDIDATE = schema.HumanTaskCandidate


def instance_filter(ctx: Ctx) -> Any:
    """An SQL condition on process_instance rows for what the actor may see (None: everything)."""
    actor = ctx.actor
    if actor.sees_everything:
        return None
    table = schema.table(schema.ProcessInstance)
    groups = sorted(actor.groups)
    by_group = sa.select(PDG.definition_id).where(PDG.group_id.in_(groups))
    by_task = sa.select(HT.instance_id).where(sa.or_(
        HT.assignee == (actor.id or ""),
        HT.id.in_(sa.select(CANDIDATE.task_id).where(sa.or_(
            sa.and_(CANDIDATE.kind == "group", CANDIDATE.value.in_(groups)),
            sa.and_(CANDIDATE.kind == "user", CANDIDATE.value == (actor.id or "")))))))
    return sa.or_(table.c.definition_id.in_(by_group), table.c.started_by == (actor.id or ""),
                  table.c.id.in_(by_task))


def may_see_instance(ctx: Ctx, instance: Any) -> bool:
    """For one instance (a record or view with id, definition_id, started_by)."""
    actor = ctx.actor
    if actor.sees_everything or (actor.id is not None and instance.started_by == actor.id):
        return True
    condition = instance_filter(ctx)
    table = schema.table(schema.ProcessInstance)
    return ctx.session.scalar(sa.select(table.c.id).where(table.c.id == instance.id, condition)) is not None


def groups_of_definition(ctx: Ctx, definition_id: str) -> set[str]:
    return set(ctx.session.scalars(sa.select(PDG.group_id).where(PDG.definition_id == definition_id)))


def may_see_definition_content(actor: Actor) -> bool:
    """Models and figures are for everyone with a role; case content needs a case role."""
    return actor.sees_everything or actor.role in ("caseworker", "supervisor")
