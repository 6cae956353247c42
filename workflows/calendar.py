"""The office's deadline calendar (Fristberechnung): working days, and when a legal period ends.

A period (Frist) is computed as §31 VwVfG NRW prescribes, with §§187–193 BGB:

- Ereignisfrist (§187(1) BGB, the default): a period triggered by an event, such as the delivery of a request
  for documents. The event day does not count; a period in days ends at the end of its last day; a period in
  weeks, months or years ends at the end of the day whose name or number matches the event day (§188(2) first
  case). If the last month has no such day, the period ends on that month's last day (§188(3)).
- Beginnfrist (§187(2) BGB, `beginn=True`): a period that starts at the beginning of a day, such as an age
  (Lebensalter, §187(2) second sentence). The first day counts; the period ends at the end of the day before the
  matching day (§188(2) second case), or on the last day of the month when the matching day is missing (§188(3)).
- §193 BGB and §31(3) VwVfG NRW: an end on a Saturday, Sunday or public holiday at the office's place moves to
  the end of the next working day. `frist` applies this; `period_end` does not (use it for ages).

`frist` returns the last day; `frist_ende` returns the instant the deadline is over: 24:00 Europe/Berlin of that
day (the same instant as 00:00 of the next day), in UTC. A timer due at it fires only when a filing made on the
last day, however late, is already in time; 23:59:59 would leave a gap and fire a second too early.

Public holidays come from the `holidays` package for one German Land (NW by default). The office's own closing
days (config/calendar.toml, e.g. 24.12. and 31.12.) are never working days, but they are no legal holidays: they
move the end of a period only when `closing_days_extend_deadlines` is set.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from workflows.durations import Duration, add_months, parse_datetime, parse_duration
from workflows.errors import ExpressionError, KimflowError
from workflows.helpers import as_date

Helper = Callable[..., Any]

CONFIG_FILE = "calendar.toml"
ONE_DAY = timedelta(days=1)
_YEARLY_DAY = re.compile(r"^\d{2}-\d{2}$")
_ONE_OFF_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KEYS = frozenset({"subdivision", "closing_days", "closing_days_extend_deadlines"})


class CalendarConfigError(KimflowError, ValueError):
    """config/calendar.toml names an unknown Land, a malformed closing day or an unknown key."""

    code = "calendar_config"


@lru_cache(maxsize=512)
def _public_holidays(subdivision: str, year: int) -> Mapping[date, str]:
    """Look up one year's public holidays once; deadline loops ask for the same year again and again."""
    return dict(holidays.country_holidays("DE", subdiv=subdivision, years=year, language="de"))


def _check_subdivision(subdivision: object, source: str) -> None:
    if subdivision not in holidays.Germany.subdivisions:
        known = ", ".join(holidays.Germany.subdivisions)
        raise CalendarConfigError(f"{source}: subdivision {subdivision!r} is not a German Land (one of {known}).")


def _legal_period(duration: str | Duration) -> Duration:
    """Refuse what §§187–188 BGB do not define: negative, empty or hour-based periods."""
    period = parse_duration(duration) if isinstance(duration, str) else duration
    if period.negative or period.seconds or period.is_zero:
        raise ValueError(f"a deadline needs a positive period of days, weeks, months or years, not {duration!r}")
    return period


def _ereignisfrist_end(event_day: date, period: Duration) -> date:
    """§187(1), §188(2) first case, §188(3): count from the day after the event; add_months clamps to month end."""
    return period.add_to_date(event_day)


def _beginnfrist_end(first_day: date, period: Duration) -> date:
    """§187(2), §188(2) second case, §188(3): end the day before the matching day, or on a short month's last day."""
    matching = add_months(first_day, period.years * 12 + period.months)
    if matching.day != first_day.day:  # the last month lacks the matching day: its last day ends the period
        matching += ONE_DAY
    return matching + timedelta(days=period.days - 1)


