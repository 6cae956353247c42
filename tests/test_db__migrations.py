"""The Alembic migrations build exactly the schema the models describe (nothing missing, nothing extra), on
SQLite and on PostgreSQL, and downgrade to nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from workflows import db, schema


def test_the_migrated_schema_equals_the_models(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, schema.Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.db
def test_upgrade_and_downgrade_on_a_fresh_sqlite_file(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    db.upgrade(url)
    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert {"document", "web_session", "login_attempt", "process_instance"} <= tables
        command.downgrade(db.alembic_config(url), "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
