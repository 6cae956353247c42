"""POST /engine-rest/message with Camunda's fields: messageName, businessKey, correlationKeys, processVariables,
processInstanceId, all, resultEnabled, variablesInResultEnabled."""

from __future__ import annotations

from tests.test_rest__support import Rest, rest_fixture  # noqa: F401 (fixture)


def _start(rest: Rest, business_key: str, **values: object) -> str:
    return str(rest.start("messages", business_key, **values)["id"])  # type: ignore[arg-type]


def test_correlate_by_business_key_with_typed_variables_answers_204(rest: Rest) -> None:
    rest.deploy("messages")
    first, second = _start(rest, "ABH-1"), _start(rest, "ABH-2")
    rest.no_content("POST", "/message", {"messageName": "bzr_auskunft", "businessKey": "ABH-2", "processVariables": {
        "eintraege": {"value": 0, "type": "Long"}, "stand": {"value": "2026-01-05T10:00:00.000+0100", "type": "Date"}}},
        user="worker")
    assert rest.get(f"/process-instance/{second}/variables") == {
        "eintraege": {"value": 0, "type": "Long", "valueInfo": {}},
        "stand": {"value": "2026-01-05T09:00:00.000+0000", "type": "Date", "valueInfo": {}}}
    assert rest.get(f"/process-instance/{first}/variables") == {}


def test_correlation_keys_and_process_instance_id_narrow_the_target(rest: Rest) -> None:
    rest.deploy("messages")
    _start(rest, "A", person_id=("P-1", "String"), akte=(7, "Long"))
    target = _start(rest, "B", person_id=("P-2", "String"), akte=(8, "Long"))
    result = rest.post("/message", {"messageName": "azr_auskunft", "resultEnabled": True,
                                    "correlationKeys": {"person_id": {"value": "P-2", "type": "String"}}})
    assert [(r["resultType"], r["processInstance"]["id"], r["execution"]["processInstanceId"]) for r in result] == \
        [("Execution", target, target)]
    by_number = rest.post("/message", {"messageName": "bzr_auskunft", "resultEnabled": True,
                                       "correlationKeys": {"akte": {"value": 8}}})  # an untyped 8 matches Long 8
    assert [r["processInstance"]["id"] for r in by_number] == [target]
    other = rest.post("/message", {"messageName": "bzr_auskunft", "processInstanceId": target, "resultEnabled": True,
                                   "all": True})
    assert other == []  # the target caught bzr_auskunft already; nothing else is waiting in it
    rest.error(400, "POST", "/message", json={"messageName": "bzr_auskunft", "processInstanceId": target})


def test_all_result_and_variables_in_result(rest: Rest) -> None:
    rest.deploy("messages")
    ids = {_start(rest, "A"), _start(rest, "B")}
    ambiguous = rest.error(400, "POST", "/message", json={"messageName": "bzr_auskunft"})
    assert ambiguous["type"] == "RestException" and "Cannot correlate message 'bzr_auskunft'" in ambiguous["message"]
    results = rest.post("/message", {"messageName": "bzr_auskunft", "all": True, "resultEnabled": True,
                                     "variablesInResultEnabled": True,
                                     "processVariables": {"ok": {"value": True, "type": "Boolean"}}})
    assert {r["processInstance"]["id"] for r in results} == ids
    assert all(r["variables"] == {"ok": {"value": True, "type": "Boolean", "valueInfo": {}}} for r in results)
    rest.error(400, "POST", "/message", json={"messageName": "azr_auskunft", "variablesInResultEnabled": True})


def test_message_start_event_and_errors(rest: Rest) -> None:
    rest.deploy("messages")
    (result,) = rest.post("/message", {"messageName": "ueberweisung", "businessKey": "FM-9", "resultEnabled": True})
    assert (result["resultType"], result["execution"], result["processInstance"]["businessKey"]) == \
        ("ProcessDefinition", None, "FM-9")
    missing = rest.error(400, "POST", "/message", json={"messageName": "gibt_es_nicht"})
    assert "No process definition or execution matches the parameters" in missing["message"]
    rest.error(400, "POST", "/message", json={"businessKey": "x"})
    rest.error(403, "POST", "/message", user="paula", json={"messageName": "ueberweisung"})
    assert rest.call("POST", "/message", user=None, json={"messageName": "ueberweisung"}).status_code == 401
