"""Read submitted values: numbers, dates and times as people type them, and bounded regular expressions."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_SLASHED_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(:\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


# --- value parsing -----------------------------------------------------------------------------------------


def _to_decimal(value: Any) -> Decimal:
    """A finite number from JSON or from text (`2`, `-1.5`, `2,5`); no exponents, no thousands separators."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    text = value.strip() if isinstance(value, str) else ""
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    if len(text) > 40 or not _NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {value!r}")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _parse_date(text: str) -> date:
    """`2026-03-01`, `01.03.2026` (as typed in Germany) or `01/03/2026` (Camunda formData's dd/MM/yyyy)."""
    text = text.strip()
    if _ISO_DATE.fullmatch(text):
        return date.fromisoformat(text)
    match = _GERMAN_DATE.fullmatch(text) or _SLASHED_DATE.fullmatch(text)
    if not match:
        raise ValueError(f"not a date: {text!r}")
    day, month, year = (int(part) for part in match.groups())
    return date(year, month, day)


def _parse_time(text: str) -> time:
    match = _TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a time: {text!r}")
    hours, minutes, seconds, zone = match.groups()
    return time.fromisoformat(f"{int(hours):02d}:{minutes}{seconds or ''}{zone or ''}")


def _parse_datetime(text: str) -> datetime:
    text = text.strip()
    day, _, clock = text.replace("T", " ", 1).partition(" ")
    if not clock:
        raise ValueError(f"not a date with time: {text!r}")
    moment = _parse_time(clock)
    return datetime.combine(_parse_date(day), moment.replace(tzinfo=None), tzinfo=moment.tzinfo)


def _iso(moment: datetime | time, serializing: str | None) -> str:
    """ISO text, to the minute unless seconds were given; `utc_normalized` converts aware times to UTC."""
    if isinstance(moment, datetime) and moment.tzinfo is not None and serializing == "utc_normalized":
        moment = moment.astimezone(UTC)
    if serializing == "no_timezone":
        moment = moment.replace(tzinfo=None)
    spec = "minutes" if not (moment.second or moment.microsecond) else "auto"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
