"""Camunda's typed variables and dates, as the REST API exchanges them.

`{"x": {"value": 1, "type": "Integer"}}` in, the same shape out. Dates travel as Camunda formats them
(`2026-01-05T08:00:00.000+0000`); Json values travel as JSON text, as in Camunda 7.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from workflows import variables
from workflows.errors import InvalidInputError

CAMUNDA_DATE = "%Y-%m-%dT%H:%M:%S.{millis}%z"


def format_date(moment: datetime | None) -> str | None:
    """Camunda's date format: yyyy-MM-dd'T'HH:mm:ss.SSSZ (here always UTC, +0000)."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


def parse_date(text: str) -> datetime:
    """Accept Camunda's format (with +0200 style offsets) and ISO 8601.

    A `+` that a client forgot to percent-encode in a query string arrives as a space; it is read as `+`.
    """
    value = text.strip()
    if len(value) > 5 and value[-5] == " " and value[-4:].isdigit():
        value = value[:-5] + "+" + value[-4:]
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = value[:-2] + ":" + value[-2:]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInputError(f"Cannot parse date {text!r}; use yyyy-MM-dd'T'HH:mm:ss.SSSZ.") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidInputError(f"{value!r} is not a Boolean.")


def _whole(kind: str, bits: int) -> Callable[[Any], int]:
    """A parser for Short, Integer or Long: whole numbers within the Java type's range, as Camunda checks."""

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str | float):
            raise InvalidInputError(f"{value!r} is not a whole number ({kind}).")
        try:
            number = int(value)
        except ValueError as error:
            raise InvalidInputError(f"{value!r} is not a whole number ({kind}).") from error
        if isinstance(value, float) and number != value:
            raise InvalidInputError(f"{value!r} is not a whole number ({kind}).")
        if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            raise InvalidInputError(f"{value!r} is out of range for {kind}.")
        return variables.Long(number) if kind == "Long" else number

    return parse


def _double(value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidInputError(f"{value!r} is not a number.")
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"{value!r} is not a number.") from error
    if not math.isfinite(number):
        raise InvalidInputError(f"{value!r} is not a finite number.")
    return number


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise InvalidInputError("The value of a Json variable must be JSON text.") from error
    return value


def _string(value: Any) -> str:
    if isinstance(value, dict | list):
        raise InvalidInputError("A String variable cannot hold an object or list.")
    return str(value)


def _date(value: Any) -> datetime:
    if isinstance(value, str):
        return parse_date(value)
    raise InvalidInputError(f"{value!r} is not a date.")


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "string": _string, "boolean": _boolean, "integer": _whole("Integer", 32), "long": _whole("Long", 64),
    "short": _whole("Short", 16),
    "double": _double, "date": _date, "json": _json, "null": lambda _value: None,
}


def from_camunda(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Typed Camunda variables to plain values; an unknown type is a clear 400."""
    result: dict[str, Any] = {}
    for name, entry in (raw or {}).items():
        if not isinstance(entry, Mapping):
            raise InvalidInputError(f"Variable {name!r} must be an object with 'value' and 'type'.")
        result[name] = _one(name, entry)
    return result


def _one(name: str, entry: Mapping[str, Any]) -> Any:
    kind = entry.get("type")
    value = entry.get("value")
    if kind is None:
        return value
    if not isinstance(kind, str):
        raise InvalidInputError(f"Variable {name!r}: type must be a string.")
    if kind.lower() == "object":
        info = entry.get("valueInfo") or {}
        if "json" in str(info.get("serializationDataFormat", "")):
            return _json(value)
        raise InvalidInputError(f"Variable {name!r}: serialized Java objects are not supported; send Json.")
    parser = _PARSERS.get(kind.lower())
    if parser is None:
        raise InvalidInputError(f"Variable {name!r}: unsupported type {kind!r} (use String, Boolean, Integer, "
                                "Long, Double, Date, Json or Null).")
    return None if value is None else parser(value)


def to_camunda(value: Any, kind: str | None = None) -> dict[str, Any]:
    kind = kind or variables.camunda_type(value)
    if kind == "Date":
        moment = value if isinstance(value, datetime) else _as_datetime(value)
        return {"value": format_date(moment) if moment else value, "type": "Date", "valueInfo": {}}
    if kind == "Json":
        return {"value": json.dumps(variables.to_json(value)), "type": "Json", "valueInfo": {}}
    return {"value": value, "type": kind, "valueInfo": {}}


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return parse_date(value)
        except InvalidInputError:
            return None
    return None


def all_to_camunda(values: Mapping[str, Any], kinds: Mapping[str, str] | None = None) -> dict[str, Any]:
    kinds = kinds or {}
    return {name: to_camunda(value, kinds.get(name)) for name, value in values.items()}