def end_of_day(day: date, tz: str = "Europe/Berlin") -> datetime:
    """24:00 local time of `day` as UTC: the first instant after the period, so a timer at it never fires early."""
    return datetime.combine(day + ONE_DAY, time(0), ZoneInfo(tz)).astimezone(UTC)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days of one office and the legal deadline rules of its Land (dates, never times)."""

    subdivision: str = "NW"
    closing_dates: frozenset[date] = frozenset()
    yearly_closing_days: frozenset[tuple[int, int]] = frozenset()  # (month, day)
    closing_days_extend_deadlines: bool = False

    def __post_init__(self) -> None:
        _check_subdivision(self.subdivision, "calendar")

    def holiday_name(self, day: date) -> str | None:
        """The German name of the public holiday on `day`, or None."""
        return _public_holidays(self.subdivision, day.year).get(day)

    def is_closing_day(self, day: date) -> bool:
        return day in self.closing_dates or (day.month, day.day) in self.yearly_closing_days

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday, no public holiday, office open."""
        return self._is_legal_working_day(day) and not self.is_closing_day(day)

    def next_working_day(self, day: date) -> date:
        """The day itself if the office works then, else the first working day after it."""
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def add_working_days(self, day: date, n: int) -> date:
        """Count n working days after `day` (before it when n < 0); n == 0 gives next_working_day(day)."""
        if n == 0:
            return self.next_working_day(day)
        step = ONE_DAY if n > 0 else -ONE_DAY
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def period_end(self, start: date, duration: str | Duration, *, beginn: bool = False) -> date:
        """Last day of the period by §§187–188 BGB alone, without §193 (an age is not moved by weekends)."""
        period = _legal_period(duration)
        return _beginnfrist_end(start, period) if beginn else _ereignisfrist_end(start, period)

    def frist(self, start: date, duration: str | Duration, *, beginn: bool = False) -> date:
        """Last day of a deadline: the period's end, moved past weekends and public holidays (§193 BGB)."""
        end = self.period_end(start, duration, beginn=beginn)
        while not self._deadline_may_end_on(end):
            end += ONE_DAY
        return end

    def frist_ende(self, start: date, duration: str | Duration, *, beginn: bool = False,
                   tz: str = "Europe/Berlin") -> datetime:
        """The instant a deadline is over (24:00 local of its last day, in UTC): due timers use this."""
        return end_of_day(self.frist(start, duration, beginn=beginn), tz)

    def _is_legal_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday_name(day) is None

    def _deadline_may_end_on(self, day: date) -> bool:
        if not self._is_legal_working_day(day):
            return False
        return not (self.closing_days_extend_deadlines and self.is_closing_day(day))


# --- config/calendar.toml ---------------------------------------------------------------------------------------


def _closing_day(entry: object, source: str) -> date | tuple[int, int]:
    """A TOML date or "YYYY-MM-DD" is one day; "MM-DD" recurs every year (02-29 is allowed)."""
    if isinstance(entry, date) and not isinstance(entry, datetime):
        return entry
    try:
        if isinstance(entry, str) and _YEARLY_DAY.match(entry):
            day = date(2000, int(entry[:2]), int(entry[3:]))  # 2000 is a leap year
            return day.month, day.day
        if isinstance(entry, str) and _ONE_OFF_DAY.match(entry):
            return date.fromisoformat(entry)
    except ValueError:
        pass
    raise CalendarConfigError(f"{source}: closing_days entry {entry!r} is neither a yearly day (MM-DD) "
                              "nor a date (YYYY-MM-DD).")


def _closing_days(entries: object, source: str) -> tuple[frozenset[date], frozenset[tuple[int, int]]]:
    if not isinstance(entries, list):
        raise CalendarConfigError(f"{source}: closing_days must be a list, not {entries!r}.")
    days = [_closing_day(entry, source) for entry in entries]
    return (frozenset(d for d in days if isinstance(d, date)),
            frozenset(d for d in days if isinstance(d, tuple)))


