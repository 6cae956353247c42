"""`kimflow demo`: the demo accounts of config/demo.toml and about 60 fictional cases across the four KIM processes.

Idempotent: accounts that exist are left alone, and cases are seeded only into a database that has none, so a
restart keeps what people did. The cases are not written as rows: stories drive the real engine over the last
eight months on a settable clock (workflows/demo/story.py), so every task, timer, incident and audit event is what
the processes themselves produced. The same seed on the same day gives the same data.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from workflows import accounts, schema
from workflows.clock import ManualClock, as_utc
from workflows.demo import bleiberecht, einbuergerung, fallmanagement, routines
from workflows.demo.office import DemoError, Office
from workflows.demo.people import Registry
from workflows.demo.story import CaseFile, Plan, Staff, Story, office_hours, run
from workflows.settings import Settings

SEED = 2026
HORIZON_DAYS = 240
PROCESSES = ("fallmanagement", "bleiberecht", "einbuergerung", "kim_bericht")
STAFF_IDS = {"fm": "fm.sachbearbeitung", "fm_lead": "fm.teamleitung", "abh": "abh.sachbearbeitung",
             "abh_lead": "abh.teamleitung", "ebh": "ebh.sachbearbeitung", "ebh_lead": "ebh.teamleitung",
             "prozess": "prozess"}
CLAIM_EVERY = 3  # every third open task of a team is in its caseworker's "Meine Aufgaben"

__all__ = ["SEED", "DemoError", "DemoReport", "seed"]


@dataclass
class DemoReport:
    users_created: list[str] = field(default_factory=list)
    seeded: bool = False
    cases: dict[str, int] = field(default_factory=dict)


def seed(sessions: sessionmaker[Session], settings: Settings, *, now: datetime, seed: int = SEED) -> DemoReport:
    """Create the demo accounts, and the demo cases if the database has no case yet."""
    now = as_utc(now)
    office = Office(sessions, settings, ManualClock(now))
    config = load_accounts(settings.config_dir)
    report = DemoReport(users_created=_ensure_accounts(office, config))
    if _has_cases(office):
        return report
    _require_processes(office)
    staff = _staff(office, config)
    plans = _plans(office, staff, now, seed)
    office.clock.set(min(p.starts_at for p in plans))
    run(office, plans, until=now)
    _claim_some(office, staff)
    report.seeded, report.cases = True, _count(office)
    return report


# --- accounts ----------------------------------------------------------------------------------------------


def load_accounts(config_dir: str | Path) -> dict[str, Any]:
    path = Path(config_dir) / "demo.toml"
    if not path.exists():
        raise DemoError(f"No demo accounts: {path} is missing.")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _ensure_accounts(office: Office, config: dict[str, Any]) -> list[str]:
    created = []
    with office.command() as ctx:
        accounts.ensure_configured_groups(ctx, office.settings.config_dir)
        for user_id, values in config.get("users", {}).items():
            if ctx.session.get(schema.User, user_id) is None:
                accounts.add_user(ctx, user_id, password=config["password"], role=values["role"],
                                  groups=values.get("groups", []), display_name=values.get("name"))
                created.append(user_id)
    return created


def _staff(office: Office, config: dict[str, Any]) -> Staff:
    users = config.get("users", {})
    missing = sorted(set(STAFF_IDS.values()) - set(users))
    if missing:
        raise DemoError(f"config/demo.toml lacks the demo accounts {', '.join(missing)}.")
    with office.command() as ctx:
        actors = {role: accounts.actor_for(ctx, user_id) for role, user_id in STAFF_IDS.items()}
    if any(actor is None for actor in actors.values()):
        raise DemoError("A demo account is deactivated; activate it or remove the demo cases' database.")
    return Staff(**{role: actor for role, actor in actors.items() if actor is not None})


# --- what exists already -----------------------------------------------------------------------------------


def _has_cases(office: Office) -> bool:
    with office.command() as ctx:
        return ctx.session.scalar(sa.select(sa.func.count()).select_from(schema.ProcessInstance)) != 0


def _require_processes(office: Office) -> None:
    with office.command() as ctx:
        deployed = set(ctx.session.scalars(sa.select(schema.ProcessDefinition.key).distinct()))
    missing = [key for key in PROCESSES if key not in deployed]
    if missing:
        raise DemoError(f"The KIM processes {', '.join(missing)} are not deployed: run `kimflow deploy bpmn forms` "
                        "first.")


def _count(office: Office) -> dict[str, int]:
    with office.command() as ctx:
        rows = ctx.session.execute(sa.select(schema.ProcessInstance.definition_key, sa.func.count())
                                   .group_by(schema.ProcessInstance.definition_key))
        return {key: count for key, count in rows}


# --- the plan: which stories begin when ----------------------------------------------------------------------


def _plans(office: Office, staff: Staff, now: datetime, seed: int) -> list[Plan]:
    registry = Registry(random.Random(seed))
    tz = office.settings.timezone
    cases = sorted(_case_list(), key=lambda entry: -entry[2])  # oldest first: file numbers grow with time
    plans = [_case_plan(office, staff, registry, now, seed, number, entry) for number, entry in enumerate(cases)]
    start = now - timedelta(days=HORIZON_DAYS)
    routine = _routine_plans(office, staff, now, seed, office_hours(start, random.Random(seed), tz))
    reports = [Plan(moment, routines.quarterly_report, _file(office, staff, now, seed, f"bericht:{moment}"))
               for moment in routines.quarter_days(start, now, tz) if moment < _next_report_timer(office, now)]
    return [*plans, *routine, *reports]


Entry = tuple[str, str, int, Callable[[CaseFile], Story]]


def _case_list() -> list[Entry]:
    return [*((("fallmanagement", kind, days, fallmanagement.story) for kind, days in fallmanagement.CASES)),
            *((("bleiberecht", kind, days, bleiberecht.story) for kind, days in bleiberecht.CASES)),
            *((("einbuergerung", kind, days, einbuergerung.story) for kind, days in einbuergerung.CASES))]


def _case_plan(office: Office, staff: Staff, registry: Registry, now: datetime, seed: int, number: int,
               entry: Entry) -> Plan:
    process, kind, days, story = entry
    case = _file(office, staff, now, seed, f"{process}:{number}", kind)
    starts_at = office_hours(now - timedelta(days=days), case.rng, office.settings.timezone)
    year, today = starts_at.year, starts_at.date()
    if process == "fallmanagement":
        young = kind == "verweisung_abh"
        case.person = registry.person(age_from=18, age_to=24 if young else 62, today=today)
        case.aktenzeichen = registry.aktenzeichen("FM", year)
        for partner in ("abh", "ebh"):
            if kind == f"verweisung_{partner}":
                case.notes[f"{partner}_aktenzeichen"] = registry.aktenzeichen(partner.upper(), year)
    elif process == "bleiberecht":
        case.notes["antragsart"] = bleiberecht.antragsart(kind, case.rng.random())
        low, high = bleiberecht.AGES[case.notes["antragsart"]]
        case.person = registry.person(age_from=low, age_to=high, today=today)
        case.aktenzeichen = registry.aktenzeichen("ABH", year)
    else:
        low, high = einbuergerung.AGES
        case.person = registry.person(age_from=low, age_to=high, today=today)
        case.aktenzeichen = registry.aktenzeichen("EBH", year)
    return Plan(starts_at, story, case)


def _file(office: Office, staff: Staff, now: datetime, seed: int, name: str, kind: str = "") -> CaseFile:
    return CaseFile(office, staff, random.Random(f"{seed}:{name}"), kind, now)


def _routine_plans(office: Office, staff: Staff, now: datetime, seed: int, start: datetime) -> list[Plan]:
    return [Plan(start, routine, _file(office, staff, now, seed, routine.__name__))
            for routine in (routines.teamleitung, routines.statistics_service, routines.prozess)]


def _next_report_timer(office: Office, now: datetime) -> datetime:
    """Quarter days before the report's start timer was scheduled get a report started by hand (as if the office
    had run kimflow then); from that timer on, the timer starts them itself while the clock passes."""
    with office.command() as ctx:
        due = ctx.session.scalar(sa.select(sa.func.min(schema.Timer.due_at)).join(
            schema.ProcessDefinition, schema.ProcessDefinition.id == schema.Timer.definition_id).where(
            schema.ProcessDefinition.key == "kim_bericht", schema.Timer.instance_id.is_(None)))
    return as_utc(due) if due is not None else now + timedelta(days=1)


# --- finishing touches ---------------------------------------------------------------------------------------


def _claim_some(office: Office, staff: Staff) -> None:
    """Caseworkers have taken some of their team's tasks, so "Meine Aufgaben" is not empty."""
    for actor in (staff.fm, staff.abh, staff.ebh):
        team = sorted(actor.groups)
        open_tasks = [t for t in office.tasks(actor) if t.assignee is None
                      and set(t.candidate_groups or []) & set(team)]
        for task in open_tasks[::CLAIM_EVERY]:
            office.claim(actor, task.id)
