"""Deploy, version and look up process, decision and form definitions.

A deployment is a set of .bpmn, .dmn and .form files validated together: on any problem nothing is stored
and the error lists every problem with file, element and line. A process key deployed again with changed
content becomes version n+1; unchanged content keeps its version (duplicate filtering), and running instances
stay on the version they started with.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from workflows import decisions, fastsql, forms, schema
from workflows.context import Ctx
from workflows.engine import lint, parser
from workflows.engine.serializer import SERIALIZER_VERSION, SpecBundle, bundle_from_parse, load_specs
from workflows.errors import ConflictError, DeploymentError, NotFoundError, Problem
from workflows.safexml import parse_xml
from workflows.states import InstanceState

BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml")
DMN_SUFFIXES = (".dmn", ".dmn11.xml")
FORM_SUFFIXES = (".form",)


class DuplicateMode(StrEnum):
    ALWAYS = "always"  # every deployment versions everything (Camunda without flags)
    UNCHANGED_DEPLOYMENT = "unchanged-deployment"  # enable-duplicate-filtering: skip if nothing changed
    CHANGED_ONLY = "changed-only"  # deploy-changed-only: version only what changed


@dataclass
class _Artifact:
    kind: str  # process | decision | form
    key: str
    name: str | None
    resource_name: str
    content_hash: str
    payload: Any
    changed: bool = True


@dataclass
class DeploymentResult:
    deployment: schema.Deployment
    processes: list[schema.ProcessDefinition] = field(default_factory=list)
    decisions: list[schema.DecisionDefinition] = field(default_factory=list)
    forms: list[schema.FormDefinition] = field(default_factory=list)
    duplicate: bool = False


def kind_of(filename: str) -> str:
    lower = filename.lower()
    if lower.endswith(BPMN_SUFFIXES):
        return "bpmn"
    if lower.endswith(DMN_SUFFIXES):
        return "dmn"
    if lower.endswith(FORM_SUFFIXES):
        return "form"
    return "resource"


def validate(ctx: Ctx, files: Sequence[tuple[str, bytes]], tenant_id: str | None = None) -> list[_Artifact]:
    """Parse and check a set of files together; raises DeploymentError listing every problem."""
    total = sum(len(content) for _name, content in files)
    if total > ctx.settings.max_deployment_bytes:
        raise DeploymentError([Problem("(deployment)", f"The deployment is larger than "
                                                       f"{ctx.settings.max_deployment_bytes} bytes.")])
    problems: list[Problem] = []
    artifacts: list[_Artifact] = []
    for name, content in files:
        try:
            found, file_problems = _parse_file(name, content)
        except DeploymentError as error:
            problems.extend(error.problems)
            continue
        artifacts.extend(found)
        problems.extend(file_problems)
    problems.extend(_duplicate_keys(artifacts))
    problems.extend(_missing_references(ctx, artifacts, tenant_id))
    if problems:
        raise DeploymentError(problems)
    return artifacts


def _parse_file(name: str, content: bytes) -> tuple[list[_Artifact], list[Problem]]:
    kind = kind_of(name)
    digest = hashlib.sha256(content).hexdigest()
    if kind == "bpmn":
        return _parse_bpmn(name, content, digest)
    if kind == "dmn":
        found = decisions.parse_dmn(content, name)
        return [_Artifact("decision", d.key, d.name, name, digest, d) for d in found], []
    if kind == "form":
        form = forms.parse_form_js(content, name)
        return [_Artifact("form", form.key, form.title, name, digest, form)], []
    return [], []


def _parse_bpmn(name: str, content: bytes, digest: str) -> tuple[list[_Artifact], list[Problem]]:
    tree = parse_xml(content, name)
    problems = lint.lint(tree, name)
    processes, parse_problems = parser.parse_processes(tree, name)
    known = {(p.element, p.line) for p in problems}
    problems.extend(p for p in parse_problems if (p.element, p.line) not in known)
    artifacts = [_Artifact("process", p.key, p.name, name, hashlib.sha256(digest.encode() + p.key.encode())
                           .hexdigest(), p) for p in processes]
    return artifacts, problems


def _duplicate_keys(artifacts: list[_Artifact]) -> list[Problem]:
    seen: dict[tuple[str, str], str] = {}
    problems = []
    for artifact in artifacts:
        key = (artifact.kind, artifact.key)
        if key in seen:
            problems.append(Problem(artifact.resource_name, f"The {artifact.kind} key {artifact.key!r} is also "
                                                            f"defined in {seen[key]}.", element=artifact.key))
        seen[key] = artifact.resource_name
    return problems


def _missing_references(ctx: Ctx, artifacts: list[_Artifact], tenant_id: str | None) -> list[Problem]:
    form_keys = {a.key for a in artifacts if a.kind == "form"}
    form_files = {a.resource_name for a in artifacts if a.kind == "form"}
    decision_keys = {a.key for a in artifacts if a.kind == "decision"}
    problems = []
    for artifact in (a for a in artifacts if a.kind == "process"):
        process: parser.ParsedProcess = artifact.payload
        for ref, element, line in process.form_refs:
            if ref.startswith("resource:"):
                if ref[9:] not in form_files and _latest_form_by_resource(ctx, ref[9:]) is None:
                    problems.append(Problem(artifact.resource_name, f"The form file {ref[9:]!r} "
                                            "(camunda-forms:deployment:…) is not part of this deployment.",
                                            element=element, line=line))
            elif ref not in form_keys and latest_form(ctx, ref, tenant_id) is None:
                problems.append(Problem(artifact.resource_name, f"The form {ref!r} (camunda:formRef) is neither in "
                                        "this deployment nor deployed.", element=element, line=line))
        for ref, element, line in process.decision_refs:
            if ref not in decision_keys and latest_decision(ctx, ref, tenant_id) is None:
                problems.append(Problem(artifact.resource_name, f"The decision {ref!r} (camunda:decisionRef) is "
                                        "neither in this deployment nor deployed.", element=element, line=line))
    return problems


# --- storing -----------------------------------------------------------------------------------------------


def deploy(ctx: Ctx, files: Sequence[tuple[str, bytes]], *, name: str | None = None, source: str | None = None,
           tenant_id: str | None = None, mode: DuplicateMode = DuplicateMode.CHANGED_ONLY) -> DeploymentResult:
    """Validate and store a deployment in the caller's transaction."""
    artifacts = validate(ctx, files, tenant_id)
    _mark_unchanged(ctx, artifacts, tenant_id)
    if mode is not DuplicateMode.ALWAYS and artifacts and not any(a.changed for a in artifacts):
        return _existing(ctx, artifacts, tenant_id)
    if mode is not DuplicateMode.CHANGED_ONLY:
        for artifact in artifacts:
            artifact.changed = True
    deployment = schema.Deployment(id=str(uuid.uuid4()), name=name, source=source, tenant_id=tenant_id,
                                   deployed_at=ctx.now(), deployed_by=ctx.actor.id)
    ctx.session.add(deployment)
    resources = {file_name: _store_resource(ctx, deployment, file_name, content) for file_name, content in files}
    ctx.session.flush()
    result = DeploymentResult(deployment)
    for artifact in (a for a in artifacts if a.changed):
        _store_artifact(ctx, result, artifact, resources[artifact.resource_name], tenant_id)
    ctx.session.flush()
    _audit_deployment(ctx, result)
    return result


