"""The Camunda 7 REST subset against real clients on a live server: Camunda Modeler's deploy and start requests
(as its CamundaAPI.js builds them) and the PyPI external-task client."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import waitress
from camunda.external_task.external_task import ExternalTask
from camunda.external_task.external_task_worker import ExternalTaskWorker

from service.app import create_app
from service.runtime import Runtime
from tests.conftest import DATA
from workflows import accounts, human_tasks, incidents, instances
from workflows.context import Actor


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    with runtime.command() as ctx:
        accounts.add_user(ctx, "modeler", password="modeler-secret", role="process_owner", groups=["prozess"])
        accounts.add_user(ctx, "worker", password="worker-secret", role="service")
        accounts.add_user(ctx, "erika", password="erika-secret", role="caseworker", groups=["fm-team"])
        accounts.add_user(ctx, "bernd", password="bernd-secret", role="caseworker", groups=["abh-team"])
    app = create_app(runtime)
    wsgi = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{wsgi.effective_port}/engine-rest"  # type: ignore[union-attr]
    finally:
        wsgi.close()
        thread.join(timeout=5)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


MODELER = {"accept": "application/json", "authorization": _basic("modeler", "modeler-secret")}


def _modeler_deploy(base: str, diagram: str, attachments: tuple[str, ...] = ()) -> requests.Response:
    """Exactly the fields and parts CamundaAPI.deployDiagram sends (FormData, one part per file)."""
    path = DATA / diagram
    parts: list[tuple[str, Any]] = [
        ("deployment-name", (None, "diagram")),
        ("deployment-source", (None, "Camunda Modeler")),
        ("enable-duplicate-filtering", (None, "true")),
        (path.name, (path.name, path.read_bytes(), "text/xml")),
    ]
    for attachment in attachments:
        file = DATA / attachment
        parts.append((file.name, (file.name, file.read_bytes(), "application/octet-stream")))
    return requests.post(f"{base}/deployment/create", files=parts, headers=MODELER, timeout=30)


def test_modeler_connection_check_version_deploy_and_start(server: str, runtime: Runtime) -> None:
    assert requests.get(f"{server}/deployment?maxResults=0", headers=MODELER, timeout=10).json() == []
    assert requests.get(f"{server}/version", headers=MODELER, timeout=10).json()["version"].startswith("7.")
    response = _modeler_deploy(server, "user_task_attributes/attributes.bpmn",
                               ("user_task_attributes/erstkontakt.form", "user_task_attributes/start_form.form"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "Camunda Modeler"
    (definition,) = body["deployedProcessDefinitions"].values()
    assert (definition["key"], definition["version"]) == ("attributes", 1)
    again = _modeler_deploy(server, "user_task_attributes/attributes.bpmn",
                            ("user_task_attributes/erstkontakt.form", "user_task_attributes/start_form.form"))
    assert again.json()["id"] == body["id"]  # duplicate filtering: nothing changed, same deployment
    start = requests.post(f"{server}/process-definition/{definition['id']}/start",
                          json={"businessKey": "FM-1", "variables": {"tage": {"value": 3, "type": "Integer"}}},
                          headers={**MODELER, "authorization": _basic("erika", "erika-secret"),
                                   "content-type": "application/json"}, timeout=30)
    assert start.status_code == 200, start.text
    assert start.json()["businessKey"] == "FM-1"


def test_process_owner_may_not_start_cases(server: str) -> None:
    body = _modeler_deploy(server, "three_tasks/three_tasks.bpmn").json()
    (definition,) = body["deployedProcessDefinitions"].values()
    response = requests.post(f"{server}/process-definition/{definition['id']}/start", json={}, headers=MODELER,
                             timeout=10)
    assert response.status_code == 403
    assert response.json()["type"] == "AuthorizationException"


def test_modeler_sees_parse_errors_as_such(server: str) -> None:
    response = _modeler_deploy(server, "invalid/java_constructs.bpmn")
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("ENGINE-09005 Could not parse BPMN process.")
    assert "java_class" in body["message"]
    assert body["details"]["java_constructs.bpmn"]["errors"][0]["line"]


def test_deploy_needs_authentication_and_the_right_role(server: str) -> None:
    path = DATA / "three_tasks" / "three_tasks.bpmn"
    anonymous = requests.post(f"{server}/deployment/create", files={path.name: path.read_bytes()}, timeout=10)
    assert anonymous.status_code == 401
    assert "Basic" in anonymous.headers["WWW-Authenticate"]
    caseworker = requests.post(f"{server}/deployment/create", files={path.name: path.read_bytes()},
                               headers={"authorization": _basic("erika", "erika-secret")}, timeout=10)
    assert caseworker.status_code == 403
    wrong = requests.get(f"{server}/deployment", headers={"authorization": _basic("modeler", "nope")}, timeout=10)
    assert wrong.status_code == 401


def _run_worker(base: str, topic: str, handler: Any) -> None:
    config = {"auth_basic": {"username": "worker", "password": "worker-secret"}, "maxTasks": 1,
              "lockDuration": 10_000, "asyncResponseTimeout": 2_000, "sleepSeconds": 0}
    ExternalTaskWorker(worker_id=f"w-{uuid.uuid4()}", base_url=base, config=config).fetch_and_execute(topic, handler)


def _start_external(runtime: Runtime, **values: Any) -> str:
    from tests.conftest import deploy

    deploy(runtime, "external_tasks")
    with runtime.command() as ctx:
        return instances.start(ctx, key="external", business_key="ABH-9", variables_in={"prio": 1, **values}).id


def _open_tasks(runtime: Runtime) -> list[str]:
    with runtime.command(Actor("admin", "admin", frozenset())) as ctx:
        return [t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery())]


def test_external_task_client_completes_a_task(server: str, runtime: Runtime) -> None:
    instance = _start_external(runtime, name="Ada")
    seen: dict[str, Any] = {}

    def handle(task: ExternalTask) -> Any:
        seen["name"] = task.get_variable("name")
        seen["business_key"] = task.get_business_key()
        return task.complete({"azr_status": "Aufenthaltserlaubnis", "treffer": 1})

    _run_worker(server, "azr-abfrage", handle)
    assert seen == {"name": "Ada", "business_key": "ABH-9"}
    assert _open_tasks(runtime) == ["auswerten"]
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, instance)["treffer"] == 1


def test_external_task_client_failure_with_retry_then_bpmn_error(server: str, runtime: Runtime) -> None:
    instance = _start_external(runtime)
    _run_worker(server, "azr-abfrage", lambda task: task.failure("AZR down", "timeout", max_retries=2,
                                                                  retry_timeout=0))
    with runtime.command() as ctx:
        row = ctx.session.get(__import__("workflows.schema", fromlist=["schema"]).ExternalTask,
                              _external_task_id(runtime))
        assert row is not None and row.retries == 2 and row.error_message == "AZR down"
    _run_worker(server, "azr-abfrage", lambda task: task.bpmn_error("NOT_FOUND", "kein Eintrag",
                                                                     {"suchlauf": 2}))
    assert _open_tasks(runtime) == ["klaeren"]
    with runtime.command() as ctx:
        values = instances.get_variables(ctx, instance)
        assert incidents.list_open(ctx, instance_id=instance) == []
    assert (values["fehlercode"], values["suchlauf"]) == ("NOT_FOUND", 2)


def _external_task_id(runtime: Runtime) -> str:
    from workflows import external_tasks

    with runtime.command() as ctx:
        (row,) = external_tasks.list_tasks(ctx)
        return row.id


def test_failure_without_retries_makes_an_incident_visible_over_rest(server: str, runtime: Runtime) -> None:
    _start_external(runtime)
    _run_worker(server, "azr-abfrage", lambda task: task.failure("kaputt", "details", max_retries=0,
                                                                  retry_timeout=0))
    worker = {"authorization": _basic("worker", "worker-secret")}
    (incident,) = requests.get(f"{server}/incident", headers=worker, timeout=10).json()
    assert (incident["incidentType"], incident["activityId"]) == ("failedExternalTask", "azr_abfrage")


def test_tasks_follow_group_rules_over_rest(server: str, runtime: Runtime) -> None:
    _modeler_deploy(server, "three_tasks/three_tasks.bpmn")
    with runtime.command() as ctx:
        instances.start(ctx, key="three_tasks", business_key="FM-3")
    erika = {"authorization": _basic("erika", "erika-secret")}
    bernd = {"authorization": _basic("bernd", "bernd-secret")}
    (task,) = requests.get(f"{server}/task", headers=erika, timeout=10).json()
    assert requests.get(f"{server}/task", headers=bernd, timeout=10).json() == []
    assert requests.get(f"{server}/task/count", headers=bernd, timeout=10).json() == {"count": 0}
    assert requests.get(f"{server}/task/{task['id']}", headers=bernd, timeout=10).status_code == 404
    assert requests.post(f"{server}/task/{task['id']}/claim", json={"userId": "bernd"}, headers=bernd,
                         timeout=10).status_code == 404
    assert requests.post(f"{server}/task/{task['id']}/claim", json={"userId": "erika"}, headers=erika,
                         timeout=10).status_code == 204
    done = requests.post(f"{server}/task/{task['id']}/complete", headers=erika, timeout=10,
                         json={"variables": {"ok": {"value": True, "type": "Boolean"}}, "withVariablesInReturn": True})
    assert done.status_code == 200
    assert done.json()["ok"] == {"value": True, "type": "Boolean", "valueInfo": {}}
    again = requests.post(f"{server}/task/{task['id']}/complete", headers=erika, json={}, timeout=10)
    assert again.status_code == 404
