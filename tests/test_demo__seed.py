"""`kimflow demo` on the test database (SQLite, and PostgreSQL when configured): the demo accounts and about 60
fictional cases across the four processes and their states, produced by the engine itself; running it again
changes nothing; the demo users log in and find work in their inboxes, and only their own domain's."""

from __future__ import annotations

import random
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from service.cli import main
from service.runtime import Runtime
from tests.conftest import ROOT, _empty_tables, deploy_kim
from tests.web_client import browser_for, links, text
from workflows import db, definitions, demo, human_tasks, incidents, instances, schema
from workflows.clock import ManualClock, as_utc
from workflows.context import Actor
from workflows.demo.people import Registry
from workflows.settings import load_settings

MOMENT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # a Wednesday: the demo is seeded as of this moment
ADMIN = Actor("admin", "admin", frozenset())
PASSWORD = tomllib.loads((ROOT / "config" / "demo.toml").read_text(encoding="utf-8"))["password"]


def _cli(database_url: str, *args: str) -> tuple[int, str]:
    env = {"DATABASE_URL": database_url, "KIMFLOW_CONFIG_DIR": str(ROOT / "config")}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_without_the_kim_processes_it_names_the_deploy_command(runtime: Runtime, database_url: str) -> None:
    code, output = _cli(database_url, "demo", "--at", MOMENT.isoformat())
    assert code != 0 and "kimflow deploy bpmn forms" in output
    with runtime.command(ADMIN) as ctx:
        assert instances.list_instances(ctx) == []


@pytest.fixture(scope="module")
def seeded(_engine: sa.Engine, database_url: str) -> Iterator[Runtime]:
    """The KIM models deployed, then `kimflow demo` run once as of MOMENT."""
    _empty_tables(_engine)
    definitions._bundle_cache.clear()
    settings = load_settings(env={}, database_url=database_url)
    runtime = Runtime(settings, _engine, db.session_factory(_engine), ManualClock(MOMENT))
    deploy_kim(runtime)
    code, output = _cli(database_url, "demo", "--at", MOMENT.isoformat())
    assert code == 0, output
    assert "demo cases seeded in" in output and "fm.sachbearbeitung" in output
    yield runtime


def _instances(runtime: Runtime) -> list[Any]:
    with runtime.command(ADMIN) as ctx:
        return instances.list_instances(ctx, limit=1000)


def _open_tasks(runtime: Runtime, actor: Actor = ADMIN) -> list[Any]:
    with runtime.command(actor) as ctx:
        return human_tasks.find(ctx, human_tasks.TaskQuery(), limit=1000)


def _variable(runtime: Runtime, key: str, name: str) -> Counter[Any]:
    with runtime.command(ADMIN) as ctx:
        return Counter((instances.get_variables(ctx, i.id) or {}).get(name)
                       for i in instances.list_instances(ctx, definition_key=key, limit=1000))


def test_about_sixty_cases_across_the_four_processes(seeded: Runtime) -> None:
    cases = _instances(seeded)
    per_process = Counter(i.definition_key for i in cases)
    assert 55 <= len(cases) <= 70
    assert per_process["fallmanagement"] >= 20
    assert per_process["bleiberecht"] >= 15 and per_process["einbuergerung"] >= 15
    assert per_process["kim_bericht"] >= 2
    states = Counter((i.definition_key, i.state) for i in cases)
    assert states["fallmanagement", "completed"] >= 5 and states["fallmanagement", "active"] >= 15
    assert states["einbuergerung", "completed"] >= 3
    prefixes = {i.business_key.split("-")[0] for i in cases if i.business_key}
    assert prefixes == {"FM", "ABH", "EBH"}
    assert len({i.business_key for i in cases if i.business_key}) == len([i for i in cases if i.business_key])


def test_outcomes_granted_refused_naturalised_and_closed(seeded: Runtime) -> None:
    assert _variable(seeded, "bleiberecht", "ergebnis")["erteilt"] >= 2  # waiting for the Wiedervorlage
    assert _variable(seeded, "bleiberecht", "ergebnis")["abgelehnt"] >= 2
    einbuergerung = _variable(seeded, "einbuergerung", "ergebnis")
    assert einbuergerung["eingebuergert"] >= 2 and einbuergerung["abgelehnt"] >= 1
    assert len([r for r in _variable(seeded, "fallmanagement", "abschlussgrund") if r]) >= 5


