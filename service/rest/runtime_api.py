"""Process instances, user tasks and messages (Camunda 7 REST: /process-instance, /task, /message)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from service.errors import ApiError
from service.rest import schemas as s
from service.rest.common import command, comment_view, instance_view, split, task_view
from service.rest.values import all_to_camunda, from_camunda, parse_date
from workflows import access, audit, comments, human_tasks, instances, messages
from workflows.context import Ctx
from workflows.human_tasks import TaskQuery

blp = Blueprint("runtime", __name__, url_prefix="/engine-rest",
                description="Process instances, user tasks and message correlation")

CASE_ROLES = ("caseworker", "supervisor", "service", "admin")


# --- process instances ---------------------------------------------------------------------------------------


def _instance(ctx: Ctx, instance_id: str) -> instances.InstanceView:
    found = instances.get(ctx, instance_id)
    if found is None or not access.may_see_instance(ctx, found):
        raise ApiError(404, f"Process instance with id {instance_id} does not exist")
    return found


@blp.route("/process-instance")
@blp.arguments(s.ProcessInstanceQuery, location="query")
@blp.response(200, s.ProcessInstance(many=True))
def list_instances(args: dict[str, Any]) -> list[dict[str, Any]]:
    states = ["active", "suspended"]
    if args.get("active"):
        states = ["active"]
    elif args.get("suspended"):
        states = ["suspended"]
    with command(*CASE_ROLES) as ctx:
        found = instances.list_instances(
            ctx, business_key=args.get("businessKey"), definition_key=args.get("processDefinitionKey"),
            definition_id=args.get("processDefinitionId"), super_instance_id=args.get("superProcessInstance"),
            states=states, first=args["firstResult"], limit=args["maxResults"],
            visible_to=access.instance_filter(ctx))
        return [instance_view(i) for i in found]


@blp.route("/process-instance/<instance_id>")
@blp.response(200, s.ProcessInstance)
def get_instance(instance_id: str) -> dict[str, Any]:
    with command(*CASE_ROLES) as ctx:
        found = _instance(ctx, instance_id)
        if found.state in ("completed", "terminated"):
            raise ApiError(404, f"Process instance with id {instance_id} does not exist")
        return instance_view(found)


@blp.route("/process-instance/<instance_id>", methods=["DELETE"])
@blp.arguments(s.DeleteInstanceQuery, location="query")
@blp.response(204)
def delete_instance(args: dict[str, Any], instance_id: str) -> None:
    """Terminate the instance (kept in history with the reason)."""
    with command("supervisor", "service", "admin") as ctx:
        _instance(ctx, instance_id)
        instances.terminate(ctx, instance_id, reason=args.get("deleteReason") or "Deleted via REST API")


@blp.route("/process-instance/<instance_id>/suspended", methods=["PUT"])
@blp.arguments(s.Suspension)
@blp.response(204)
def suspend_instance(body: dict[str, Any], instance_id: str) -> None:
    with command("supervisor", "service", "admin") as ctx:
        _instance(ctx, instance_id)
        if body["suspended"]:
            instances.suspend(ctx, instance_id, reason="REST API")
        else:
            instances.resume(ctx, instance_id, reason="REST API")


@blp.route("/process-instance/<instance_id>/variables")
@blp.response(200)
def get_instance_variables(instance_id: str) -> dict[str, Any]:
    with command(*CASE_ROLES) as ctx:
        _instance(ctx, instance_id)
        typed = instances.typed_variables(ctx, instance_id) or {}
        return all_to_camunda({k: v for k, (v, _t) in typed.items()}, {k: t for k, (_v, t) in typed.items()})


@blp.route("/process-instance/<instance_id>/variables", methods=["POST"])
@blp.arguments(s.VariableModifications)
@blp.response(204)
def modify_instance_variables(body: dict[str, Any], instance_id: str) -> None:
    with command(*CASE_ROLES) as ctx:
        _instance(ctx, instance_id)
        instances.set_variables(ctx, instance_id, from_camunda(body.get("modifications")),
                                body.get("deletions") or [], reason="REST API")


@blp.route("/process-instance/<instance_id>/activity-instances")
@blp.response(200, s.ActivityInstance)
def activity_instances(instance_id: str) -> dict[str, Any]:
    """The tree of what the instance is doing now (one level: the process and its active activities)."""
    with command(*CASE_ROLES) as ctx:
        found = _instance(ctx, instance_id)
        children = [{
            "id": f"{a.element_id}:{a.task_id}", "parentActivityInstanceId": instance_id,
            "activityId": a.element_id, "activityType": a.element_type, "activityName": a.name,
            "processInstanceId": instance_id, "processDefinitionId": found.definition_id,
            "childActivityInstances": [], "childTransitionInstances": [], "executionIds": [instance_id],
            "incidentIds": a.incident_ids,
        } for a in instances.active_activities(ctx, instance_id)]
        return {"id": instance_id, "parentActivityInstanceId": None, "activityId": found.definition_id,
                "activityType": "processDefinition", "processInstanceId": instance_id,
                "processDefinitionId": found.definition_id, "childActivityInstances": children,
                "childTransitionInstances": [], "executionIds": [instance_id], "activityName": None,
                "incidentIds": []}


# --- tasks -----------------------------------------------------------------------------------------------------


SORT_NAMES = {"dueDate": "due", "followUpDate": "followUp", "created": "created", "priority": "priority",
              "name": "name", "assignee": "assignee", "id": "id", "instanceId": "processInstanceId"}


def _task_query(args: dict[str, Any]) -> TaskQuery:
    groups = split(args.get("candidateGroups")) or ([args["candidateGroup"]] if args.get("candidateGroup") else None)
    assigned = True if args.get("assigned") else False if args.get("unassigned") else None
    query = TaskQuery(
        assignee=args.get("assignee"), assigned=assigned, candidate_user=args.get("candidateUser"),
        candidate_groups=groups, instance_id=args.get("processInstanceId"),
        business_key=args.get("processInstanceBusinessKey"),
        business_key_like=(args.get("processInstanceBusinessKeyLike") or "").strip("%") or None,
        definition_key=args.get("processDefinitionKey"), definition_id=args.get("processDefinitionId"),
        task_definition_key=args.get("taskDefinitionKey"), name_like=(args.get("nameLike") or "").strip("%") or None,
    )
    for attribute, key in (("follow_up_before_or_none", "followUpBeforeOrNotExistent"),
                           ("follow_up_after", "followUpAfter"), ("due_before", "dueBefore"),
                           ("due_after", "dueAfter")):
        if args.get(key):
            setattr(query, attribute, parse_date(args[key]))
    if args.get("sortBy"):
        name = SORT_NAMES.get(args["sortBy"], args["sortBy"])
        query.sort_by = [(name, args.get("sortOrder") or "asc")]
    return query


@blp.route("/task")
@blp.arguments(s.TaskQuery, location="query")
@blp.response(200, s.Task(many=True))
def list_tasks(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Only tasks of the caller's groups (or assigned to or offered to them) are listed."""
    with command() as ctx:
        rows = human_tasks.find(ctx, _task_query(args), first=args["firstResult"], limit=args["maxResults"])
        return [task_view(row) for row in rows]