def _mark_unchanged(ctx: Ctx, artifacts: list[_Artifact], tenant_id: str | None) -> None:
    models = {"process": schema.ProcessDefinition, "decision": schema.DecisionDefinition,
              "form": schema.FormDefinition}
    for artifact in artifacts:
        latest = _latest(ctx, models[artifact.kind], artifact.key, tenant_id)
        artifact.changed = latest is None or latest.content_hash != artifact.content_hash


def _existing(ctx: Ctx, artifacts: list[_Artifact], tenant_id: str | None) -> DeploymentResult:
    first = artifacts[0]
    models = {"process": schema.ProcessDefinition, "decision": schema.DecisionDefinition,
              "form": schema.FormDefinition}
    latest = _latest(ctx, models[first.kind], first.key, tenant_id)
    assert latest is not None
    deployment = ctx.session.get(schema.Deployment, latest.deployment_id)
    assert deployment is not None
    return DeploymentResult(deployment, duplicate=True)


def _store_resource(ctx: Ctx, deployment: schema.Deployment, name: str, content: bytes) -> schema.DeploymentResource:
    resource = schema.DeploymentResource(id=str(uuid.uuid4()), deployment_id=deployment.id, name=name,
                                         kind=kind_of(name), sha256=hashlib.sha256(content).hexdigest(),
                                         content=content)
    ctx.session.add(resource)
    return resource


