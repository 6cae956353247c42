"""Clocks: the engine never reads the wall clock itself; callers pass one of these in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current instant as an aware UTC datetime."""
        ...


class SystemClock:
    """The real clock, for the service and the scheduler."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that only moves when told to: makes timer tests fast and exact."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 8, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.current = self.current + (delta or timedelta(**kwargs))
        return self.current

    def set(self, moment: datetime) -> datetime:
        self.current = as_utc(moment)
        return self.current


def as_utc(moment: datetime) -> datetime:
    """Treat naive datetimes as UTC (the database stores UTC) and convert aware ones."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
