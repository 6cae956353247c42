"""Deployments, process and decision definitions (Camunda 7 REST: /deployment, /process-definition,
/decision-definition), including the multipart deploy that Camunda Modeler's Deploy button sends."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import request
from flask_smorest import Blueprint

from service.errors import ApiError
from service.rest import schemas as s
from service.rest.common import (
    command,
    count_of,
    decision_view,
    definition_view,
    deployment_view,
    instance_view,
    sort_order,
    split,
)
from service.rest.values import all_to_camunda, from_camunda, parse_date
from workflows import decisions, definitions, helpers, instances, schema
from workflows.context import Ctx
from workflows.definitions import DuplicateMode

blp = Blueprint("repository", __name__, url_prefix="/engine-rest",
                description="Engine version, deployments, process and decision definitions")

DEPLOYERS = ("process_owner", "admin")
CASE_ROLES = ("caseworker", "supervisor", "service", "admin")
CAMUNDA_VERSION = "7.22.0"


@blp.route("/version")
@blp.response(200, s.Version)
def version() -> dict[str, str]:
    """The Camunda 7 REST version kimflow speaks."""
    with command():
        return {"version": CAMUNDA_VERSION}


# --- deployments ---------------------------------------------------------------------------------------------


def _deployment_rows(ctx: Ctx, args: dict[str, Any]) -> sa.Select[Any]:
    model = schema.Deployment
    query = sa.select(model)
    for column, key in ((model.id, "id"), (model.name, "name"), (model.source, "source")):
        if args.get(key) is not None:
            query = query.where(column == args[key])
    if args.get("nameLike"):
        query = query.where(model.name.like(args["nameLike"]))
    if args.get("tenantIdIn"):
        query = query.where(model.tenant_id.in_(split(args["tenantIdIn"])))
    if args.get("after"):
        query = query.where(model.deployed_at > parse_date(args["after"]))
    if args.get("before"):
        query = query.where(model.deployed_at < parse_date(args["before"]))
    return query


DEPLOYMENT_SORT = {"id": schema.Deployment.id, "name": schema.Deployment.name,
                   "deploymentTime": schema.Deployment.deployed_at, "tenantId": schema.Deployment.tenant_id}


@blp.route("/deployment")
@blp.arguments(s.DeploymentQuery, location="query")
@blp.response(200, s.Deployment(many=True))
def list_deployments(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Deployments; `maxResults=0` answers at once (Camunda Modeler's connection check)."""
    with command() as ctx:
        if args["maxResults"] == 0:
            return []
        order = sort_order(DEPLOYMENT_SORT, args, schema.Deployment.deployed_at.desc())
        query = _deployment_rows(ctx, args).order_by(order, schema.Deployment.id)
        rows = ctx.session.scalars(query.offset(args["firstResult"]).limit(args["maxResults"]))
        return [deployment_view(row) for row in rows]


@blp.route("/deployment/count")
@blp.arguments(s.DeploymentQuery, location="query")
@blp.response(200, s.Count)
def count_deployments(args: dict[str, Any]) -> dict[str, int]:
    with command() as ctx:
        return count_of(ctx, _deployment_rows(ctx, args))


@blp.route("/deployment/<deployment_id>")
@blp.response(200, s.Deployment)
def get_deployment(deployment_id: str) -> dict[str, Any]:
    with command() as ctx:
        row = ctx.session.get(schema.Deployment, deployment_id)
        if row is None:
            raise ApiError(404, f"Deployment with id '{deployment_id}' does not exist")
        return deployment_view(row)


@blp.route("/deployment/<deployment_id>", methods=["DELETE"])
@blp.arguments(s.DeleteDeploymentQuery, location="query")
@blp.response(204)
def delete_deployment(args: dict[str, Any], deployment_id: str) -> None:
    """Refused (409) while instances of it run, unless `cascade=true` terminates them."""
    with command(*DEPLOYERS) as ctx:
        if not definitions.delete_deployment(ctx, deployment_id, cascade=args["cascade"]):
            raise ApiError(404, f"Deployment with id '{deployment_id}' does not exist")


