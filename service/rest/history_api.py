"""History and incidents (Camunda 7 REST: /history/process-instance, /history/activity-instance,
/history/task, /incident). History is read from the audit trail and the instance rows; kimflow keeps it for
everyone, not only in a paid edition.

Where kimflow differs on purpose:
- /history/activity-instance lists finished activities (the audit trail records an activity when it ends);
  what runs now is /process-instance/{id}/activity-instances.
- Without processInstanceId, activity and task history are for admins and technical clients only (a query
  across all cases would have to check visibility row by row).
- An instance is INTERNALLY_TERMINATED when the engine ended it (its call activity was cancelled by a boundary
  event or a terminate end event), EXTERNALLY_TERMINATED when a person or client did (DELETE, cascade).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_smorest import Blueprint

from service.errors import ApiError
from service.rest import schemas as s
from service.rest.common import command, count_of, sort_order, split
from service.rest.values import format_date, parse_date
from workflows import access, human_tasks, incidents, instance_rows, schema
from workflows.context import Ctx
from workflows.states import InstanceState

blp = Blueprint("history", __name__, url_prefix="/engine-rest", description="History and incidents")

READERS = ("caseworker", "supervisor", "service", "admin")
PI = instance_rows.TABLE
PD = schema.ProcessDefinition
AE = schema.AuditEvent
INTERNALLY_TERMINATED = "INTERNALLY_TERMINATED"


def _millis(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


# --- process instances -----------------------------------------------------------------------------------------


def _internally_terminated() -> Any:
    """Ids of instances the engine terminated (the audit trail says so)."""
    return sa.select(AE.instance_id).where(AE.kind == "instance_terminated",
                                           AE.details["internal"].as_boolean().is_(True))


def _state(row: Any, internal: set[str]) -> str:
    if row.state == InstanceState.TERMINATED and row.id in internal:
        return INTERNALLY_TERMINATED
    return InstanceState(row.state).camunda_history_state


def _historic_view(row: Any, internal: set[str], roots: dict[str, str]) -> dict[str, Any]:
    return {
        "id": row.id, "rootProcessInstanceId": roots.get(row.id, row.id),
        "superProcessInstanceId": row.super_instance_id, "superCaseInstanceId": None, "caseInstanceId": None,
        "processDefinitionName": row.name, "processDefinitionKey": row.definition_key,
        "processDefinitionVersion": row.version, "processDefinitionId": row.definition_id,
        "businessKey": row.business_key, "startTime": format_date(row.started_at),
        "endTime": format_date(row.ended_at), "removalTime": None,
        "durationInMillis": _millis(row.started_at, row.ended_at), "startUserId": row.started_by,
        "startActivityId": None, "deleteReason": row.end_reason, "tenantId": row.tenant_id,
        "state": _state(row, internal), "restartedProcessInstanceId": None,
    }


def _state_condition(state: str) -> Any:
    if state == INTERNALLY_TERMINATED:
        return sa.and_(PI.c.state == InstanceState.TERMINATED.value, PI.c.id.in_(_internally_terminated()))
    matching = [st.value for st in InstanceState if st.camunda_history_state == state]
    if not matching:
        raise ApiError(400, f"Cannot set query parameter 'state' to value '{state}'")
    condition = PI.c.state.in_(matching)
    if InstanceState.TERMINATED.value in matching:
        condition = sa.and_(condition, PI.c.id.not_in(_internally_terminated()))
    return condition


def _historic_query(ctx: Ctx, args: dict[str, Any]) -> sa.Select[Any]:
    query = sa.select(PI, PD.name, PD.version).join(PD, PD.id == PI.c.definition_id)
    for column, key in ((PI.c.id, "processInstanceId"), (PI.c.business_key, "processInstanceBusinessKey"),
                        (PI.c.definition_key, "processDefinitionKey"), (PI.c.definition_id, "processDefinitionId"),
                        (PI.c.super_instance_id, "superProcessInstanceId"), (PI.c.started_by, "startedBy")):
        if args.get(key):
            query = query.where(column == args[key])
    if args.get("processInstanceIds"):
        query = query.where(PI.c.id.in_(split(args["processInstanceIds"])))
    if args.get("processInstanceBusinessKeyLike"):
        query = query.where(PI.c.business_key.like(args["processInstanceBusinessKeyLike"]))
    for column, key, before in ((PI.c.started_at, "startedBefore", True), (PI.c.started_at, "startedAfter", False),
                                (PI.c.ended_at, "finishedBefore", True), (PI.c.ended_at, "finishedAfter", False)):
        if args.get(key):
            moment = parse_date(args[key])
            query = query.where(column <= moment if before else column >= moment)
    flags = {"finished": PI.c.ended_at.is_not(None), "unfinished": PI.c.ended_at.is_(None),
             "withIncidents": PI.c.open_incidents > 0, "active": PI.c.state == InstanceState.ACTIVE.value,
             "suspended": PI.c.state == InstanceState.SUSPENDED.value}
    query = query.where(*(condition for key, condition in flags.items() if args.get(key)))
    if args.get("state"):
        query = query.where(_state_condition(args["state"]))
    condition = access.instance_filter(ctx)
    return query if condition is None else query.where(condition)


HPI_SORT = {"instanceId": PI.c.id, "definitionId": PI.c.definition_id, "definitionKey": PI.c.definition_key,
            "definitionName": PD.name, "definitionVersion": PD.version, "businessKey": PI.c.business_key,
            "startTime": PI.c.started_at, "endTime": PI.c.ended_at, "tenantId": PI.c.tenant_id}


def _roots(ctx: Ctx, rows: list[Any]) -> dict[str, str]:
    """The top-most calling instance of each row that was called by another one."""
    roots: dict[str, str] = {}
    for row in rows:
        current, seen = row.super_instance_id, {row.id}
        while current and current not in seen:
            seen.add(current)
            parent = ctx.session.scalar(sa.select(PI.c.super_instance_id).where(PI.c.id == current))
            roots[row.id] = current
            current = parent
    return roots


def _views(ctx: Ctx, rows: list[Any]) -> list[dict[str, Any]]:
    terminated = [row.id for row in rows if row.state == InstanceState.TERMINATED]
    internal = set(ctx.session.scalars(_internally_terminated().where(AE.instance_id.in_(terminated)))) \
        if terminated else set()
    roots = _roots(ctx, rows)
    return [_historic_view(row, internal, roots) for row in rows]


@blp.route("/history/process-instance")
@blp.arguments(s.HistoricProcessInstanceQuery, location="query")
@blp.response(200, s.HistoricProcessInstance(many=True))
def historic_instances(args: dict[str, Any]) -> list[dict[str, Any]]:
    with command(*READERS) as ctx:
        order = sort_order(HPI_SORT, args, PI.c.started_at.desc())
        query = _historic_query(ctx, args).order_by(order, PI.c.id)
        rows = list(ctx.session.execute(query.offset(args["firstResult"]).limit(args["maxResults"])))
        return _views(ctx, rows)


@blp.route("/history/process-instance/count")
@blp.arguments(s.HistoricProcessInstanceQuery, location="query")
@blp.response(200, s.Count)
def count_historic_instances(args: dict[str, Any]) -> dict[str, int]:
    with command(*READERS) as ctx:
        return count_of(ctx, _historic_query(ctx, args))


@blp.route("/history/process-instance/<instance_id>")
@blp.response(200, s.HistoricProcessInstance)
def historic_instance(instance_id: str) -> dict[str, Any]:
    with command(*READERS) as ctx:
        rows = list(ctx.session.execute(_historic_query(ctx, {"processInstanceId": instance_id})))
        if not rows:
            raise ApiError(404, f"Historic process instance with id {instance_id} does not exist")
        return _views(ctx, rows)[0]


# --- activities and tasks -------------------------------------------------------------------------------------


def _visible_instance(ctx: Ctx, instance_id: str | None) -> None:
    if instance_id is None:
        if not ctx.actor.sees_everything:
            raise ApiError(400, "Give processInstanceId (history across all cases is for admins).")
        return
    record = instance_rows.load(ctx.session, instance_id)
    if record is None or not access.may_see_instance(ctx, record):
        raise ApiError(404, f"Process instance with id {instance_id} does not exist")


def _activity_query(args: dict[str, Any]) -> sa.Select[Any]:
    query = sa.select(AE).where(AE.kind == "activity_end")
    for column, key in ((AE.instance_id, "processInstanceId"), (AE.element_id, "activityId"),
                        (AE.definition_key, "processDefinitionKey"), (AE.actor, "taskAssignee")):
        if args.get(key):
            query = query.where(column == args[key])
    if args.get("activityType"):
        query = query.where(AE.details["element_type"].as_string() == args["activityType"])
    if args.get("canceled"):
        query = query.where(AE.details["state"].as_string() == "cancelled")
    if args.get("completeScope"):
        query = query.where(AE.details["element_type"].as_string() == "endEvent")
    if args.get("unfinished"):
        query = query.where(sa.false())  # the audit trail holds finished activities only
    return query


HAI_SORT = {"activityInstanceId": AE.id, "instanceId": AE.instance_id, "executionId": AE.instance_id,
            "activityId": AE.element_id, "activityName": AE.details["element_name"].as_string(),
            "activityType": AE.details["element_type"].as_string(), "startTime": AE.details["started_at"].as_string(),
            "endTime": AE.occurred_at, "occurrence": AE.id, "definitionId": AE.definition_key, "tenantId": AE.id}


def _activity_view(event: schema.AuditEvent, definitions: dict[str, str], called: dict[str, str]) -> dict[str, Any]:
    details = event.details or {}
    kind = details.get("element_type")
    started = _date(details.get("started_at"))
    ended = _date(details.get("ended_at")) or event.occurred_at
    return {
        "id": f"{event.element_id}:{event.task_id}", "parentActivityInstanceId": event.instance_id,
        "activityId": event.element_id, "activityName": details.get("element_name"), "activityType": kind,
        "processDefinitionKey": event.definition_key,
        "processDefinitionId": definitions.get(event.instance_id or ""),
        "processInstanceId": event.instance_id, "executionId": event.instance_id,
        "taskId": event.task_id if kind == "userTask" else None,
        "assignee": event.actor if kind == "userTask" else None,
        "calledProcessInstanceId": called.get(event.task_id or ""), "calledCaseInstanceId": None,
        "startTime": format_date(started), "endTime": format_date(ended),
        "durationInMillis": _millis(started, ended), "canceled": details.get("state") == "cancelled",
        "completeScope": kind == "endEvent", "tenantId": None, "removalTime": None,
        "rootProcessInstanceId": event.instance_id,
    }


def _definition_ids(ctx: Ctx, instance_ids: set[str]) -> dict[str, str]:
    if not instance_ids:
        return {}
    rows = ctx.session.execute(sa.select(PI.c.id, PI.c.definition_id).where(PI.c.id.in_(sorted(instance_ids))))
    return {row.id: row.definition_id for row in rows}


def _called(ctx: Ctx, task_ids: set[str]) -> dict[str, str]:
    """Call activity task id -> the instance it called."""
    if not task_ids:
        return {}
    rows = ctx.session.execute(sa.select(PI.c.super_task_id, PI.c.id).where(PI.c.super_task_id.in_(sorted(task_ids))))
    return {row.super_task_id: row.id for row in rows}


@blp.route("/history/activity-instance")
@blp.arguments(s.HistoricActivityQuery, location="query")
@blp.response(200, s.HistoricActivityInstance(many=True))
def historic_activities(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Finished activities from the audit trail (completed or canceled), oldest first."""
    with command(*READERS) as ctx:
        _visible_instance(ctx, args.get("processInstanceId"))
        order = sort_order(HAI_SORT, args, AE.id.asc())
        query = _activity_query(args).order_by(order, AE.id).offset(args["firstResult"]).limit(args["maxResults"])
        events = list(ctx.session.scalars(query))
        definitions = _definition_ids(ctx, {e.instance_id for e in events if e.instance_id})
        called = _called(ctx, {e.task_id for e in events
                               if e.task_id and (e.details or {}).get("element_type") == "callActivity"})
        return [_activity_view(event, definitions, called) for event in events]


