"""What every engine-layer command is given: the session, the clock, the settings and who is acting."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.orm import Session

from workflows.clock import Clock
from workflows.settings import Settings


@dataclass(frozen=True)
class Actor:
    """Who acts: a user with role and groups, or the system (scheduler, engine) when id is None."""

    id: str | None = None
    role: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_system(self) -> bool:
        return self.id is None

    @property
    def sees_everything(self) -> bool:
        return self.is_system or self.role in {"admin", "service"}


SYSTEM = Actor()


@dataclass
class Ctx:
    session: Session
    clock: Clock
    settings: Settings
    actor: Actor = SYSTEM
    busy: set[str] = field(default_factory=set)  # instances whose command is running further up the stack

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def dialect(self) -> str:
        """The database's dialect name (statements are rendered for it)."""
        return self.session.get_bind().dialect.name

    def as_system(self) -> Ctx:
        return replace(self, actor=SYSTEM)