def _next_version(ctx: Ctx, model: Any, key: str, tenant_id: str | None) -> int:
    query = sa.select(sa.func.max(model.version)).where(model.key == key, model.tenant_id.is_(tenant_id)
                                                        if tenant_id is None else model.tenant_id == tenant_id)
    return int(ctx.session.scalar(query) or 0) + 1


def _store_artifact(ctx: Ctx, result: DeploymentResult, artifact: _Artifact, resource: schema.DeploymentResource,
                    tenant_id: str | None) -> None:
    if artifact.kind == "process":
        result.processes.append(_store_process(ctx, result.deployment, artifact, tenant_id))
    elif artifact.kind == "decision":
        version = _next_version(ctx, schema.DecisionDefinition, artifact.key, tenant_id)
        decision = artifact.payload
        row = schema.DecisionDefinition(
            id=_definition_id(artifact.key, version), key=artifact.key, version=version, name=artifact.name,
            version_tag=getattr(decision, "version_tag", None), tenant_id=tenant_id,
            deployment_id=result.deployment.id, resource_name=artifact.resource_name, resource_id=resource.id,
            content_hash=artifact.content_hash,
            history_time_to_live=getattr(decision, "history_time_to_live", None), created_at=ctx.now())
        ctx.session.add(row)
        result.decisions.append(row)
    else:
        version = _next_version(ctx, schema.FormDefinition, artifact.key, tenant_id)
        form_row = schema.FormDefinition(
            id=_definition_id(artifact.key, version), key=artifact.key, version=version, tenant_id=tenant_id,
            deployment_id=result.deployment.id, resource_name=artifact.resource_name, resource_id=resource.id,
            content_hash=artifact.content_hash, created_at=ctx.now())
        ctx.session.add(form_row)
        result.forms.append(form_row)


def _definition_id(key: str, version: int) -> str:
    """Camunda's `key:version:uuid`, or only the uuid where that would not fit 64 characters (as Camunda does)."""
    readable = f"{key}:{version}:{uuid.uuid4()}"
    return readable if len(readable) <= 64 else str(uuid.uuid4())


def _store_process(ctx: Ctx, deployment: schema.Deployment, artifact: _Artifact,
                   tenant_id: str | None) -> schema.ProcessDefinition:
    process: parser.ParsedProcess = artifact.payload
    bundle, text = bundle_from_parse(process.spec, process.subprocess_specs)
    if ctx.session.get(schema.ProcessSpec, bundle.hash) is None:
        ctx.session.add(schema.ProcessSpec(hash=bundle.hash, serializer_version=SERIALIZER_VERSION, content=text,
                                           created_at=ctx.now()))
        ctx.session.flush()
    version = _next_version(ctx, schema.ProcessDefinition, process.key, tenant_id)
    row = schema.ProcessDefinition(
        id=_definition_id(process.key, version), key=process.key, version=version, name=process.name,
        version_tag=process.version_tag, tenant_id=tenant_id, deployment_id=deployment.id,
        resource_name=artifact.resource_name, content_hash=artifact.content_hash, spec_hash=bundle.hash,
        history_time_to_live=process.history_time_to_live,
        candidate_starter_groups=process.candidate_starter_groups,
        candidate_starter_users=process.candidate_starter_users, start_form=process.start_form,
        start_events=[vars(e) for e in process.start_events], properties=process.properties,
        created_at=ctx.now())
    ctx.session.add(row)
    ctx.session.flush()
    if process.groups:
        ctx.session.execute(sa.insert(schema.ProcessDefinitionGroup),
                            [{"definition_id": row.id, "group_id": g} for g in process.groups])
    from workflows import timers

    timers.schedule_start_timers(ctx, row)
    return row


