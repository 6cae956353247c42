"""External tasks for outside workers (Camunda 7 REST: /external-task), with long polling."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint

from service.errors import ApiError
from service.rest import schemas as s
from service.rest.common import command, count_of, sort_order, split
from service.rest.values import all_to_camunda, format_date, from_camunda
from workflows import external_tasks, schema
from workflows.context import Ctx
from workflows.external_tasks import TopicRequest

blp = Blueprint("external-tasks", __name__, url_prefix="/engine-rest",
                description="External tasks: fetch and lock by topic, complete, report failures and BPMN errors")

WORKERS = ("service", "admin")
POLL_SECONDS = 0.25
MAX_WAIT_SECONDS = 60.0


def view(row: schema.ExternalTask, variables: dict[str, tuple[Any, str]] | None = None,
         version_tag: str | None = None) -> dict[str, Any]:
    result = {
        "id": row.id, "activityId": row.activity_id, "activityInstanceId": f"{row.activity_id}:{row.id}",
        "errorMessage": row.error_message, "errorDetails": row.error_details, "executionId": row.instance_id,
        "lockExpirationTime": format_date(row.lock_expires_at), "processDefinitionId": row.definition_id,
        "processDefinitionKey": row.definition_key, "processInstanceId": row.instance_id, "retries": row.retries,
        "suspended": row.suspended, "workerId": row.worker_id, "topicName": row.topic, "tenantId": None,
        "priority": row.priority, "businessKey": row.business_key,
        "extensionProperties": row.properties or {}, "createTime": format_date(row.created_at),
        "processDefinitionVersionTag": version_tag,
    }
    if variables is not None:
        result["variables"] = all_to_camunda({k: v for k, (v, _t) in variables.items()},
                                             {k: t for k, (_v, t) in variables.items()})
    return result


def _topics(body: dict[str, Any]) -> list[TopicRequest]:
    return [TopicRequest(t["topicName"], t["lockDuration"], t.get("variables"), t.get("businessKey"),
                         t.get("processDefinitionKey")) for t in body.get("topics", [])]


@blp.route("/external-task/fetchAndLock", methods=["POST"])
@blp.arguments(s.FetchAndLock)
@blp.response(200, s.ExternalTask(many=True))
def fetch_and_lock(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Lock available tasks; with asyncResponseTimeout the request waits (long polling) until some appear."""
    cap = current_app.config.get("KIMFLOW_MAX_LONG_POLL_SECONDS", MAX_WAIT_SECONDS)
    deadline = time.monotonic() + min((body.get("asyncResponseTimeout") or 0) / 1000, cap)
    topics = _topics(body)
    while True:
        with command(*WORKERS) as ctx:
            locked = external_tasks.fetch_and_lock(ctx, body["workerId"], topics, max_tasks=body["maxTasks"],
                                                   use_priority=body.get("usePriority", False))
            tags = _version_tags(ctx, {item.row.definition_id for item in locked})
            views = [view(item.row, item.variables, tags.get(item.row.definition_id)) for item in locked]
        if views or time.monotonic() >= deadline:
            return views
        time.sleep(POLL_SECONDS)


def _version_tags(ctx: Ctx, definition_ids: set[str]) -> dict[str, str | None]:
    if not definition_ids:
        return {}
    query = sa.select(PD.id, PD.version_tag).where(PD.id.in_(sorted(definition_ids)))
    return {row.id: row.version_tag for row in ctx.session.execute(query)}


ET = schema.ExternalTask
PD = schema.ProcessDefinition
ET_SORT = {"id": ET.id, "lockExpirationTime": ET.lock_expires_at, "processInstanceId": ET.instance_id,
           "processDefinitionId": ET.definition_id, "processDefinitionKey": ET.definition_key,
           "taskPriority": ET.priority, "createTime": ET.created_at, "tenantId": ET.id}


def _external_query(ctx: Ctx, args: dict[str, Any]) -> sa.Select[Any]:
    query = sa.select(ET)
    for column, key in ((ET.id, "externalTaskId"), (ET.topic, "topicName"), (ET.worker_id, "workerId"),
                        (ET.instance_id, "processInstanceId"), (ET.instance_id, "executionId"),
                        (ET.activity_id, "activityId"), (ET.definition_id, "processDefinitionId")):
        if args.get(key) is not None:
            query = query.where(column == args[key])
    for column, key in ((ET.activity_id, "activityIdIn"), (ET.instance_id, "processInstanceIdIn")):
        if args.get(key):
            query = query.where(column.in_(split(args[key])))
    now = ctx.now()
    flags = {
        "locked": ET.lock_expires_at > now,
        "notLocked": sa.or_(ET.lock_expires_at.is_(None), ET.lock_expires_at <= now),
        "noRetriesLeft": ET.retries == 0, "withRetriesLeft": sa.or_(ET.retries.is_(None), ET.retries > 0),
        "active": ET.suspended.is_(False), "suspended": ET.suspended.is_(True),
    }
    query = query.where(*(condition for key, condition in flags.items() if args.get(key)))
    if args.get("priorityHigherThanOrEquals") is not None:
        query = query.where(ET.priority >= args["priorityHigherThanOrEquals"])
    if args.get("priorityLowerThanOrEquals") is not None:
        query = query.where(ET.priority <= args["priorityLowerThanOrEquals"])
    return query


