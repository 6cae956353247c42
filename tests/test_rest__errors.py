"""Camunda's error body {type, message, code} with its status codes (400, 401, 403, 404, 409), and sign-in with
HTTP Basic against kimflow accounts or a Bearer token."""

from __future__ import annotations

import base64

import pytest

from service import auth
from service.runtime import Runtime
from tests.test_rest__support import Rest, rest_fixture  # noqa: F401 (fixture)
from workflows import accounts, errors, human_tasks


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def with_password(rest: Rest, runtime: Runtime) -> Rest:
    auth.forget_everything()
    with runtime.command() as ctx:
        accounts.add_user(ctx, "erika", password="erika-secret", role="caseworker", groups=["fm-team"])
    return rest


def test_basic_and_bearer_sign_in(with_password: Rest) -> None:
    rest = with_password
    assert rest.call("GET", "/version", user=None, headers=_basic("erika", "erika-secret")).status_code == 200
    assert rest.call("GET", "/version", user="erika").status_code == 200  # Bearer token of the same account
    for headers in ({}, _basic("erika", "falsch"), _basic("niemand", "erika-secret"),
                    {"Authorization": "Basic %%%"}, {"Authorization": "Bearer kim_unknown"},
                    {"Authorization": "Negotiate abc"}):
        response = rest.call("GET", "/deployment", user=None, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert response.get_json()["type"] == "AuthenticationException"


def test_403_is_an_authorization_exception_with_the_user(rest: Rest) -> None:
    body = rest.error(403, "DELETE", "/deployment/any", user="erika")
    assert (body["type"], body["userId"], body["code"], body["missingAuthorizations"]) == \
        ("AuthorizationException", "erika", 0, [])
    rest.error(403, "GET", "/external-task", user="paula")


def test_400_for_bad_input(rest: Rest) -> None:
    rest.deploy("three_tasks")
    malformed = rest.call("POST", "/process-definition/key/three_tasks/start", data="{nope",
                          content_type="application/json")
    assert malformed.status_code == 400 and malformed.get_json()["type"] == "InvalidRequestException"
    for path, query in (("/task", {"maxResults": "viele"}), ("/process-definition", {"latestVersion": "ja"}),
                        ("/history/process-instance", {"startedAfter": "gestern"})):
        body = rest.error(400, "GET", path, query_string=query)
        assert (body["type"], body["code"]) == ("InvalidRequestException", 0)
    wrong_type = rest.error(400, "POST", "/process-definition/key/three_tasks/start",
                            json={"variables": {"x": {"value": 1, "type": "Object"}}})
    assert "Java objects" in wrong_type["message"]


def test_404_for_unknown_ids_and_paths(rest: Rest) -> None:
    for path in ("/deployment/x", "/process-definition/x", "/process-definition/key/x", "/decision-definition/x",
                 "/process-instance/x", "/task/x", "/external-task/x", "/history/process-instance/x", "/incident/x"):
        body = rest.error(404, "GET", path)
        assert body["type"] == "InvalidRequestException", path
    assert rest.error(404, "GET", "/no-such-resource")["type"] == "RestException"
    assert rest.call("PATCH", "/task").status_code == 405


def test_409_conflicts_and_optimistic_locking(rest: Rest, monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = rest.deploy("three_tasks")
    rest.start("three_tasks", "FM-1")
    (task,) = rest.tasks()
    busy = rest.error(409, "DELETE", f"/deployment/{deployment['id']}")
    assert (busy["type"], busy["code"]) == ("ProcessEngineException", 0)
    rest.no_content("POST", f"/task/{task['id']}/claim", {"userId": "erika"}, user="erika")
    claimed = rest.error(409, "POST", f"/task/{task['id']}/claim", user="tina", json={"userId": "tina"})
    assert claimed["type"] == "TaskAlreadyClaimedException"

    def raced(*_args: object, **_kwargs: object) -> None:
        raise errors.ConcurrentChangeError("Process instance x was changed by someone else in the meantime.")

    monkeypatch.setattr(human_tasks, "complete", raced)
    lost = rest.error(409, "POST", f"/task/{task['id']}/complete", user="erika", json={})
    assert (lost["type"], lost["code"]) == ("OptimisticLockingException", 1)
