"""Process instances over /engine-rest/process-instance: filters, count, delete, suspension, variables and the
activity instance tree, with the group rules of the web inbox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_rest__support import TYPED_IN, TYPED_OUT, Rest, rest_fixture  # noqa: F401 (fixture)
from workflows.clock import ManualClock


@pytest.fixture
def cases(rest: Rest, clock: ManualClock) -> dict[str, dict[str, Any]]:
    """FM-1 and FM-2 of three_tasks (fm-team), ABH-1 of external (abh-team), FM-2 suspended."""
    rest.deploy("three_tasks", "external_tasks")
    made = {"FM-1": rest.start("three_tasks", "FM-1")}
    clock.advance(minutes=1)
    made["FM-2"] = rest.start("three_tasks", "FM-2")
    clock.advance(minutes=1)
    made["ABH-1"] = rest.start("external", "ABH-1", prio=(1, "Integer"))
    rest.no_content("PUT", f"/process-instance/{made['FM-2']['id']}/suspended", {"suspended": True})
    return made


def _business_keys(rest: Rest, user: str = "admin", **query: Any) -> list[str]:
    found = [i["businessKey"] for i in rest.get("/process-instance", user=user, query_string=query)]
    paging = {"firstResult", "maxResults", "sortBy", "sortOrder"}
    count = rest.get("/process-instance/count", user=user, query_string={k: v for k, v in query.items()
                                                                         if k not in paging})
    assert paging & set(query) or count == {"count": len(found)}
    return found


def test_instance_shape(rest: Rest, cases: dict[str, dict[str, Any]]) -> None:
    instance = rest.get(f"/process-instance/{cases['FM-1']['id']}")
    assert set(instance) == {"id", "definitionId", "definitionKey", "businessKey", "caseInstanceId", "ended",
                             "suspended", "tenantId", "links"}
    assert (instance["definitionKey"], instance["businessKey"], instance["ended"], instance["suspended"]) == \
        ("three_tasks", "FM-1", False, False)
    assert rest.get(f"/process-instance/{cases['FM-2']['id']}")["suspended"] is True
    assert rest.error(404, "GET", "/process-instance/nope")["type"] == "InvalidRequestException"


def test_filters(rest: Rest, cases: dict[str, dict[str, Any]]) -> None:
    assert sorted(_business_keys(rest)) == ["ABH-1", "FM-1", "FM-2"]
    assert _business_keys(rest, businessKey="FM-1") == ["FM-1"]
    assert sorted(_business_keys(rest, processDefinitionKey="three_tasks")) == ["FM-1", "FM-2"]
    assert sorted(_business_keys(rest, active="true")) == ["ABH-1", "FM-1"]
    assert _business_keys(rest, suspended="true") == ["FM-2"]
    assert _business_keys(rest, processDefinitionId=cases["ABH-1"]["definitionId"]) == ["ABH-1"]
    assert sorted(_business_keys(rest, processInstanceIds=f"{cases['FM-1']['id']},{cases['ABH-1']['id']}")) == \
        ["ABH-1", "FM-1"]
    assert sorted(_business_keys(rest, businessKeyLike="FM-%")) == ["FM-1", "FM-2"]
    assert _business_keys(rest, sortBy="businessKey", sortOrder="desc") == ["FM-2", "FM-1", "ABH-1"]
    assert _business_keys(rest, sortBy="businessKey", sortOrder="asc", firstResult=1, maxResults=1) == ["FM-1"]
    rest.error(400, "GET", "/process-instance", query_string={"active": "vielleicht"})


def test_group_visibility(rest: Rest, cases: dict[str, dict[str, Any]]) -> None:
    assert sorted(_business_keys(rest, user="erika")) == ["FM-1", "FM-2"]
    assert _business_keys(rest, user="bernd") == ["ABH-1"]
    assert sorted(_business_keys(rest, user="tina")) == ["ABH-1", "FM-1", "FM-2"]
    fm = cases["FM-1"]["id"]
    for method, path in (("GET", f"/process-instance/{fm}"), ("GET", f"/process-instance/{fm}/variables"),
                         ("POST", f"/process-instance/{fm}/variables"),
                         ("GET", f"/process-instance/{fm}/activity-instances")):
        rest.error(404, method, path, user="bernd", json={} if method == "POST" else None)
    rest.error(403, "DELETE", f"/process-instance/{fm}", user="erika")
    rest.error(403, "PUT", f"/process-instance/{fm}/suspended", user="erika", json={"suspended": True})
    rest.error(403, "GET", "/process-instance", user="paula")
    rest.error(403, "GET", "/process-instance/count", user="paula")
    rest.error(403, "GET", f"/process-instance/{fm}", user="paula")


def test_variables_get_and_modify_with_every_type(rest: Rest, cases: dict[str, dict[str, Any]]) -> None:
    instance = cases["FM-1"]["id"]
    rest.no_content("POST", f"/process-instance/{instance}/variables", {"modifications": TYPED_IN}, user="erika")
    stored = rest.get(f"/process-instance/{instance}/variables", user="erika")
    assert json.loads(stored.pop("adresse")["value"])["ort"] == "Köln"
    assert stored == TYPED_OUT
    rest.no_content("POST", f"/process-instance/{instance}/variables",
                    {"modifications": {"kinder": {"value": 4, "type": "Integer"}}, "deletions": ["nichts", "termin"]},
                    user="erika")
    stored = rest.get(f"/process-instance/{instance}/variables", query_string={"deserializeValues": "false"})
    assert stored["kinder"] == {"value": 4, "type": "Integer", "valueInfo": {}}
    assert "nichts" not in stored and "termin" not in stored
    rest.error(400, "POST", f"/process-instance/{instance}/variables",
               json={"modifications": {"x": {"value": "eins", "type": "Long"}}})


def test_suspend_and_resume(rest: Rest, cases: dict[str, dict[str, Any]]) -> None:
    suspended = cases["FM-2"]["id"]
    (task,) = rest.tasks(processInstanceId=suspended)
    assert task["suspended"] is True
    refused = rest.error(409, "POST", f"/task/{task['id']}/complete", json={})
    assert (refused["type"], refused["code"]) == ("SuspendedEntityInteractionException", 0)
    rest.no_content("PUT", f"/process-instance/{suspended}/suspended", {"suspended": False})
    assert rest.get(f"/process-instance/{suspended}")["suspended"] is False
    rest.no_content("POST", f"/task/{task['id']}/complete")
    rest.error(400, "PUT", f"/process-instance/{suspended}/suspended", json={})
    rest.error(404, "PUT", "/process-instance/nope/suspended", json={"suspended": True})


def test_delete_terminates_and_keeps_history(rest: Rest, cases: dict[str, dict[str, Any]]) -> None:
    instance = cases["FM-1"]["id"]
    rest.no_content("DELETE", f"/process-instance/{instance}", query_string={"deleteReason": "Antrag zurückgezogen"},
                    user="tina")
    rest.error(404, "GET", f"/process-instance/{instance}")
    rest.error(404, "GET", f"/process-instance/{instance}/variables")
    rest.error(404, "DELETE", f"/process-instance/{instance}")
    rest.no_content("DELETE", f"/process-instance/{instance}", query_string={"failIfNotExists": "false"})
    assert rest.tasks(processInstanceId=instance) == []
    historic = rest.get(f"/history/process-instance/{instance}")
    assert (historic["state"], historic["deleteReason"]) == ("EXTERNALLY_TERMINATED", "Antrag zurückgezogen")


def test_activity_instances(rest: Rest, cases: dict[str, dict[str, Any]]) -> None:
    instance = cases["FM-1"]
    tree = rest.get(f"/process-instance/{instance['id']}/activity-instances")
    assert (tree["id"], tree["activityId"], tree["activityType"], tree["processInstanceId"]) == \
        (instance["id"], instance["definitionId"], "processDefinition", instance["id"])
    (child,) = tree["childActivityInstances"]
    assert (child["activityId"], child["activityType"], child["activityName"], child["name"]) == \
        ("task_a", "userTask", "Erstkontakt erfassen", "Erstkontakt erfassen")
    assert (child["parentActivityInstanceId"], child["incidentIds"], child["incidents"]) == (instance["id"], [], [])
    rest.error(404, "GET", "/process-instance/nope/activity-instances")
