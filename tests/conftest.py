"""Fixtures: a settable clock, a migrated database (SQLite always, PostgreSQL when configured), deploy helpers.

Database tests commit for real (commands are transactions, and concurrency tests need two connections), so
every test starts from empty tables instead of rolling back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from workflows import db, definitions, schema
from workflows.clock import ManualClock
from workflows.context import Actor, Ctx
from workflows.settings import load_settings

DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("KIMFLOW_TEST_DATABASE_URL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "runtime" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'kimflow-test.db'}"
    db.upgrade(url)
    return url


@pytest.fixture(scope="session")
def _engine(database_url: str) -> Iterator[sa.Engine]:
    engine = db.create_engine(database_url)
    yield engine
    engine.dispose()


def _empty_tables(engine: sa.Engine) -> None:
    tables = [t.name for t in reversed(schema.Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def runtime(_engine: sa.Engine, database_url: str, clock: ManualClock) -> Runtime:
    _empty_tables(_engine)
    definitions._bundle_cache.clear()
    settings = load_settings(env={}, database_url=database_url, expression_time_limit=2.0)
    return Runtime(settings, _engine, db.session_factory(_engine), clock)


@pytest.fixture
def ctx(runtime: Runtime) -> Iterator[Ctx]:
    """A context whose session commits at the end of the test's block of work (call ctx.session.commit())."""
    session = runtime.sessions()
    try:
        yield Ctx(session=session, clock=runtime.clock, settings=runtime.settings)
    finally:
        session.close()


def scenario_files(name: str) -> list[tuple[str, bytes]]:
    folder = DATA / name
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]


def deploy(runtime: Runtime, *names: str) -> definitions.DeploymentResult:
    """Deploy the files of one or more scenario folders (tests/data/<name>/) as one deployment."""
    files = [f for name in names for f in scenario_files(name)]
    with runtime.command() as ctx:
        return definitions.deploy(ctx, files, name="+".join(names), source="test")


CASEWORKER = Actor("erika", "caseworker", frozenset({"fm-team"}))
OTHER_CASEWORKER = Actor("bernd", "caseworker", frozenset({"abh-team"}))
SUPERVISOR = Actor("tina", "supervisor", frozenset({"fm-team", "abh-team"}))
ADMIN = Actor("admin", "admin", frozenset())


ROOT = Path(__file__).resolve().parent.parent


def kim_files() -> list[tuple[str, bytes]]:
    """The bundled KIM models, decision tables and forms (bpmn/ and forms/), as `make run` deploys them."""
    folders = (ROOT / "bpmn", ROOT / "forms")
    return [(p.name, p.read_bytes()) for folder in folders for p in sorted(folder.iterdir())
            if definitions.kind_of(p.name) != "resource"]


def deploy_kim(runtime: Runtime) -> definitions.DeploymentResult:
    with runtime.command() as ctx:
        return definitions.deploy(ctx, kim_files(), name="kim", source="test")
