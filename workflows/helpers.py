"""The functions models may call in expressions and scripts (the sandbox reaches nothing else).

Dates in process variables are ISO strings ("2026-06-30") or datetimes; helpers accept both and return
dates/datetimes (compare them directly) or ISO strings where a variable is meant to be stored.

- now()                      the command's instant (UTC, aware)
- today()                    today's date in Europe/Berlin
- date(y, m, d), datetime(y, m, d, h=0, mi=0)   build values (datetime in Europe/Berlin, returned as UTC)
- parse_date(text), parse_datetime(text)        ISO text to date / aware datetime
- duration(text)             an ISO 8601 duration, e.g. duration("P4W")
- add_duration(moment, text) calendar-correct addition (P3M on 31 Jan gives 30 Apr)
- days_between(a, b), years_between(a, b)      whole days; completed years (age checks: 26 vs 27)
- iso(value)                 a date/datetime as ISO text (for storing in a variable)
- defined(name), get(name, default=None)         is a variable set; its value or the default (these two come
                             from workflows.sandbox, which alone sees the variables)
Deadline helpers (frist, frist_ende, add_working_days, naechster_werktag, is_working_day, feiertag) come from
workflows.calendar (public holidays of the Land plus the office's closing days in config/calendar.toml).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from workflows.durations import Duration, parse_datetime, parse_duration
from workflows.errors import ExpressionError

Helper = Callable[..., Any]


def as_date(value: Any, tz: str = "Europe/Berlin") -> date:
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(tz)).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise ExpressionError(f"{value!r} is not a date (use YYYY-MM-DD).") from None
    raise ExpressionError(f"{value!r} is not a date.")


def _as_moment(value: Any, tz: str) -> datetime:
    try:
        return parse_datetime(value, tz)
    except (ValueError, TypeError):
        raise ExpressionError(f"{value!r} is not a date or date-time.") from None


def years_between(start: Any, end: Any) -> int:
    """Completed years from start to end (a birthday counts on its day)."""
    first, last = as_date(start), as_date(end)
    years = last.year - first.year
    if (last.month, last.day) < (first.month, first.day):
        years -= 1
    return years


def days_between(start: Any, end: Any) -> int:
    return (as_date(end) - as_date(start)).days


def _duration(text: Any) -> Duration:
    try:
        return parse_duration(str(text))
    except ValueError as error:
        raise ExpressionError(str(error)) from None


def default_helpers(now: Callable[[], datetime], tz: str = "Europe/Berlin") -> dict[str, Helper]:
    def add_duration(moment: Any, text: Any) -> Any:
        if (isinstance(moment, date) and not isinstance(moment, datetime)) or (isinstance(moment, str)
                                                                               and len(moment) == 10):
            return _duration(text).add_to_date(as_date(moment, tz))
        return _duration(text).add_to(_as_moment(moment, tz), tz)

    def make_date(year: int, month: int, day: int) -> date:
        return date(year, month, day)

    def make_datetime(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
        return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)

    return {
        "now": now,
        "today": lambda: now().astimezone(ZoneInfo(tz)).date(),
        "date": make_date,
        "datetime": make_datetime,
        "parse_date": lambda text: as_date(text, tz),
        "parse_datetime": lambda text: _as_moment(text, tz),
        "duration": _duration,
        "add_duration": add_duration,
        "days_between": days_between,
        "years_between": years_between,
        "iso": lambda value: value.isoformat() if isinstance(value, date) else str(value),
        "timedelta_days": lambda days: timedelta(days=days),
    }


def helpers_for(ctx: Any) -> dict[str, Helper]:
    """The helpers of one command: its clock, its time zone, and the office's deadline calendar."""
    moment = ctx.now()
    helpers = default_helpers(lambda: moment, ctx.settings.timezone)
    helpers.update(_calendar_helpers(ctx.settings.config_dir))
    return helpers


_calendar_cache: dict[str, dict[str, Helper]] = {}


def _calendar_helpers(config_dir: str) -> dict[str, Helper]:
    cached = _calendar_cache.get(config_dir)
    if cached is None:
        try:
            from workflows import calendar
        except ImportError:  # the deadline calendar is optional for the engine core
            return {}
        cached = calendar.calendar_helpers(calendar.load_calendar(config_dir))
        _calendar_cache[config_dir] = cached
    return cached