def test_overdue_waiting_wiedervorlagen_and_supervision(seeded: Runtime) -> None:
    tasks = _open_tasks(seeded)
    overdue = [t for t in tasks if t.due_at is not None and as_utc(t.due_at) < MOMENT]
    assert len(overdue) >= 8
    assert {t.definition_key for t in overdue} >= {"fallmanagement", "einbuergerung", "kim_bericht"}
    wiedervorlagen = [t for t in tasks if t.follow_up_at is not None and as_utc(t.follow_up_at) > MOMENT]
    assert len(wiedervorlagen) >= 3
    keys = Counter((t.definition_key, t.task_definition_key) for t in tasks)
    assert keys["fallmanagement", "abschluss_vorschlagen"] >= 1  # the Fallmanagement's Teamleitung decides
    assert keys["bleiberecht", "zureichenden_grund_dokumentieren"] >= 1  # §75 VwGO: three months passed
    assert keys["einbuergerung", "vs_nachhaken"] >= 1  # the Verfassungsschutz is late
    assert keys["bleiberecht", "stellungnahme_abwarten"] >= 1  # after the Anhörung, waiting for the statement
    assert sum(count for (key, _), count in keys.items() if key == "bleiberecht") >= 10
    assert len([t for t in tasks if t.assignee]) >= 8  # "Meine Aufgaben" is not empty


def test_cases_waiting_on_other_authorities_and_two_incidents(seeded: Runtime) -> None:
    with seeded.command(ADMIN) as ctx:
        waiting = Counter(t.topic for t in ctx.session.scalars(sa.select(schema.ExternalTask)))
        failed = incidents.list_open(ctx)
    assert waiting["vs_regelanfrage"] >= 2  # Regelanfrage at the Verfassungsschutz
    assert waiting["azr_abfrage"] + waiting["bzr_auskunft"] >= 3
    messages = {i.element_id: i.message or "" for i in failed}
    assert sorted(messages) == ["azr_abfrage", "polizei_anfrage"]  # a worker failed until no retries were left
    assert "AZR-Webservice" in messages["azr_abfrage"] and "Kreispolizeibehörde" in messages["polizei_anfrage"]


def test_running_it_again_keeps_accounts_and_cases(seeded: Runtime, database_url: str) -> None:
    before = sorted((i.id, i.state) for i in _instances(seeded))
    with seeded.command() as ctx:
        ctx.session.get(schema.User, "fm.sachbearbeitung").display_name = "Lea Hoffmann-Yılmaz"  # type: ignore
    code, output = _cli(database_url, "demo", "--at", MOMENT.isoformat())
    assert code == 0 and "no demo cases added" in output and "none (all exist)" in output
    assert sorted((i.id, i.state) for i in _instances(seeded)) == before
    with seeded.command() as ctx:
        assert ctx.session.get(schema.User, "fm.sachbearbeitung").display_name == "Lea Hoffmann-Yılmaz"  # type: ignore


def test_the_same_seed_and_moment_plan_the_same_people(seeded: Runtime) -> None:
    def people() -> list[tuple[str, str, str]]:
        registry = Registry(random.Random(demo.SEED))
        found = [registry.person(age_from=18, age_to=60, today=MOMENT.date()) for _ in range(40)]
        return [(p.name, p.born.isoformat(), p.address) for p in found]
    assert people() == people()
    names = {i.business_key: i for i in _instances(seeded) if i.business_key}
    with seeded.command(ADMIN) as ctx:
        data = [instances.get_variables(ctx, i.id) or {} for i in names.values()]
    own = [d for d in data if "fm_aktenzeichen" not in d]  # a referred person has their Fallmanagement case too
    shown = {d.get("person_name") for d in own}
    assert len(shown) == len(own)  # nobody appears twice
    origins = {name.split()[-1] for name in shown if name}
    assert len(origins) >= 25


@pytest.mark.parametrize(("user", "prefix"), [("fm.sachbearbeitung", "FM-"), ("abh.sachbearbeitung", "ABH-"),
                                              ("ebh.sachbearbeitung", "EBH-"), ("abh.teamleitung", "ABH-")])
def test_a_demo_user_logs_in_and_finds_work_of_their_own_domain_only(seeded: Runtime, user: str,
                                                                       prefix: str) -> None:
    browser = browser_for(seeded)
    assert browser.login(user, PASSWORD).status_code == 302
    pages = [text(browser.get("/")), text(browser.get("/?tab=gruppe"))]
    tasks = links(browser.get("/?tab=gruppe"), "/aufgaben/") + links(browser.get("/"), "/aufgaben/")
    assert len(set(tasks)) >= 3
    assert any(f"{prefix}2026-" in page for page in pages)
    for other in {"FM-", "ABH-", "EBH-"} - {prefix}:
        assert not any(f"{other}2026-" in page for page in pages), (user, other)