def _calendar_table(text: str, source: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CalendarConfigError(f"{source}: not valid TOML ({error}).") from None
    unknown = sorted(set(data) - {"calendar"})
    table = data.get("calendar", {})
    if unknown or not isinstance(table, dict):
        raise CalendarConfigError(f"{source}: expected only a [calendar] table, found {unknown or table!r}.")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise CalendarConfigError(f"{source}: unknown key(s) {', '.join(unknown)} in [calendar] "
                                  f"(known: {', '.join(sorted(_KEYS))}).")
    return table


def parse_calendar(text: str, source: str = CONFIG_FILE) -> BusinessCalendar:
    """Build the calendar from the text of calendar.toml; every error names the file and the bad entry."""
    table = _calendar_table(text, source)
    subdivision = table.get("subdivision", "NW")
    _check_subdivision(subdivision, source)
    extend = table.get("closing_days_extend_deadlines", False)
    if not isinstance(extend, bool):
        raise CalendarConfigError(f"{source}: closing_days_extend_deadlines must be true or false, not {extend!r}.")
    dates, yearly = _closing_days(table.get("closing_days", []), source)
    return BusinessCalendar(subdivision, dates, yearly, extend)


def _modified(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


_loaded: dict[Path, tuple[int | None, BusinessCalendar]] = {}


def load_calendar(config_dir: str | Path) -> BusinessCalendar:
    """The calendar of config_dir/calendar.toml (NW, no closing days if it is missing), reread when it changes."""
    path = (Path(config_dir) / CONFIG_FILE).resolve()
    stamp = _modified(path)
    cached = _loaded.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    result = BusinessCalendar() if stamp is None else parse_calendar(path.read_text(encoding="utf-8"), str(path))
    _loaded[path] = (stamp, result)
    return result


# --- helpers for models' expressions ----------------------------------------------------------------------------


def _day(value: Any, tz: str) -> date:
    """A date, a datetime or ISO text as a local date; a date-time with an offset is taken on its local date."""
    if isinstance(value, str) and len(value.strip()) > 10:
        try:
            return parse_datetime(value, tz).astimezone(ZoneInfo(tz)).date()
        except ValueError:
            raise ExpressionError(f"{value!r} is not a date or date-time.") from None
    return as_date(value, tz)


def _count(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExpressionError(f"the number of working days must be a whole number, not {value!r}.")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"beginn must be true or false, not {value!r}.")
    return value


def _guarded(name: str, helper: Helper) -> Helper:
    """Report bad input to the model's author as an ExpressionError naming the helper."""
    @wraps(helper)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return helper(*args, **kwargs)
        except (ExpressionError, ValueError, TypeError, OverflowError) as error:
            raise ExpressionError(f"{name}: {error}") from None
    return call


def _duration(value: Any) -> str | Duration:
    if isinstance(value, Duration | str):
        return value
    raise ExpressionError(f"{value!r} is not an ISO 8601 duration such as 'P4W'.")


def calendar_helpers(cal: BusinessCalendar, tz: str = "Europe/Berlin") -> dict[str, Helper]:
    """The deadline functions models call; arguments are positional too, since JUEL has no keywords."""
    def frist(start: Any, duration: Any, beginn: Any = False) -> date:
        return cal.frist(_day(start, tz), _duration(duration), beginn=_flag(beginn))

    def frist_ende(start: Any, duration: Any, beginn: Any = False) -> datetime:
        return cal.frist_ende(_day(start, tz), _duration(duration), beginn=_flag(beginn), tz=tz)

    def add_working_days(day: Any, n: Any) -> date:
        return cal.add_working_days(_day(day, tz), _count(n))

    def naechster_werktag(day: Any) -> date:
        return cal.next_working_day(_day(day, tz))

    def is_working_day(day: Any) -> bool:
        return cal.is_working_day(_day(day, tz))

    def feiertag(day: Any) -> str | None:
        return cal.holiday_name(_day(day, tz))

    helpers = (frist, frist_ende, add_working_days, naechster_werktag, is_working_day, feiertag)
    return {helper.__name__: _guarded(helper.__name__, helper) for helper in helpers}