@blp.route("/deployment/create", methods=["POST"])
@blp.arguments(s.DeploymentCreateForm, location="form")
@blp.response(200, s.DeploymentWithDefinitions)
def create_deployment(form: dict[str, Any]) -> dict[str, Any]:
    """Deploy the uploaded files (each part named by its file name) as one validated deployment."""
    files = [(upload.filename or name, upload.read()) for name, upload in request.files.items(multi=True)]
    if not files:
        raise ApiError(400, "No resources contained in the form upload.")
    mode = (DuplicateMode.CHANGED_ONLY if form["deploy_changed_only"] else
            DuplicateMode.UNCHANGED_DEPLOYMENT if form["enable_duplicate_filtering"] else DuplicateMode.ALWAYS)
    with command(*DEPLOYERS) as ctx:
        result = definitions.deploy(ctx, files, name=form.get("deployment_name"),
                                    source=form.get("deployment_source"), tenant_id=form.get("tenant_id"), mode=mode)
        return {**deployment_view(result.deployment),
                "deployedProcessDefinitions": {p.id: definition_view(p) for p in result.processes} or None,
                "deployedDecisionDefinitions": {d.id: decision_view(d) for d in result.decisions} or None,
                "deployedCaseDefinitions": None, "deployedDecisionRequirementsDefinitions": None}


# --- process definitions -------------------------------------------------------------------------------------


PD = schema.ProcessDefinition
PD_SORT = {"id": PD.id, "key": PD.key, "name": PD.name, "version": PD.version, "deploymentId": PD.deployment_id,
           "versionTag": PD.version_tag, "tenantId": PD.tenant_id, "category": PD.key}


def _definitions(args: dict[str, Any]) -> sa.Select[Any]:
    query = sa.select(PD)
    for column, key in ((PD.key, "key"), (PD.name, "name"), (PD.version, "version"),
                        (PD.deployment_id, "deploymentId"), (PD.suspended, "suspended")):
        if args.get(key) is not None:
            query = query.where(column == args[key])
    if args.get("keyLike"):
        query = query.where(PD.key.like(args["keyLike"]))
    if args.get("latestVersion"):
        latest = sa.select(PD.key, sa.func.max(PD.version).label("v")).group_by(PD.key).subquery()
        query = query.join(latest, sa.and_(PD.key == latest.c.key, PD.version == latest.c.v))
    return query


@blp.route("/process-definition")
@blp.arguments(s.ProcessDefinitionQuery, location="query")
@blp.response(200, s.ProcessDefinition(many=True))
def list_process_definitions(args: dict[str, Any]) -> list[dict[str, Any]]:
    order = sort_order(PD_SORT, args, PD.key.asc())
    with command() as ctx:
        query = _definitions(args).order_by(order, PD.version).offset(args["firstResult"]).limit(args["maxResults"])
        return [definition_view(row) for row in ctx.session.scalars(query)]


@blp.route("/process-definition/count")
@blp.arguments(s.ProcessDefinitionQuery, location="query")
@blp.response(200, s.Count)
def count_process_definitions(args: dict[str, Any]) -> dict[str, int]:
    with command() as ctx:
        return count_of(ctx, _definitions(args))


def _definition(ctx: Ctx, definition_id: str | None = None, key: str | None = None) -> schema.ProcessDefinition:
    row = definitions.get_process(ctx, definition_id) if definition_id else definitions.latest_process(ctx, key or "")
    if row is None:
        what = f"id '{definition_id}'" if definition_id else f"key '{key}'"
        raise ApiError(404, f"No matching process definition with {what}")
    return row


@blp.route("/process-definition/<definition_id>")
@blp.response(200, s.ProcessDefinition)
def get_process_definition(definition_id: str) -> dict[str, Any]:
    with command() as ctx:
        return definition_view(_definition(ctx, definition_id))


@blp.route("/process-definition/key/<key>")
@blp.response(200, s.ProcessDefinition)
def get_process_definition_by_key(key: str) -> dict[str, Any]:
    with command() as ctx:
        return definition_view(_definition(ctx, key=key))


@blp.route("/process-definition/<definition_id>/xml")
@blp.response(200, s.ProcessDefinitionXml)
def get_process_definition_xml(definition_id: str) -> dict[str, Any]:
    with command() as ctx:
        row = _definition(ctx, definition_id)
        return {"id": row.id, "bpmn20Xml": definitions.process_xml(ctx, row).decode("utf-8")}


@blp.route("/process-definition/key/<key>/xml")
@blp.response(200, s.ProcessDefinitionXml)
def get_process_definition_xml_by_key(key: str) -> dict[str, Any]:
    with command() as ctx:
        row = _definition(ctx, key=key)
        return {"id": row.id, "bpmn20Xml": definitions.process_xml(ctx, row).decode("utf-8")}


