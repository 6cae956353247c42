"""External tasks over /engine-rest/external-task: fetchAndLock (topics, variables, priority, long polling),
listing, complete, failure with retries and incident, bpmnError, extendLock, unlock."""

from __future__ import annotations

import threading
import time
from typing import Any

from service.runtime import Runtime
from tests.test_rest__support import Rest, rest_fixture  # noqa: F401 (fixture)
from workflows import instances
from workflows.clock import ManualClock

TOPIC = {"topicName": "azr-abfrage", "lockDuration": 60_000}


def _fetch(rest: Rest, worker: str = "w1", **body: Any) -> list[dict[str, Any]]:
    return rest.post("/external-task/fetchAndLock", {"workerId": worker, "maxTasks": 5, "topics": [TOPIC], **body},
                     user="worker")  # type: ignore[no-any-return]


def _start(rest: Rest, key: str, prio: int = 1, **values: Any) -> str:
    return str(rest.start("external", key, prio=(prio, "Integer"), **values)["id"])


def test_fetch_and_lock_answers_locked_tasks_with_typed_variables(rest: Rest) -> None:
    rest.deploy("external_tasks")
    instance = _start(rest, "ABH-1", name=("Ada", "String"), geboren=("1990-02-01T00:00:00.000+0000", "Date"))
    (task,) = _fetch(rest, topics=[{**TOPIC, "variables": ["name", "geboren"]}])
    assert set(task) >= {"activityId", "activityInstanceId", "errorMessage", "errorDetails", "executionId", "id",
                         "lockExpirationTime", "processDefinitionId", "processDefinitionKey",
                         "processDefinitionVersionTag", "processInstanceId", "tenantId", "retries", "suspended",
                         "workerId", "priority", "topicName", "businessKey", "variables", "extensionProperties",
                         "createTime"}
    assert (task["activityId"], task["processInstanceId"], task["businessKey"], task["workerId"]) == \
        ("azr_abfrage", instance, "ABH-1", "w1")
    assert (task["topicName"], task["priority"], task["retries"]) == ("azr-abfrage", 1, None)
    assert (task["createTime"], task["lockExpirationTime"]) == ("2026-01-05T08:00:00.000+0000",
                                                               "2026-01-05T08:01:00.000+0000")
    assert task["variables"] == {"name": {"value": "Ada", "type": "String", "valueInfo": {}},
                                 "geboren": {"value": "1990-02-01T00:00:00.000+0000", "type": "Date",
                                             "valueInfo": {}}}
    assert _fetch(rest, "w2") == []  # locked
    everything = rest.get(f"/external-task/{task['id']}", user="worker")
    assert "variables" not in everything and everything["workerId"] == "w1"


def test_use_priority_max_tasks_and_topic_filters(rest: Rest) -> None:
    rest.deploy("external_tasks")
    _start(rest, "ABH-1", prio=1)
    high = _start(rest, "ABH-2", prio=9)
    (first,) = _fetch(rest, maxTasks=1, usePriority=True)
    assert (first["processInstanceId"], first["priority"]) == (high, 9)
    assert _fetch(rest, topics=[{**TOPIC, "businessKey": "ABH-3"}]) == []
    assert [t["businessKey"] for t in _fetch(rest, topics=[{**TOPIC, "processDefinitionKey": "external"}])] == \
        ["ABH-1"]
    assert _fetch(rest, topics=[{"topicName": "unbekannt", "lockDuration": 1000}]) == []
    rest.error(400, "POST", "/external-task/fetchAndLock", user="worker", json={"maxTasks": 1, "topics": [TOPIC]})
    rest.error(400, "POST", "/external-task/fetchAndLock", user="worker",
               json={"workerId": "w", "topics": [{"topicName": "x"}]})
    rest.error(403, "POST", "/external-task/fetchAndLock", user="erika", json={"workerId": "w", "topics": [TOPIC]})


