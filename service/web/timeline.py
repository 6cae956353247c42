"""The case file's history: audit events told as sentences a caseworker reads ("Aufgabe „Antrag prüfen“
abgeschlossen"), in the user's language. Engine-internal steps (gateways, start events) are left out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from workflows import schema

VISIBLE_ACTIVITIES = ("userTask", "serviceTask", "businessRuleTask", "callActivity", "subProcess", "scriptTask",
                      "manualTask", "sendTask", "receiveTask", "intermediateCatchEvent", "endEvent")


@dataclass(frozen=True)
class Entry:
    at: datetime
    text: str
    actor: str | None


def _name(event: schema.AuditEvent, names: dict[str, str]) -> str:
    return names.get(event.element_id or "", event.element_id or "")


Describe = Callable[[schema.AuditEvent, dict[str, Any], dict[str, str]], str | None]


def _activity(event: schema.AuditEvent, details: dict[str, Any], names: dict[str, str]) -> str | None:
    if details.get("element_type") not in VISIBLE_ACTIVITIES or details.get("element_type") == "userTask":
        return None  # user tasks are told by task_created / task_completed
    if details.get("state") == "cancelled":
        return _("„%(name)s“ abgebrochen", name=_name(event, names))
    return _("„%(name)s“ erledigt", name=_name(event, names))


def _variables(_event: schema.AuditEvent, details: dict[str, Any], _names: dict[str, str]) -> str:
    changed = ", ".join(sorted(details.get("changes", {}))) or "–"
    reason = details.get("reason")
    return _("Daten geändert: %(names)s", names=changed) + (f" ({reason})" if reason else "")


DESCRIPTIONS: dict[str, Describe] = {
    "instance_started": lambda e, d, n: _("Vorgang begonnen"),
    "instance_completed": lambda e, d, n: _("Vorgang abgeschlossen"),
    "instance_terminated": lambda e, d, n: _("Vorgang beendet: %(reason)s", reason=d.get("reason") or "–"),
    "instance_suspended": lambda e, d, n: _("Vorgang angehalten") if d.get("suspended", True)
    else _("Vorgang fortgesetzt"),
    "task_created": lambda e, d, n: _("Aufgabe „%(name)s“ angelegt", name=_name(e, n)),
    "task_completed": lambda e, d, n: _("Aufgabe „%(name)s“ abgeschlossen", name=_name(e, n)),
    "task_claimed": lambda e, d, n: _("Aufgabe „%(name)s“ übernommen", name=_name(e, n)),
    "task_unclaimed": lambda e, d, n: _("Aufgabe „%(name)s“ zurückgegeben", name=_name(e, n)),
    "task_assigned": lambda e, d, n: _("Aufgabe „%(name)s“ zugewiesen an %(who)s", name=_name(e, n),
                                       who=d.get("assignee") or "–"),
    "task_moved": lambda e, d, n: _("Aufgabe „%(name)s“ an %(groups)s abgegeben", name=_name(e, n),
                                    groups=", ".join(d.get("groups", []))),
    "task_draft_saved": lambda e, d, n: _("Entwurf zu „%(name)s“ gespeichert", name=_name(e, n)),
    "task_overdue": lambda e, d, n: _("Frist von „%(name)s“ überschritten", name=_name(e, n)),
    "task_escalated": lambda e, d, n: _("„%(name)s“ an die Teamleitung eskaliert", name=_name(e, n)),
    "follow_up_reached": lambda e, d, n: _("Wiedervorlage von „%(name)s“ erreicht", name=_name(e, n)),
    "timer_fired": lambda e, d, n: _("Termin „%(name)s“ erreicht", name=_name(e, n)),
    "message_correlated": lambda e, d, n: _("Nachricht „%(m)s“ eingegangen", m=d.get("message") or "–"),
    "message_thrown": lambda e, d, n: _("Nachricht „%(m)s“ gesendet", m=d.get("name") or "–"),
    "decision_evaluated": lambda e, d, n: _("Regel „%(key)s“ (Version %(v)s) angewendet", key=d.get("decision_key"),
                                            v=d.get("decision_version")),
    "variables_updated": _variables,
    "comment_added": lambda e, d, n: _("Kommentar hinzugefügt"),
    "document_uploaded": lambda e, d, n: _("Dokument „%(f)s“ hochgeladen", f=d.get("filename")),
    "incident_created": lambda e, d, n: _("Störung bei „%(name)s“: %(m)s", name=_name(e, n), m=d.get("message", "")),
    "incident_resolved": lambda e, d, n: _("Störung bei „%(name)s“ behoben", name=_name(e, n)),
    "incident_retried": lambda e, d, n: _("„%(name)s“ erneut versucht", name=_name(e, n)),
    "job_failed": lambda e, d, n: _("„%(name)s“ fehlgeschlagen, neuer Versuch geplant", name=_name(e, n)),
    "activity_end": _activity,
}


def entries(events: Sequence[schema.AuditEvent]) -> list[Entry]:
    """Newest first; element names come from the events themselves (activity_end carries them)."""
    names = {e.element_id: (e.details or {}).get("element_name") or (e.details or {}).get("name") for e in events
             if e.kind in ("activity_end", "task_created") and e.element_id
             and ((e.details or {}).get("element_name") or (e.details or {}).get("name"))}
    found = []
    for event in events:
        describe = DESCRIPTIONS.get(event.kind)
        text = describe(event, event.details or {}, names) if describe else None  # type: ignore[arg-type]
        if text:
            found.append(Entry(event.occurred_at, text, event.actor))
    return list(reversed(found))
