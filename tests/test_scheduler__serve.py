"""`kimflow serve` runs the scheduler in its own process (the embedded default) unless
KIMFLOW_SCHEDULER_ENABLED=false says that separate `kimflow worker` processes do it. A real server process, on a
SQLite file with one case whose timer is long overdue."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.runtime import Runtime
from tests.conftest import DATA
from workflows import audit, db, definitions, instances, schema
from workflows.clock import ManualClock
from workflows.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def overdue(tmp_path: Path) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """A database with one case waiting for a timer that was due in 2020, and the environment to serve it."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    db.upgrade(url)
    runtime = Runtime.build(load_settings(env={}, database_url=url), ManualClock(datetime(2019, 12, 1, tzinfo=UTC)))
    model = DATA / "timer_burst" / "timer_burst.bpmn"
    with runtime.command() as ctx:
        definitions.deploy(ctx, [(model.name, model.read_bytes())])
        instances.start(ctx, key="timer_burst", variables_in={"faellig": "2020-01-01T01:00:00"})
    env = {**os.environ, "DATABASE_URL": url, "KIMFLOW_CONFIG_DIR": str(tmp_path), "KIMFLOW_SCHEDULER_INTERVAL": "0.1"}
    yield runtime, env
    runtime.engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                assert json.loads(response.read())["status"] == "ok"
                return process, port
        except OSError:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
    process.terminate()
    raise AssertionError(f"no answer: {log.read_text()}")


def _fired(runtime: Runtime) -> int:
    with runtime.command() as ctx:
        return len(audit.query(ctx, kinds=["timer_fired"]))


def _timers_left(runtime: Runtime) -> int:
    with runtime.command() as ctx:
        return int(ctx.session.scalar(sa.select(sa.func.count()).select_from(schema.Timer)) or 0)


def test_serve_runs_the_scheduler_in_process_by_default(overdue: tuple[Runtime, dict[str, str]],
                                                        tmp_path: Path) -> None:
    runtime, env = overdue
    log = tmp_path / "serve.log"
    process, _port = _serve(env, log)
    try:
        deadline = time.monotonic() + 20
        while _fired(runtime) == 0:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "timer scheduler running in this process" in log.read_text()
    assert (_fired(runtime), _timers_left(runtime)) == (1, 0)


def test_serve_leaves_timers_to_workers_when_the_scheduler_is_disabled(overdue: tuple[Runtime, dict[str, str]],
                                                                       tmp_path: Path) -> None:
    runtime, env = overdue
    log = tmp_path / "serve.log"
    process, _port = _serve({**env, "KIMFLOW_SCHEDULER_ENABLED": "false"}, log)
    try:
        time.sleep(1.5)  # fifteen intervals
        assert (_fired(runtime), _timers_left(runtime)) == (0, 1)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "timer scheduler off here" in log.read_text()
