"""The operations and built-in functions that translated FEEL trees call (see workflows.feel).

FEEL is total where Python would raise: an operation on values of the wrong type, or on null, gives null, and a
comparison with null is null (so a rule whose test is null does not match). Dates in process variables are ISO
strings; where the other side of an operation is a date, date-time or time, such a string is read as one.
Durations: `duration("P3D")` and date differences are days-and-time durations (timedelta); `duration("P1Y2M")`
and `years and months duration(a, b)` are years-and-months durations (YearsMonths).

Not offered: regular expressions (`matches`, `replace`, `split` — a hostile pattern can run without bound),
user-defined functions, `sort` with a precedes function, and the wall clock: `now()` and `today()` are
kimflow's helpers, which read the command's clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from workflows.durations import parse_duration
from workflows.errors import ExpressionError

LOCAL = ZoneInfo("Europe/Berlin")
MAX_RANGE = 100_000
MAX_POWER = 10_000


@dataclass(frozen=True, order=True)
class YearsMonths:
    """A FEEL years-and-months duration (P1Y2M), kept as a whole number of months."""

    total_months: int

    @property
    def years(self) -> int:
        return int(self.total_months / 12)

    @property
    def months(self) -> int:
        return self.total_months - 12 * self.years

    def __str__(self) -> str:
        sign = "-" if self.total_months < 0 else ""
        years, months = divmod(abs(self.total_months), 12)
        return f"{sign}P{years}Y{months}M" if years else f"{sign}P{months}M"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_result(value: float) -> int | float:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return value
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**53 else value


# --- temporal values ---------------------------------------------------------------------------------------


def parse_temporal(text: str) -> Any:
    """An ISO date, date-time, time or duration from text (None when it is none of them)."""
    value = text.strip()
    try:
        if value.upper().startswith(("P", "-P")):
            return duration(value)
        if len(value) == 10 and value[4] == "-":
            return date.fromisoformat(value)
        if "T" in value:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        if ":" in value:
            return time.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None


def _temporal(value: Any) -> bool:
    return isinstance(value, date | time | timedelta | YearsMonths)


def _align(left: Any, right: Any) -> tuple[Any, Any]:
    """Read ISO strings next to temporal values, and compare dates with date-times on the local date."""
    if isinstance(left, str) and _temporal(right):
        left = parse_temporal(left)
    elif isinstance(right, str) and _temporal(left):
        right = parse_temporal(right)
    if isinstance(left, datetime) != isinstance(right, datetime) and isinstance(left, date) \
            and isinstance(right, date):
        left, right = _local_date(left), _local_date(right)
    elif isinstance(left, datetime) and isinstance(right, datetime):
        left, right = _aware(left), _aware(right)
    return left, right


def _local_date(value: date) -> date:
    if isinstance(value, datetime):
        return value.astimezone(LOCAL).date() if value.tzinfo else value.date()
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=LOCAL)


def _same_kind(left: Any, right: Any) -> bool:
    kinds: tuple[Any, ...] = (bool, str, datetime, date, time, timedelta, YearsMonths, list, dict)
    if _is_number(left) and _is_number(right):
        return True
    return any(isinstance(left, kind) and isinstance(right, kind) for kind in kinds)


# --- comparison and logic ----------------------------------------------------------------------------------


def equal(left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return left is None and right is None
    left, right = _align(left, right)
    if not _same_kind(left, right):
        return None
    if isinstance(left, list):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def _ordering(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool | None]:
    def compare(left: Any, right: Any) -> bool | None:
        if left is None or right is None:
            return None
        left, right = _align(left, right)
        if not _same_kind(left, right) or isinstance(left, bool | list | dict):
            return None
        try:
            return check(left, right)
        except TypeError:
            return None

    return compare


less = _ordering(lambda a, b: a < b)
less_equal = _ordering(lambda a, b: a <= b)
greater = _ordering(lambda a, b: a > b)
greater_equal = _ordering(lambda a, b: a >= b)


def _logic(values: Iterable[Any], decisive: bool) -> bool | None:
    unknown = False
    for value in values:
        if value is decisive:
            return decisive
        if value is not (not decisive):
            unknown = True
    return None if unknown else not decisive


def both(*values: Any) -> bool | None:
    return _logic(values, False)


def either(*values: Any) -> bool | None:
    return _logic(values, True)


def negate(value: Any) -> bool | None:
    return (not value) if isinstance(value, bool) else None


def between(value: Any, low: Any, high: Any) -> bool | None:
    return both(greater_equal(value, low), less_equal(value, high))


def in_interval(value: Any, low: Any, high: Any, low_closed: bool, high_closed: bool) -> bool | None:
    above = (greater_equal if low_closed else greater)(value, low)
    below = (less_equal if high_closed else less)(value, high)
    return both(above, below)


def matches(value: Any, expected: Any) -> bool | None:
    """A unary test that is a plain value: equal to it, or an element of it when it is a list (null when the
    types cannot be compared, so that `not(1)` does not match "b" either)."""
    if isinstance(expected, list) and not isinstance(value, list):
        return either(*(equal(value, item) for item in expected)) if expected else False
    if isinstance(expected, bool) and not isinstance(value, bool) and value is not None:
        return expected  # an expression that already tested something (`date(x) < today()`)
    return equal(value, expected)


# --- arithmetic --------------------------------------------------------------------------------------------


def add(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    left, right = _align(left, right)
    if _is_number(left) and _is_number(right):
        return left + right
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    return _add_temporal(left, right)


def _add_temporal(left: Any, right: Any) -> Any:
    if isinstance(left, timedelta | YearsMonths) and not isinstance(right, timedelta | YearsMonths):
        left, right = right, left
    if isinstance(right, YearsMonths):
        if isinstance(left, YearsMonths):
            return YearsMonths(left.total_months + right.total_months)
        if isinstance(left, date):
            from workflows.durations import add_months

            shifted = add_months(_local_date(left) if not isinstance(left, datetime) else left.date(),
                                 right.total_months)
            return datetime.combine(shifted, left.timetz()) if isinstance(left, datetime) else shifted
    if isinstance(right, timedelta) and isinstance(left, date | timedelta):
        return left + right
    return None


def subtract(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    left, right = _align(left, right)
    if _is_number(left) and _is_number(right):
        return left - right
    if isinstance(left, date) and isinstance(right, date) and isinstance(left, datetime) == isinstance(
            right, datetime):
        return left - right
    if isinstance(right, YearsMonths):
        return add(left, YearsMonths(-right.total_months))
    if isinstance(right, timedelta):
        return add(left, -right)
    return None


def multiply(left: Any, right: Any) -> Any:
    if _is_number(left) and _is_number(right):
        return left * right
    for duration_value, factor in ((left, right), (right, left)):
        if _is_number(factor) and isinstance(duration_value, timedelta):
            return duration_value * factor
        if _is_number(factor) and isinstance(duration_value, YearsMonths):
            return YearsMonths(int(duration_value.total_months * factor))
    return None


def divide(left: Any, right: Any) -> Any:
    if _is_number(left) and _is_number(right):
        return None if right == 0 else _number_result(left / right)
    if isinstance(left, timedelta) and _is_number(right) and right != 0:
        return left / right
    if isinstance(left, timedelta) and isinstance(right, timedelta) and right:
        return _number_result(left / right)
    return None


def power(left: Any, right: Any) -> Any:
    if not (_is_number(left) and _is_number(right)):
        return None
    if abs(right) > MAX_POWER or (isinstance(left, int) and isinstance(right, int) and right > 0
                                  and abs(left) > 1 and right * abs(left).bit_length() > 4096):
        raise ExpressionError(f"{left} ** {right} is too large.")
    try:
        return left**right
    except (OverflowError, ZeroDivisionError):
        return None


def negative(value: Any) -> Any:
    if _is_number(value) or isinstance(value, timedelta):
        return -value
    if isinstance(value, YearsMonths):
        return YearsMonths(-value.total_months)
    return None


# --- paths, filters, loops ---------------------------------------------------------------------------------


_DATE_PARTS: dict[str, Callable[[Any], Any]] = {
    "year": lambda v: v.year, "month": lambda v: v.month, "day": lambda v: v.day,
    "weekday": lambda v: v.isoweekday(), "hour": lambda v: v.hour, "minute": lambda v: v.minute,
    "second": lambda v: v.second,
    "days": lambda v: v.days, "hours": lambda v: v.seconds // 3600, "minutes": lambda v: v.seconds // 60 % 60,
    "seconds": lambda v: v.seconds % 60, "years": lambda v: v.years, "months": lambda v: v.months,
}


def path(value: Any, name: str) -> Any:
    """`a.b`: a context entry, the entries of a list of contexts, or a part of a date or duration."""
    if isinstance(value, dict):
        return value.get(name)
    if isinstance(value, list):
        return [path(item, name) for item in value]
    if isinstance(value, str) and name in _DATE_PARTS:
        value = parse_temporal(value)
    if _temporal(value) and name in _DATE_PARTS:
        try:
            return _DATE_PARTS[name](value)
        except AttributeError:
            return None
    return None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def filter_list(value: Any, per_item: list[Any]) -> Any:
    """`list[cond]` keeps items whose condition is true; `list[n]` picks the n-th item (1-based, -1 last)."""
    items = as_list(value)
    if per_item and all(_is_number(result) for result in per_item):
        position = int(per_item[0])
        index = position - 1 if position > 0 else len(items) + position
        return items[index] if position != 0 and 0 <= index < len(items) else None
    return [item for item, keep in zip(items, per_item, strict=True) if keep is True]


def number_range(start: Any, end: Any) -> list[int]:
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        raise ExpressionError("a range in a for loop needs whole numbers.")
    if abs(end - start) >= MAX_RANGE:
        raise ExpressionError(f"a range of more than {MAX_RANGE} numbers is not allowed.")
    step = 1 if end >= start else -1
    return list(range(start, end + step, step))


def first(values: list[Any]) -> Any:
    return values[0] if values else None


def instance_of(value: Any, type_name: str) -> bool:
    kinds: dict[str, Callable[[Any], bool]] = {
        "number": _is_number, "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
        "date": lambda v: isinstance(v, date) and not isinstance(v, datetime),
        "date and time": lambda v: isinstance(v, datetime), "time": lambda v: isinstance(v, time),
        "days and time duration": lambda v: isinstance(v, timedelta),
        "years and months duration": lambda v: isinstance(v, YearsMonths),
        "list": lambda v: isinstance(v, list), "context": lambda v: isinstance(v, dict),
        "Any": lambda v: v is not None, "Null": lambda v: v is None,
    }
    if type_name not in kinds:
        raise ExpressionError(f"FEEL: unknown type {type_name!r}.")
    return kinds[type_name](value)


OPERATIONS: dict[str, Callable[..., Any]] = {
    "$f_true": lambda value: value is True,
    "$f_and": both, "$f_or": either,
    "$f_eq": equal, "$f_ne": lambda left, right: negate(equal(left, right)),
    "$f_lt": less, "$f_le": less_equal, "$f_gt": greater, "$f_ge": greater_equal, "$f_between": between,
    "$f_add": add, "$f_sub": subtract, "$f_mul": multiply, "$f_div": divide, "$f_pow": power,
    "$f_neg": negative,
    "$f_path": path, "$f_filter": filter_list, "$f_iter": as_list, "$f_range": number_range, "$f_first": first,
    "$f_some": any, "$f_every": all,
    "$f_not": negate, "$f_bool": lambda value: value if isinstance(value, bool) else None,
    "$f_matches": matches, "$f_is_null": lambda value: value is None, "$f_in_interval": in_interval,
    "$f_temporal": parse_temporal, "$f_instance_of": instance_of,
}


# --- built-in functions ------------------------------------------------------------------------------------


def duration(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    parsed = parse_duration(text)
    sign = -1 if parsed.negative else 1
    if parsed.years or parsed.months:
        if parsed.days or parsed.seconds:
            return None  # FEEL has no mixed durations
        return YearsMonths(sign * (parsed.years * 12 + parsed.months))
    return sign * timedelta(days=parsed.days, seconds=parsed.seconds)


def years_and_months(start: Any, end: Any) -> YearsMonths | None:
    """Completed months between two dates, as `years and months duration` (age checks: .years >= 16)."""
    first_day, last_day = _as_date(start), _as_date(end)
    if first_day is None or last_day is None:
        return None
    months = (last_day.year - first_day.year) * 12 + last_day.month - first_day.month
    if months > 0 and last_day.day < first_day.day:
        months -= 1
    elif months < 0 and last_day.day > first_day.day:
        months += 1
    return YearsMonths(months)


def _as_date(value: Any) -> date | None:
    if isinstance(value, str):
        value = parse_temporal(value)
    return _local_date(value) if isinstance(value, date) else None


def make_date(*args: Any) -> date | None:
    if len(args) == 3:
        return date(*(int(a) for a in args))
    value = args[0]
    return _as_date(value)


def make_datetime(*args: Any) -> datetime | None:
    if len(args) == 2 and isinstance(args[0], date) and isinstance(args[1], time):
        return datetime.combine(args[0], args[1])
    value = args[0]
    if isinstance(value, str):
        value = parse_temporal(value)
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0)) if isinstance(value, date) else None


def make_time(*args: Any) -> time | None:
    if len(args) >= 3:
        return time(int(args[0]), int(args[1]), int(args[2]))
    value = args[0]
    if isinstance(value, datetime):
        return value.timetz()
    parsed = parse_temporal(value) if isinstance(value, str) else None
    return parsed if isinstance(parsed, time) else None


def to_string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def to_number(value: Any, *_separators: Any) -> int | float | None:
    if _is_number(value):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    return _number_result(float(text)) if "." in text or "e" in text.lower() else int(text)


def substring(text: Any, start: Any, length: Any = None) -> str | None:
    if not isinstance(text, str) or not _is_number(start):
        return None
    begin = int(start) - 1 if start > 0 else len(text) + int(start)
    end = None if length is None else begin + int(length)
    return text[max(begin, 0):end]


def _text(function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any) -> Any:
        return function(*args) if all(isinstance(a, str) for a in args) else None

    return checked


def _numbers(function: Callable[[list[Any]], Any]) -> Callable[..., Any]:
    """List functions take a list or the values as arguments: sum([1, 2]) = sum(1, 2)."""
    def checked(*args: Any) -> Any:
        values = as_list(args[0]) if len(args) == 1 else list(args)
        if not all(_is_number(v) for v in values):
            return None
        return function(values) if values else None

    return checked


def _comparables(function: Callable[[list[Any]], Any]) -> Callable[..., Any]:
    def checked(*args: Any) -> Any:
        values = as_list(args[0]) if len(args) == 1 else list(args)
        try:
            return function(values) if values else None
        except TypeError:
            return None

    return checked


def _median(values: list[Any]) -> Any:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else _number_result((ordered[middle - 1] + ordered[middle]) / 2)


def _flatten(value: Any) -> list[Any]:
    result: list[Any] = []
    for item in as_list(value):
        result.extend(_flatten(item) if isinstance(item, list) else [item])
    return result


def _distinct(values: Any) -> list[Any]:
    result: list[Any] = []
    for item in as_list(values):
        if not any(equal(item, seen) is True for seen in result):
            result.append(item)
    return result


def _index_of(values: Any, match: Any) -> list[int]:
    return [position for position, item in enumerate(as_list(values), 1) if equal(item, match) is True]


def _decimal(value: Any, scale: Any) -> Any:
    """FEEL's decimal(n, scale): rounds half to even on the decimal digits as written (decimal(2.5, 0) = 2)."""
    if not (_is_number(value) and _is_number(scale)):
        return None
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-int(scale)), rounding=ROUND_HALF_EVEN)
    return _number_result(float(rounded))


