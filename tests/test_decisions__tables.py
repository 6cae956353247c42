"""DMN decision tables: every hit policy, typeRef coercion, FEEL/JUEL/Python entries, required decisions, literal
expressions, Camunda's result mappers, and deploy-time problems that name element and line. Unit tests: no app,
no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows import decisions
from workflows.errors import DecisionError, DeploymentError

DATA = Path(__file__).parent / "data"


def _load(name: str) -> list[decisions.Decision]:
    path = DATA / name
    return decisions.parse_dmn(path.read_bytes(), path.name)


POLICIES = _load("decisions/policies.dmn")
DRD = _load("decisions/requirements.dmn")


def _evaluate(key: str, table: list[decisions.Decision] = POLICIES, **variables: object) -> decisions.DecisionResult:
    return decisions.evaluate_in(table, key, variables)


def test_parse_reads_keys_names_and_camunda_attributes() -> None:
    first = next(d for d in POLICIES if d.key == "sprachniveau_first")
    assert (first.name, first.version_tag, first.history_time_to_live) == ("Sprachniveau (FIRST)", "2025-10", 3650)
    assert isinstance(first.logic, decisions.DecisionTable)
    assert first.logic.inputs[0].input_variable == "niveau_eingabe"
    assert [d.key for d in DRD] == ["aufenthalt", "straftaten_summe", "voraussetzungen"]
    assert next(d for d in DRD if d.key == "voraussetzungen").required == ("aufenthalt", "straftaten_summe")


@pytest.mark.parametrize(("niveau", "expected", "rule"), [("B1", True, "r_b1"), ("C2", True, "r_b1"),
                                                          ("A2", False, "r_rest"), (None, False, "r_rest")])
def test_first_takes_the_first_matching_rule(niveau: str | None, expected: bool, rule: str) -> None:
    result = _evaluate("sprachniveau_first", sprachniveau=niveau)
    assert result.result_list == [{"ausreichend": expected}]
    assert [m.id for m in result.matched_rules] == [rule]


def test_matched_rules_carry_the_legal_annotation() -> None:
    (matched,) = _evaluate("sprachniveau_first", sprachniveau="B2").matched_rules
    assert (matched.index, matched.annotation) == (1, "§10 Abs. 1 Nr. 6 StAG: B1")


@pytest.mark.parametrize(("jahre", "punkte", "treffer"), [(2, None, 0), (3, 2, 1), (5, 7, 2), (10, 12, 2),
                                                          (11, 2, 2)])
def test_collect_with_sum_and_count(jahre: int, punkte: int | None, treffer: int) -> None:
    summed = _evaluate("punkte_sum", jahre=jahre)
    assert summed.result_list == ([] if punkte is None else [{"punkte": punkte}])
    assert _evaluate("punkte_count", jahre=jahre).result_list == [{"treffer": treffer}]


def test_integer_input_accepts_numeric_text_and_refuses_other_text() -> None:
    assert _evaluate("punkte_count", jahre="5").result_list == [{"treffer": 2}]
    with pytest.raises(DecisionError, match="not a valid integer"):
        _evaluate("punkte_sum", jahre="fünf")


@pytest.mark.parametrize(("tage", "stufe"), [(30, "niedrig"), (10, "mittel"), (2, "hoch")])
def test_priority_takes_the_highest_output_value(tage: int, stufe: str) -> None:
    assert _evaluate("prioritaet", tage=tage).result_list == [{"stufe": stufe}]


def test_output_order_sorts_all_matches_by_output_values() -> None:
    result = _evaluate("stufen_sortiert", tage=1)
    assert result.result_list == [{"stufe": "hoch"}, {"stufe": "niedrig"}]
    assert [m.id for m in result.matched_rules] == ["o2", "o1"]


def test_any_accepts_equal_outputs_and_refuses_different_ones() -> None:
    assert _evaluate("beliebig", x=50).result_list == [{"y": "positiv"}]
    with pytest.raises(DecisionError, match="hit policy ANY"):
        _evaluate("beliebig", x=500)


def test_unique_refuses_two_matching_rules() -> None:
    broken = _load("decisions/policies.dmn")
    table = next(d for d in broken if d.key == "beliebig").logic
    assert isinstance(table, decisions.DecisionTable)
    unique = decisions.Decision("eindeutig", None, decisions.DecisionTable(
        "UNIQUE", None, table.inputs, table.outputs, table.rules))
    with pytest.raises(DecisionError, match="UNIQUE, but rules 1, 2 all match"):
        decisions.evaluate_in([unique], "eindeutig", {"x": 50})


def test_rule_order_with_juel_python_and_feel_entries() -> None:
    result = _evaluate("regeln", alter=17, land="SY")
    assert result.result_list == [{"code": "VS", "text": "Regelanfrage SY"}, {"code": "BZR", "text": "immer"}]
    result = _evaluate("regeln", alter=12, land="SY")
    assert result.result_list == [{"code": "GV", "text": None}, {"code": "BZR", "text": "immer"}]
    assert [r["code"] for r in _evaluate("regeln", alter=12, land="DE").result_list] == ["BZR"]


def test_required_decisions_feed_the_dependent_table() -> None:
    verurteilungen = [{"tagessaetze": 40}, {"tagessaetze": 50}]
    result = _evaluate("voraussetzungen", DRD, einreise="2021-03-01", antragsdatum="2026-02-28",
                       verurteilungen=verurteilungen)  # 4 years 11 months
    assert result.result_list == [{"erfuellt": False, "grund": "Voraufenthalt zu kurz"}]
    result = _evaluate("voraussetzungen", DRD, einreise="2021-03-01", antragsdatum="2026-03-01",
                       verurteilungen=verurteilungen)  # 5 years, 90 Tagessätze in sum
    assert result.result_list == [{"erfuellt": True, "grund": "erfüllt"}]
    result = _evaluate("voraussetzungen", DRD, einreise="2021-03-01", antragsdatum="2026-03-01",
                       verurteilungen=[*verurteilungen, {"tagessaetze": 1}])
    assert result.result_list == [{"erfuellt": False, "grund": "§12a: mehr als 90 Tagessätze"}]


def test_literal_expression_decision() -> None:
    result = _evaluate("aufenthalt", DRD, einreise="2021-05-10", antragsdatum="2026-05-09")
    assert result.result_list == [{"jahre_aufenthalt": 4}]
    assert result.matched_rules == []


def test_unknown_decision_key() -> None:
    with pytest.raises(DecisionError, match="'fehlt' is not defined"):
        _evaluate("fehlt")


# --- result mappers ----------------------------------------------------------------------------------------


def _result(*rows: dict[str, object]) -> decisions.DecisionResult:
    return decisions.DecisionResult("d", list(rows))


def test_single_entry() -> None:
    assert decisions.map_decision_result(_result({"a": 1}), "singleEntry") == 1
    assert decisions.map_decision_result(_result(), "singleEntry") is None
    with pytest.raises(DecisionError, match="expects exactly one"):
        decisions.map_decision_result(_result({"a": 1, "b": 2}), "singleEntry")
    with pytest.raises(DecisionError, match="gave 2 results"):
        decisions.map_decision_result(_result({"a": 1}, {"a": 2}), "singleEntry")


def test_single_result() -> None:
    assert decisions.map_decision_result(_result({"a": 1, "b": 2}), "singleResult") == {"a": 1, "b": 2}
    assert decisions.map_decision_result(_result(), "singleResult") is None
    with pytest.raises(DecisionError, match="gave 2 results"):
        decisions.map_decision_result(_result({"a": 1}, {"a": 2}), "singleResult")


def test_collect_entries_and_result_list() -> None:
    assert decisions.map_decision_result(_result({"a": 1}, {"a": 2}), "collectEntries") == [1, 2]
    assert decisions.map_decision_result(_result(), "collectEntries") == []
    with pytest.raises(DecisionError, match="expects exactly one"):
        decisions.map_decision_result(_result({"a": 1, "b": 2}), "collectEntries")
    assert decisions.map_decision_result(_result({"a": 1}, {"a": 2}), "resultList") == [{"a": 1}, {"a": 2}]
    with pytest.raises(DecisionError, match="Unknown mapDecisionResult"):
        decisions.map_decision_result(_result(), "firstOnly")


# --- problems at deploy time ---------------------------------------------------------------------------------


def test_every_problem_of_a_broken_file_is_reported_with_element_and_line() -> None:
    with pytest.raises(DeploymentError) as caught:
        _load("decisions/broken.dmn")
    found = {(p.element, p.line is not None) for p in caught.value.problems}
    messages = " | ".join(p.message for p in caught.value.problems)
    assert ("t_k", True) in found and "Unknown hit policy 'SOMETIMES'" in messages
    assert ("ie_k", True) in found and "'k +' does not compile" in messages
    assert ("ie_l", True) in found and "'groovy' is not supported" in messages
    assert ("k1a", True) in found
    assert ("k1c", True) in found and "not allowed" in messages
    assert ("k2", True) in found and "Rule 2 has 1 input and 1 output entries" in messages
    assert ("t_p", True) in found and "PRIORITY needs output values" in messages
    assert ("kaputt", True) in found and "'fehlt' is not in this file" in messages


def test_a_cycle_of_required_decisions_is_refused() -> None:
    content = (DATA / "decisions/requirements.dmn").read_bytes().replace(
        b'<decision id="aufenthalt" name="Voraufenthalt">',
        b'<decision id="aufenthalt" name="Voraufenthalt"><informationRequirement id="irx">'
        b'<requiredDecision href="#voraussetzungen" /></informationRequirement>')
    with pytest.raises(DeploymentError, match="requires itself"):
        decisions.parse_dmn(content, "cycle.dmn")


@pytest.mark.parametrize(("content", "message"), [
    (b"<definitions/>", "contains no decision"),
    (b"<bpmn:definitions xmlns:bpmn='x'/>", "contains no decision"),
    (b"<process/>", "not a DMN file"),
    (b"<definitions><decision id='x'/></definitions>", "Only decision tables and literal expressions"),
    (b"<definitions", "not well-formed"),
])
def test_files_that_are_not_usable_dmn(content: bytes, message: str) -> None:
    with pytest.raises(DeploymentError, match=message):
        decisions.parse_dmn(content, "x.dmn")


def test_a_runaway_expression_in_a_table_stops_with_a_decision_error() -> None:
    content = (DATA / "decisions/requirements.dmn").read_bytes().replace(
        b"sum(for v in verurteilungen return v.tagessaetze)", b"count(for a in 1..99999, b in 1..99999 return a)")
    table = decisions.parse_dmn(content, "slow.dmn")
    with pytest.raises(DecisionError, match="straftaten_summe"):
        decisions.evaluate_in(table, "straftaten_summe", {})
