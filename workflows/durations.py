"""ISO 8601 durations, dates and repeating intervals, computed the way a caseworker reads a deadline.

Calendar parts (years, months, weeks, days) are added on the local calendar (Europe/Berlin by default), so a
P1D timer fires at the same wall-clock time across the March and October clock changes; time parts (hours,
minutes, seconds) are exact elapsed time. Month arithmetic clamps to the month's last day (31.01. + P1M =
28./29.02.), as §188 BGB does for periods that end in a shorter month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<years>\d+(?:[.,]\d+)?)Y)?(?:(?P<months>\d+(?:[.,]\d+)?)M)?(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<days>\d+(?:[.,]\d+)?)D)?(?:T(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Duration:
    """A parsed ISO 8601 duration; calendar parts stay symbolic until added to a date."""

    years: int = 0
    months: int = 0
    days: int = 0
    seconds: float = 0.0
    negative: bool = False

    @property
    def is_zero(self) -> bool:
        return not (self.years or self.months or self.days or self.seconds)

    def add_to(self, moment: datetime, tz: str = "Europe/Berlin") -> datetime:
        """Add to an aware datetime: calendar parts in local time of `tz`, time parts as elapsed time."""
        sign = -1 if self.negative else 1
        local = moment.astimezone(ZoneInfo(tz))
        shifted = add_months(local.date(), sign * (self.years * 12 + self.months)) + timedelta(days=sign * self.days)
        wall = datetime.combine(shifted, local.time().replace(tzinfo=None))
        result = wall.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
        return result + timedelta(seconds=sign * self.seconds)

    def add_to_date(self, day: date) -> date:
        sign = -1 if self.negative else 1
        return add_months(day, sign * (self.years * 12 + self.months)) + timedelta(days=sign * self.days)

    def approximate(self) -> timedelta:
        """Fixed-length approximation (month = 30 days) for display and sorting only."""
        sign = -1 if self.negative else 1
        days = self.years * 365 + self.months * 30 + self.days
        return sign * timedelta(days=days, seconds=self.seconds)


@lru_cache(maxsize=1024)
def parse_duration(text: str) -> Duration:
    """Parse `P4W`, `P3M`, `P1Y2M10DT2H30M`, `PT36H`; raises ValueError for anything else."""
    match = _DURATION.match(text.strip())
    if not match or text.strip().upper() in {"P", "PT"} or text.strip().upper().endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    parts = {k: float(v.replace(",", ".")) for k, v in match.groupdict().items() if v and k != "sign"}
    for name in ("years", "months", "weeks", "days"):
        if name in parts and not parts[name].is_integer():
            raise ValueError(f"fractional {name} are not supported in {text!r}")
    seconds = parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60 + parts.get("seconds", 0)
    return Duration(years=int(parts.get("years", 0)), months=int(parts.get("months", 0)),
                    days=int(parts.get("weeks", 0) * 7 + parts.get("days", 0)), seconds=seconds,
                    negative=bool(match.group("sign")))


def add_months(day: date, months: int) -> date:
    """Shift by whole months, clamping to the target month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def parse_datetime(value: str | datetime | date, tz: str = "Europe/Berlin") -> datetime:
    """ISO date or date-time to aware UTC; naive values are local time of `tz`, a plain date is its midnight."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, datetime.min.time())
    else:
        text = value.strip().replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(UTC)


def looks_like_duration(text: str) -> bool:
    return text.strip().upper().startswith(("P", "-P"))


@dataclass(frozen=True)
class Cycle:
    """A repeating interval `R[n]/[start/]duration`; repetitions None means unbounded."""

    repetitions: int | None
    interval: Duration
    start: datetime | None = None

    def first_due(self, now: datetime, tz: str = "Europe/Berlin") -> datetime:
        return self.start if self.start is not None else self.interval.add_to(now, tz)

    def next_due(self, previous: datetime, tz: str = "Europe/Berlin") -> datetime:
        return self.interval.add_to(previous, tz)


def parse_cycle(text: str, tz: str = "Europe/Berlin") -> Cycle:
    """Parse `R3/PT10M`, `R/P1D`, `R/2026-01-01T09:00/P1W`; raises ValueError for anything else."""
    parts = text.strip().split("/")
    if not parts[0].upper().startswith("R") or len(parts) not in (2, 3):
        raise ValueError(f"not an ISO 8601 repeating interval: {text!r}")
    count = parts[0][1:]
    repetitions = int(count) if count else None
    if len(parts) == 2:
        return Cycle(repetitions, parse_duration(parts[1]))
    if looks_like_duration(parts[1]):
        raise ValueError(f"a repeating interval with an end date is not supported: {text!r}")
    return Cycle(repetitions, parse_duration(parts[2]), parse_datetime(parts[1], tz))


@dataclass(frozen=True)
class RetrySchedule:
    """How often a failing step runs in all, and the pause before each retry."""

    attempts: int
    pauses: tuple[Duration, ...]

    def pause_after(self, attempt: int) -> Duration:
        """The pause after the `attempt`-th failed run (1-based); the last interval repeats."""
        return self.pauses[min(max(attempt, 1), len(self.pauses)) - 1]


def parse_retry_cycle(text: str, tz: str = "Europe/Berlin") -> RetrySchedule:
    """camunda:failedJobRetryTimeCycle as Camunda 7 reads it: `R5/PT10M` is five runs in all, ten minutes apart;
    a list of intervals `PT1M,PT5M,PT10M` (or one interval, `PT5M`) is one retry per interval, each after the
    next interval, so the list's length plus one runs. Raises ValueError for anything else."""
    parts = [part.strip() for part in text.strip().split(",")]
    if len(parts) == 1 and parts[0].upper().startswith("R"):
        cycle = parse_cycle(parts[0], tz)
        return RetrySchedule(max(1, cycle.repetitions or 1), (cycle.interval,))
    if not all(parts) or any(part.upper().startswith("R") for part in parts):
        raise ValueError(f"not a retry cycle (R3/PT5M) or a list of ISO 8601 durations (PT1M,PT5M): {text!r}")
    return RetrySchedule(len(parts) + 1, tuple(parse_duration(part) for part in parts))


_TTL = re.compile(r"^(?:P(\d+)D|(\d+))$")


def ttl_days(text: str | None) -> int | None:
    """camunda:historyTimeToLive as days: an integer or `P<n>D` (Camunda 7 accepts only days); None if unset.
    Raises ValueError for anything else."""
    if text is None or not text.strip():
        return None
    match = _TTL.match(text.strip().upper())
    if not match:
        raise ValueError(f"historyTimeToLive must be a number of days or P<n>D, not {text!r}")
    return int(match.group(1) or match.group(2))
