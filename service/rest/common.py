"""What every REST endpoint needs: the caller, one transaction per request, Camunda's views of kimflow rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, request

from service import auth
from service.errors import ApiError
from service.rest.values import format_date
from service.runtime import Runtime
from workflows import schema
from workflows.context import Actor, Ctx


def runtime() -> Runtime:
    return current_app.extensions["kimflow"]  # type: ignore[no-any-return]


def actor() -> Actor:
    if "actor" not in g:
        g.actor = auth.api_actor(runtime())
    return g.actor  # type: ignore[no-any-return]


@contextmanager
def command(*roles: str) -> Iterator[Ctx]:
    """One transaction for the request, acting as the authenticated caller (with one of `roles`, if given)."""
    caller = actor()
    if roles:
        auth.require_role(caller, *roles)
    with runtime().command(caller) as ctx:
        yield ctx


def self_link(path: str) -> list[dict[str, str]]:
    """Camunda's `links` of a created resource: where to GET it."""
    return [{"method": "GET", "href": f"{request.host_url.rstrip('/')}/engine-rest/{path}", "rel": "self"}]


def deployment_view(row: schema.Deployment) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "source": row.source, "tenantId": row.tenant_id,
            "deploymentTime": format_date(row.deployed_at), "links": self_link(f"deployment/{row.id}")}


def definition_view(row: schema.ProcessDefinition) -> dict[str, Any]:
    return {
        "id": row.id, "key": row.key, "category": "http://bpmn.io/schema/bpmn", "description": None,
        "name": row.name, "version": row.version, "resource": row.resource_name, "deploymentId": row.deployment_id,
        "diagram": None, "suspended": row.suspended, "tenantId": row.tenant_id, "versionTag": row.version_tag,
        "historyTimeToLive": row.history_time_to_live, "startableInTasklist": True,
    }


def decision_view(row: schema.DecisionDefinition) -> dict[str, Any]:
    return {
        "id": row.id, "key": row.key, "category": "http://camunda.org/schema/1.0/dmn", "name": row.name,
        "version": row.version, "resource": row.resource_name, "deploymentId": row.deployment_id,
        "tenantId": row.tenant_id, "decisionRequirementsDefinitionId": None,
        "decisionRequirementsDefinitionKey": None, "historyTimeToLive": row.history_time_to_live,
        "versionTag": row.version_tag,
    }


def instance_view(instance: Any) -> dict[str, Any]:
    return {"id": instance.id, "definitionId": instance.definition_id, "definitionKey": instance.definition_key,
            "businessKey": instance.business_key, "caseInstanceId": None,
            "ended": instance.state in ("completed", "terminated"), "suspended": instance.state == "suspended",
            "tenantId": None, "links": self_link(f"process-instance/{instance.id}")}


def task_view(task: Any) -> dict[str, Any]:
    form = task.form or {}
    return {
        "id": task.id, "name": task.name, "assignee": task.assignee, "owner": None,
        "created": format_date(task.created_at), "lastUpdated": None, "due": format_date(task.due_at),
        "followUp": format_date(task.follow_up_at), "delegationState": None, "description": task.description,
        "executionId": task.instance_id, "parentTaskId": None, "priority": task.priority,
        "processDefinitionId": task.definition_id, "processInstanceId": task.instance_id, "caseExecutionId": None,
        "caseDefinitionId": None, "caseInstanceId": None, "taskDefinitionKey": task.task_definition_key,
        "suspended": task.suspended, "formKey": form.get("form_key"),
        "camundaFormRef": ({"key": form["form_ref"], "binding": form.get("form_ref_binding") or "latest",
                            "version": form.get("form_ref_version")} if form.get("form_ref") else None),
        "tenantId": None, "taskState": "Created",
    }


def comment_view(comment: schema.Comment) -> dict[str, Any]:
    return {"id": comment.id, "userId": comment.user_id, "taskId": comment.task_id,
            "processInstanceId": comment.instance_id, "time": format_date(comment.created_at),
            "message": comment.message, "removalTime": None, "rootProcessInstanceId": comment.instance_id,
            "links": []}


def sort_order(columns: dict[str, Any], args: dict[str, Any], default: Any) -> Any:
    """The ORDER BY of Camunda's sortBy/sortOrder (`default` without sortBy); an unknown sortBy is a 400."""
    if not args.get("sortBy"):
        return default
    if args["sortBy"] not in columns:
        raise ApiError(400, f"Cannot set query parameter 'sortBy' to value '{args['sortBy']}'")
    column = columns[args["sortBy"]]
    return column.desc() if args.get("sortOrder") == "desc" else column.asc()


def count_of(ctx: Ctx, query: sa.Select[Any]) -> dict[str, int]:
    """Camunda's {"count": n} for the rows a list query would return (ignoring paging)."""
    statement = sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    return {"count": int(ctx.session.scalar(statement) or 0)}


def split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]