@blp.route("/history/activity-instance/count")
@blp.arguments(s.HistoricActivityQuery, location="query")
@blp.response(200, s.Count)
def count_historic_activities(args: dict[str, Any]) -> dict[str, int]:
    with command(*READERS) as ctx:
        _visible_instance(ctx, args.get("processInstanceId"))
        return count_of(ctx, _activity_query(args))


def _finished_task_view(event: schema.AuditEvent, definitions: dict[str, str]) -> dict[str, Any]:
    details = event.details or {}
    started, ended = _date(details.get("started_at")), event.occurred_at
    return {**_task_base(), "id": event.task_id, "processDefinitionKey": event.definition_key,
            "processDefinitionId": definitions.get(event.instance_id or ""), "processInstanceId": event.instance_id,
            "executionId": event.instance_id, "activityInstanceId": f"{event.element_id}:{event.task_id}",
            "name": details.get("element_name"), "assignee": event.actor, "startTime": format_date(started),
            "endTime": format_date(ended), "duration": _millis(started, ended), "taskDefinitionKey": event.element_id,
            "deleteReason": "completed" if details.get("state") == "completed" else "deleted",
            "rootProcessInstanceId": event.instance_id,
            "taskState": "Completed" if details.get("state") == "completed" else "Deleted"}


