"""Process instances, user tasks and messages (Camunda 7 REST: /process-instance, /task, /message)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_smorest import Blueprint

from service.errors import ApiError
from service.rest import schemas as s
from service.rest.common import command, comment_view, count_of, instance_view, sort_order, split, task_view
from service.rest.values import all_to_camunda, from_camunda, parse_date
from workflows import access, accounts, audit, comments, human_tasks, instance_rows, instances, messages
from workflows.context import Ctx
from workflows.human_tasks import TaskQuery
from workflows.states import InstanceState

blp = Blueprint("runtime", __name__, url_prefix="/engine-rest",
                description="Process instances, user tasks and message correlation")

CASE_ROLES = ("caseworker", "supervisor", "service", "admin")


# --- process instances ---------------------------------------------------------------------------------------


PI = instance_rows.TABLE
PI_SORT = {"instanceId": PI.c.id, "definitionKey": PI.c.definition_key, "definitionId": PI.c.definition_id,
           "businessKey": PI.c.business_key, "tenantId": PI.c.tenant_id}
RUNNING = [InstanceState.ACTIVE.value, InstanceState.SUSPENDED.value]


def _instance(ctx: Ctx, instance_id: str) -> instances.InstanceView:
    """A running instance the caller may see; 404 otherwise (ended instances live on in /history only)."""
    found = instances.get(ctx, instance_id)
    if found is None or found.state not in RUNNING or not access.may_see_instance(ctx, found):
        raise ApiError(404, f"Process instance with id {instance_id} does not exist")
    return found


def _instance_query(ctx: Ctx, args: dict[str, Any]) -> sa.Select[Any]:
    states = [InstanceState.ACTIVE.value] if args.get("active") else [InstanceState.SUSPENDED.value] \
        if args.get("suspended") else RUNNING
    query = sa.select(*PI.c).where(PI.c.state.in_(states))
    for column, key in ((PI.c.business_key, "businessKey"), (PI.c.definition_key, "processDefinitionKey"),
                        (PI.c.definition_id, "processDefinitionId"), (PI.c.super_instance_id, "superProcessInstance")):
        if args.get(key) is not None:
            query = query.where(column == args[key])
    if args.get("businessKeyLike"):
        query = query.where(PI.c.business_key.like(args["businessKeyLike"]))
    if args.get("processInstanceIds"):
        query = query.where(PI.c.id.in_(split(args["processInstanceIds"])))
    if args.get("processDefinitionKeyIn"):
        query = query.where(PI.c.definition_key.in_(split(args["processDefinitionKeyIn"])))
    if args.get("subProcessInstance"):
        query = query.where(PI.c.id == sa.select(PI.c.super_instance_id).where(
            PI.c.id == args["subProcessInstance"]).scalar_subquery())
    if args.get("withIncident"):
        query = query.where(PI.c.open_incidents > 0)
    condition = access.instance_filter(ctx)
    return query if condition is None else query.where(condition)


@blp.route("/process-instance")
@blp.arguments(s.ProcessInstanceQuery, location="query")
@blp.response(200, s.ProcessInstance(many=True))
def list_instances(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Running instances the caller may see (ended ones are in /history/process-instance)."""
    order = sort_order(PI_SORT, args, PI.c.started_at.desc())
    with command(*CASE_ROLES) as ctx:
        query = _instance_query(ctx, args).order_by(order, PI.c.id)
        rows = ctx.session.execute(query.offset(args["firstResult"]).limit(args["maxResults"]))
        return [instance_view(instances.view(row)) for row in rows]


@blp.route("/process-instance/count")
@blp.arguments(s.ProcessInstanceQuery, location="query")
@blp.response(200, s.Count)
def count_instances(args: dict[str, Any]) -> dict[str, int]:
    with command(*CASE_ROLES) as ctx:
        return count_of(ctx, _instance_query(ctx, args))


