"""A business rule task in a running case: Camunda's binding rules pick the decision version, and the audit
trail says which version decided, for which evaluation date, and which rules matched (DOMAIN.md section 0)."""

from __future__ import annotations

from datetime import UTC, datetime

from service.runtime import Runtime
from tests.conftest import DATA, deploy
from workflows import audit, definitions, instances
from workflows.clock import ManualClock


def test_the_audit_trail_names_decision_version_date_and_matched_rules(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    deploy(runtime, "business_rule")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="business_rule", variables_in={
            "tagessaetze": 91, "alter": 17, "entscheidungsdatum": "2026-02-27"})
        stored = instances.get_variables(ctx, started.id)
        assert (stored["bewertung"], stored["bewertung_regel"]) == ("erheblich", "straftaten:1")
    with runtime.command() as ctx:
        events = audit.query(ctx, kinds=["decision_evaluated"], instance_id=started.id)
    by_element = {e.element_id: e.details for e in events}
    assert set(by_element) == {"einzeln", "liste", "sammeln"}
    single = by_element["einzeln"]
    assert (single["decision_key"], single["decision_version"]) == ("straftaten", 1)
    assert single["evaluated_at"] == "2026-03-02T09:30:00+00:00"
    assert single["decision_date"] == "2026-02-27"
    assert single["matched_rules"] == [{"id": "r_erheblich", "index": 2,
                                        "annotation": "§12a Abs. 1 StAG: mehr als 90 Tagessätze"}]
    assert [m["id"] for m in by_element["liste"]["matched_rules"]] == ["h2", "h3"]
    assert by_element["sammeln"]["result_variable"] == "hinweistexte"


def test_a_new_decision_version_decides_new_cases_and_binding_version_keeps_the_old(runtime: Runtime) -> None:
    deploy(runtime, "business_rule")
    changed = (b'<outputEntry id="oe_r2"><text>"erheblich"</text></outputEntry>',
               b'<outputEntry id="oe_r2"><text>"erheblich (neu)"</text></outputEntry>')
    content = (DATA / "business_rule" / "straftaten.dmn").read_bytes().replace(*changed)
    with runtime.command() as ctx:
        result = definitions.deploy(ctx, [("straftaten.dmn", content)], name="v2")
        assert [(d.key, d.version) for d in result.decisions] == [("straftaten", 2), ("hinweise", 2)]
        started = instances.start(ctx, key="business_rule", variables_in={"tagessaetze": 120, "alter": 30})
        variables = instances.get_variables(ctx, started.id)
    assert variables["bewertung"] == "erheblich (neu)"  # binding latest
    with runtime.command() as ctx:
        (collected,) = audit.query(ctx, kinds=["decision_evaluated"], instance_id=started.id, element_id="sammeln")
    assert collected.details["decision_version"] == 1  # camunda:decisionRefBinding="version", version 1