def _open_task_view(task: Any) -> dict[str, Any]:
    return {**_task_base(), "id": task.id, "processDefinitionKey": task.definition_key,
            "processDefinitionId": task.definition_id, "processInstanceId": task.instance_id,
            "executionId": task.instance_id, "activityInstanceId": f"{task.task_definition_key}:{task.id}",
            "name": task.name, "description": task.description, "assignee": task.assignee,
            "startTime": format_date(task.created_at), "taskDefinitionKey": task.task_definition_key,
            "priority": task.priority, "due": format_date(task.due_at), "followUp": format_date(task.follow_up_at),
            "rootProcessInstanceId": task.instance_id, "taskState": "Created"}


def _task_base() -> dict[str, Any]:
    return {"caseDefinitionKey": None, "caseDefinitionId": None, "caseInstanceId": None, "caseExecutionId": None,
            "description": None, "deleteReason": None, "owner": None, "endTime": None, "duration": None,
            "priority": None, "due": None, "parentTaskId": None, "followUp": None, "tenantId": None,
            "removalTime": None}


def _finished_tasks(ctx: Ctx, args: dict[str, Any]) -> list[dict[str, Any]]:
    if args.get("unfinished"):
        return []
    query = sa.select(AE).where(AE.kind == "activity_end", AE.details["element_type"].as_string() == "userTask")
    for column, key in ((AE.instance_id, "processInstanceId"), (AE.actor, "taskAssignee"),
                        (AE.element_id, "taskDefinitionKey"), (AE.definition_key, "processDefinitionKey"),
                        (AE.task_id, "taskId")):
        if args.get(key):
            query = query.where(column == args[key])
    events = list(ctx.session.scalars(query.order_by(AE.id).limit(args["firstResult"] + args["maxResults"])))
    definitions = _definition_ids(ctx, {e.instance_id for e in events if e.instance_id})
    return [_finished_task_view(e, definitions) for e in events]