@blp.route("/process-instance/<instance_id>")
@blp.response(200, s.ProcessInstance)
def get_instance(instance_id: str) -> dict[str, Any]:
    with command(*CASE_ROLES) as ctx:
        return instance_view(_instance(ctx, instance_id))


@blp.route("/process-instance/<instance_id>", methods=["DELETE"])
@blp.arguments(s.DeleteInstanceQuery, location="query")
@blp.response(204)
def delete_instance(args: dict[str, Any], instance_id: str) -> None:
    """Terminate the instance (kept in history as EXTERNALLY_TERMINATED, with the reason)."""
    with command("supervisor", "service", "admin") as ctx:
        found = instances.get(ctx, instance_id)
        if found is None or found.state not in RUNNING or not access.may_see_instance(ctx, found):
            if not args["failIfNotExists"]:
                return
            raise ApiError(404, f"Process instance with id {instance_id} does not exist")
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


def typed(ctx: Ctx, instance_id: str, names: set[str] | None = None) -> dict[str, Any]:
    """The instance's variables as Camunda's typed values (only `names`, when given)."""
    found = instances.typed_variables(ctx, instance_id) or {}
    chosen = {k: v for k, v in found.items() if names is None or k in names}
    return all_to_camunda({k: v for k, (v, _t) in chosen.items()}, {k: t for k, (_v, t) in chosen.items()})


@blp.route("/process-instance/<instance_id>/variables")
@blp.arguments(s.VariablesQuery, location="query")
@blp.response(200, s.VariableMap)
def get_instance_variables(args: dict[str, Any], instance_id: str) -> dict[str, Any]:
    with command(*CASE_ROLES) as ctx:
        _instance(ctx, instance_id)
        return typed(ctx, instance_id)


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
            "activityId": a.element_id, "activityType": a.element_type, "activityName": a.name, "name": a.name,
            "processInstanceId": instance_id, "processDefinitionId": found.definition_id,
            "childActivityInstances": [], "childTransitionInstances": [], "executionIds": [instance_id],
            "incidentIds": a.incident_ids,
            "incidents": [{"id": i, "parentActivityInstanceId": f"{a.element_id}:{a.task_id}"}
                          for i in a.incident_ids],
        } for a in instances.active_activities(ctx, instance_id)]
        return {"id": instance_id, "parentActivityInstanceId": None, "activityId": found.definition_id,
                "activityType": "processDefinition", "processInstanceId": instance_id,
                "processDefinitionId": found.definition_id, "childActivityInstances": children,
                "childTransitionInstances": [], "executionIds": [instance_id], "activityName": None, "name": None,
                "incidentIds": [], "incidents": []}


# --- tasks -----------------------------------------------------------------------------------------------------


# Camunda's sortBy values -> human_tasks.SORT_COLUMNS; values Camunda knows that kimflow cannot sort by are a 400.
SORT_NAMES = {"dueDate": "due", "followUpDate": "followUp", "created": "created", "lastUpdated": "created",
              "priority": "priority", "name": "name", "nameCaseInsensitive": "nameCaseInsensitive",
              "description": "description", "assignee": "assignee", "id": "id", "instanceId": "processInstanceId",
              "executionId": "processInstanceId", "caseInstanceId": "id", "caseExecutionId": "id", "tenantId": "id"}


