"""Cases as stories on one clock.

A story is a generator: it takes a step (start a case, fill in a form, answer as another authority) and yields
how many days later its next step comes. The runner walks the clock forward from story to story, always to the
earliest pending step, and fires the timers that came due on the way, as the scheduler would have. A story whose
next step lies after `until` simply stops there: that is where the case stands today.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.context import Actor
from workflows.demo.office import Office
from workflows.demo.people import Person

Story = Iterator[float]


@dataclass(frozen=True)
class Staff:
    """The demo accounts as the actors of the stories."""

    fm: Actor
    fm_lead: Actor
    abh: Actor
    abh_lead: Actor
    ebh: Actor
    ebh_lead: Actor
    prozess: Actor


@dataclass
class CaseFile:
    """What one story knows: its office, its people, its random generator, and where it should end up."""

    office: Office
    staff: Staff
    rng: random.Random
    kind: str
    until: datetime
    person: Person | None = None
    aktenzeichen: str = ""
    instance: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def who(self) -> Person:
        assert self.person is not None
        return self.person

    def days_left(self) -> float:
        return (self.until - self.office.clock.now()).total_seconds() / 86400


@dataclass(frozen=True)
class Plan:
    starts_at: datetime
    story: Callable[[CaseFile], Story]
    case: CaseFile


def office_hours(moment: datetime, rng: random.Random, tz: str) -> datetime:
    """The same day (or the next working day) at a time between 8 and 16 o'clock, local time."""
    local = moment.astimezone(ZoneInfo(tz))
    day = local.date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    at = time(rng.randint(8, 15), rng.randrange(0, 60, 5))
    return datetime.combine(day, at, ZoneInfo(tz)).astimezone(ZoneInfo("UTC"))


def run(office: Office, plans: list[Plan], until: datetime) -> None:
    """Play every story up to `until`, earliest step first, firing due timers before each step."""
    queue: list[tuple[datetime, int, Story, CaseFile]] = []
    for number, plan in enumerate(plans):
        if plan.starts_at <= until:
            heapq.heappush(queue, (plan.starts_at, number, plan.story(plan.case), plan.case))
    while queue:
        moment, number, story, case = heapq.heappop(queue)
        if moment > office.clock.now():
            office.clock.set(moment)
        office.fire_timers()
        wait = next(story, None)
        if wait is None:
            continue
        following = office.clock.now() + timedelta(days=wait)
        if wait >= 1:
            following = office_hours(following, case.rng, office.settings.timezone)
        if following <= until:
            heapq.heappush(queue, (following, number, story, case))
    office.clock.set(max(until, office.clock.now()))
    office.fire_timers()
