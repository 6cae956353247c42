"""The Camunda 7 REST subset against real clients on a live server: Camunda Modeler's Deploy and Start buttons
(requests built byte for byte as its CamundaAPI.js and Chromium's fetch build them) and the PyPI package
camunda-external-task-client-python3 working external tasks."""

from __future__ import annotations

import base64
import json
import secrets
import string
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import waitress
from camunda.external_task.external_task import ExternalTask
from camunda.external_task.external_task_worker import ExternalTaskWorker
from waitress import wasyncore

from service.app import create_app
from service.runtime import Runtime
from tests.conftest import DATA
from workflows import accounts, human_tasks, incidents, instances
from workflows.context import Actor


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    with runtime.command() as ctx:
        accounts.add_user(ctx, "modeler", password="modeler-secret", role="process_owner", groups=["prozess"])
        accounts.add_user(ctx, "anna", password="anna-secret", role="admin")
        accounts.add_user(ctx, "worker", password="worker-secret", role="service")
        accounts.add_user(ctx, "erika", password="erika-secret", role="caseworker", groups=["fm-team"])
        accounts.add_user(ctx, "bernd", password="bernd-secret", role="caseworker", groups=["abh-team"])
    app = create_app(runtime)
    wsgi = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{wsgi.effective_port}/engine-rest"  # type: ignore[union-attr]
    finally:  # close inside the server's own loop: closing its sockets from here races with its select()
        wsgi.task_dispatcher.shutdown()
        wsgi.trigger.pull_trigger(lambda: wasyncore.close_all(wsgi.map))
        thread.join(timeout=5)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- Camunda Modeler ---------------------------------------------------------------------------------------------
#
# Compared against Camunda Modeler 5.50.1 (camunda/camunda-modeler, app/package.json; commit 6bf14d7 of
# 2026-08-20):
#   client/src/plugins/camunda-plugin/shared/CamundaAPI.js      deployDiagram, startInstance, checkConnection,
#                                                               getVersion; normalizeBaseURL
#   client/src/plugins/camunda-plugin/shared/RestAPI.js         fetch(): headers { ...options.headers,
#                                                               accept: 'application/json', authorization }
#   client/src/plugins/camunda-plugin/deployment-tool/DeploymentTool.js   deployment name = file name without
#                                                               extension; getVersion before deploying
#   client/src/plugins/camunda-plugin/start-instance-tool/StartInstanceTool.js   checkConnection, getVersion,
#                                                               deploy, then start the deployed definition (or
#                                                               the one saved before, if nothing changed)
# The renderer's window.fetch (Chromium, page loaded from file://) encodes the FormData; MultipartFormData below
# writes the bytes as Chromium's FormDataEncoder does.