def _audit_deployment(ctx: Ctx, result: DeploymentResult) -> None:
    from workflows import audit

    audit.record(ctx, "deployment_created", details={
        "deployment_id": result.deployment.id, "name": result.deployment.name, "source": result.deployment.source,
        "processes": [f"{p.key}:{p.version}" for p in result.processes],
        "decisions": [f"{d.key}:{d.version}" for d in result.decisions],
        "forms": [f"{f.key}:{f.version}" for f in result.forms],
    })


# --- queries -----------------------------------------------------------------------------------------------


def _tenant_filter(model: Any, tenant_id: str | None) -> Any:
    return model.tenant_id.is_(None) if tenant_id is None else model.tenant_id == tenant_id


def _latest(ctx: Ctx, model: Any, key: str, tenant_id: str | None) -> Any:
    query = (sa.select(model).where(model.key == key, _tenant_filter(model, tenant_id))
             .order_by(model.version.desc()).limit(1))
    return ctx.session.scalar(query)


def latest_process(ctx: Ctx, key: str, tenant_id: str | None = None) -> schema.ProcessDefinition | None:
    """The newest version of a process, as a detached snapshot (read by every start: kept off the ORM)."""
    found = fastsql.select_all(ctx.session, PROCESS_DEFINITION, PROCESS_COLUMNS, order_by="-version", limit=1,
                               key=key, tenant_id=tenant_id)
    return schema.ProcessDefinition(**found[0]) if found else None


PROCESS_DEFINITION = schema.table(schema.ProcessDefinition)
PROCESS_COLUMNS = tuple(column.name for column in PROCESS_DEFINITION.columns)


def latest_decision(ctx: Ctx, key: str, tenant_id: str | None = None) -> schema.DecisionDefinition | None:
    return _latest(ctx, schema.DecisionDefinition, key, tenant_id)


def latest_form(ctx: Ctx, key: str, tenant_id: str | None = None) -> schema.FormDefinition | None:
    return _latest(ctx, schema.FormDefinition, key, tenant_id)


def _latest_form_by_resource(ctx: Ctx, resource_name: str) -> schema.FormDefinition | None:
    query = (sa.select(schema.FormDefinition).where(schema.FormDefinition.resource_name == resource_name)
             .order_by(schema.FormDefinition.created_at.desc()).limit(1))
    return ctx.session.scalar(query)


def get_process(ctx: Ctx, definition_id: str) -> schema.ProcessDefinition | None:
    return ctx.session.get(schema.ProcessDefinition, definition_id)


def process_version(ctx: Ctx, key: str, version: int, tenant_id: str | None = None) -> schema.ProcessDefinition | None:
    query = sa.select(schema.ProcessDefinition).where(
        schema.ProcessDefinition.key == key, schema.ProcessDefinition.version == version,
        _tenant_filter(schema.ProcessDefinition, tenant_id))
    return ctx.session.scalar(query)


def resolve_process(ctx: Ctx, key: str, *, binding: str = "latest", version: int | None = None,
                    version_tag: str | None = None, deployment_id: str | None = None,
                    tenant_id: str | None = None) -> schema.ProcessDefinition | None:
    """Find the definition a call activity or start-by-key means (Camunda's binding rules)."""
    return _bound(ctx, schema.ProcessDefinition, key, binding, version, version_tag, deployment_id, tenant_id)


