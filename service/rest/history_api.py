"""History and incidents (Camunda 7 REST: /history/process-instance, /history/activity-instance,
/history/task, /incident). History is read from the audit trail and the instance rows; kimflow keeps it for
everyone, not only in a paid edition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_smorest import Blueprint

from service.errors import ApiError
from service.rest import schemas as s
from service.rest.common import command
from service.rest.values import format_date
from workflows import access, human_tasks, incidents, instance_rows, schema
from workflows.context import Ctx
from workflows.states import InstanceState

blp = Blueprint("history", __name__, url_prefix="/engine-rest", description="History and incidents")

READERS = ("caseworker", "supervisor", "service", "admin")
PI = instance_rows.TABLE
PD = schema.ProcessDefinition
AE = schema.AuditEvent


def _millis(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


def _historic_view(row: Any, name: str | None, version: int | None) -> dict[str, Any]:
    return {
        "id": row.id, "businessKey": row.business_key, "processDefinitionId": row.definition_id,
        "processDefinitionKey": row.definition_key, "processDefinitionName": name,
        "processDefinitionVersion": version, "startTime": format_date(row.started_at),
        "endTime": format_date(row.ended_at), "durationInMillis": _millis(row.started_at, row.ended_at),
        "startUserId": row.started_by, "superProcessInstanceId": row.super_instance_id,
        "deleteReason": row.end_reason, "state": InstanceState(row.state).camunda_history_state, "tenantId": None,
    }


def _historic_query(ctx: Ctx, args: dict[str, Any]) -> sa.Select[Any]:
    query = sa.select(PI, PD.name, PD.version).join(PD, PD.id == PI.c.definition_id)
    for column, key in ((PI.c.id, "processInstanceId"), (PI.c.business_key, "processInstanceBusinessKey"),
                        (PI.c.definition_key, "processDefinitionKey")):
        if args.get(key):
            query = query.where(column == args[key])
    if args.get("finished"):
        query = query.where(PI.c.ended_at.is_not(None))
    if args.get("unfinished"):
        query = query.where(PI.c.ended_at.is_(None))
    if args.get("state"):
        states = [st for st in InstanceState if st.camunda_history_state == args["state"]]
        query = query.where(PI.c.state.in_([str(st) for st in states]))
    condition = access.instance_filter(ctx)
    return query if condition is None else query.where(condition)


@blp.route("/history/process-instance")
@blp.arguments(s.HistoricProcessInstanceQuery, location="query")
@blp.response(200, s.HistoricProcessInstance(many=True))
def historic_instances(args: dict[str, Any]) -> list[dict[str, Any]]:
    with command(*READERS) as ctx:
        query = _historic_query(ctx, args).order_by(PI.c.started_at.desc())
        rows = ctx.session.execute(query.offset(args["firstResult"]).limit(args["maxResults"]))
        return [_historic_view(row, row.name, row.version) for row in rows]


@blp.route("/history/process-instance/<instance_id>")
@blp.response(200, s.HistoricProcessInstance)
def historic_instance(instance_id: str) -> dict[str, Any]:
    with command(*READERS) as ctx:
        row = ctx.session.execute(_historic_query(ctx, {"processInstanceId": instance_id})).first()
        if row is None:
            raise ApiError(404, f"Historic process instance with id {instance_id} does not exist")
        return _historic_view(row, row.name, row.version)


def _visible_instance(ctx: Ctx, instance_id: str | None) -> None:
    if instance_id is None:
        if not ctx.actor.sees_everything:
            raise ApiError(400, "Give processInstanceId (history across all cases is for admins).")
        return
    record = instance_rows.load(ctx.session, instance_id)
    if record is None or not access.may_see_instance(ctx, record):
        raise ApiError(404, f"Process instance with id {instance_id} does not exist")


@blp.route("/history/activity-instance")
@blp.arguments(s.HistoricActivityQuery, location="query")
@blp.response(200, s.HistoricActivityInstance(many=True))
def historic_activities(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Finished activities from the audit trail (completed or cancelled), oldest first."""
    with command(*READERS) as ctx:
        _visible_instance(ctx, args.get("processInstanceId"))
        query = sa.select(AE).where(AE.kind == "activity_end")
        if args.get("processInstanceId"):
            query = query.where(AE.instance_id == args["processInstanceId"])
        if args.get("activityId"):
            query = query.where(AE.element_id == args["activityId"])
        rows = ctx.session.scalars(query.order_by(AE.id).offset(args["firstResult"]).limit(args["maxResults"]))
        result = []
        for event in rows:
            details = event.details or {}
            if args.get("activityType") and details.get("element_type") != args["activityType"]:
                continue
            started = datetime.fromisoformat(details["started_at"]) if details.get("started_at") else None
            ended = datetime.fromisoformat(details["ended_at"]) if details.get("ended_at") else event.occurred_at
            result.append({
                "id": f"{event.element_id}:{event.task_id}", "activityId": event.element_id,
                "activityName": details.get("element_name"), "activityType": details.get("element_type"),
                "processInstanceId": event.instance_id, "processDefinitionKey": event.definition_key,
                "taskId": event.task_id if details.get("element_type") == "userTask" else None,
                "assignee": event.actor if details.get("element_type") == "userTask" else None,
                "startTime": format_date(started), "endTime": format_date(ended),
                "durationInMillis": _millis(started, ended), "canceled": details.get("state") == "cancelled",
                "completeScope": details.get("element_type") == "endEvent",
            })
        return result