def _chromium_boundary() -> str:
    """Blink's FormDataEncoder::GenerateUniqueBoundaryString: ----WebKitFormBoundary + 16 characters."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "AB"
    return "----WebKitFormBoundary" + "".join(secrets.choice(alphabet) for _ in range(16))


def _escape(name: str) -> str:
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


@dataclass
class MultipartFormData:
    """A FormData as Chromium serializes it, parts in the order appended: strings as plain parts, Blobs with
    filename and Content-Type."""

    boundary: str
    body: bytes = b""

    def append(self, name: str, value: str | bytes, filename: str | None = None, content_type: str = "") -> None:
        header = f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_escape(name)}"'
        if filename is None:  # form.append(name, string)
            data = str(value).replace("\r\n", "\n").replace("\n", "\r\n").encode()
        else:  # form.append(name, blob, filename): a Blob without type is sent as application/octet-stream
            header += f'; filename="{_escape(filename)}"\r\nContent-Type: {content_type or "application/octet-stream"}'
            data = value if isinstance(value, bytes) else value.encode()
        self.body += header.encode() + b"\r\n\r\n" + data + b"\r\n"

    def close(self) -> bytes:
        return self.body + f"--{self.boundary}--\r\n".encode()


@dataclass
class Modeler:
    """CamundaAPI of Camunda Modeler, endpoint and authentication as its deployment configuration holds them."""

    url: str
    username: str | None = None
    password: str | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        self.base = self.url.replace("/deployment/create", "")  # normalizeBaseURL
        self.requests: list[requests.PreparedRequest] = []

    def headers(self) -> dict[str, str]:
        """RestAPI.getHeaders(): accept, and authorization as Bearer (token wins) or Basic."""
        headers = {"accept": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        elif self.username and self.password:
            headers["authorization"] = _basic(self.username, self.password)
        return headers

    def fetch(self, path: str, method: str = "GET", headers: dict[str, str] | None = None,
              body: bytes | None = None) -> requests.Response:
        """RestAPI.fetch; the page's origin (file://) rides along as Chromium sends it."""
        prepared = requests.Request(method, f"{self.base}{path}", data=body,
                                    headers={**(headers or {}), **self.headers(), "Origin": "file://"}).prepare()
        self.requests.append(prepared)
        with requests.Session() as session:
            return session.send(prepared, timeout=30)

    def check_connection(self) -> requests.Response:
        return self.fetch("/deployment?maxResults=0")

    def get_version(self) -> requests.Response:
        return self.fetch("/version")

    def deploy_diagram(self, diagram: Path, name: str, attachments: tuple[Path, ...] = (),
                       tenant_id: str | None = None) -> requests.Response:
        form = MultipartFormData(_chromium_boundary())
        form.append("deployment-name", name)
        form.append("deployment-source", "Camunda Modeler")
        form.append("enable-duplicate-filtering", "true")  # make sure that we do not re-deploy
        if tenant_id:
            form.append("tenant-id", tenant_id)
        form.append(diagram.name, diagram.read_bytes(), diagram.name, "text/xml")
        for file in attachments:
            form.append(file.name, file.read_bytes(), file.name)
        content_type = f"multipart/form-data; boundary={form.boundary}"
        return self.fetch("/deployment/create", "POST", {"Content-Type": content_type}, form.close())

    def start_instance(self, definition: dict[str, Any], business_key: str | None,
                       variables: dict[str, Any] | None) -> requests.Response:
        body = json.dumps({"businessKey": business_key, "variables": variables}, separators=(",", ":"),
                          ensure_ascii=False).encode()  # JSON.stringify
        return self.fetch(f"/process-definition/{definition['id']}/start", "POST",
                          {"content-type": "application/json"}, body)


def deployed_definition(response: requests.Response) -> dict[str, Any] | None:
    """What CamundaAPI.deployDiagram hands back: the first of deployedProcessDefinitions, if any."""
    return next(iter((response.json()["deployedProcessDefinitions"] or {}).values()), None)


ATTRIBUTES = DATA / "user_task_attributes"
FORMS = (ATTRIBUTES / "erstkontakt.form", ATTRIBUTES / "start_form.form")


def _press_start(modeler: Modeler, diagram: Path, saved: dict[str, Any] | None = None,
                 business_key: str | None = "FM-1", variables_text: str = "") -> tuple[dict[str, Any], Any]:
    """StartInstanceTool.startInstance: connection check, version, deploy, start (variables as typed by the
    user in the start dialog, JSON.parse'd; empty means null)."""
    assert modeler.check_connection().status_code == 200
    assert modeler.get_version().json()["version"].startswith("7.")
    deployment = modeler.deploy_diagram(diagram, diagram.stem, FORMS if diagram.parent == ATTRIBUTES else ())
    assert deployment.status_code == 200, deployment.text
    definition = deployed_definition(deployment) or saved
    assert definition is not None
    variables = json.loads(variables_text) if variables_text.strip() else None
    started = modeler.start_instance(definition, business_key, variables)
    return definition, started