def _bound(ctx: Ctx, model: Any, key: str, binding: str, version: int | None, version_tag: str | None,
           deployment_id: str | None, tenant_id: str | None) -> Any:
    """The version of `key` a binding names: latest, a version number, a version tag, or the same deployment."""
    query = sa.select(model).where(model.key == key, _tenant_filter(model, tenant_id))
    if binding == "version" and version is not None:
        query = query.where(model.version == version)
    elif binding == "versionTag" and version_tag is not None:
        query = query.where(model.version_tag == version_tag)
    elif binding == "deployment" and deployment_id is not None:
        query = query.where(model.deployment_id == deployment_id)
    return ctx.session.scalar(query.order_by(model.version.desc()).limit(1))


@dataclass(frozen=True)
class DefinitionInfo:
    """The parts of a process definition that never change after deployment (safe to cache per process)."""

    id: str
    key: str
    version: int
    deployment_id: str
    tenant_id: str | None
    spec_hash: str


def info(ctx: Ctx, definition_id: str) -> DefinitionInfo | None:
    cached = _info_cache.get(definition_id)
    if cached is None:
        row = ctx.session.get(schema.ProcessDefinition, definition_id)
        if row is None:
            return None
        cached = info_of(row)
        _info_cache[definition_id] = cached
    return cached


def info_of(row: schema.ProcessDefinition) -> DefinitionInfo:
    return DefinitionInfo(row.id, row.key, row.version, row.deployment_id, row.tenant_id, row.spec_hash)


_info_cache: dict[str, DefinitionInfo] = {}


def bundle_for(ctx: Ctx, definition: schema.ProcessDefinition | DefinitionInfo) -> SpecBundle:
    """The definition's parsed spec, restored once per process and then shared."""
    return _bundle(ctx, definition.spec_hash)


def _bundle(ctx: Ctx, spec_hash: str) -> SpecBundle:
    cached = _bundle_cache.get(spec_hash)
    if cached is not None:
        return cached
    stored = ctx.session.get(schema.ProcessSpec, spec_hash)
    if stored is None:
        raise NotFoundError(f"The stored spec {spec_hash} is missing.")
    bundle = load_specs(spec_hash, stored.content)
    _bundle_cache[spec_hash] = bundle
    return bundle


_bundle_cache: dict[str, SpecBundle] = {}


def resource(ctx: Ctx, resource_id: str) -> schema.DeploymentResource | None:
    return ctx.session.get(schema.DeploymentResource, resource_id)


def process_xml(ctx: Ctx, definition: schema.ProcessDefinition) -> bytes:
    query = sa.select(schema.DeploymentResource.content).where(
        schema.DeploymentResource.deployment_id == definition.deployment_id,
        schema.DeploymentResource.name == definition.resource_name)
    content = ctx.session.scalar(query)
    if content is None:
        raise NotFoundError(f"The BPMN file of {definition.id} is missing.")
    return content


# --- decisions and forms at run time ------------------------------------------------------------------------


def resolve_decision(ctx: Ctx, key: str, *, binding: str = "latest", version: int | None = None,
                     version_tag: str | None = None, deployment_id: str | None = None,
                     tenant_id: str | None = None) -> tuple[schema.DecisionDefinition, Any, list[Any]] | None:
    """(row, parsed decision, all decisions of its file) for the decision a business rule task refers to."""
    row = _bound(ctx, schema.DecisionDefinition, key, binding, version, version_tag, deployment_id, tenant_id)
    if row is None:
        return None
    parsed = _parsed_decisions(ctx, row.resource_id, row.content_hash)
    decision = next((d for d in parsed if d.key == key), None)
    if decision is None:
        return None
    return row, decision, parsed


def _parsed_decisions(ctx: Ctx, resource_id: str, content_hash: str) -> list[Any]:
    stored = resource(ctx, resource_id)
    if stored is None:
        raise NotFoundError(f"The DMN file {resource_id} is missing.")
    return _parse_dmn_cached(stored.sha256, stored.content, stored.name)


@lru_cache(maxsize=256)
def _parse_dmn_cached(_sha: str, content: bytes, name: str) -> list[Any]:
    return decisions.parse_dmn(content, name)


