"""The OpenAPI document describes exactly the supported subset, and a schemathesis run against it finds no 5xx
and no response that breaks the documented schema (bounded in examples and time)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.app import create_app
from service.runtime import Runtime
from tests.conftest import deploy
from workflows import accounts, instances

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-secret").decode()}


@pytest.fixture
def api_schema(runtime: Runtime) -> Any:
    with runtime.command() as ctx:
        accounts.add_user(ctx, "admin", password="admin-secret", role="admin")
    deploy(runtime, "three_tasks", "external_tasks")
    with runtime.command() as ctx:
        instances.start(ctx, key="three_tasks", business_key="FM-1")
        instances.start(ctx, key="external", variables_in={"prio": 1})
    app = create_app(runtime, KIMFLOW_MAX_LONG_POLL_SECONDS=0.2)
    return schemathesis.openapi.from_wsgi("/engine-rest/openapi.json", app)


def test_no_server_errors_and_responses_match_the_schema(api_schema: Any) -> None:
    """Every operation, a few generated cases each (schemathesis' pytest plugin does not run on pytest 9)."""
    failures: list[str] = []
    calls: list[int] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call_and_validate(headers=ADMIN, checks=[not_a_server_error, response_schema_conformance])
            calls.append(response.status_code)

        try:
            check()
        except Exception as error:  # collect all operations' failures, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert failures == []
    assert len(calls) > 100  # every operation was called several times
    assert any(200 <= code < 300 for code in calls)


def test_the_document_lists_the_camunda_subset(runtime: Runtime) -> None:
    app = create_app(runtime)
    document = app.test_client().get("/engine-rest/openapi.json").get_json()
    paths = set(document["paths"])
    for expected in ("/engine-rest/deployment/create", "/engine-rest/process-definition/key/{key}/start",
                     "/engine-rest/task/{task_id}/complete", "/engine-rest/message",
                     "/engine-rest/external-task/fetchAndLock", "/engine-rest/history/process-instance",
                     "/engine-rest/incident"):
        assert expected in paths
    assert document["components"]["securitySchemes"]["basic"]["scheme"] == "basic"