def test_modeler_start_button_deploys_and_starts_with_basic_auth(server: str) -> None:
    modeler = Modeler(f"{server}/deployment/create", username="anna", password="anna-secret")
    assert modeler.check_connection().json() == []
    definition, started = _press_start(modeler, ATTRIBUTES / "attributes.bpmn",
                                       variables_text='{"tage": {"value": 3, "type": "Integer"}}')
    assert started.status_code == 200, started.text
    instance = started.json()
    assert (instance["definitionId"], instance["businessKey"], instance["ended"]) == (definition["id"], "FM-1", False)
    assert started.headers["Access-Control-Allow-Origin"] == "file://"
    assert [(r.method, r.path_url.removeprefix("/engine-rest")) for r in modeler.requests] == [
        ("GET", "/deployment?maxResults=0"), ("GET", "/deployment?maxResults=0"), ("GET", "/version"),
        ("POST", "/deployment/create"), ("POST", f"/process-definition/{definition['id']}/start")]
    deploy_body = modeler.requests[3].body
    assert isinstance(deploy_body, bytes) and deploy_body.startswith(b"------WebKitFormBoundary")
    assert b'Content-Disposition: form-data; name="attributes.bpmn"; filename="attributes.bpmn"\r\n' \
           b"Content-Type: text/xml\r\n\r\n<?xml" in deploy_body
    assert modeler.requests[4].body == b'{"businessKey":"FM-1","variables":{"tage":{"value":3,"type":"Integer"}}}'
    deployment = requests.get(f"{server}/deployment/{definition['deploymentId']}",
                              headers={"authorization": _basic("anna", "anna-secret")}, timeout=10).json()
    assert (deployment["name"], deployment["source"]) == ("attributes", "Camunda Modeler")
    # unchanged diagram: duplicate filtering answers the existing deployment without definitions, and Modeler
    # starts the definition it saved last time
    again, second = _press_start(modeler, ATTRIBUTES / "attributes.bpmn", saved=definition, business_key=None)
    assert again == definition and second.status_code == 200, second.text
    assert second.json()["businessKey"] is None


def test_modeler_with_a_bearer_token(server: str, runtime: Runtime) -> None:
    with runtime.command() as ctx:
        token = accounts.create_token(ctx, "anna", "Camunda Modeler")
    modeler = Modeler(server, token=token)  # the user typed the /engine-rest URL itself
    _definition, started = _press_start(modeler, DATA / "three_tasks" / "three_tasks.bpmn")
    assert started.status_code == 200, started.text
    assert modeler.requests[0].headers["authorization"] == f"Bearer {token}"


def test_chromium_preflight_from_the_modeler_page_is_answered(server: str) -> None:
    """Because of the authorization header, Chromium asks first (no credentials in a preflight)."""
    for path, method, headers in (("/deployment/create", "POST", "authorization"),
                                  ("/process-definition/x/start", "POST", "authorization,content-type"),
                                  ("/deployment?maxResults=0", "GET", "authorization")):
        response = requests.options(f"{server}{path}", timeout=10, headers={
            "Origin": "file://", "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers})
        assert response.status_code in (200, 204), path
        assert response.headers["Access-Control-Allow-Origin"] == "file://"
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert all(h in allowed for h in headers.split(","))
        assert method in response.headers["Access-Control-Allow-Methods"]
    other = requests.options(f"{server}/deployment/create", timeout=10, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_a_process_owner_deploys_but_modeler_cannot_start_cases_with_that_account(server: str) -> None:
    modeler = Modeler(f"{server}/deployment/create", username="modeler", password="modeler-secret")
    _definition, started = _press_start(modeler, DATA / "three_tasks" / "three_tasks.bpmn")
    assert started.status_code == 403  # Modeler shows FORBIDDEN: "This user is not permitted ..."
    assert started.json()["type"] == "AuthorizationException"


def test_modeler_sees_parse_errors_as_such(server: str) -> None:
    modeler = Modeler(f"{server}/deployment/create", username="modeler", password="modeler-secret")
    response = modeler.deploy_diagram(DATA / "invalid" / "java_constructs.bpmn", "java_constructs")
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("ENGINE-09005 Could not parse BPMN process.")  # DIAGRAM_PARSE_ERROR
    assert "java_class" in body["message"]
    assert body["details"]["java_constructs.bpmn"]["errors"][0]["line"]


def test_modeler_sees_wrong_credentials_and_roles(server: str) -> None:
    diagram = DATA / "three_tasks" / "three_tasks.bpmn"
    anonymous = Modeler(server)
    assert anonymous.check_connection().status_code == 401  # UNAUTHORIZED
    response = anonymous.deploy_diagram(diagram, "three_tasks")
    assert response.status_code == 401
    assert "Basic" in response.headers["WWW-Authenticate"]
    wrong = Modeler(server, username="modeler", password="nope")
    assert wrong.check_connection().status_code == 401
    caseworker = Modeler(server, username="erika", password="erika-secret")
    assert caseworker.deploy_diagram(diagram, "three_tasks").status_code == 403  # FORBIDDEN


# --- camunda-external-task-client-python3 ----------------------------------------------------------------------


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
    Modeler(server, username="modeler", password="modeler-secret").deploy_diagram(
        DATA / "three_tasks" / "three_tasks.bpmn", "three_tasks")
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