@blp.route("/history/task")
@blp.arguments(s.HistoricTaskQuery, location="query")
@blp.response(200, s.HistoricTask(many=True))
def historic_tasks(args: dict[str, Any]) -> list[dict[str, Any]]:
    """User tasks of an instance: finished ones from the audit trail, open ones from the inbox."""
    with command(*READERS) as ctx:
        _visible_instance(ctx, args.get("processInstanceId"))
        finished = sa.select(AE).where(AE.kind == "activity_end", AE.details["element_type"].as_string() == "userTask")
        if args.get("processInstanceId"):
            finished = finished.where(AE.instance_id == args["processInstanceId"])
        if args.get("taskAssignee"):
            finished = finished.where(AE.actor == args["taskAssignee"])
        result = [{"id": e.task_id, "processInstanceId": e.instance_id, "processDefinitionKey": e.definition_key,
                   "taskDefinitionKey": e.element_id, "name": (e.details or {}).get("element_name"),
                   "assignee": e.actor, "startTime": format_date(_date((e.details or {}).get("started_at"))),
                   "endTime": format_date(e.occurred_at),
                   "deleteReason": "completed" if (e.details or {}).get("state") == "completed" else "deleted"}
                  for e in ctx.session.scalars(finished.order_by(AE.id).limit(args["maxResults"]))]
        if not args.get("finished"):
            open_tasks = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=args.get("processInstanceId"),
                                                                     assignee=args.get("taskAssignee")),
                                          limit=args["maxResults"])
            result += [{"id": t.id, "processInstanceId": t.instance_id, "processDefinitionKey": t.definition_key,
                        "taskDefinitionKey": t.task_definition_key, "name": t.name, "assignee": t.assignee,
                        "startTime": format_date(t.created_at), "endTime": None, "deleteReason": None}
                       for t in open_tasks]
        return result[args["firstResult"]:args["firstResult"] + args["maxResults"]]


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@blp.route("/incident")
@blp.arguments(s.IncidentQuery, location="query")
@blp.response(200, s.Incident(many=True))
def list_incidents(args: dict[str, Any]) -> list[dict[str, Any]]:
    with command("supervisor", "service", "admin") as ctx:
        rows = incidents.list_open(ctx, instance_id=args.get("processInstanceId"), element_id=args.get("activityId"),
                                   first=args["firstResult"], limit=args["maxResults"])
        if args.get("incidentType"):
            rows = [r for r in rows if r.incident_type == args["incidentType"]]
        return [{
            "id": r.id, "processDefinitionId": r.definition_id, "processInstanceId": r.instance_id,
            "executionId": r.instance_id, "incidentTimestamp": format_date(r.created_at),
            "incidentType": r.incident_type, "activityId": r.element_id, "failedActivityId": r.element_id,
            "causeIncidentId": r.id, "rootCauseIncidentId": r.id, "configuration": r.task_id,
            "incidentMessage": r.message, "tenantId": None, "jobDefinitionId": None, "annotation": None,
        } for r in rows]