def _day_of_week(value: Any) -> str | None:
    day = _as_date(value)
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return names[day.weekday()] if day else None


def _all(*args: Any) -> bool | None:
    return both(*(as_list(args[0]) if len(args) == 1 else args))


def _any(*args: Any) -> bool | None:
    return either(*(as_list(args[0]) if len(args) == 1 else args))


def substring_list(values: Any, start: Any, length: Any = None) -> list[Any] | None:
    items = as_list(values)
    if not _is_number(start):
        return None
    begin = int(start) - 1 if start > 0 else len(items) + int(start)
    return items[max(begin, 0):None if length is None else begin + int(length)]


def _insert(values: Any, position: Any, item: Any) -> list[Any]:
    items = as_list(values)
    items.insert(int(position) - 1, item)
    return items


BUILTINS: dict[str, Callable[..., Any]] = {
    # conversion
    "date": make_date, "date and time": make_datetime, "time": make_time, "duration": duration,
    "years and months duration": years_and_months, "number": to_number, "string": to_string,
    "not": negate,
    # strings
    "string length": _text(len), "substring": substring, "upper case": _text(str.upper),
    "lower case": _text(str.lower), "contains": _text(lambda s, part: part in s),
    "starts with": _text(str.startswith), "ends with": _text(str.endswith),
    "substring before": _text(lambda s, m: s.split(m, 1)[0] if m in s else ""),
    "substring after": _text(lambda s, m: s.split(m, 1)[1] if m in s else ""), "trim": _text(str.strip),
    "string join": lambda values, separator="": separator.join(str(v) for v in as_list(values) if v is not None),
    # lists
    "list contains": lambda values, item: any(equal(v, item) is True for v in as_list(values)),
    "count": lambda values: len(as_list(values)), "is empty": lambda values: len(as_list(values)) == 0,
    "min": _comparables(min), "max": _comparables(max), "sum": _numbers(sum),
    "mean": _numbers(lambda v: _number_result(sum(v) / len(v))), "median": _numbers(_median),
    "product": _numbers(math.prod), "all": _all, "any": _any,
    "sublist": substring_list,
    "append": lambda values, *items: [*as_list(values), *items],
    "concatenate": lambda *lists: [item for values in lists for item in as_list(values)],
    "insert before": _insert,
    "remove": lambda values, position: [v for i, v in enumerate(as_list(values), 1) if i != position],
    "reverse": lambda values: list(reversed(as_list(values))), "index of": _index_of,
    "union": lambda *lists: _distinct([item for values in lists for item in as_list(values)]),
    "distinct values": _distinct, "flatten": _flatten,
    # numbers
    "decimal": _decimal, "floor": lambda v: math.floor(v) if _is_number(v) else None,
    "ceiling": lambda v: math.ceil(v) if _is_number(v) else None, "abs": lambda v: negative(v) if (
        _is_number(v) and v < 0) or (isinstance(v, timedelta) and v < timedelta(0)) else v,
    "modulo": lambda a, b: a - b * math.floor(a / b) if _is_number(a) and _is_number(b) and b else None,
    "odd": lambda v: v % 2 == 1 if isinstance(v, int) else None,
    "even": lambda v: v % 2 == 0 if isinstance(v, int) else None,
    # dates
    "day of week": _day_of_week,
    "day of year": lambda v: d.timetuple().tm_yday if (d := _as_date(v)) else None,
    "week of year": lambda v: d.isocalendar()[1] if (d := _as_date(v)) else None,
    "month of year": lambda v: ("January", "February", "March", "April", "May", "June", "July", "August",
                                "September", "October", "November", "December")[d.month - 1] if (
        d := _as_date(v)) else None,
    # contexts
    "get value": lambda context, key: context.get(key) if isinstance(context, dict) else None,
    "get entries": lambda context: [{"key": k, "value": v} for k, v in context.items()] if isinstance(
        context, dict) else None,
}


MULTI_WORD_NAMES = tuple(sorted((name for name in BUILTINS if " " in name), key=len, reverse=True))
_NULL_ON = (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError, ZeroDivisionError)


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """FEEL gives null for arguments of the wrong kind; a wrong number of arguments is the model's mistake."""
    def call(*args: Any) -> Any:
        if any(arg is None for arg in args) and name not in ("not", "string", "count", "is empty", "list contains",
                                                              "append", "concatenate", "get value"):
            return None
        try:
            return function(*args)
        except TypeError as error:
            if "positional argument" in str(error) or "takes" in str(error):
                raise ExpressionError(f"FEEL: {name}() was called with {len(args)} arguments.") from None
            return None
        except _NULL_ON:
            return None

    return call


OPERATIONS.update({f"$feel:{name}": _guarded(name, function) for name, function in BUILTINS.items()})
