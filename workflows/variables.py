"""Process variables as the API and the projection see them: one map per instance, typed as Camunda types them.

Reading and changing them goes through workflows.engine.data (the engine keeps data per task).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from workflows.engine import data

of = data.variables_of
update = data.update_variables
live_task_ids = data.live_task_ids
of_task = data.task_variables


# --- typing for the API and the projection ------------------------------------------------------------------


_TYPES: tuple[tuple[Any, str], ...] = ((bool, "Boolean"), (float, "Double"), ((datetime, date), "Date"),
                                      ((dict, list, tuple), "Json"), (str, "String"))


class Long(int):
    """An integer a client declared as Camunda `Long`: it stays Long in the API even when it is small."""

    __slots__ = ()


def camunda_type(value: Any) -> str:
    """The Camunda 7 variable type a Python value maps to."""
    if value is None:
        return "Null"
    if isinstance(value, Long):
        return "Long"
    if isinstance(value, int) and not isinstance(value, bool):
        return "Integer" if -(2**31) <= value < 2**31 else "Long"
    return next((name for kind, name in _TYPES if isinstance(value, kind)), "String")


def to_json(value: Any) -> Any:
    """A JSON-compatible form of a value (dates as ISO strings)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_json(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def digest(value: Any) -> str:
    text = json.dumps(to_json(value), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def text_of(value: Any) -> str | None:
    """A short text form for equality search and lists (names, Aktenzeichen)."""
    if value is None or isinstance(value, dict | list | tuple):
        return None
    text = value.isoformat() if isinstance(value, datetime | date) else str(value)
    return text[:255]