def test_long_polling_waits_for_work(rest: Rest, runtime: Runtime) -> None:
    rest.deploy("external_tasks")
    started = time.monotonic()
    assert _fetch(rest, asyncResponseTimeout=300) == []
    assert time.monotonic() - started >= 0.25

    def start_later() -> None:
        time.sleep(0.3)
        with runtime.command() as ctx:
            instances.start(ctx, key="external", business_key="ABH-late", variables_in={"prio": 1})

    thread = threading.Thread(target=start_later)
    thread.start()
    try:
        (task,) = _fetch(rest, asyncResponseTimeout=1_800_000)  # capped by the server (2 s in tests)
    finally:
        thread.join()
    assert task["businessKey"] == "ABH-late"


def test_list_count_and_filters(rest: Rest, clock: ManualClock) -> None:
    rest.deploy("external_tasks")
    first, second = _start(rest, "ABH-1"), _start(rest, "ABH-2", prio=5)
    (locked,) = _fetch(rest, maxTasks=1, usePriority=True)

    def ids(**query: Any) -> list[str]:
        found = [t["processInstanceId"] for t in rest.get("/external-task", user="worker", query_string=query)]
        unpaged = {k: v for k, v in query.items() if k not in ("firstResult", "maxResults")}
        assert rest.get("/external-task/count", user="worker", query_string=unpaged) == \
            {"count": len(found) if unpaged == query else 2}
        return found

    assert sorted(ids()) == sorted([first, second])
    assert ids(locked="true") == [second]
    assert ids(notLocked="true") == [first]
    assert ids(workerId="w1") == [second]
    assert ids(processInstanceId=first) == [first]
    assert sorted(ids(topicName="azr-abfrage", activityId="azr_abfrage")) == sorted([first, second])
    assert ids(priorityHigherThanOrEquals=5) == [second]
    assert ids(sortBy="taskPriority", sortOrder="desc") == [second, first]
    assert len(ids(withRetriesLeft="true", maxResults=1)) == 1
    assert ids(noRetriesLeft="true") == []
    assert rest.get("/external-task", user="tina") != []
    rest.error(403, "GET", "/external-task", user="erika")
    rest.error(404, "GET", "/external-task/nope", user="worker")
    clock.advance(minutes=2)
    assert ids(locked="true") == []  # the lock has expired
    assert locked["id"] in [t["id"] for t in _fetch(rest, "w2")]


def test_complete_moves_the_case_on_with_typed_variables(rest: Rest) -> None:
    rest.deploy("external_tasks")
    instance = _start(rest, "ABH-1")
    (task,) = _fetch(rest)
    rest.error(409, "POST", f"/external-task/{task['id']}/complete", user="worker", json={"workerId": "w2"})
    rest.error(400, "POST", f"/external-task/{task['id']}/complete", user="worker", json={})
    rest.no_content("POST", f"/external-task/{task['id']}/complete", {
        "workerId": "w1", "variables": {"treffer": {"value": 2, "type": "Long"},
                                        "auskunft": {"value": '{"status": "AE"}', "type": "Json"}}}, user="worker")
    variables = rest.get(f"/process-instance/{instance}/variables")
    assert (variables["treffer"], variables["auskunft"]["type"]) == ({"value": 2, "type": "Long", "valueInfo": {}},
                                                                    "Json")
    assert [t["taskDefinitionKey"] for t in rest.tasks(processInstanceId=instance)] == ["auswerten"]
    rest.error(404, "POST", f"/external-task/{task['id']}/complete", user="worker", json={"workerId": "w1"})


