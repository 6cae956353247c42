"""The explicit statements of a command: a missed revision check is a conflict, whatever follows it."""

from __future__ import annotations

import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import deploy
from workflows import fastsql, instances, schema

TASKS = schema.table(schema.HumanTask)
INSTANCES = schema.table(schema.ProcessInstance)


def test_a_missed_check_followed_by_a_colliding_insert_is_a_conflict_not_an_error(runtime: Runtime) -> None:
    """The loser of a race sends its whole command in one pipeline (PostgreSQL): its revision check misses, and
    then its insert of the next task collides with the row the winner inserted. That is a lost race."""
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks")
    session = runtime.sessions()
    try:
        dialect = session.connection().dialect.name
        task = dict(session.execute(sa.select(TASKS)).mappings().one())
        statements = [
            fastsql.update_checked_statement(dialect, INSTANCES, {"business_key": "AZ-1"}, revision=99,
                                             id=started.id),
            fastsql.insert_statement(dialect, TASKS, [task]),
        ]
        assert fastsql.run(session, statements) is False
    finally:
        session.rollback()
        session.close()
    with runtime.command() as ctx:
        assert instances.get(ctx, started.id).business_key is None
