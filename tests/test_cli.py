"""The command line, against a real database file and a real server process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "KIMFLOW_CONFIG_DIR": str(tmp_path)}


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_commands_refuse_an_outdated_schema_and_name_the_fix(env: dict[str, str]) -> None:
    code, output = _run(env, "deploy", str(DATA / "three_tasks"))
    assert code != 0
    assert "kimflow db upgrade" in output


def test_upgrade_deploy_twice_and_add_users(env: dict[str, str]) -> None:
    assert _run(env, "db", "upgrade")[0] == 0
    code, output = _run(env, "deploy", str(DATA / "three_tasks"), str(DATA / "user_task_attributes"))
    assert code == 0, output
    assert "deployed three_tasks version 1" in output
    assert "deployed erstkontakt version 1" in output
    code, output = _run(env, "deploy", str(DATA / "three_tasks"), str(DATA / "user_task_attributes"))
    assert "Nothing changed" in output
    code, output = _run(env, "users", "add", "erika", "--password", "geheim123", "--role", "caseworker",
                        "--group", "fm-team", "--group", "fm-teamleitung")
    assert code == 0, output
    assert "fm-team, fm-teamleitung" in output
    code, output = _run(env, "users", "add", "x", "--password", "kurz", "--role", "caseworker")
    assert code != 0 and "8 characters" in output
    code, token = _run(env, "tokens", "create", "erika", "--name", "worker")
    assert code == 0 and token.strip().startswith("kim_")


def test_a_broken_model_is_refused_with_file_element_and_line(env: dict[str, str]) -> None:
    _run(env, "db", "upgrade")
    code, output = _run(env, "deploy", str(DATA / "invalid" / "java_constructs.bpmn"))
    assert code == 1
    assert "java_constructs.bpmn:6 [java_class]" in output
    assert "nothing was stored" in output


def test_nothing_to_deploy_is_said_plainly(env: dict[str, str], tmp_path: Path) -> None:
    _run(env, "db", "upgrade")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, output = _run(env, "deploy", str(empty))
    assert code == 0 and "No BPMN, DMN or form files" in output


def test_settings_table_lists_every_setting(env: dict[str, str]) -> None:
    code, output = _run(env, "settings")
    assert code == 0
    assert "`DATABASE_URL`" in output and "`KIMFLOW_SECRET_KEY`" in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_a_real_wsgi_server_with_healthz(env: dict[str, str]) -> None:
    _run(env, "db", "upgrade")
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
                               env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    body = json.loads(response.read())
                    server = response.headers.get("Server")
                break
            except OSError:
                time.sleep(0.1)
        assert body is not None, process.stdout.read() if process.poll() is not None else "no answer"  # type: ignore[union-attr]
        assert body["status"] == "ok"
        assert server == "kimflow"  # waitress, not Flask's development server
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_refuses_an_outdated_schema(env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(_free_port())]
    result = subprocess.run(command, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode != 0
    assert "kimflow db upgrade" in result.stderr