def _start(ctx: Ctx, row: schema.ProcessDefinition, body: dict[str, Any]) -> dict[str, Any]:
    started = instances.start(ctx, definition_id=row.id, business_key=body.get("businessKey"),
                              variables_in=from_camunda(body.get("variables")))
    view = instance_view(started)
    if body.get("withVariablesInReturn"):
        typed = instances.typed_variables(ctx, started.id) or {}
        view["variables"] = all_to_camunda({k: v for k, (v, _t) in typed.items()},
                                           {k: t for k, (_v, t) in typed.items()})
    return view


@blp.route("/process-definition/<definition_id>/start", methods=["POST"])
@blp.arguments(s.StartInstance)
@blp.response(200, s.ProcessInstance)
def start_by_id(body: dict[str, Any], definition_id: str) -> dict[str, Any]:
    """Start an instance of exactly this version (what Camunda Modeler's Start button calls)."""
    with command(*CASE_ROLES) as ctx:
        return _start(ctx, _definition(ctx, definition_id), body)


@blp.route("/process-definition/key/<key>/start", methods=["POST"])
@blp.arguments(s.StartInstance)
@blp.response(200, s.ProcessInstance)
def start_by_key(body: dict[str, Any], key: str) -> dict[str, Any]:
    """Start an instance of the latest version of a process."""
    with command(*CASE_ROLES) as ctx:
        return _start(ctx, _definition(ctx, key=key), body)


# --- decision definitions ------------------------------------------------------------------------------------


DD = schema.DecisionDefinition
DD_SORT = {"id": DD.id, "key": DD.key, "name": DD.name, "version": DD.version, "deploymentId": DD.deployment_id,
           "versionTag": DD.version_tag, "tenantId": DD.tenant_id, "category": DD.key}


def _decisions(args: dict[str, Any]) -> sa.Select[Any]:
    query = sa.select(DD)
    for column, key in ((DD.key, "key"), (DD.name, "name"), (DD.version, "version"),
                        (DD.deployment_id, "deploymentId")):
        if args.get(key) is not None:
            query = query.where(column == args[key])
    if args.get("keyLike"):
        query = query.where(DD.key.like(args["keyLike"]))
    if args.get("latestVersion"):
        latest = sa.select(DD.key, sa.func.max(DD.version).label("v")).group_by(DD.key).subquery()
        query = query.join(latest, sa.and_(DD.key == latest.c.key, DD.version == latest.c.v))
    return query


@blp.route("/decision-definition")
@blp.arguments(s.DecisionDefinitionQuery, location="query")
@blp.response(200, s.DecisionDefinition(many=True))
def list_decision_definitions(args: dict[str, Any]) -> list[dict[str, Any]]:
    order = sort_order(DD_SORT, args, DD.key.asc())
    with command() as ctx:
        rows = ctx.session.scalars(_decisions(args).order_by(order, DD.version).offset(args["firstResult"])
                                   .limit(args["maxResults"]))
        return [decision_view(row) for row in rows]


@blp.route("/decision-definition/count")
@blp.arguments(s.DecisionDefinitionQuery, location="query")
@blp.response(200, s.Count)
def count_decision_definitions(args: dict[str, Any]) -> dict[str, int]:
    with command() as ctx:
        return count_of(ctx, _decisions(args))


def _decision(ctx: Ctx, key: str) -> tuple[schema.DecisionDefinition, Any, list[Any]]:
    resolved = definitions.resolve_decision(ctx, key)
    if resolved is None:
        raise ApiError(404, f"No matching decision definition with key '{key}'")
    return resolved


@blp.route("/decision-definition/key/<key>")
@blp.response(200, s.DecisionDefinition)
def get_decision_definition_by_key(key: str) -> dict[str, Any]:
    with command() as ctx:
        return decision_view(_decision(ctx, key)[0])


@blp.route("/decision-definition/<definition_id>")
@blp.response(200, s.DecisionDefinition)
def get_decision_definition(definition_id: str) -> dict[str, Any]:
    with command() as ctx:
        row = ctx.session.get(DD, definition_id)
        if row is None:
            raise ApiError(404, f"No matching decision definition with id '{definition_id}'")
        return decision_view(row)


@blp.route("/decision-definition/key/<key>/evaluate", methods=["POST"])
@blp.arguments(s.Evaluate)
@blp.response(200)
def evaluate_decision(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Evaluate the latest version; one map of typed outputs per matched rule (Camunda's result list)."""
    with command() as ctx:
        _row, decision, siblings = _decision(ctx, key)
        result = decisions.evaluate_in(siblings, decision.key, from_camunda(body.get("variables")),
                                       helpers=helpers.helpers_for(ctx))
        return [all_to_camunda(entry) for entry in result.result_list]
