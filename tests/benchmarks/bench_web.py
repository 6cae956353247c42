"""Inbox page latency: 100,000 open tasks in 200 groups, 200 users in 3 groups each, `kimflow serve` in its own
process on loopback, requests from this (separate) process one at a time. Server time is the app's own
Server-Timing header; the client time adds HTTP on loopback and the session lookup."""

from __future__ import annotations

import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from tests.benchmarks.bench_engine import backends, fresh_runtime
from tests.benchmarks.bench_queries import GROUPS, seed_tasks
from workflows import accounts, schema

USERS = 200
PASSWORD = "bench-passwort"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_TIMING = re.compile(r"app;dur=([0-9.]+)")


def _seed_users(runtime: Any) -> list[str]:
    rng = random.Random(5)
    digest = accounts.hash_password(PASSWORD)  # one argon2 hash for all: seeding 200 users stays fast
    users = [f"sb{n:03d}" for n in range(USERS)]
    with runtime.command() as ctx:
        for group in GROUPS:
            accounts.ensure_group(ctx, group)
        ctx.session.flush()
        now = ctx.now()
        ctx.session.execute(sa.insert(schema.User), [
            {"id": user, "display_name": user, "role": "caseworker", "password_hash": digest, "active": True,
             "created_at": now} for user in users])
        ctx.session.execute(sa.insert(schema.Membership), [
            {"user_id": user, "group_id": group} for user in users for group in rng.sample(GROUPS, 3)])
    return users


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "KIMFLOW_SCHEDULER_ENABLED": "false"}
    kimflow = Path(sys.executable).with_name("kimflow")
    server = subprocess.Popen([str(kimflow), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("kimflow serve did not come up")


def _login(base: str, user: str) -> requests.Session:
    session = requests.Session()
    token = _TOKEN.search(session.get(f"{base}/anmelden").text)
    assert token is not None
    response = session.post(f"{base}/anmelden", data={"csrf_token": token.group(1), "benutzer": user,
                                                      "passwort": PASSWORD}, allow_redirects=False)
    assert response.status_code == 302, response.text[:200]
    return session


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


def inbox_page(pg_url: str, *, quick: bool = False) -> list[dict[str, Any]]:
    count, samples = (10_000, 100) if quick else (100_000, 400)
    figures = []
    for backend, url in backends(pg_url):
        runtime = fresh_runtime(url)
        seed_tasks(runtime, count)
        users = _seed_users(runtime)
        runtime.engine.dispose()
        port = _free_port()
        server = _serve(url, port)
        try:
            figures.append(_measure(f"http://127.0.0.1:{port}", users, samples, backend, count))
        finally:
            server.terminate()
            server.wait(timeout=30)
    return figures


def _measure(base: str, users: list[str], samples: int, backend: str, count: int) -> dict[str, Any]:
    rng = random.Random(9)
    sessions = {user: _login(base, user) for user in rng.sample(users, 40)}
    for session in sessions.values():  # warm-up: connections, caches, query plans
        session.get(f"{base}/?tab=gruppe")
    server_ms, client_ms = [], []
    for _ in range(samples):
        session = sessions[rng.choice(list(sessions))]
        started = time.perf_counter()
        response = session.get(f"{base}/?tab=gruppe")
        client_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and "Gruppenaufgaben" in response.text
        timing = _TIMING.search(response.headers.get("Server-Timing", ""))
        assert timing is not None
        server_ms.append(float(timing.group(1)))
    return {"figure": "inbox_page", "database": backend, "open_tasks": count, "users": len(users),
            "server_p50_ms": round(statistics.median(server_ms), 1), "server_p95_ms": round(
                _percentile(server_ms, 0.95), 1), "client_p50_ms": round(statistics.median(client_ms), 1),
            "client_p95_ms": round(_percentile(client_ms, 0.95), 1),
            "page": "Gruppenaufgaben, first page of 25, sorted by due date, with counts of both tabs",
            "measured": "kimflow serve (waitress) in its own process; one request at a time from another"}
