"""The demo office: the caseworkers' and the authorities' hands on the real engine, on a clock that the stories move.

Every step goes through the functions the web app and the REST API call (start with the start form's
validation, submit a task's form, claim, correlate a message, fetch-and-lock and complete or fail an external
task), one transaction each, so the seeded cases are as consistent as cases that people worked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from workflows import db, definitions, external_tasks, forms, human_tasks, instances, messages, schema, timers
from workflows.clock import ManualClock, as_utc
from workflows.context import SYSTEM, Actor, Ctx
from workflows.errors import KimflowError
from workflows.settings import Settings

WORKER = "demo-register"  # the other authorities' systems (AZR, BZR, Verfassungsschutz, police, statistics)
LOCK_MS = 5 * 60 * 1000


class DemoError(KimflowError):
    """A story could not take the step it meant to take: the demo data would not be what the README promises."""


@dataclass
class Office:
    sessions: sessionmaker[Session]
    settings: Settings
    clock: ManualClock

    @contextmanager
    def command(self, actor: Actor = SYSTEM) -> Iterator[Ctx]:
        with db.transaction(self.sessions) as session:
            yield Ctx(session=session, clock=self.clock, settings=self.settings, actor=actor)

    # --- time --------------------------------------------------------------------------------------------------

    def today(self, days: int = 0) -> str:
        """Today in Berlin (plus `days`) as an ISO date, as the forms take it."""
        return (self.local_date() + timedelta(days=days)).isoformat()

    def local_date(self) -> date:
        return self.clock.now().astimezone(ZoneInfo(self.settings.timezone)).date()

    def fire_timers(self) -> None:
        """What the scheduler would have done by now: fire every due timer (a batch per transaction)."""
        while True:
            with self.command() as ctx:
                if not timers.fire_due(ctx).claimed:
                    return

    # --- cases and tasks ---------------------------------------------------------------------------------------

    def start(self, actor: Actor, key: str, values: Mapping[str, Any]) -> str:
        """Start a procedure from its start form, validated as the web page validates it."""
        with self.command(actor) as ctx:
            definition = definitions.latest_process(ctx, key)
            if definition is None:
                raise DemoError(f"The process {key} is not deployed: run `kimflow deploy bpmn forms` first.")
            form = definitions.resolve_form(ctx, definition.start_form or {}, definition.deployment_id)
            clean = dict(values)
            if form is not None:
                clean, errors = forms.validate_submission(form, values, variables={}, today=self.local_date())
                _refuse_errors(f"start form of {key}", errors)
            return instances.start(ctx, key=key, business_key=clean.get("aktenzeichen"), variables_in=clean).id

    def open_tasks(self, instance_id: str) -> list[str]:
        with self.command() as ctx:
            found = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id), limit=50)
        return sorted(t.task_definition_key for t in found)

    def has(self, instance_id: str, key: str) -> bool:
        return key in self.open_tasks(instance_id)

    def submit(self, actor: Actor, instance_id: str, key: str, values: Mapping[str, Any]) -> None:
        """Fill in the task's form and complete it, as the task page does."""
        with self.command(actor) as ctx:
            task = _one_task(ctx, instance_id, key)
            errors = human_tasks.submit_form(ctx, task.id, dict(values))
        _refuse_errors(f"task {key} of {instance_id}", errors)

    def submit_task(self, actor: Actor, task_id: str, values: Mapping[str, Any]) -> None:
        with self.command(actor) as ctx:
            errors = human_tasks.submit_form(ctx, task_id, dict(values))
        _refuse_errors(f"task {task_id}", errors)

    def tasks(self, actor: Actor, key: str | None = None, *, instance_id: str | None = None,
              follow_up_before: datetime | None = None, created_before: datetime | None = None) -> list[Any]:
        """Open tasks the actor sees (all of them: the inbox without its paging)."""
        query = human_tasks.TaskQuery(task_definition_key=key, instance_id=instance_id,
                                      sort_by=[("created", "asc"), ("id", "asc")])
        with self.command(actor) as ctx:
            found = human_tasks.find(ctx, query, limit=10_000)
        return [t for t in found if (follow_up_before is None or t.follow_up_at is None
                                     or as_utc(t.follow_up_at) <= follow_up_before)
                and (created_before is None or as_utc(t.created_at) <= created_before)]

    def referred_case(self, key: str, fm_aktenzeichen: str) -> str:
        """The authority's case that a referral from the Fallmanagement started (it carries the FM Aktenzeichen)."""
        variable = schema.ProcessVariable
        with self.command() as ctx:
            found = ctx.session.scalars(sa.select(variable.instance_id).where(
                variable.name == "fm_aktenzeichen", variable.instance_id.in_(
                    sa.select(schema.ProcessInstance.id).where(schema.ProcessInstance.definition_key == key)))).all()
            values = {i: (instances.get_variables(ctx, i) or {}).get("fm_aktenzeichen") for i in found}
        matching = [i for i, value in values.items() if value == fm_aktenzeichen]
        if len(matching) != 1:
            raise DemoError(f"Expected one {key} case referred by {fm_aktenzeichen}, found {len(matching)}.")
        return matching[0]

    def claim(self, actor: Actor, task_id: str) -> None:
        with self.command(actor) as ctx:
            human_tasks.claim(ctx, task_id)

    def variables(self, instance_id: str) -> dict[str, Any]:
        with self.command() as ctx:
            return instances.get_variables(ctx, instance_id) or {}

    def correlate(self, actor: Actor, name: str, business_key: str, variables: Mapping[str, Any]) -> None:
        with self.command(actor) as ctx:
            messages.correlate(ctx, name, business_key=business_key, process_variables=dict(variables))

    # --- the other authorities, as external-task workers ---------------------------------------------------------

    def waiting_topics(self, instance_id: str) -> list[str]:
        with self.command() as ctx:
            return sorted(t.topic for t in external_tasks.list_tasks(ctx, instance_id=instance_id))

    def waiting_instances(self, topic: str) -> list[str]:
        with self.command() as ctx:
            return [t.instance_id for t in external_tasks.list_tasks(ctx, topic=topic, locked=False,
                                                                      no_retries_left=False, limit=500)]

    def answer(self, instance_id: str, topic: str, variables: Mapping[str, Any] | None = None) -> bool:
        """The authority replies (the worker completes the external task); False if nothing waits for it."""
        with self.command() as ctx:
            task = _lock(ctx, instance_id, topic)
            if task is None:
                return False
            external_tasks.complete(ctx, task.id, WORKER, dict(variables or {}))
        return True

    def fail(self, instance_id: str, topic: str, message: str, *, retries: int) -> None:
        """The worker reports a failed attempt; with no retries left the task becomes an incident."""
        with self.command() as ctx:
            task = _lock(ctx, instance_id, topic)
            if task is None:
                raise DemoError(f"No external task {topic} waits in {instance_id}.")
            external_tasks.failure(ctx, task.id, WORKER, error_message=message, retries=retries,
                                   retry_timeout_ms=30 * 60 * 1000,
                                   error_details=f"{message}\n(Demo-Daten: Fehler der Schnittstelle nachgestellt)")


def _one_task(ctx: Ctx, instance_id: str, key: str) -> Any:
    found = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id, task_definition_key=key))
    if len(found) != 1:
        raise DemoError(f"Expected one open task {key} in {instance_id}, found {len(found)}.")
    return found[0]


def _lock(ctx: Ctx, instance_id: str, topic: str) -> Any:
    """Fetch and lock this case's task of the topic, as a worker asking for its Aktenzeichen would."""
    waiting = external_tasks.list_tasks(ctx, topic=topic, instance_id=instance_id, locked=False,
                                        no_retries_left=False, limit=1)
    if not waiting:
        return None
    request = external_tasks.TopicRequest(topic, LOCK_MS, business_key=waiting[0].business_key)
    mine = None
    for locked in external_tasks.fetch_and_lock(ctx, WORKER, [request], max_tasks=50):
        if locked.row.id == waiting[0].id:
            mine = locked.row
        else:
            external_tasks.unlock(ctx, locked.row.id)  # another case's: not ours to answer now
    return mine


def _refuse_errors(what: str, errors: Mapping[str, list[str]]) -> None:
    if errors:
        raise DemoError(f"The {what} refused the demo values: {dict(errors)}")
