"""User tasks over /engine-rest/task: every filter, sort and paging parameter, claim/unclaim/assignee/complete with
typed variables, form variables, comments, and the group rules of the web inbox."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.test_rest__support import CAMUNDA_DATE, TYPED_IN, TYPED_OUT, Rest, rest_fixture  # noqa: F401 (fixture)
from workflows.clock import ManualClock


@pytest.fixture
def inbox(rest: Rest, clock: ManualClock) -> dict[str, Any]:
    """FM-1 (inbox: pruefen, anrufen for fm-team, aufenthalt for abh-team) at 08:00; FM-2 (three_tasks) at 09:00."""
    rest.deploy("rest_inbox", "three_tasks")
    first = rest.start("inbox", "FM-1", name=("Ada", "String"), kinder=(2, "Long"), intern=("x", "String"))
    clock.advance(hours=1)
    second = rest.start("three_tasks", "FM-2")
    tasks = {t["taskDefinitionKey"]: t for t in rest.tasks()}
    return {"first": first, "second": second, "tasks": tasks, "ids": {t["id"]: k for k, t in tasks.items()}}


def _keys(rest: Rest, user: str = "admin", **query: Any) -> list[str]:
    """The task definition keys GET /task lists, checked against GET /task/count."""
    found = [t["taskDefinitionKey"] for t in rest.tasks(user=user, **query)]
    count_query = {k: v for k, v in query.items() if k not in ("sortBy", "sortOrder", "firstResult", "maxResults")}
    assert rest.get("/task/count", user=user, query_string=count_query) == {"count": len(found)} or \
        "maxResults" in query or "firstResult" in query
    return found


def test_task_shape_and_dates(rest: Rest, inbox: dict[str, Any]) -> None:
    task = rest.get(f"/task/{inbox['tasks']['anrufen']['id']}")
    assert set(task) == {"id", "name", "assignee", "owner", "created", "lastUpdated", "due", "followUp",
                         "delegationState", "description", "executionId", "parentTaskId", "priority",
                         "processDefinitionId", "processInstanceId", "caseExecutionId", "caseDefinitionId",
                         "caseInstanceId", "taskDefinitionKey", "suspended", "formKey", "camundaFormRef", "tenantId",
                         "taskState"}
    assert (task["name"], task["description"], task["priority"]) == ("Klient anrufen", "Rückruf vereinbaren", 20)
    assert (task["created"], task["due"], task["followUp"]) == (
        "2026-01-05T08:00:00.000+0000", "2026-01-20T08:00:00.000+0000", "2026-01-15T08:00:00.000+0000")
    assert all(CAMUNDA_DATE.match(task[k]) for k in ("created", "due", "followUp"))
    assert task["processInstanceId"] == inbox["first"]["id"]
    assert rest.error(404, "GET", "/task/nope")["type"] == "InvalidRequestException"


def test_filters_by_assignee_process_and_task_keys(rest: Rest, inbox: dict[str, Any]) -> None:
    rest.no_content("POST", f"/task/{inbox['tasks']['pruefen']['id']}/claim", {"userId": "erika"}, user="erika")
    assert _keys(rest, assignee="erika") == ["pruefen"]
    assert sorted(_keys(rest, processInstanceId=inbox["first"]["id"])) == ["anrufen", "aufenthalt", "pruefen"]
    assert _keys(rest, processInstanceBusinessKey="FM-2") == ["task_a"]
    assert _keys(rest, processDefinitionKey="three_tasks") == ["task_a"]
    assert _keys(rest, taskDefinitionKey="anrufen") == ["anrufen"]
    assert _keys(rest, processInstanceBusinessKey="FM-9") == []


def test_candidate_filters_match_unassigned_tasks_and_the_users_groups(rest: Rest, inbox: dict[str, Any]) -> None:
    rest.no_content("POST", f"/task/{inbox['tasks']['pruefen']['id']}/claim", {"userId": "erika"}, user="erika")
    assert _keys(rest, candidateGroup="abh-team") == ["aufenthalt"]
    assert sorted(_keys(rest, candidateGroup="fm-team")) == ["anrufen", "task_a"]
    assert sorted(_keys(rest, candidateGroup="fm-team", includeAssignedTasks="true")) == ["anrufen", "pruefen",
                                                                                         "task_a"]
    assert sorted(_keys(rest, candidateGroups="fm-team,abh-team")) == ["anrufen", "aufenthalt", "task_a"]
    assert sorted(_keys(rest, candidateUser="bernd")) == ["anrufen", "aufenthalt"]  # named, and via abh-team
    assert sorted(_keys(rest, candidateUser="erika")) == ["anrufen", "task_a"]
    assert sorted(_keys(rest, candidateUser="erika", includeAssignedTasks="true")) == ["anrufen", "pruefen",
                                                                                     "task_a"]


@pytest.mark.parametrize("encode_plus", [True, False])
def test_date_filters_take_camundas_format(rest: Rest, inbox: dict[str, Any], encode_plus: bool) -> None:
    def at(text: str) -> str:
        return text.replace("+", "%2B") if encode_plus else text  # an unencoded + arrives as a space

    def keys(query: str) -> list[str]:
        found = sorted(t["taskDefinitionKey"] for t in rest.get("/task", query_string=query))
        assert rest.get("/task/count", query_string=query) == {"count": len(found)}
        return found

    assert keys(f"dueBefore={at('2026-01-15T00:00:00.000+0100')}") == ["pruefen"]
    assert keys(f"dueAfter={at('2026-01-15T00:00:00.000+0100')}") == ["anrufen"]
    assert keys(f"dueBefore={at('2026-01-10T09:00:00.000+0100')}") == []  # strictly before (08:00 UTC)
    assert keys(f"followUpBeforeOrNotExistent={at('2026-01-10T00:00:00.000+0100')}") == ["aufenthalt", "pruefen",
                                                                                        "task_a"]
    assert keys(f"followUpBeforeOrNotExistent={at('2026-01-16T00:00:00.000+0100')}") == ["anrufen", "aufenthalt",
                                                                                        "pruefen", "task_a"]
    assert rest.error(400, "GET", "/task", query_string={"dueBefore": "morgen"})["type"] == "InvalidRequestException"


SORTED_BY = {  # Camunda's sortBy -> the task field it orders by
    "dueDate": "due", "followUpDate": "followUp", "created": "created", "lastUpdated": "created",
    "priority": "priority", "name": "name", "nameCaseInsensitive": "name", "description": "description",
    "assignee": "assignee", "id": "id", "instanceId": "processInstanceId", "executionId": "executionId",
}


@pytest.mark.parametrize("sort_by", sorted(SORTED_BY))
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_sort_by(rest: Rest, inbox: dict[str, Any], sort_by: str, order: str) -> None:
    rest.no_content("POST", f"/task/{inbox['tasks']['anrufen']['id']}/assignee", {"userId": "tina"})
    rest.no_content("POST", f"/task/{inbox['tasks']['pruefen']['id']}/assignee", {"userId": "erika"})
    field = SORTED_BY[sort_by]
    tasks = rest.tasks(sortBy=sort_by, sortOrder=order)
    values = [t[field] for t in tasks if t[field] is not None]
    if sort_by == "nameCaseInsensitive":
        values = [v.lower() for v in values]
    assert len(tasks) == 4
    assert values == sorted(values, reverse=order == "desc")
    assert all(t[field] is None for t in tasks[len(values):])  # nulls last


def test_sort_orders_that_matter_for_an_inbox(rest: Rest, inbox: dict[str, Any]) -> None:
    by_priority = [t["taskDefinitionKey"] for t in rest.tasks(sortBy="priority", sortOrder="desc")]
    assert (by_priority[0], sorted(by_priority[1:3]), by_priority[3]) == ("pruefen", ["aufenthalt", "task_a"],
                                                                          "anrufen")
    assert [t["name"] for t in rest.tasks(sortBy="nameCaseInsensitive", sortOrder="asc")][:2] == \
        ["Antrag prüfen", "aufenthalt klären"]
    assert rest.tasks(sortBy="created", sortOrder="desc")[0]["taskDefinitionKey"] == "task_a"
    for bad in ({"sortBy": "processVariable", "sortOrder": "asc"}, {"sortBy": "x", "sortOrder": "asc"},
                {"sortBy": "name", "sortOrder": "up"}):
        rest.error(400, "GET", "/task", query_string=bad)


def test_paging(rest: Rest, inbox: dict[str, Any]) -> None:
    ordered = [t["id"] for t in rest.tasks(sortBy="priority", sortOrder="desc")]
    assert [t["id"] for t in rest.tasks(sortBy="priority", sortOrder="desc", firstResult=1, maxResults=2)] == \
        ordered[1:3]
    assert rest.tasks(maxResults=0) == []
    assert rest.get("/task/count", query_string={"firstResult": 2, "maxResults": 1}) == {"count": 4}
    rest.error(400, "GET", "/task", query_string={"maxResults": -1})


def test_claim_unclaim_and_assign(rest: Rest, inbox: dict[str, Any]) -> None:
    task = inbox["tasks"]["pruefen"]["id"]
    rest.no_content("POST", f"/task/{task}/claim", {"userId": "erika"}, user="erika")
    assert rest.get(f"/task/{task}")["assignee"] == "erika"
    taken = rest.error(409, "POST", f"/task/{task}/claim", user="tina", json={"userId": "tina"})
    assert taken["type"] == "TaskAlreadyClaimedException"
    rest.no_content("POST", f"/task/{task}/claim", {"userId": "erika"}, user="erika")  # claiming again is fine
    rest.no_content("POST", f"/task/{task}/unclaim", user="erika")
    assert rest.get(f"/task/{task}")["assignee"] is None
    rest.error(403, "POST", f"/task/{task}/assignee", user="erika", json={"userId": "tina"})
    rest.no_content("POST", f"/task/{task}/assignee", {"userId": "erika"}, user="tina")
    assert rest.get(f"/task/{task}", user="erika")["assignee"] == "erika"
    rest.no_content("POST", f"/task/{task}/assignee", {"userId": None}, user="tina")
    assert rest.get(f"/task/{task}")["assignee"] is None
    rest.error(404, "POST", "/task/nope/claim", json={"userId": "erika"})
    rest.error(404, "POST", "/task/nope/unclaim")
    rest.error(404, "POST", "/task/nope/assignee", json={"userId": "erika"})


def test_complete_with_every_typed_variable_and_variables_in_return(rest: Rest, inbox: dict[str, Any]) -> None:
    task = inbox["tasks"]["task_a"]["id"]
    response = rest.call("POST", f"/task/{task}/complete", user="erika",
                         json={"variables": TYPED_IN, "withVariablesInReturn": True})
    assert response.status_code == 200, response.get_data(True)
    returned = response.get_json()
    assert json.loads(returned.pop("adresse")["value"]) == {"ort": "Köln", "plz": "50667", "zeilen": [1, 2]}
    assert returned == TYPED_OUT
    next_task = rest.tasks(processInstanceId=inbox["second"]["id"])[0]
    assert next_task["taskDefinitionKey"] == "task_b"
    again = rest.get(f"/task/{next_task['id']}/variables")
    assert again.pop("adresse")["type"] == "Json"
    assert again == TYPED_OUT


def test_complete_without_variables_in_return_is_204_without_body(rest: Rest, inbox: dict[str, Any]) -> None:
    task = inbox["tasks"]["task_a"]["id"]
    rest.no_content("POST", f"/task/{task}/complete", {"variables": {"ok": {"value": True, "type": "Boolean"}}},
                    user="erika")
    rest.error(404, "POST", f"/task/{task}/complete", user="erika", json={})  # done already
    other = rest.tasks(processInstanceId=inbox["second"]["id"])[0]["id"]
    assert rest.error(400, "POST", f"/task/{other}/complete", user="erika",
                      json={"variables": {"x": {"value": "x", "type": "Integer"}}})["type"] == "InvalidRequestException"
    assert rest.tasks(processInstanceId=inbox["second"]["id"])[0]["id"] == other  # nothing happened


def test_variables_and_form_variables(rest: Rest, inbox: dict[str, Any]) -> None:
    task = inbox["tasks"]["pruefen"]["id"]
    everything = rest.get(f"/task/{task}/variables", user="erika")
    assert everything == {"name": {"value": "Ada", "type": "String", "valueInfo": {}},
                          "kinder": {"value": 2, "type": "Long", "valueInfo": {}},
                          "intern": {"value": "x", "type": "String", "valueInfo": {}}}
    assert set(rest.get(f"/task/{task}/form-variables", user="erika")) == {"name", "kinder"}
    assert set(rest.get(f"/task/{task}/form-variables", user="erika",
                        query_string={"variableNames": "kinder"})) == {"kinder"}
    no_form = inbox["tasks"]["anrufen"]["id"]
    assert set(rest.get(f"/task/{no_form}/form-variables", user="erika")) == {"name", "kinder", "intern"}
    rest.error(404, "GET", "/task/nope/variables")
    rest.error(404, "GET", "/task/nope/form-variables")


def test_comments(rest: Rest, inbox: dict[str, Any], clock: ManualClock) -> None:
    task = inbox["tasks"]["pruefen"]["id"]
    assert rest.get(f"/task/{task}/comment", user="erika") == []
    clock.advance(timedelta(minutes=5))
    made = rest.post(f"/task/{task}/comment/create", {"message": "Unterlagen fehlen"}, user="erika")
    assert (made["userId"], made["taskId"], made["message"], made["time"]) == (
        "erika", task, "Unterlagen fehlen", "2026-01-05T09:05:00.000+0000")
    assert made["processInstanceId"] == inbox["first"]["id"]
    rest.post(f"/task/{task}/comment", {"message": "nachgefordert"}, user="tina")
    assert [c["message"] for c in rest.get(f"/task/{task}/comment", user="erika")] == ["Unterlagen fehlen",
                                                                                      "nachgefordert"]
    rest.error(400, "POST", f"/task/{task}/comment/create", user="erika", json={"message": ""})
    rest.error(404, "POST", "/task/nope/comment/create", json={"message": "x"})


def test_a_caseworker_of_another_group_neither_sees_nor_touches_the_task(rest: Rest, inbox: dict[str, Any]) -> None:
    task = inbox["tasks"]["pruefen"]["id"]
    assert sorted(_keys(rest, user="bernd")) == ["anrufen", "aufenthalt"]  # abh-team, and named on anrufen
    assert sorted(_keys(rest, user="erika")) == ["anrufen", "pruefen", "task_a"]
    assert rest.get("/task/count", user="bernd", query_string={"taskDefinitionKey": "pruefen"}) == {"count": 0}
    assert _keys(rest, user="bernd", candidateGroup="fm-team") == ["anrufen"]  # visibility still applies
    for method, path, body in (("GET", f"/task/{task}", None), ("POST", f"/task/{task}/claim", {"userId": "bernd"}),
                               ("POST", f"/task/{task}/unclaim", None), ("POST", f"/task/{task}/complete", {}),
                               ("POST", f"/task/{task}/assignee", {"userId": "bernd"}),
                               ("GET", f"/task/{task}/variables", None), ("GET", f"/task/{task}/form-variables", None),
                               ("GET", f"/task/{task}/comment", None),
                               ("POST", f"/task/{task}/comment/create", {"message": "x"})):
        assert rest.error(404, method, path, user="bernd", json=body)["type"] == "InvalidRequestException", path
    assert rest.get(f"/task/{task}", user="erika")["assignee"] is None


def test_tasks_need_authentication(rest: Rest, inbox: dict[str, Any]) -> None:
    assert rest.call("GET", "/task", user=None).status_code == 401
    assert rest.call("GET", "/task/count", user=None).status_code == 401