def test_failure_with_retries_then_without_makes_an_incident(rest: Rest, clock: ManualClock) -> None:
    rest.deploy("external_tasks")
    instance = _start(rest, "ABH-1")
    (task,) = _fetch(rest)
    rest.no_content("POST", f"/external-task/{task['id']}/failure", {
        "workerId": "w1", "errorMessage": "AZR nicht erreichbar", "errorDetails": "timeout after 30 s",
        "retries": 2, "retryTimeout": 60_000}, user="worker")
    assert _fetch(rest) == []  # back after the retry timeout
    clock.advance(minutes=1)
    (again,) = _fetch(rest)
    assert (again["id"], again["retries"], again["errorMessage"], again["errorDetails"]) == \
        (task["id"], 2, "AZR nicht erreichbar", "timeout after 30 s")
    rest.no_content("POST", f"/external-task/{task['id']}/failure",
                    {"workerId": "w1", "errorMessage": "kaputt", "retries": 0}, user="worker")
    assert _fetch(rest) == []
    (incident,) = rest.get("/incident", query_string={"processInstanceId": instance})
    assert (incident["incidentType"], incident["configuration"]) == ("failedExternalTask", task["id"])
    listed = rest.get("/external-task", user="worker", query_string={"noRetriesLeft": "true"})
    assert [t["id"] for t in listed] == [task["id"]]
    rest.no_content("PUT", f"/external-task/{task['id']}/retries", {"retries": 1}, user="worker")
    assert rest.get("/incident", query_string={"processInstanceId": instance}) == []
    assert [t["id"] for t in _fetch(rest)] == [task["id"]]


def test_bpmn_error_takes_the_error_boundary(rest: Rest) -> None:
    rest.deploy("external_tasks")
    instance = _start(rest, "ABH-1")
    (task,) = _fetch(rest)
    rest.error(400, "POST", f"/external-task/{task['id']}/bpmnError", user="worker", json={"workerId": "w1"})
    rest.no_content("POST", f"/external-task/{task['id']}/bpmnError", {
        "workerId": "w1", "errorCode": "NOT_FOUND", "errorMessage": "kein Eintrag",
        "variables": {"suchlauf": {"value": 2, "type": "Integer"}}}, user="worker")
    assert [t["taskDefinitionKey"] for t in rest.tasks(processInstanceId=instance)] == ["klaeren"]
    variables = rest.get(f"/process-instance/{instance}/variables")
    assert (variables["fehlercode"]["value"], variables["fehlertext"]["value"], variables["suchlauf"]["value"]) == \
        ("NOT_FOUND", "kein Eintrag", 2)


def test_extend_lock_and_unlock(rest: Rest, clock: ManualClock) -> None:
    rest.deploy("external_tasks")
    _start(rest, "ABH-1")
    (task,) = _fetch(rest)
    clock.advance(seconds=30)
    rest.no_content("POST", f"/external-task/{task['id']}/extendLock", {"workerId": "w1", "newDuration": 120_000},
                    user="worker")
    assert rest.get(f"/external-task/{task['id']}", user="worker")["lockExpirationTime"] == \
        "2026-01-05T08:02:30.000+0000"
    rest.error(409, "POST", f"/external-task/{task['id']}/extendLock", user="worker",
               json={"workerId": "w2", "newDuration": 1000})
    rest.error(400, "POST", f"/external-task/{task['id']}/extendLock", user="worker",
               json={"workerId": "w1", "newDuration": 0})
    rest.no_content("POST", f"/external-task/{task['id']}/unlock", user="worker")
    unlocked = rest.get(f"/external-task/{task['id']}", user="worker")
    assert (unlocked["workerId"], unlocked["lockExpirationTime"]) == (None, None)
    assert [t["id"] for t in _fetch(rest, "w2")] == [task["id"]]
    rest.error(404, "POST", "/external-task/nope/unlock", user="worker")
    rest.error(404, "POST", "/external-task/nope/extendLock", user="worker", json={"workerId": "w", "newDuration": 1})
    rest.error(404, "POST", "/external-task/nope/failure", user="worker", json={"workerId": "w"})
    rest.error(404, "POST", "/external-task/nope/bpmnError", user="worker", json={"workerId": "w", "errorCode": "X"})
