"""The service's shared parts: settings, database engine, session factory and clock, built once per process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from workflows import db
from workflows.clock import Clock, SystemClock
from workflows.context import SYSTEM, Actor, Ctx
from workflows.settings import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def build(cls, settings: Settings | None = None, clock: Clock | None = None) -> Runtime:
        settings = settings or load_settings()
        engine = db.create_engine(settings.database_url)
        return cls(settings, engine, db.session_factory(engine), clock or SystemClock())

    @contextmanager
    def command(self, actor: Actor = SYSTEM) -> Iterator[Ctx]:
        """One transaction: commits when the block ends, rolls back on any error."""
        with db.transaction(self.sessions) as session:
            yield Ctx(session=session, clock=self.clock, settings=self.settings, actor=actor)