@blp.route("/task/count")
@blp.arguments(s.TaskQuery, location="query")
@blp.response(200, s.Count)
def count_tasks(args: dict[str, Any]) -> dict[str, int]:
    with command() as ctx:
        return {"count": human_tasks.count(ctx, _task_query(args))}


def _task(ctx: Ctx, task_id: str) -> Any:
    task = human_tasks.get(ctx, task_id)
    if task is None:
        raise ApiError(404, f"Cannot find task with id {task_id}: task is null")
    return task


@blp.route("/task/<task_id>")
@blp.response(200, s.Task)
def get_task(task_id: str) -> dict[str, Any]:
    with command() as ctx:
        return task_view(_task(ctx, task_id))


@blp.route("/task/<task_id>/claim", methods=["POST"])
@blp.arguments(s.UserIdBody)
@blp.response(204)
def claim_task(body: dict[str, Any], task_id: str) -> None:
    with command() as ctx:
        human_tasks.claim(ctx, task_id, body.get("userId"))


@blp.route("/task/<task_id>/unclaim", methods=["POST"])
@blp.response(204)
def unclaim_task(task_id: str) -> None:
    with command() as ctx:
        human_tasks.unclaim(ctx, task_id)


@blp.route("/task/<task_id>/assignee", methods=["POST"])
@blp.arguments(s.UserIdBody)
@blp.response(204)
def set_task_assignee(body: dict[str, Any], task_id: str) -> None:
    with command() as ctx:
        human_tasks.set_assignee(ctx, task_id, body.get("userId"))


