"""DMN decisions: parse decision tables and literal expressions, evaluate them with FEEL, map their results.

Semantics follow Camunda 7 where a process owner would notice: input expressions, input entries and output
entries are FEEL unless `expressionLanguage` says `juel` or `python`; the input value is `?` in FEEL tests and
`cellInput` (or `camunda:inputVariable`) in every language; hit policies UNIQUE, FIRST, PRIORITY, ANY,
COLLECT (with SUM, MIN, MAX, COUNT), RULE ORDER and OUTPUT ORDER; required decisions (DRD) are evaluated first
and their outputs are visible by output name; the business rule task's result mappers (singleEntry,
singleResult, collectEntries, resultList) behave as Camunda's. Every rule's id, position and annotation is
reported with the result so that the audit trail shows why a decision came out as it did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lxml import etree

from workflows import feel
from workflows.durations import ttl_days
from workflows.errors import DecisionError, DeploymentError, ExpressionError, Problem
from workflows.feel_functions import parse_temporal
from workflows.safexml import parse_xml
from workflows.sandbox import Expression, Limits, compile_expression

CAMUNDA_DMN = "http://camunda.org/schema/1.0/dmn"
HIT_POLICIES = ("UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER")
AGGREGATIONS = ("SUM", "MIN", "MAX", "COUNT")
MAX_REQUIRED_DEPTH = 50


# --- the parsed model --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compiled:
    """One expression of a table, compiled for its language (FEEL, JUEL or Python)."""

    text: str
    language: str
    code: Expression

    def evaluate(self, variables: Mapping[str, Any], helpers: Mapping[str, Any], limits: Limits | None) -> Any:
        return self.code.evaluate(variables, helpers, limits)


@dataclass(frozen=True)
class Input:
    id: str
    label: str | None
    expression: Compiled
    type_ref: str | None
    input_variable: str = "cellInput"


@dataclass(frozen=True)
class Output:
    id: str
    name: str
    label: str | None
    type_ref: str | None
    allowed: tuple[Any, ...] = ()  # outputValues: the priority order for PRIORITY and OUTPUT ORDER


@dataclass(frozen=True)
class Rule:
    id: str
    index: int  # 1-based, as Modeler shows it
    annotation: str | None
    tests: tuple[Compiled | None, ...]  # None: "-" (any value)
    outputs: tuple[Compiled | None, ...]  # None: empty cell (null)


@dataclass(frozen=True)
class DecisionTable:
    hit_policy: str
    aggregation: str | None
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class LiteralDecision:
    variable: str
    type_ref: str | None
    expression: Compiled


@dataclass(frozen=True)
class Decision:
    key: str
    name: str | None
    logic: DecisionTable | LiteralDecision
    required: tuple[str, ...] = ()
    version_tag: str | None = None
    history_time_to_live: int | None = None  # days
    resource_name: str = ""


@dataclass(frozen=True)
class MatchedRule:
    id: str
    index: int
    annotation: str | None


@dataclass
class DecisionResult:
    """One map of outputs per matched rule (Camunda's result list), and the rules that produced them."""

    decision_key: str
    result_list: list[dict[str, Any]] = field(default_factory=list)
    matched_rules: list[MatchedRule] = field(default_factory=list)


# --- parsing -----------------------------------------------------------------------------------------------


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _children(node: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in node if _local(child) == name]


def _child(node: etree._Element, name: str) -> etree._Element | None:
    found = _children(node, name)
    return found[0] if found else None


def _text_of(node: etree._Element | None) -> str:
    if node is None:
        return ""
    text = _child(node, "text")
    return (text.text or "").strip() if text is not None else (node.text or "").strip()


def _camunda(node: etree._Element, name: str) -> str | None:
    return node.get(f"{{{CAMUNDA_DMN}}}{name}")


@dataclass
class _Reader:
    """Collects every problem of one DMN file instead of stopping at the first."""

    file: str
    default_language: str = "feel"
    problems: list[Problem] = field(default_factory=list)

    def problem(self, node: etree._Element, message: str) -> None:
        self.problems.append(Problem(self.file, message, element=node.get("id"), line=node.sourceline))

    def language(self, node: etree._Element, fallback: str) -> str | None:
        declared = (node.get("expressionLanguage") or fallback).lower()
        for known in ("feel", "juel", "python"):
            if known in declared:
                return known
        self.problem(node, f"The expression language {declared!r} is not supported; use FEEL, JUEL or Python.")
        return None

    def compile(self, node: etree._Element, text: str, *, tests: bool, fallback: str | None = None) -> Any:
        language = self.language(node, fallback or self.default_language)
        if language is None:
            return None
        try:
            if language == "feel":
                code = feel.compile_unary_tests(text) if tests else feel.compile_expression(text)
            else:
                code = compile_expression(text)
        except ExpressionError as error:
            self.problem(node, f"{text!r} does not compile: {error}")
            return None
        return Compiled(text, language, code)


def parse_dmn(content: bytes, name: str) -> list[Decision]:
    """Every decision of a DMN file; raises DeploymentError listing every problem with element and line."""
    root = parse_xml(content, name).getroot()
    if _local(root) != "definitions":
        raise DeploymentError([Problem(name, "This is not a DMN file: its root element is not <definitions>.",
                                       line=root.sourceline)])
    reader = _Reader(name, _language_of(root))
    decisions = [d for node in _children(root, "decision") if (d := _decision(reader, node)) is not None]
    _check_requirements(reader, root)
    if not decisions and not reader.problems:
        reader.problems.append(Problem(name, "The DMN file contains no decision."))
    if reader.problems:
        raise DeploymentError(reader.problems)
    return decisions


def _language_of(root: etree._Element) -> str:
    declared = (root.get("expressionLanguage") or "feel").lower()
    return next((known for known in ("juel", "python") if known in declared), "feel")


def _decision(reader: _Reader, node: etree._Element) -> Decision | None:
    key = node.get("id")
    if not key:
        reader.problem(node, "A decision needs an id (it is the decision's key).")
        return None
    table, literal = _child(node, "decisionTable"), _child(node, "literalExpression")
    logic: DecisionTable | LiteralDecision | None
    if table is not None:
        logic = _table(reader, table)
    elif literal is not None:
        logic = _literal(reader, node, literal)
    else:
        reader.problem(node, "Only decision tables and literal expressions are supported.")
        return None
    if logic is None:
        return None
    try:
        ttl = ttl_days(_camunda(node, "historyTimeToLive"))
    except ValueError as error:
        reader.problem(node, str(error))
        return None
    return Decision(key, node.get("name"), logic, _required(node), _camunda(node, "versionTag"), ttl, reader.file)


def _literal(reader: _Reader, decision: etree._Element, node: etree._Element) -> LiteralDecision | None:
    variable = _child(decision, "variable")
    name = variable.get("name") if variable is not None else None
    if not name:
        reader.problem(decision, "A literal expression decision needs <variable name=...> for its result.")
        return None
    compiled = reader.compile(node, _text_of(node), tests=False)
    if compiled is None:
        return None
    return LiteralDecision(name, variable.get("typeRef") if variable is not None else None, compiled)


def _table(reader: _Reader, node: etree._Element) -> DecisionTable | None:
    before = len(reader.problems)
    hit_policy = (node.get("hitPolicy") or "UNIQUE").upper()
    aggregation = (node.get("aggregation") or "").upper() or None
    if hit_policy not in HIT_POLICIES:
        reader.problem(node, f"Unknown hit policy {hit_policy!r} (known: {', '.join(HIT_POLICIES)}).")
    if aggregation and (hit_policy != "COLLECT" or aggregation not in AGGREGATIONS):
        reader.problem(node, f"The aggregation {aggregation} needs hit policy COLLECT and one of "
                             f"{', '.join(AGGREGATIONS)}.")
    input_nodes, output_nodes = _children(node, "input"), _children(node, "output")
    inputs = tuple(i for i in (_input(reader, n) for n in input_nodes) if i is not None)
    outputs = tuple(o for o in (_output(reader, n, len(output_nodes)) for n in output_nodes) if o is not None)
    _check_outputs(reader, node, hit_policy, aggregation, outputs)
    rules = tuple(r for index, n in enumerate(_children(node, "rule"), 1)
                  if (r := _rule(reader, n, index, len(input_nodes), len(output_nodes))) is not None)
    if len(reader.problems) > before:
        return None
    return DecisionTable(hit_policy, aggregation, inputs, outputs, rules)


def _input(reader: _Reader, node: etree._Element) -> Input | None:
    expression = _child(node, "inputExpression")
    if expression is None or not _text_of(expression):
        reader.problem(node, "The input has no input expression.")
        return None
    compiled = reader.compile(expression, _text_of(expression), tests=False)
    if compiled is None:
        return None
    return Input(node.get("id") or "", node.get("label"), compiled, expression.get("typeRef"),
                 _camunda(node, "inputVariable") or "cellInput")


def _output(reader: _Reader, node: etree._Element, count: int) -> Output | None:
    name = node.get("name") or (node.get("id") if count == 1 else None)
    if not name:
        reader.problem(node, "An output of a table with several outputs needs a name.")
        return None
    allowed: tuple[Any, ...] = ()
    values = _child(node, "outputValues")
    if values is not None and _text_of(values):
        try:
            allowed = tuple(feel.compile_expression(f"[{_text_of(values)}]").evaluate({}))
        except ExpressionError as error:
            reader.problem(node, f"The output values {_text_of(values)!r} are not a FEEL list: {error}")
    return Output(node.get("id") or "", name, node.get("label"), node.get("typeRef"), allowed)


def _check_outputs(reader: _Reader, node: etree._Element, hit_policy: str, aggregation: str | None,
                   outputs: tuple[Output, ...]) -> None:
    if not outputs:
        reader.problem(node, "The decision table has no output.")
    if aggregation and len(outputs) > 1:
        reader.problem(node, f"The aggregation {aggregation} works on a table with exactly one output.")
    if hit_policy in ("PRIORITY", "OUTPUT ORDER") and outputs and not any(o.allowed for o in outputs):
        reader.problem(node, f"Hit policy {hit_policy} needs output values (the priority order) on an output.")
    names = [o.name for o in outputs]
    for duplicate in {n for n in names if names.count(n) > 1}:
        reader.problem(node, f"The output name {duplicate!r} is used twice.")


def _rule(reader: _Reader, node: etree._Element, index: int, inputs: int, outputs: int) -> Rule | None:
    entries, results = _children(node, "inputEntry"), _children(node, "outputEntry")
    if len(entries) != inputs or len(results) != outputs:
        reader.problem(node, f"Rule {index} has {len(entries)} input and {len(results)} output entries; the table "
                             f"has {inputs} inputs and {outputs} outputs.")
        return None
    tests = tuple(_entry(reader, e, tests=True) for e in entries)
    values = tuple(_entry(reader, e, tests=False) for e in results)
    description = _child(node, "description")
    annotation = (description.text or "").strip() or None if description is not None else None
    return Rule(node.get("id") or f"rule{index}", index, annotation, tests, values)


def _entry(reader: _Reader, node: etree._Element, *, tests: bool) -> Compiled | None:
    text = _text_of(node)
    if not text or (tests and text == "-"):
        return None
    return reader.compile(node, text, tests=tests)


def _check_requirements(reader: _Reader, root: etree._Element) -> None:
    nodes = {n.get("id"): n for n in _children(root, "decision")}
    required = {key: _required(node) for key, node in nodes.items()}
    for key, node in nodes.items():
        for missing in (r for r in required[key] if r not in nodes):
            reader.problem(node, f"The required decision {missing!r} is not in this file.")
        if _cycle(str(key), required, ()):
            reader.problem(node, "The decision requires itself (a cycle of required decisions).")


def _required(node: etree._Element) -> tuple[str, ...]:
    return tuple(href.lstrip("#") for requirement in _children(node, "informationRequirement")
                 for required in _children(requirement, "requiredDecision") if (href := required.get("href")))


def _cycle(key: str, required: dict[str | None, tuple[str, ...]], path: tuple[str, ...]) -> bool:
    if key in path:
        return True
    return any(_cycle(r, required, (*path, key)) for r in required.get(key, ()))


# --- evaluation --------------------------------------------------------------------------------------------


def evaluate_in(decisions: Sequence[Decision], key: str, variables: Mapping[str, Any], *,
                helpers: Mapping[str, Callable[..., Any]] | None = None,
                limits: Limits | None = None) -> DecisionResult:
    """Evaluate the decision `key` of a DMN file (its siblings serve as required decisions)."""
    by_key = {d.key: d for d in decisions}
    if key not in by_key:
        raise DecisionError(f"The decision {key!r} is not defined.")
    run = _Evaluation(by_key, helpers or {}, limits)
    return run.decide(key, dict(variables), 0)


@dataclass
class _Evaluation:
    decisions: dict[str, Decision]
    helpers: Mapping[str, Callable[..., Any]]
    limits: Limits | None

    def decide(self, key: str, variables: dict[str, Any], depth: int) -> DecisionResult:
        if depth > MAX_REQUIRED_DEPTH:
            raise DecisionError(f"The decision {key!r} requires decisions nested too deeply.")
        decision = self.decisions[key]
        for required in decision.required:
            variables.update(_as_variables(self.decide(required, dict(variables), depth + 1)))
        if isinstance(decision.logic, LiteralDecision):
            return self.literal(decision, decision.logic, variables)
        return self.table(decision, decision.logic, variables)

    def evaluate(self, code: Compiled, variables: Mapping[str, Any], where: str) -> Any:
        try:
            return code.evaluate(variables, self.helpers, self.limits)
        except ExpressionError as error:
            raise DecisionError(f"{where}: {code.text!r} failed: {error}") from error

    def literal(self, decision: Decision, logic: LiteralDecision, variables: dict[str, Any]) -> DecisionResult:
        value = self.evaluate(logic.expression, variables, f"Decision {decision.key!r}")
        value = coerce(value, logic.type_ref, f"Decision {decision.key!r}")
        return DecisionResult(decision.key, [{logic.variable: value}])

    def table(self, decision: Decision, table: DecisionTable, variables: dict[str, Any]) -> DecisionResult:
        scopes = [self.input_scope(decision, column, variables) for column in table.inputs]
        matched = [rule for rule in table.rules if self.matches(decision, rule, scopes)]
        rows = [(rule, self.outputs(decision, table, rule, variables)) for rule in matched]
        return apply_hit_policy(decision, table, rows)

    def input_scope(self, decision: Decision, column: Input, variables: dict[str, Any]) -> dict[str, Any]:
        where = f"Decision {decision.key!r}, input {column.label or column.id!r}"
        value = coerce(self.evaluate(column.expression, variables, where), column.type_ref, where)
        return {**variables, "?": value, column.input_variable: value}

    def matches(self, decision: Decision, rule: Rule, scopes: list[dict[str, Any]]) -> bool:
        for test, scope in zip(rule.tests, scopes, strict=True):
            if test is None:
                continue
            if self.evaluate(test, scope, f"Decision {decision.key!r}, rule {rule.index}") is not True:
                return False
        return True

    def outputs(self, decision: Decision, table: DecisionTable, rule: Rule,
                variables: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for output, entry in zip(table.outputs, rule.outputs, strict=True):
            where = f"Decision {decision.key!r}, rule {rule.index}, output {output.name!r}"
            value = None if entry is None else self.evaluate(entry, variables, where)
            row[output.name] = coerce(value, output.type_ref, where)
        return row


def _as_variables(result: DecisionResult) -> dict[str, Any]:
    """A required decision's outputs by name: the value for one result, the list of values for several."""
    if len(result.result_list) == 1:
        return dict(result.result_list[0])
    names = {name for row in result.result_list for name in row}
    return {name: [row.get(name) for row in result.result_list] for name in names}


# --- hit policies ------------------------------------------------------------------------------------------


Rows = list[tuple[Rule, dict[str, Any]]]


def apply_hit_policy(decision: Decision, table: DecisionTable, rows: Rows) -> DecisionResult:
    policy = table.hit_policy
    if policy == "UNIQUE" and len(rows) > 1:
        raise DecisionError(f"Decision {decision.key!r} has hit policy UNIQUE, but rules "
                            f"{', '.join(str(r.index) for r, _ in rows)} all match.")
    if policy == "ANY" and len({_frozen(values) for _rule, values in rows}) > 1:
        raise DecisionError(f"Decision {decision.key!r} has hit policy ANY, but the matching rules "
                            f"{', '.join(str(r.index) for r, _ in rows)} give different outputs.")
    if policy in ("PRIORITY", "OUTPUT ORDER"):
        rows = sorted(rows, key=lambda row: _priority(table.outputs, row[1]))
    if policy in ("FIRST", "ANY", "PRIORITY"):
        rows = rows[:1]
    if table.aggregation:
        return _aggregate(decision, table, rows)
    return DecisionResult(decision.key, [values for _rule, values in rows], [_matched(rule) for rule, _ in rows])


def _matched(rule: Rule) -> MatchedRule:
    return MatchedRule(rule.id, rule.index, rule.annotation)


def _frozen(values: dict[str, Any]) -> str:
    return repr(sorted(values.items(), key=lambda item: item[0]))


def _priority(outputs: tuple[Output, ...], values: dict[str, Any]) -> tuple[int, ...]:
    order = []
    for output in outputs:
        if output.allowed:
            value = values.get(output.name)
            order.append(output.allowed.index(value) if value in output.allowed else len(output.allowed))
    return tuple(order)


def _aggregate(decision: Decision, table: DecisionTable, rows: Rows) -> DecisionResult:
    name = table.outputs[0].name
    values = [v[name] for _rule, v in rows if v.get(name) is not None]
    matched = [_matched(rule) for rule, _ in rows]
    if table.aggregation == "COUNT":
        return DecisionResult(decision.key, [{name: len(values)}], matched)
    if not values:
        return DecisionResult(decision.key, [], matched)
    if table.aggregation == "SUM":
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise DecisionError(f"Decision {decision.key!r}: SUM needs numbers, got {values!r}.")
        return DecisionResult(decision.key, [{name: sum(values)}], matched)
    try:
        chosen = min(values) if table.aggregation == "MIN" else max(values)
    except TypeError:
        raise DecisionError(f"Decision {decision.key!r}: {table.aggregation} cannot compare {values!r}.") from None
    return DecisionResult(decision.key, [{name: chosen}], matched)


# --- types -------------------------------------------------------------------------------------------------


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    return int(value)


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError


def _to_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    parsed = parse_temporal(str(value))
    if not isinstance(parsed, date):
        raise ValueError
    return parsed


def _to_double(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    return float(value)


_COERCIONS: dict[str, Callable[[Any], Any]] = {
    "string": lambda v: v if isinstance(v, str) else (v.isoformat() if isinstance(v, date | datetime) else str(v)),
    "integer": _to_integer, "long": _to_integer, "number": lambda v: v if isinstance(v, int | float) and not
    isinstance(v, bool) else _number(v), "double": _to_double, "boolean": _to_boolean, "date": _to_date,
    "datetime": _to_date, "date and time": _to_date,
}


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError
    text = str(value).strip()
    return float(text) if "." in text or "e" in text.lower() else int(text)


def coerce(value: Any, type_ref: str | None, where: str) -> Any:
    """Convert a value to an input's or output's typeRef, as Camunda does ("17" → 17 for integer)."""
    if value is None or not type_ref or type_ref.lower() not in _COERCIONS:
        return value
    try:
        return _COERCIONS[type_ref.lower()](value)
    except (ValueError, TypeError, OverflowError):
        raise DecisionError(f"{where}: {value!r} is not a valid {type_ref}.") from None


# --- the business rule task's result mappers ---------------------------------------------------------------


def map_decision_result(result: DecisionResult, mapper: str) -> Any:
    """Camunda's mapDecisionResult: singleEntry, singleResult, collectEntries or resultList (the default)."""
    rows = result.result_list
    if mapper == "resultList":
        return [dict(row) for row in rows]
    if mapper == "collectEntries":
        _require_single_output(result, mapper)
        return [next(iter(row.values()), None) for row in rows]
    if mapper not in ("singleEntry", "singleResult"):
        raise DecisionError(f"Unknown mapDecisionResult {mapper!r} (singleEntry, singleResult, collectEntries, "
                            "resultList).")
    if len(rows) > 1:
        raise DecisionError(f"Decision {result.decision_key!r} gave {len(rows)} results, but {mapper} expects at "
                            "most one (use collectEntries or resultList).")
    if not rows:
        return None
    if mapper == "singleResult":
        return dict(rows[0])
    _require_single_output(result, mapper)
    return next(iter(rows[0].values()), None)


def _require_single_output(result: DecisionResult, mapper: str) -> None:
    for row in result.result_list:
        if len(row) > 1:
            raise DecisionError(f"Decision {result.decision_key!r} has the outputs {', '.join(sorted(row))}, but "
                                f"{mapper} expects exactly one.")