def _task_query(ctx: Ctx, args: dict[str, Any]) -> TaskQuery:
    """Camunda's task filters. Candidate filters match unassigned tasks only, unless includeAssignedTasks; a
    candidateUser is offered a task as a candidate user or through one of their groups (as in Camunda)."""
    groups = split(args.get("candidateGroups")) or ([args["candidateGroup"]] if args.get("candidateGroup") else None)
    assigned = True if args.get("assigned") else False if args.get("unassigned") else None
    if (groups or args.get("candidateUser")) and not args.get("includeAssignedTasks"):
        assigned = False
    query = TaskQuery(
        assignee=args.get("assignee"), assigned=assigned, candidate_groups=groups,
        instance_id=args.get("processInstanceId"), business_key=args.get("processInstanceBusinessKey"),
        business_key_like=(args.get("processInstanceBusinessKeyLike") or "").strip("%") or None,
        definition_key=args.get("processDefinitionKey"), definition_id=args.get("processDefinitionId"),
        task_definition_key=args.get("taskDefinitionKey"), name_like=(args.get("nameLike") or "").strip("%") or None,
    )
    if args.get("candidateUser"):
        query.involved_user = args["candidateUser"]
        query.involved_groups = sorted(accounts.groups_of(ctx, args["candidateUser"]))
    for attribute, key in (("follow_up_before_or_none", "followUpBeforeOrNotExistent"),
                           ("follow_up_after", "followUpAfter"), ("due_before", "dueBefore"),
                           ("due_after", "dueAfter")):
        if args.get(key):
            setattr(query, attribute, parse_date(args[key]))
    if args.get("sortBy"):
        if args["sortBy"] not in SORT_NAMES:
            raise ApiError(400, f"Cannot set query parameter 'sortBy' to value '{args['sortBy']}'")
        query.sort_by = [(SORT_NAMES[args["sortBy"]], args.get("sortOrder") or "asc")]
    return query


