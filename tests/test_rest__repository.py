"""Engine, deployments, process and decision definitions over /engine-rest, with Camunda's request and response
shapes: multipart deploy with its flags, definition filters, start with every typed variable, DMN evaluation."""

from __future__ import annotations

import json

from tests.test_rest__support import (  # noqa: F401 (fixture)
    ADDRESS,
    CAMUNDA_DATE,
    DATA,
    TYPED_IN,
    TYPED_OUT,
    Rest,
    rest_fixture,
)


def _same_json(typed: dict[str, object]) -> object:
    assert typed["type"] == "Json" and typed["valueInfo"] == {}
    return json.loads(str(typed["value"]))


def test_version_and_the_modeler_connection_check(rest: Rest) -> None:
    assert rest.get("/version") == {"version": "7.22.0"}
    assert rest.get("/deployment", query_string={"maxResults": 0}) == []
    assert rest.get("/deployment/count") == {"count": 0}


def test_deploy_answers_with_the_deployment_and_its_definitions(rest: Rest) -> None:
    body = rest.deploy("business_rule", name="Einbürgerung", **{"tenant-id": "kim"})
    assert set(body) >= {"id", "name", "source", "tenantId", "deploymentTime", "links", "deployedProcessDefinitions",
                         "deployedDecisionDefinitions", "deployedCaseDefinitions",
                         "deployedDecisionRequirementsDefinitions"}
    assert (body["name"], body["source"], body["tenantId"]) == ("Einbürgerung", "pytest", "kim")
    assert CAMUNDA_DATE.match(body["deploymentTime"])
    assert body["links"] == [{"method": "GET", "rel": "self",
                              "href": f"http://localhost/engine-rest/deployment/{body['id']}"}]
    (process,) = body["deployedProcessDefinitions"].values()
    assert process["id"] in body["deployedProcessDefinitions"]
    assert (process["deploymentId"], process["version"], process["tenantId"]) == (body["id"], 1, "kim")
    decisions = {d["key"]: d for d in body["deployedDecisionDefinitions"].values()}
    assert set(decisions) == {"straftaten", "hinweise"}
    assert decisions["straftaten"]["resource"] == "straftaten.dmn"
    assert body["deployedCaseDefinitions"] is None


def test_duplicate_filtering_and_deploy_changed_only(rest: Rest) -> None:
    first = rest.deploy("three_tasks", **{"enable-duplicate-filtering": "true"})
    again = rest.deploy("three_tasks", **{"enable-duplicate-filtering": "true"})
    assert again["id"] == first["id"]
    assert again["deployedProcessDefinitions"] is None  # as Camunda: the existing deployment, nothing new in it
    forced = rest.deploy("three_tasks")  # without the flag every deployment versions its processes
    (definition,) = forced["deployedProcessDefinitions"].values()
    assert definition["version"] == 2
    mixed = rest.deploy("three_tasks", "external_tasks", **{"deploy-changed-only": "true"})
    assert [d["key"] for d in mixed["deployedProcessDefinitions"].values()] == ["external"]


def test_a_parse_error_answers_400_with_engine_09005(rest: Rest) -> None:
    path = DATA / "invalid" / "java_constructs.bpmn"
    with path.open("rb") as file:
        body = rest.error(400, "POST", "/deployment/create", content_type="multipart/form-data",
                          data={"deployment-name": "x", path.name: (file, path.name)})
    assert body["type"] == "ParseException"
    assert body["message"].startswith("ENGINE-09005 Could not parse BPMN process.")
    assert body["details"]["java_constructs.bpmn"]["errors"][0]["mainElementId"]
    empty = rest.error(400, "POST", "/deployment/create", data={"deployment-name": "leer"},
                       content_type="multipart/form-data")
    assert empty["type"] == "InvalidRequestException"


