"""The engine layer's exceptions: one base, one class per kind of failure the service maps to a response."""

from __future__ import annotations

from dataclasses import dataclass


class KimflowError(Exception):
    """Base of every error the engine layer raises on purpose."""

    code = "error"


class NotFoundError(KimflowError):
    """A referenced object (definition, instance, task) does not exist or is not visible."""

    code = "not_found"


class ConflictError(KimflowError):
    """The object changed since it was read (optimistic locking) or is in a state that forbids the action."""

    code = "conflict"


class ConcurrentChangeError(ConflictError):
    """Someone else changed the object since it was read (optimistic locking): reloading and retrying may work."""

    code = "concurrent_change"


class InvalidInputError(KimflowError):
    """The caller's input is wrong: unknown variable type, missing field, malformed value."""

    code = "invalid_input"


class PermissionDeniedError(KimflowError):
    """The acting user may not do this."""

    code = "forbidden"


class ExpressionError(KimflowError):
    """An expression or script cannot be compiled, is not allowed, or failed when evaluated."""

    code = "expression"


class SandboxViolation(ExpressionError):
    """An expression or script tried something the sandbox forbids (imports, dunder access, builtins)."""

    code = "sandbox_violation"


class EvaluationTimeout(ExpressionError):
    """An evaluation ran past its time or step budget."""

    code = "timeout"


@dataclass(frozen=True)
class Problem:
    """One finding of deployment validation, located as precisely as the source allows."""

    file: str
    message: str
    element: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.element:
            where += f" [{self.element}]"
        return f"{where}: {self.message}"


class DeploymentError(KimflowError):
    """A deployment was refused; nothing of it was stored."""

    code = "deployment"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class DecisionError(KimflowError):
    """A decision table could not be evaluated (for example a UNIQUE table with several matching rules)."""

    code = "decision"