def _open_tasks(ctx: Ctx, args: dict[str, Any]) -> list[dict[str, Any]]:
    if args.get("finished"):
        return []
    query = human_tasks.TaskQuery(instance_id=args.get("processInstanceId"), assignee=args.get("taskAssignee"),
                                  task_definition_key=args.get("taskDefinitionKey"),
                                  definition_key=args.get("processDefinitionKey"),
                                  task_ids=[args["taskId"]] if args.get("taskId") else None,
                                  sort_by=[("created", "asc")])
    rows = human_tasks.find(ctx, query, limit=args["firstResult"] + args["maxResults"])
    return [_open_task_view(t) for t in rows]


@blp.route("/history/task")
@blp.arguments(s.HistoricTaskQuery, location="query")
@blp.response(200, s.HistoricTask(many=True))
def historic_tasks(args: dict[str, Any]) -> list[dict[str, Any]]:
    """User tasks of an instance: finished ones from the audit trail, then open ones from the inbox."""
    with command(*READERS) as ctx:
        _visible_instance(ctx, args.get("processInstanceId"))
        result = _finished_tasks(ctx, args) + _open_tasks(ctx, args)
        return result[args["firstResult"]:args["firstResult"] + args["maxResults"]]


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- incidents -------------------------------------------------------------------------------------------------


