"""Instance and incident states, with the allowed transitions written down in one place."""

from __future__ import annotations

from enum import StrEnum

from workflows.errors import ConflictError


class InstanceState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    COMPLETED = "completed"
    TERMINATED = "terminated"

    @property
    def is_running(self) -> bool:
        return self in (InstanceState.ACTIVE, InstanceState.SUSPENDED)

    @property
    def camunda_history_state(self) -> str:
        return {
            InstanceState.ACTIVE: "ACTIVE",
            InstanceState.SUSPENDED: "SUSPENDED",
            InstanceState.COMPLETED: "COMPLETED",
            InstanceState.TERMINATED: "EXTERNALLY_TERMINATED",
        }[self]


INSTANCE_TRANSITIONS: dict[InstanceState, frozenset[InstanceState]] = {
    InstanceState.ACTIVE: frozenset({InstanceState.SUSPENDED, InstanceState.COMPLETED, InstanceState.TERMINATED}),
    InstanceState.SUSPENDED: frozenset({InstanceState.ACTIVE, InstanceState.TERMINATED}),
    InstanceState.COMPLETED: frozenset(),
    InstanceState.TERMINATED: frozenset(),
}


def check_instance_transition(current: str, target: InstanceState) -> InstanceState:
    """Raise ConflictError unless the instance may move from `current` to `target`."""
    state = InstanceState(current)
    if target not in INSTANCE_TRANSITIONS[state]:
        raise ConflictError(f"A {state.value} process instance cannot become {target.value}.")
    return target


class IncidentState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DELETED = "deleted"


INCIDENT_TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    IncidentState.OPEN: frozenset({IncidentState.RESOLVED, IncidentState.DELETED}),
    IncidentState.RESOLVED: frozenset({IncidentState.OPEN}),
    IncidentState.DELETED: frozenset(),
}


def check_incident_transition(current: str, target: IncidentState) -> IncidentState:
    state = IncidentState(current)
    if target not in INCIDENT_TRANSITIONS[state]:
        raise ConflictError(f"A {state.value} incident cannot become {target.value}.")
    return target


class IncidentType(StrEnum):
    FAILED_JOB = "failedJob"
    FAILED_EXTERNAL_TASK = "failedExternalTask"
