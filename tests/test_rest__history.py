"""History and incidents over /engine-rest: every historic process instance state (COMPLETED, ACTIVE, SUSPENDED,
EXTERNALLY_TERMINATED, INTERNALLY_TERMINATED), activity and task history, incidents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_rest__support import CAMUNDA_DATE, Rest, rest_fixture  # noqa: F401 (fixture)
from workflows.clock import ManualClock

STATES = ["ACTIVE", "COMPLETED", "EXTERNALLY_TERMINATED", "INTERNALLY_TERMINATED", "SUSPENDED"]


@pytest.fixture
def story(rest: Rest, clock: ManualClock) -> dict[str, str]:
    """One instance in every state. `vorgang` calls `pruefung_kind`; a message cancels that call activity, so
    the parent completes and the engine terminates the child (INTERNALLY_TERMINATED)."""
    rest.deploy("rest_history", "three_tasks")
    ids = {"active": rest.start("three_tasks", "FM-1")["id"]}
    clock.advance(minutes=1)
    ids["suspended"] = rest.start("three_tasks", "FM-2")["id"]
    rest.no_content("PUT", f"/process-instance/{ids['suspended']}/suspended", {"suspended": True})
    clock.advance(minutes=1)
    ids["deleted"] = rest.start("three_tasks", "FM-3")["id"]
    rest.no_content("DELETE", f"/process-instance/{ids['deleted']}", query_string={"deleteReason": "Wegzug"})
    clock.advance(minutes=1)
    ids["parent"] = rest.start("vorgang", "FM-4")["id"]
    (child,) = rest.get("/process-instance", query_string={"superProcessInstance": ids["parent"]})
    ids["child"] = child["id"]
    clock.advance(minutes=2)
    rest.no_content("POST", "/message", {"messageName": "antrag_zurueckgenommen", "businessKey": "FM-4"})
    return ids


def _states(rest: Rest, user: str = "admin", **query: Any) -> dict[str, str]:
    """businessKey (or id) -> state, checked against /count."""
    found = rest.get("/history/process-instance", user=user, query_string=query)
    assert rest.get("/history/process-instance/count", user=user, query_string=query) == {"count": len(found)}
    return {h["businessKey"] or h["processDefinitionKey"]: h["state"] for h in found}


def test_every_state(rest: Rest, story: dict[str, str]) -> None:
    assert _states(rest) == {"FM-1": "ACTIVE", "FM-2": "SUSPENDED", "FM-3": "EXTERNALLY_TERMINATED",
                             "FM-4": "COMPLETED", "pruefung_kind": "INTERNALLY_TERMINATED"}
    for state in STATES:
        assert list(_states(rest, state=state).values()) == [state]
    rest.error(400, "GET", "/history/process-instance", query_string={"state": "HALB_FERTIG"})


def test_the_engine_ended_the_called_instance(rest: Rest, story: dict[str, str]) -> None:
    child = rest.get(f"/history/process-instance/{story['child']}")
    assert (child["state"], child["superProcessInstanceId"], child["rootProcessInstanceId"]) == \
        ("INTERNALLY_TERMINATED", story["parent"], story["parent"])
    assert child["deleteReason"] == "Call activity cancelled"
    assert rest.error(404, "GET", f"/process-instance/{story['child']}")
    assert rest.tasks(processInstanceId=story["child"]) == []


def test_historic_instance_shape_and_filters(rest: Rest, story: dict[str, str]) -> None:
    deleted = rest.get(f"/history/process-instance/{story['deleted']}")
    assert set(deleted) == {"id", "rootProcessInstanceId", "superProcessInstanceId", "superCaseInstanceId",
                            "caseInstanceId", "processDefinitionName", "processDefinitionKey",
                            "processDefinitionVersion", "processDefinitionId", "businessKey", "startTime",
                            "endTime", "removalTime", "durationInMillis", "startUserId", "startActivityId",
                            "deleteReason", "tenantId", "state", "restartedProcessInstanceId"}
    assert (deleted["processDefinitionName"], deleted["processDefinitionVersion"], deleted["startUserId"]) == \
        ("Drei Aufgaben", 1, "admin")
    assert (deleted["startTime"], deleted["endTime"], deleted["durationInMillis"]) == \
        ("2026-01-05T08:02:00.000+0000", "2026-01-05T08:02:00.000+0000", 0)
    assert (deleted["deleteReason"], deleted["rootProcessInstanceId"]) == ("Wegzug", story["deleted"])
    parent = rest.get(f"/history/process-instance/{story['parent']}")
    assert (parent["durationInMillis"], CAMUNDA_DATE.match(parent["endTime"]) is not None) == (120_000, True)
    assert set(_states(rest, finished="true")) == {"FM-3", "FM-4", "pruefung_kind"}
    assert set(_states(rest, unfinished="true")) == {"FM-1", "FM-2"}
    assert set(_states(rest, processDefinitionKey="vorgang")) == {"FM-4"}
    assert set(_states(rest, processInstanceBusinessKey="FM-2")) == {"FM-2"}
    assert set(_states(rest, superProcessInstanceId=story["parent"])) == {"pruefung_kind"}
    assert set(_states(rest, startedAfter="2026-01-05T09:02:30.000+0100")) == {"FM-4", "pruefung_kind"}
    assert set(_states(rest, finishedBefore="2026-01-05T09:02:30.000+0100")) == {"FM-3"}
    by_start = rest.get("/history/process-instance", query_string={"sortBy": "startTime", "sortOrder": "asc"})
    assert [h["businessKey"] for h in by_start][:3] == ["FM-1", "FM-2", "FM-3"]
    rest.error(400, "GET", "/history/process-instance", query_string={"sortBy": "farbe", "sortOrder": "asc"})
    rest.error(404, "GET", "/history/process-instance/nope")


def test_history_follows_group_rules(rest: Rest, story: dict[str, str]) -> None:
    assert set(_states(rest, user="erika")) >= {"FM-1", "FM-2", "FM-3"}
    assert _states(rest, user="bernd") == {}
    rest.error(404, "GET", f"/history/process-instance/{story['active']}", user="bernd")
    rest.error(403, "GET", "/history/process-instance", user="paula")
    rest.error(404, "GET", "/history/activity-instance", user="bernd",
               query_string={"processInstanceId": story["active"]})
    rest.error(400, "GET", "/history/task", user="erika")  # across all cases: admins only


def test_activity_history(rest: Rest, story: dict[str, str]) -> None:
    query = {"processInstanceId": story["parent"]}
    activities = rest.get("/history/activity-instance", query_string=query)
    assert rest.get("/history/activity-instance/count", query_string=query) == {"count": len(activities)}
    by_id = {a["activityId"]: a for a in activities}
    assert set(by_id) == {"start", "pruefung", "zurueckgenommen", "eingestellt"}
    call = by_id["pruefung"]
    assert (call["activityType"], call["canceled"], call["calledProcessInstanceId"]) == \
        ("callActivity", True, story["child"])
    assert (call["startTime"], call["endTime"], call["durationInMillis"]) == \
        ("2026-01-05T08:03:00.000+0000", "2026-01-05T08:05:00.000+0000", 120_000)
    assert by_id["eingestellt"]["completeScope"] is True
    assert all(a["processDefinitionId"].startswith("vorgang:1:") for a in activities)
    only_calls = rest.get("/history/activity-instance", query_string={**query, "activityType": "callActivity"})
    assert [a["activityId"] for a in only_calls] == ["pruefung"]
    assert [a["activityId"] for a in rest.get("/history/activity-instance",
                                              query_string={**query, "canceled": "true"})] == ["pruefung"]
    assert rest.get("/history/activity-instance", query_string={**query, "unfinished": "true"}) == []


def test_task_history(rest: Rest, story: dict[str, str], clock: ManualClock) -> None:
    (task,) = rest.tasks(processInstanceId=story["active"])
    clock.advance(minutes=10)
    rest.no_content("POST", f"/task/{task['id']}/claim", {"userId": "erika"}, user="erika")
    rest.no_content("POST", f"/task/{task['id']}/complete", user="erika")
    history = rest.get("/history/task", user="erika", query_string={"processInstanceId": story["active"]})
    assert [(h["taskDefinitionKey"], h["deleteReason"], h["taskState"]) for h in history] == \
        [("task_a", "completed", "Completed"), ("task_b", None, "Created")]
    done = history[0]
    assert (done["assignee"], done["endTime"], done["startTime"]) == \
        ("erika", "2026-01-05T08:15:00.000+0000", "2026-01-05T08:00:00.000+0000")
    assert done["duration"] == 15 * 60_000
    assert done["processDefinitionId"] == task["processDefinitionId"]
    finished = rest.get("/history/task", user="erika", query_string={"processInstanceId": story["active"],
                                                                     "finished": "true"})
    assert [h["taskDefinitionKey"] for h in finished] == ["task_a"]
    unfinished = rest.get("/history/task", user="erika", query_string={"processInstanceId": story["active"],
                                                                       "unfinished": "true"})
    assert [h["taskDefinitionKey"] for h in unfinished] == ["task_b"]
    assert [h["taskDefinitionKey"] for h in rest.get("/history/task", query_string={"taskAssignee": "erika"})] == \
        ["task_a"]


def test_incidents(rest: Rest, clock: ManualClock) -> None:
    rest.deploy("external_tasks")
    instance = rest.start("external", "ABH-1", prio=(1, "Integer"))
    (locked,) = rest.post("/external-task/fetchAndLock", {"workerId": "w1", "maxTasks": 1, "topics": [
        {"topicName": "azr-abfrage", "lockDuration": 10_000}]}, user="worker")
    rest.no_content("POST", f"/external-task/{locked['id']}/failure",
                    {"workerId": "w1", "errorMessage": "AZR down", "retries": 0, "retryTimeout": 0}, user="worker")
    (incident,) = rest.get("/incident", user="tina")
    assert set(incident) == {"id", "processDefinitionId", "processInstanceId", "executionId", "incidentTimestamp",
                             "incidentType", "activityId", "failedActivityId", "causeIncidentId",
                             "rootCauseIncidentId", "configuration", "tenantId", "incidentMessage",
                             "jobDefinitionId", "annotation"}
    assert (incident["incidentType"], incident["activityId"], incident["incidentMessage"]) == \
        ("failedExternalTask", "azr_abfrage", "AZR down")
    assert (incident["processInstanceId"], incident["incidentTimestamp"]) == \
        (instance["id"], "2026-01-05T08:00:00.000+0000")
    assert rest.get(f"/incident/{incident['id']}", user="worker") == incident
    for query in ({"processInstanceId": instance["id"]}, {"incidentType": "failedExternalTask"},
                  {"activityId": "azr_abfrage"}, {"processDefinitionKeyIn": "external,other"}):
        assert [i["id"] for i in rest.get("/incident", query_string=query)] == [incident["id"]]
        assert rest.get("/incident/count", query_string=query) == {"count": 1}
    assert rest.get("/incident", query_string={"incidentType": "failedJob"}) == []
    rest.error(404, "GET", "/incident/nope")
    rest.error(403, "GET", "/incident", user="erika")
    tree = rest.get(f"/process-instance/{instance['id']}/activity-instances")
    assert tree["childActivityInstances"][0]["incidentIds"] == [incident["id"]]
    assert rest.get("/process-instance", query_string={"withIncident": "true"})[0]["id"] == instance["id"]