@blp.route("/task/<task_id>/complete", methods=["POST"])
@blp.arguments(s.CompleteTask)
@blp.response(200)
def complete_task(body: dict[str, Any], task_id: str) -> Any:
    """Complete with typed variables; 200 with the variables when asked for them, else 204."""
    with command() as ctx:
        task = _task(ctx, task_id)
        human_tasks.complete(ctx, task_id, from_camunda(body.get("variables")))
        if not body.get("withVariablesInReturn"):
            return "", 204
        typed = instances.typed_variables(ctx, task.instance_id) or {}
        return all_to_camunda({k: v for k, (v, _t) in typed.items()}, {k: t for k, (_v, t) in typed.items()})


@blp.route("/task/<task_id>/variables")
@blp.response(200)
def task_variables(task_id: str) -> dict[str, Any]:
    with command() as ctx:
        task = _task(ctx, task_id)
        typed = instances.typed_variables(ctx, task.instance_id) or {}
        return all_to_camunda({k: v for k, (v, _t) in typed.items()}, {k: t for k, (_v, t) in typed.items()})


@blp.route("/task/<task_id>/form-variables")
@blp.response(200)
def task_form_variables(task_id: str) -> dict[str, Any]:
    """The variables the task's form shows (all variables when the form names none)."""
    with command() as ctx:
        task = _task(ctx, task_id)
        typed = instances.typed_variables(ctx, task.instance_id) or {}
        form = human_tasks.form_for(ctx, task)
        wanted = {f.variable for f in human_tasks.form_fields(form)} if form else None
        chosen = {k: v for k, v in typed.items() if wanted is None or k in wanted}
        return all_to_camunda({k: v for k, (v, _t) in chosen.items()}, {k: t for k, (_v, t) in chosen.items()})


@blp.route("/task/<task_id>/comment")
@blp.response(200, s.Comment(many=True))
def task_comments(task_id: str) -> list[dict[str, Any]]:
    with command() as ctx:
        task = _task(ctx, task_id)
        return [comment_view(c) for c in comments.for_task(ctx, task.id)]


@blp.route("/task/<task_id>/comment", methods=["POST"])
@blp.route("/task/<task_id>/comment/create", methods=["POST"])
@blp.arguments(s.NewComment)
@blp.response(200, s.Comment)
def add_task_comment(body: dict[str, Any], task_id: str) -> dict[str, Any]:
    with command() as ctx:
        task = _task(ctx, task_id)
        return comment_view(comments.add(ctx, body["message"], instance_id=task.instance_id,
                                                  task_id=task.id))


# --- messages --------------------------------------------------------------------------------------------------


@blp.route("/message", methods=["POST"])
@blp.arguments(s.CorrelateMessage)
@blp.response(200, s.CorrelationResult(many=True))
def correlate(body: dict[str, Any]) -> Any:
    """Correlate by name + business key and/or correlation keys; 400 when none or (without `all`) several match."""
    with command("service", "supervisor", "caseworker", "admin") as ctx:
        results = messages.correlate(
            ctx, body["messageName"], business_key=body.get("businessKey"),
            correlation_keys=from_camunda(body.get("correlationKeys")),
            process_variables={**from_camunda(body.get("processVariables")),
                               **from_camunda(body.get("processVariablesLocal"))},
            all_targets=body.get("all", False))
        if not body.get("resultEnabled"):
            return "", 204
        views = []
        for result in results:
            found = instances.get(ctx, result.instance_id)
            view: dict[str, Any] = {"resultType": result.kind, "execution": None, "processInstance": None}
            if found is not None:
                view["processInstance"] = instance_view(found)
                if result.kind == "Execution":
                    view["execution"] = {"id": found.id, "processInstanceId": found.id, "ended": False,
                                         "tenantId": None}
            if body.get("variablesInResultEnabled"):
                typed = instances.typed_variables(ctx, result.instance_id) or {}
                view["variables"] = all_to_camunda({k: v for k, (v, _t) in typed.items()},
                                                   {k: t for k, (_v, t) in typed.items()})
            views.append(view)
        audit.record(ctx, "rest_message", details={"message": body["messageName"], "targets": len(views)})
        return views