@blp.route("/external-task")
@blp.arguments(s.ExternalTaskQuery, location="query")
@blp.response(200, s.ExternalTask(many=True))
def list_external_tasks(args: dict[str, Any]) -> list[dict[str, Any]]:
    order = sort_order(ET_SORT, args, ET.created_at.asc())
    with command(*WORKERS, "supervisor") as ctx:
        query = _external_query(ctx, args).order_by(order, ET.id).offset(args["firstResult"]).limit(args["maxResults"])
        rows = list(ctx.session.scalars(query))
        tags = _version_tags(ctx, {row.definition_id for row in rows})
        return [view(row, version_tag=tags.get(row.definition_id)) for row in rows]


@blp.route("/external-task/count")
@blp.arguments(s.ExternalTaskQuery, location="query")
@blp.response(200, s.Count)
def count_external_tasks(args: dict[str, Any]) -> dict[str, int]:
    with command(*WORKERS, "supervisor") as ctx:
        return count_of(ctx, _external_query(ctx, args))


@blp.route("/external-task/<task_id>")
@blp.response(200, s.ExternalTask)
def get_external_task(task_id: str) -> dict[str, Any]:
    with command(*WORKERS, "supervisor") as ctx:
        row = external_tasks.get(ctx, task_id)
        if row is None:
            raise ApiError(404, f"External task with id {task_id} does not exist")
        return view(row, version_tag=_version_tags(ctx, {row.definition_id}).get(row.definition_id))


@blp.route("/external-task/<task_id>/complete", methods=["POST"])
@blp.arguments(s.CompleteExternalTask)
@blp.response(204)
def complete(body: dict[str, Any], task_id: str) -> None:
    with command(*WORKERS) as ctx:
        external_tasks.complete(ctx, task_id, body["workerId"], from_camunda(body.get("variables")),
                                from_camunda(body.get("localVariables")))


@blp.route("/external-task/<task_id>/failure", methods=["POST"])
@blp.arguments(s.ExternalTaskFailure)
@blp.response(204)
def failure(body: dict[str, Any], task_id: str) -> None:
    """A technical failure: retries left, the task comes back after retryTimeout; none left, an incident."""
    with command(*WORKERS) as ctx:
        external_tasks.failure(ctx, task_id, body["workerId"], error_message=body.get("errorMessage"),
                               error_details=body.get("errorDetails"), retries=body.get("retries"),
                               retry_timeout_ms=body.get("retryTimeout") or 0)


@blp.route("/external-task/<task_id>/bpmnError", methods=["POST"])
@blp.arguments(s.ExternalTaskBpmnError)
@blp.response(204)
def bpmn_error(body: dict[str, Any], task_id: str) -> None:
    with command(*WORKERS) as ctx:
        external_tasks.bpmn_error(ctx, task_id, body["workerId"], error_code=body["errorCode"],
                                  error_message=body.get("errorMessage"),
                                  variables=from_camunda(body.get("variables")))


@blp.route("/external-task/<task_id>/extendLock", methods=["POST"])
@blp.arguments(s.ExtendLock)
@blp.response(204)
def extend_lock(body: dict[str, Any], task_id: str) -> None:
    with command(*WORKERS) as ctx:
        external_tasks.extend_lock(ctx, task_id, body["workerId"], body["newDuration"])


@blp.route("/external-task/<task_id>/unlock", methods=["POST"])
@blp.response(204)
def unlock(task_id: str) -> None:
    with command(*WORKERS, "supervisor") as ctx:
        external_tasks.unlock(ctx, task_id)


@blp.route("/external-task/<task_id>/retries", methods=["PUT"])
@blp.arguments(s.Retries)
@blp.response(204)
def set_retries(body: dict[str, Any], task_id: str) -> None:
    with command(*WORKERS, "supervisor") as ctx:
        external_tasks.set_retries(ctx, task_id, body["retries"])
