"""A model sets the business key: an instance started without one adopts the variable `businessKey` (what
Camunda models do with execution.setProcessBusinessKey), set by a start form or a script; a key is never changed.
The REST API, the inbox, the case list and message correlation all see the adopted key."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import ADMIN, CASEWORKER
from tests.test_rest__support import Rest, rest_fixture  # noqa: F401 (fixture)
from workflows import audit, human_tasks, instance_rows, messages, schema


def _tasks(runtime: Runtime, instance_id: str) -> dict[str, str | None]:
    with runtime.command(CASEWORKER) as ctx:
        found = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id))
        return {t.task_definition_key: t.business_key for t in found}


def _complete(runtime: Runtime, instance_id: str, element: str, **values: Any) -> None:
    with runtime.command(ADMIN) as ctx:
        (task,) = [t for t in human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id))
                   if t.task_definition_key == element]
        human_tasks.complete(ctx, task.id, values)


def test_a_start_variable_becomes_the_business_key(rest: Rest, runtime: Runtime) -> None:
    rest.deploy("business_key")
    started = rest.start("aktenzeichen", None, businessKey="FM-2026-000007")
    assert started["businessKey"] == "FM-2026-000007"
    assert rest.get(f"/process-instance/{started['id']}")["businessKey"] == "FM-2026-000007"
    assert [i["id"] for i in rest.get("/process-instance", query_string={"businessKey": "FM-2026-000007"})] == \
        [started["id"]]
    assert _tasks(runtime, started["id"]) == {"beraten": "FM-2026-000007", "erfassen": "FM-2026-000007"}
    assert {t["processInstanceId"] for t in rest.tasks(processInstanceBusinessKey="FM-2026-000007")} == \
        {started["id"]}


def test_a_script_sets_the_key_later_and_earlier_rows_get_it_too(rest: Rest, runtime: Runtime) -> None:
    rest.deploy("business_key")
    started = rest.start("aktenzeichen", None, laufende_nummer=123)
    instance = started["id"]
    assert started["businessKey"] is None
    assert _tasks(runtime, instance) == {"beraten": None, "erfassen": None}
    _complete(runtime, instance, "erfassen")  # the script gives the case its Aktenzeichen
    key = "FM-2026-000123"
    assert rest.get(f"/process-instance/{instance}")["businessKey"] == key
    assert _tasks(runtime, instance) == {"beraten": key}  # created before the key existed
    with runtime.command(CASEWORKER) as ctx:
        assert [t.instance_id for t in human_tasks.find(ctx, human_tasks.TaskQuery(business_key_like="000123"))] \
            == [instance]
        subscription = ctx.session.scalars(sa.select(schema.MessageSubscription)).one()
        assert subscription.business_key == key
        (event,) = audit.for_instance(ctx, instance, kinds=["business_key_set"])
        assert event.details["business_key"] == key
    with runtime.command() as ctx:
        (result,) = messages.correlate(ctx, "rueckmeldung", business_key=key)
        assert result.instance_id == instance
    _complete(runtime, instance, "beraten")
    assert rest.get(f"/history/process-instance/{instance}")["businessKey"] == key


def test_an_existing_business_key_is_never_changed(rest: Rest, runtime: Runtime) -> None:
    rest.deploy("business_key")
    started = rest.start("aktenzeichen", "FM-2026-000001", laufende_nummer=2)
    _complete(runtime, started["id"], "erfassen")  # the script sets businessKey = FM-2026-000002
    assert rest.get(f"/process-instance/{started['id']}")["businessKey"] == "FM-2026-000001"
    with runtime.command() as ctx:
        row = instance_rows.load(ctx.session, started["id"])
        assert row is not None and row.business_key == "FM-2026-000001"
        assert audit.for_instance(ctx, started["id"], kinds=["business_key_set"]) == []
    assert _tasks(runtime, started["id"]) == {"beraten": "FM-2026-000001"}


def test_values_that_cannot_be_a_key_are_ignored(rest: Rest) -> None:
    rest.deploy("business_key")
    for value in ("", "   ", True, "x" * 256):
        assert rest.start("aktenzeichen", None, businessKey=value)["businessKey"] is None