@blp.route("/task")
@blp.arguments(s.TaskQuery, location="query")
@blp.response(200, s.Task(many=True))
def list_tasks(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Only tasks of the caller's groups (or assigned to or offered to them) are listed."""
    with command() as ctx:
        rows = human_tasks.find(ctx, _task_query(ctx, args), first=args["firstResult"], limit=args["maxResults"])
        return [task_view(row) for row in rows]


@blp.route("/task/count")
@blp.arguments(s.TaskQuery, location="query")
@blp.response(200, s.Count)
def count_tasks(args: dict[str, Any]) -> dict[str, int]:
    with command() as ctx:
        return {"count": human_tasks.count(ctx, _task_query(ctx, args))}


def _task(ctx: Ctx, task_id: str) -> Any:
    task = human_tasks.get(ctx, task_id)
    if task is None:
        raise ApiError(404, f"No matching task with id {task_id}")
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
    """Claim for userId; a task someone else holds is a 409 TaskAlreadyClaimedException (Camunda: 500)."""
    with command() as ctx:
        task = _task(ctx, task_id)
        user = body.get("userId") or ctx.actor.id
        if task.assignee and task.assignee != user:
            raise ApiError(409, f"Task '{task_id}' is already claimed by someone else.", "TaskAlreadyClaimedException")
        human_tasks.claim(ctx, task_id, user)


@blp.route("/task/<task_id>/unclaim", methods=["POST"])
@blp.response(204)
def unclaim_task(task_id: str) -> None:
    with command() as ctx:
        _task(ctx, task_id)
        human_tasks.unclaim(ctx, task_id)


@blp.route("/task/<task_id>/assignee", methods=["POST"])
@blp.arguments(s.UserIdBody)
@blp.response(204)
def set_task_assignee(body: dict[str, Any], task_id: str) -> None:
    with command() as ctx:
        _task(ctx, task_id)
        human_tasks.set_assignee(ctx, task_id, body.get("userId"))


@blp.route("/task/<task_id>/complete", methods=["POST"])
@blp.arguments(s.CompleteTask)
@blp.response(204)
@blp.alt_response(200, schema=s.VariableMap, description="With withVariablesInReturn: the process variables.")
def complete_task(body: dict[str, Any], task_id: str) -> Any:
    """Complete with typed variables; 204 without a body, or 200 with the variables when asked for them."""
    with command() as ctx:
        task = _task(ctx, task_id)
        if task.suspended:
            raise ApiError(409, f"Cannot complete task {task_id}: task is suspended",
                           "SuspendedEntityInteractionException")
        human_tasks.complete(ctx, task_id, from_camunda(body.get("variables")))
        if not body.get("withVariablesInReturn"):
            return None
        return typed(ctx, task.instance_id), 200


@blp.route("/task/<task_id>/variables")
@blp.arguments(s.VariablesQuery, location="query")
@blp.response(200, s.VariableMap)
def task_variables(args: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The variables visible from the task: its process instance's."""
    with command() as ctx:
        return typed(ctx, _task(ctx, task_id).instance_id)


@blp.route("/task/<task_id>/form-variables")
@blp.arguments(s.FormVariablesQuery, location="query")
@blp.response(200, s.VariableMap)
def task_form_variables(args: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The variables the task's form shows (all variables when the form names none); `variableNames` narrows."""
    with command() as ctx:
        task = _task(ctx, task_id)
        form = human_tasks.form_for(ctx, task)
        wanted = {f.variable for f in human_tasks.form_fields(form)} if form else None
        if args.get("variableNames"):
            asked = set(split(args["variableNames"]))
            wanted = asked if wanted is None else wanted & asked
        return typed(ctx, task.instance_id, wanted)


@blp.route("/task/<task_id>/comment")
@blp.response(200, s.Comment(many=True))
def task_comments(task_id: str) -> list[dict[str, Any]]:
    with command() as ctx:
        task = _task(ctx, task_id)
        return [comment_view(c) for c in comments.for_task(ctx, task.id)]


@blp.route("/task/<task_id>/comment/create", methods=["POST"])
@blp.route("/task/<task_id>/comment", methods=["POST"])
@blp.arguments(s.NewComment)
@blp.response(200, s.Comment)
def add_task_comment(body: dict[str, Any], task_id: str) -> dict[str, Any]:
    """Camunda's path is /task/{id}/comment/create; POST /task/{id}/comment is accepted too."""
    with command() as ctx:
        task = _task(ctx, task_id)
        return comment_view(comments.add(ctx, body["message"], instance_id=task.instance_id, task_id=task.id))


# --- messages --------------------------------------------------------------------------------------------------


@blp.route("/message", methods=["POST"])
@blp.arguments(s.CorrelateMessage)
@blp.response(204)
@blp.alt_response(200, schema=s.CorrelationResult(many=True), description="With resultEnabled: what was correlated.")
def correlate(body: dict[str, Any]) -> Any:
    """Correlate by name + business key, correlation keys and/or instance id; 400 (RestException, as Camunda)
    when nothing or, without `all`, more than one target matches."""
    if body.get("variablesInResultEnabled") and not body.get("resultEnabled"):
        raise ApiError(400, "Parameter 'variablesInResultEnabled' cannot be used without 'resultEnabled' set to true.")
    with command("service", "supervisor", "caseworker", "admin") as ctx:
        try:
            results = messages.correlate(
                ctx, body["messageName"], business_key=body.get("businessKey"),
                correlation_keys=from_camunda(body.get("correlationKeys")),
                process_variables={**from_camunda(body.get("processVariables")),
                                   **from_camunda(body.get("processVariablesLocal"))},
                all_targets=body.get("all", False), instance_id=body.get("processInstanceId"))
        except messages.CorrelationError as error:
            raise ApiError(400, f"org.camunda.bpm.engine.MismatchingMessageCorrelationException: {error}",
                           "RestException") from error
        audit.record(ctx, "rest_message", details={"message": body["messageName"], "targets": len(results)})
        if not body.get("resultEnabled"):
            return None
        return [_correlation_view(ctx, result, body.get("variablesInResultEnabled", False))
                for result in results], 200


def _correlation_view(ctx: Ctx, result: messages.CorrelationResult, with_variables: bool) -> dict[str, Any]:
    found = instances.get(ctx, result.instance_id)
    view: dict[str, Any] = {"resultType": result.kind, "execution": None, "processInstance": None}
    if found is not None:
        view["processInstance"] = instance_view(found)
        if result.kind == "Execution":
            view["execution"] = {"id": found.id, "processInstanceId": found.id,
                                 "ended": found.state not in RUNNING, "tenantId": None}
    if with_variables:
        view["variables"] = typed(ctx, result.instance_id)
    return view
