"""bpmn/kim_bericht.bpmn (KIM Baustein 1) on the database with a settable clock: the start timer fires at 06:00
Berlin time on each quarter day and only once per quarter, also when it catches up; the statistics worker
completes the external task `kim_quartalszahlen` with counts only (anything else is discarded and reported); a
late worker gives the Prozessverantwortliche a task; the report task and its forms."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import ADMIN, ROOT, deploy_kim
from workflows import definitions, external_tasks, forms, human_tasks, incidents, instances, schema, timers
from workflows.clock import ManualClock
from workflows.context import Actor

PROZESS = Actor("petra", "caseworker", frozenset({"prozess"}))
FM = Actor("erika", "caseworker", frozenset({"fm-team"}))
WORKER = "statistik-worker"
TOPIC = external_tasks.TopicRequest("kim_quartalszahlen", 60_000, variables=["quartal", "quartal_beginn",
                                                                             "quartal_ende"])

QUARTALSZAHLEN: dict[str, Any] = {
    "faelle_eroeffnet": 14,
    "faelle_abgeschlossen": 9,
    "abschluesse_nach_grund": {"ziele_erreicht": 4, "regelsystem": 1, "anderes_fallmanagement": 0, "abbruch": 1,
                               "umzug": 1, "einwilligung_widerrufen": 0, "kein_kontakt": 2},
    "verweisungen_nach_partner": {"jobcenter": 7, "sozialamt": 2, "jugendamt": 1, "kurstraeger": 5, "abh": 3,
                                  "ebh": 1},
    "entscheidungen_25a": {"erteilt": 2, "abgelehnt": 0},
    "entscheidungen_25b": {"erteilt": 3, "abgelehnt": 1},
    "einbuergerungen": 11,
    "median_dauer_tage": {"fallmanagement": 143, "aufenthalt_25a": 61, "aufenthalt_25b": 97, "einbuergerung": None},
    "ueberschreitungen_drei_monate": {"abh": 1, "ebh": 4},
}


@pytest.fixture(autouse=True)
def _no_incidents(request: pytest.FixtureRequest) -> Iterator[None]:
    """No step of these models may fail on the way (an incident would mean the model is broken)."""
    runtime = request.getfixturevalue("runtime") if "runtime" in request.fixturenames else None
    yield
    if runtime is not None:
        with runtime.command(ADMIN) as ctx:
            assert [(i.element_id, i.message) for key in ("kim_bericht",)
                    for i in incidents.list_open(ctx, definition_key=key)] == []


NOTHING = object()  # the worker completes without sending any figures


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def _start_rows(runtime: Runtime) -> list[datetime]:
    with runtime.command() as ctx:
        rows = ctx.session.execute(sa.select(schema.Timer.due_at, schema.Timer.definition_id).where(
            schema.Timer.instance_id.is_(None))).all()
        kim = {d.id for d in ctx.session.scalars(sa.select(schema.ProcessDefinition).where(
            schema.ProcessDefinition.key == "kim_bericht"))}
    return [due.replace(tzinfo=UTC) if due.tzinfo is None else due for due, definition in rows if definition in kim]


def _fire_at(runtime: Runtime, clock: ManualClock, moment: datetime) -> None:
    clock.set(moment)
    with runtime.command() as ctx:
        timers.fire_due(ctx)


def _reports(runtime: Runtime) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        views = instances.list_instances(ctx, definition_key="kim_bericht")
    return [v.id for v in sorted(views, key=lambda v: v.started_at)]


def _variables(runtime: Runtime, instance_id: str) -> dict[str, Any]:
    with runtime.command(ADMIN) as ctx:
        return instances.get_variables(ctx, instance_id) or {}


def _keys(runtime: Runtime, instance_id: str) -> list[str]:
    with runtime.command(ADMIN) as ctx:
        return sorted(t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery(
            instance_id=instance_id)))


def _task(runtime: Runtime, instance_id: str, key: str) -> Any:
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id, task_definition_key=key))
    return task


def _deliver(runtime: Runtime, figures: Any) -> dict[str, Any]:
    """The statistics worker: fetch and lock the task, then complete it with the figures; returns what it read."""
    with runtime.command() as ctx:
        (locked,) = external_tasks.fetch_and_lock(ctx, WORKER, [TOPIC], max_tasks=1)
        read = {name: value for name, (value, _kind) in locked.variables.items()}
    with runtime.command() as ctx:
        external_tasks.complete(ctx, locked.row.id, WORKER, {} if figures is NOTHING else {"quartalszahlen": figures})
    return read


def _submit(runtime: Runtime, instance_id: str, key: str, values: dict[str, Any]) -> dict[str, list[str]]:
    task = _task(runtime, instance_id, key)
    with runtime.command(PROZESS) as ctx:
        return human_tasks.submit_form(ctx, task.id, values)


@pytest.fixture
def deployed(runtime: Runtime, clock: ManualClock) -> Runtime:
    """All KIM models, deployed on 31 December 2025 before the first quarter day of the cycle."""
    clock.set(_utc(2025, 12, 31, 12, 0))
    deploy_kim(runtime)
    return runtime


def test_the_report_starts_at_six_in_berlin_on_every_quarter_day_once(deployed: Runtime, clock: ManualClock) -> None:
    assert _start_rows(deployed) == [_utc(2026, 1, 1, 5, 0)]  # 06:00 CET
    _fire_at(deployed, clock, _utc(2026, 1, 1, 4, 59))
    assert _reports(deployed) == []
    _fire_at(deployed, clock, _utc(2026, 1, 1, 5, 0))
    _fire_at(deployed, clock, _utc(2026, 1, 1, 5, 30))  # a second tick on the same day starts nothing
    (first,) = _reports(deployed)
    variables = _variables(deployed, first)
    assert (variables["quartal"], variables["quartal_beginn"], variables["quartal_ende"]) == (
        "2025-Q4", "2025-10-01", "2025-12-31")
    assert _start_rows(deployed) == [_utc(2026, 4, 1, 4, 0)]  # 06:00 CEST
    expected = [("2026-Q1", _utc(2026, 4, 1, 4, 0)), ("2026-Q2", _utc(2026, 7, 1, 4, 0)),
                ("2026-Q3", _utc(2026, 10, 1, 4, 0)), ("2026-Q4", _utc(2027, 1, 1, 5, 0))]
    for quarter, moment in expected:
        _fire_at(deployed, clock, moment)
        assert _variables(deployed, _reports(deployed)[-1])["quartal"] == quarter
    assert len(_reports(deployed)) == 5
    assert _start_rows(deployed) == [_utc(2027, 4, 1, 4, 0)]


def test_a_catch_up_after_missed_quarter_days_starts_one_report(deployed: Runtime, clock: ManualClock) -> None:
    _fire_at(deployed, clock, _utc(2026, 1, 1, 5, 0))
    _fire_at(deployed, clock, _utc(2026, 7, 15, 10, 0))  # nobody ran on 1 April and 1 July
    _fire_at(deployed, clock, _utc(2026, 7, 15, 10, 5))
    reports = _reports(deployed)
    assert len(reports) == 2
    assert _variables(deployed, reports[-1])["quartal"] == "2026-Q2"  # the quarter that ended last
    assert _start_rows(deployed) == [_utc(2026, 10, 1, 4, 0)]


def test_a_new_version_deployed_mid_quarter_does_not_report_the_quarter_again(deployed: Runtime,
                                                                            clock: ManualClock) -> None:
    _fire_at(deployed, clock, _utc(2026, 1, 1, 5, 0))
    clock.set(_utc(2026, 2, 10, 9, 0))
    changed = (ROOT / "bpmn" / "kim_bericht.bpmn").read_bytes().replace(b'camunda:dueDate="P5D"',
                                                                        b'camunda:dueDate="P7D"')
    with deployed.command() as ctx:
        definitions.deploy(ctx, [("kim_bericht.bpmn", changed)], name="change", source="test")
    _fire_at(deployed, clock, _utc(2026, 2, 10, 9, 1))
    assert len(_reports(deployed)) == 1
    assert _start_rows(deployed) == [_utc(2026, 4, 1, 4, 0)]


def test_the_worker_delivers_counts_and_the_prozessverantwortliche_reviews_them(deployed: Runtime,
                                                                                clock: ManualClock) -> None:
    _fire_at(deployed, clock, _utc(2026, 1, 1, 5, 0))
    (report,) = _reports(deployed)
    assert _keys(deployed, report) == []
    read = _deliver(deployed, QUARTALSZAHLEN)
    assert read == {"quartal": "2025-Q4", "quartal_beginn": "2025-10-01", "quartal_ende": "2025-12-31"}
    task = _task(deployed, report, "quartalsbericht_pruefen")
    assert task.name == "Quartalsbericht 2025-Q4 prüfen und freigeben"
    assert task.candidate_groups == ["prozess"]
    assert task.due_at == _utc(2026, 1, 27, 23, 0)  # 31 December + P4W (kim_bericht_fristen), 00:00 Berlin
    assert _variables(deployed, report)["quartalszahlen"] == QUARTALSZAHLEN
    with deployed.command(FM) as ctx:
        assert human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=report)) == []
    with deployed.command(PROZESS) as ctx:
        assert [t.id for t in human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=report))] == [task.id]
    assert set(_submit(deployed, report, "quartalsbericht_pruefen", {"bericht_anmerkung": "x"})) == {
        "bericht_freigabe"}
    assert set(_submit(deployed, report, "quartalsbericht_pruefen", {"bericht_freigabe": "rueckfrage"})) == {
        "bericht_rueckfrage"}
    assert _submit(deployed, report, "quartalsbericht_pruefen", {
        "bericht_freigabe": "freigegeben", "bericht_anmerkung": "Mehr Verweisungen an Kursträger",
        "quartalszahlen.faelle_eroeffnet": "99"}) == {}  # the figures are read-only
    with deployed.command(ADMIN) as ctx:
        assert instances.get(ctx, report).state == "completed"  # type: ignore[union-attr]
        assert incidents.list_open(ctx, instance_id=report) == []
    assert _variables(deployed, report)["quartalszahlen"]["faelle_eroeffnet"] == 14


@pytest.mark.parametrize(("figures", "complaint"), [
    ({**QUARTALSZAHLEN, "namen": ["Amina K."]}, "unbekanntes Feld namen"),
    ({**QUARTALSZAHLEN, "verweisungen_nach_partner": {**QUARTALSZAHLEN["verweisungen_nach_partner"],
                                                      "abh": "FM-2026-000123"}},
     "verweisungen_nach_partner.abh: keine Anzahl"),
    ({**QUARTALSZAHLEN, "faelle_eroeffnet": -1}, "faelle_eroeffnet: keine Anzahl"),
    ({**QUARTALSZAHLEN, "entscheidungen_25a": {"erteilt": 2, "abgelehnt": 0, "aktenzeichen": "ABH-2026-000001"}},
     "unbekanntes Feld entscheidungen_25a.aktenzeichen"),
    ("14 Fälle", "keine Quartalszahlen geliefert"),
    (NOTHING, "keine Quartalszahlen geliefert"),
])
def test_anything_but_counts_is_discarded_and_reported(deployed: Runtime, clock: ManualClock, figures: Any,
                                                       complaint: str) -> None:
    _fire_at(deployed, clock, _utc(2026, 1, 1, 5, 0))
    (report,) = _reports(deployed)
    _deliver(deployed, figures)
    assert _keys(deployed, report) == ["zahlen_beanstanden"]
    variables = _variables(deployed, report)
    assert variables["quartalszahlen"] is None  # nothing of what the worker sent is kept
    assert complaint in variables["quartalszahlen_fehler"]
    assert set(_submit(deployed, report, "zahlen_beanstanden", {})) == {"betrieb_informiert"}
    assert _submit(deployed, report, "zahlen_beanstanden", {"betrieb_informiert": True}) == {}


def test_a_late_worker_gives_the_prozessverantwortliche_a_task(deployed: Runtime, clock: ManualClock) -> None:
    _fire_at(deployed, clock, _utc(2026, 1, 1, 5, 0))
    (report,) = _reports(deployed)
    _fire_at(deployed, clock, _utc(2026, 1, 3, 4, 59))
    assert _keys(deployed, report) == []
    _fire_at(deployed, clock, _utc(2026, 1, 3, 5, 0))  # P2D (kim_bericht_fristen: zahlen_wartezeit)
    assert _keys(deployed, report) == ["statistik_pruefen"]
    assert set(_submit(deployed, report, "statistik_pruefen", {"statistik_vermerk": "Ticket 42"})) == {
        "betrieb_informiert"}
    assert _submit(deployed, report, "statistik_pruefen", {"betrieb_informiert": True}) == {}
    _deliver(deployed, QUARTALSZAHLEN)  # the external task waited all along
    assert _keys(deployed, report) == ["quartalsbericht_pruefen"]


def test_the_report_forms_show_only_counts_and_every_task_names_one() -> None:
    names = {p.stem for p in (ROOT / "forms").glob("bericht_*.form")}
    text = (ROOT / "bpmn" / "kim_bericht.bpmn").read_text(encoding="utf-8")
    assert {part.split('"')[0] for part in text.split('camunda:formRef="')[1:]} == names
    report = forms.parse_form_js((ROOT / "forms" / "bericht_quartalszahlen.form").read_bytes(),
                                 "bericht_quartalszahlen.form")
    shown = [f for f in forms.input_fields(report) if f.readonly is True]
    assert {f.key for f in shown} >= {"quartalszahlen.faelle_eroeffnet", "quartalszahlen.einbuergerungen"}
    assert all(f.key.startswith(("quartal", "quartalszahlen.")) for f in shown)
    assert all(f.type == "number" for f in shown if f.key.startswith("quartalszahlen."))
    figures = {f.key.removeprefix("quartalszahlen.") for f in shown if f.key.startswith("quartalszahlen.")}
    expected = {f"{group}.{part}" if isinstance(parts, dict) else group
                for group, parts in QUARTALSZAHLEN.items() for part in (parts if isinstance(parts, dict) else [""])}
    assert figures == expected