def test_deployments_list_get_count_and_sort(rest: Rest, ) -> None:
    first = rest.deploy("three_tasks", name="b-erste")
    second = rest.deploy("external_tasks", name="a-zweite")
    assert [d["id"] for d in rest.get("/deployment", query_string={"sortBy": "name", "sortOrder": "asc"})] == \
        [second["id"], first["id"]]
    assert [d["id"] for d in rest.get("/deployment", query_string={"nameLike": "b-%"})] == [first["id"]]
    assert rest.get("/deployment/count", query_string={"source": "pytest"}) == {"count": 2}
    single = rest.get(f"/deployment/{first['id']}")
    assert (single["name"], single["source"]) == ("b-erste", "pytest")
    assert "deployedProcessDefinitions" not in single
    rest.error(404, "GET", "/deployment/nope")
    rest.error(400, "GET", "/deployment", query_string={"sortBy": "color", "sortOrder": "asc"})


def test_deleting_a_deployment_is_refused_while_instances_run_unless_cascade(rest: Rest) -> None:
    deployment = rest.deploy("three_tasks")
    rest.start("three_tasks", "FM-1")
    conflict = rest.error(409, "DELETE", f"/deployment/{deployment['id']}")
    assert "cascade" in conflict["message"]
    rest.error(403, "DELETE", f"/deployment/{deployment['id']}", user="erika")
    rest.no_content("DELETE", f"/deployment/{deployment['id']}", query_string={"cascade": "true"})
    rest.error(404, "GET", f"/deployment/{deployment['id']}")
    rest.error(404, "DELETE", f"/deployment/{deployment['id']}")
    assert rest.get("/process-instance") == []


def test_process_definitions_filters_by_key_and_latest_version(rest: Rest) -> None:
    rest.deploy("three_tasks")
    rest.deploy("three_tasks")
    rest.deploy("external_tasks")
    assert [(d["key"], d["version"]) for d in rest.get("/process-definition")] == \
        [("external", 1), ("three_tasks", 1), ("three_tasks", 2)]
    assert [d["version"] for d in rest.get("/process-definition", query_string={"key": "three_tasks"})] == [1, 2]
    latest = rest.get("/process-definition", query_string={"latestVersion": "true"})
    assert [(d["key"], d["version"]) for d in latest] == [("external", 1), ("three_tasks", 2)]
    assert rest.get("/process-definition/count", query_string={"key": "three_tasks"}) == {"count": 2}
    newest = rest.get("/process-definition", query_string={"sortBy": "version", "sortOrder": "desc",
                                                           "maxResults": 1})
    assert newest[0]["version"] == 2
    by_key = rest.get("/process-definition/key/three_tasks")
    assert (by_key["version"], by_key["versionTag"], by_key["historyTimeToLive"]) == (2, "1.0", 180)
    assert set(by_key) == {"id", "key", "category", "description", "name", "version", "resource", "deploymentId",
                           "diagram", "suspended", "tenantId", "versionTag", "historyTimeToLive",
                           "startableInTasklist"}
    assert rest.get(f"/process-definition/{by_key['id']}") == by_key
    xml = rest.get(f"/process-definition/{by_key['id']}/xml")
    assert xml["id"] == by_key["id"] and 'id="three_tasks"' in xml["bpmn20Xml"]
    assert rest.get("/process-definition/key/three_tasks/xml") == xml
    assert rest.error(404, "GET", "/process-definition/nope")["type"] == "InvalidRequestException"
    rest.error(404, "GET", "/process-definition/key/nope")
    rest.error(404, "GET", "/process-definition/key/nope/xml")


def test_start_by_id_and_key_with_every_typed_variable(rest: Rest) -> None:
    rest.deploy("three_tasks")
    definition = rest.get("/process-definition/key/three_tasks")
    started = rest.post(f"/process-definition/{definition['id']}/start",
                        {"businessKey": "FM-42", "variables": TYPED_IN, "withVariablesInReturn": True})
    assert (started["definitionId"], started["businessKey"], started["ended"], started["suspended"]) == \
        (definition["id"], "FM-42", False, False)
    assert started["links"][0]["href"].endswith(f"/engine-rest/process-instance/{started['id']}")
    returned = started["variables"]
    assert _same_json(returned.pop("adresse")) == ADDRESS
    assert returned == TYPED_OUT
    stored = rest.get(f"/process-instance/{started['id']}/variables")
    assert _same_json(stored.pop("adresse")) == ADDRESS
    assert stored == TYPED_OUT
    by_key = rest.post("/process-definition/key/three_tasks/start", {"businessKey": "FM-43"})
    assert "variables" not in by_key and by_key["definitionKey"] == "three_tasks"


