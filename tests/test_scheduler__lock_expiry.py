"""Expired external-task locks: the scheduler releases them, so the Camunda REST API shows the task free (no
worker, no lock time), another worker fetches it, and the audit trail names whose lock ran out."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import scheduler
from service.app import create_app
from service.runtime import Runtime
from tests.conftest import deploy
from workflows import accounts, audit, external_tasks, instances
from workflows.clock import ManualClock
from workflows.errors import ConflictError

TOPIC = [external_tasks.TopicRequest("azr-abfrage", lock_duration_ms=60_000)]
AUTH = {"authorization": "Basic " + base64.b64encode(b"worker:worker-secret").decode()}


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    with runtime.command() as ctx:
        accounts.add_user(ctx, "worker", password="worker-secret", role="service")
    return create_app(runtime).test_client()


def _locked_task(runtime: Runtime) -> str:
    deploy(runtime, "external_tasks")
    with runtime.command() as ctx:
        instances.start(ctx, key="external", business_key="ABH-7", variables_in={"prio": 5})
    with runtime.command() as ctx:
        (locked,) = external_tasks.fetch_and_lock(ctx, "w1", TOPIC)
    return locked.row.id


def _get(client: FlaskClient, path: str) -> Any:
    response = client.get(f"/engine-rest{path}", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_scheduler_releases_an_expired_lock_and_the_api_shows_the_task_free(
        runtime: Runtime, clock: ManualClock, client: FlaskClient) -> None:
    task_id = _locked_task(runtime)
    assert _get(client, f"/external-task/{task_id}")["workerId"] == "w1"
    clock.advance(seconds=59)
    scheduler.housekeeping(runtime)
    assert _get(client, f"/external-task/{task_id}")["workerId"] == "w1"  # still within its lock
    clock.advance(seconds=2)
    scheduler.housekeeping(runtime)
    task = _get(client, f"/external-task/{task_id}")
    assert (task["workerId"], task["lockExpirationTime"]) == (None, None)
    assert _get(client, "/external-task?workerId=w1") == []
    assert [t["id"] for t in _get(client, "/external-task?notLocked=true")] == [task_id]
    with runtime.command() as ctx:
        (expired,) = audit.query(ctx, kinds=["external_task_lock_expired"])
    assert (expired.task_id, expired.element_id, expired.details["worker_id"]) == (task_id, "azr_abfrage", "w1")
    assert expired.details["lock_expired_at"].startswith("2026-01-05T08:01:00")
    fetched = client.post("/engine-rest/external-task/fetchAndLock", headers=AUTH, json={
        "workerId": "w2", "maxTasks": 1, "topics": [{"topicName": "azr-abfrage", "lockDuration": 60_000}]})
    assert [t["id"] for t in fetched.get_json()] == [task_id]
    with runtime.command() as ctx, pytest.raises(ConflictError):
        external_tasks.complete(ctx, task_id, "w1")  # the first worker comes back too late
    scheduler.housekeeping(runtime)
    with runtime.command() as ctx:
        assert len(audit.query(ctx, kinds=["external_task_lock_expired"])) == 1  # released once


def test_a_released_lock_is_fetchable_by_the_same_topic_only_once(runtime: Runtime, clock: ManualClock) -> None:
    task_id = _locked_task(runtime)
    clock.advance(minutes=5)
    with runtime.command() as ctx:
        assert external_tasks.release_expired_locks(ctx) == 1
        assert external_tasks.release_expired_locks(ctx) == 0
    with runtime.command() as ctx:
        assert [t.row.id for t in external_tasks.fetch_and_lock(ctx, "w2", TOPIC)] == [task_id]
        assert external_tasks.fetch_and_lock(ctx, "w3", TOPIC) == []