def resolve_form(ctx: Ctx, reference: dict[str, Any], deployment_id: str | None) -> forms.FormDefinition | None:
    """The form definition a task or start event refers to (formRef with binding, or a deployment form key)."""
    if reference.get("form_data"):
        return forms.form_from_form_data(reference["form_data"], key=reference.get("element_id") or "formData")
    ref = parser.form_key_reference(reference.get("form_ref"), reference.get("form_key"))
    if ref is None:
        return None
    row = _form_row(ctx, ref, reference, deployment_id)
    if row is None:
        return None
    stored = resource(ctx, row.resource_id)
    return _parse_form_cached(stored.sha256, stored.content, stored.name) if stored else None


def _form_row(ctx: Ctx, ref: str, reference: dict[str, Any], deployment_id: str | None) -> Any:
    model = schema.FormDefinition
    if ref.startswith("resource:"):
        query = sa.select(model).where(model.resource_name == ref[9:])
        same = ctx.session.scalar(query.where(model.deployment_id == deployment_id)) if deployment_id else None
        return same or ctx.session.scalar(query.order_by(model.created_at.desc()).limit(1))
    query = sa.select(model).where(model.key == ref)
    binding = reference.get("form_ref_binding") or "latest"
    if binding == "version" and reference.get("form_ref_version"):
        query = query.where(model.version == int(reference["form_ref_version"]))
    elif binding == "deployment" and deployment_id:
        query = query.where(model.deployment_id == deployment_id)
    return ctx.session.scalar(query.order_by(model.version.desc()).limit(1))


@lru_cache(maxsize=256)
def _parse_form_cached(_sha: str, content: bytes, name: str) -> forms.FormDefinition:
    return forms.parse_form_js(content, name)


# --- deleting ----------------------------------------------------------------------------------------------


def delete_deployment(ctx: Ctx, deployment_id: str, *, cascade: bool = False) -> bool:
    """Delete a deployment; refused while its instances run unless cascade terminates them."""
    deployment = ctx.session.get(schema.Deployment, deployment_id)
    if deployment is None:
        return False
    definition_ids = list(ctx.session.scalars(sa.select(schema.ProcessDefinition.id).where(
        schema.ProcessDefinition.deployment_id == deployment_id)))
    running = list(ctx.session.scalars(sa.select(schema.ProcessInstance.id).where(
        schema.ProcessInstance.definition_id.in_(definition_ids),
        schema.ProcessInstance.state.in_([InstanceState.ACTIVE, InstanceState.SUSPENDED]))))
    if running and not cascade:
        raise ConflictError(f"The deployment has {len(running)} running process instances; delete with "
                            "cascade to terminate them.")
    _delete_rows(ctx, deployment_id, definition_ids, running)
    return True


def _delete_rows(ctx: Ctx, deployment_id: str, definition_ids: list[str], running: list[str]) -> None:
    from workflows import audit, instances

    for instance_id in running:
        instances.terminate(ctx, instance_id, reason="Deployment deleted")
    session = ctx.session
    instance_ids = sa.select(schema.ProcessInstance.id).where(schema.ProcessInstance.definition_id.in_(definition_ids))
    runtime_models: tuple[Any, ...] = (schema.ProcessVariable, schema.HumanTask, schema.Timer,
                                       schema.MessageSubscription, schema.ExternalTask, schema.Incident)
    for runtime_model in runtime_models:
        session.execute(sa.delete(runtime_model).where(runtime_model.instance_id.in_(instance_ids)))
    session.execute(sa.delete(schema.Timer).where(schema.Timer.definition_id.in_(definition_ids)))
    session.execute(sa.delete(schema.ProcessInstance).where(schema.ProcessInstance.definition_id.in_(definition_ids)))
    definition_models: tuple[Any, ...] = (schema.ProcessDefinition, schema.DecisionDefinition,
                                          schema.FormDefinition, schema.DeploymentResource)
    for definition_model in definition_models:
        session.execute(sa.delete(definition_model).where(definition_model.deployment_id == deployment_id))
    session.execute(sa.delete(schema.Deployment).where(schema.Deployment.id == deployment_id))
    audit.record(ctx, "deployment_deleted", details={"deployment_id": deployment_id,
                                                      "terminated_instances": len(running)})