INC = schema.Incident


def _incident_query(args: dict[str, Any]) -> sa.Select[Any]:
    query = sa.select(INC).where(INC.state == "open")
    for column, key in ((INC.id, "incidentId"), (INC.instance_id, "processInstanceId"),
                        (INC.element_id, "activityId"), (INC.element_id, "failedActivityId"),
                        (INC.incident_type, "incidentType"), (INC.definition_id, "processDefinitionId"),
                        (INC.instance_id, "executionId")):
        if args.get(key):
            query = query.where(column == args[key])
    if args.get("processDefinitionKeyIn"):
        keys = sa.select(PD.id).where(PD.key.in_(split(args["processDefinitionKeyIn"])))
        query = query.where(INC.definition_id.in_(keys))
    if args.get("incidentMessageLike"):
        query = query.where(INC.message.like(args["incidentMessageLike"]))
    return query


INCIDENT_SORT = {"incidentId": INC.id, "incidentMessage": INC.message, "incidentTimestamp": INC.created_at,
                 "incidentType": INC.incident_type, "executionId": INC.instance_id, "activityId": INC.element_id,
                 "processInstanceId": INC.instance_id, "processDefinitionId": INC.definition_id,
                 "causeIncidentId": INC.id, "rootCauseIncidentId": INC.id, "configuration": INC.task_id,
                 "tenantId": INC.id}


def _incident_view(r: schema.Incident) -> dict[str, Any]:
    return {
        "id": r.id, "processDefinitionId": r.definition_id, "processInstanceId": r.instance_id,
        "executionId": r.instance_id, "incidentTimestamp": format_date(r.created_at),
        "incidentType": r.incident_type, "activityId": r.element_id, "failedActivityId": r.element_id,
        "causeIncidentId": r.id, "rootCauseIncidentId": r.id, "configuration": r.task_id,
        "incidentMessage": r.message, "tenantId": None, "jobDefinitionId": None, "annotation": None,
    }


@blp.route("/incident")
@blp.arguments(s.IncidentQuery, location="query")
@blp.response(200, s.Incident(many=True))
def list_incidents(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Open incidents (resolved ones are in the audit trail)."""
    with command("supervisor", "service", "admin") as ctx:
        order = sort_order(INCIDENT_SORT, args, INC.created_at.asc())
        query = _incident_query(args).order_by(order, INC.id).offset(args["firstResult"]).limit(args["maxResults"])
        return [_incident_view(r) for r in ctx.session.scalars(query)]


@blp.route("/incident/count")
@blp.arguments(s.IncidentQuery, location="query")
@blp.response(200, s.Count)
def count_incidents(args: dict[str, Any]) -> dict[str, int]:
    with command("supervisor", "service", "admin") as ctx:
        return count_of(ctx, _incident_query(args))


@blp.route("/incident/<incident_id>")
@blp.response(200, s.Incident)
def get_incident(incident_id: str) -> dict[str, Any]:
    with command("supervisor", "service", "admin") as ctx:
        row = incidents.get(ctx, incident_id)
        if row is None:
            raise ApiError(404, f"Incident with id {incident_id} does not exist")
        return _incident_view(row)