def test_start_accepts_what_modeler_sends_without_configuration(rest: Rest) -> None:
    rest.deploy("three_tasks")
    started = rest.post("/process-definition/key/three_tasks/start", {"businessKey": None, "variables": None})
    assert started["businessKey"] is None


def test_start_refuses_bad_variables_with_400(rest: Rest) -> None:
    rest.deploy("three_tasks")
    path = "/process-definition/key/three_tasks/start"
    for bad in ({"x": {"value": "abc", "type": "Integer"}}, {"x": {"value": 2**31, "type": "Integer"}},
                {"x": {"value": 1, "type": "Bytes"}}, {"x": {"value": "not json", "type": "Json"}},
                {"x": {"value": "gestern", "type": "Date"}}, {"x": {"value": "1", "type": "Boolean"}}, {"x": 5}):
        body = rest.error(400, "POST", path, json={"variables": bad})
        assert body["type"] == "InvalidRequestException", bad
    rest.error(404, "POST", "/process-definition/key/nope/start", json={})


def test_decision_definitions_and_evaluation_with_typed_variables(rest: Rest) -> None:
    rest.deploy("business_rule")
    listed = rest.get("/decision-definition")
    assert [d["key"] for d in listed] == ["hinweise", "straftaten"]
    assert rest.get("/decision-definition/count", query_string={"key": "straftaten"}) == {"count": 1}
    latest = rest.get("/decision-definition", query_string={"latestVersion": "true", "key": "hinweise"})
    assert [d["version"] for d in latest] == [1]
    straftaten = rest.get("/decision-definition/key/straftaten")
    assert rest.get(f"/decision-definition/{straftaten['id']}") == straftaten
    result = rest.post("/decision-definition/key/straftaten/evaluate",
                       {"variables": {"tagessaetze": {"value": 120, "type": "Integer"}}})
    assert result == [{"bewertung": {"value": "erheblich", "type": "String", "valueInfo": {}}}]
    below = rest.post("/decision-definition/key/straftaten/evaluate",
                      {"variables": {"tagessaetze": {"value": 90, "type": "Long"}}})
    assert below == [{"bewertung": {"value": "unerheblich", "type": "String", "valueInfo": {}}}]
    collected = rest.post("/decision-definition/key/hinweise/evaluate",
                          {"variables": {"alter": {"value": 15, "type": "Integer"}}})
    assert [entry["hinweis"]["value"] for entry in collected] == ["gesetzliche Vertretung", "BZR-Auskunft"]
    rest.error(404, "POST", "/decision-definition/key/nope/evaluate", json={"variables": {}})
    rest.error(400, "POST", "/decision-definition/key/straftaten/evaluate",
               json={"variables": {"tagessaetze": {"value": "viele", "type": "Integer"}}})


def test_process_owners_deploy_and_read_models_but_not_cases(rest: Rest) -> None:
    deployment = rest.deploy("three_tasks", user="paula")
    assert rest.get(f"/deployment/{deployment['id']}", user="paula")["id"] == deployment["id"]
    assert rest.get("/process-definition/key/three_tasks", user="paula")["key"] == "three_tasks"
    assert rest.get("/process-definition/key/three_tasks/xml", user="paula")["bpmn20Xml"]
    forbidden = rest.error(403, "POST", "/process-definition/key/three_tasks/start", user="paula", json={})
    assert (forbidden["type"], forbidden["userId"]) == ("AuthorizationException", "paula")
    instance = rest.start("three_tasks", "FM-1", name=("Ada", "String"))
    rest.error(403, "GET", "/process-instance", user="paula")
    rest.error(403, "GET", f"/process-instance/{instance['id']}/variables", user="paula")
    rest.error(403, "GET", "/history/process-instance", user="paula")
    assert rest.tasks(user="paula") == []
    (task,) = rest.tasks()
    rest.error(404, "GET", f"/task/{task['id']}/variables", user="paula")
    assert rest.deploy("three_tasks", user="erika", status=403)["type"] == "AuthorizationException"
