"""Inbox query latency with 100,000 open tasks across 200 groups."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tests.benchmarks.bench_engine import backends, fresh_runtime
from workflows import human_tasks, schema
from workflows.context import Actor

GROUPS = [f"team-{n:03d}" for n in range(200)]
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def seed_tasks(runtime: Any, count: int, *, seed: int = 7) -> None:
    """Projection rows as the engine writes them: one instance per task, one candidate group each, half of the
    tasks claimed by one of 200 caseworkers (`sb000`..`sb199`, the web benchmark's users)."""
    rng = random.Random(seed)
    definition_id = "bench:1:seed"
    with runtime.command() as ctx:
        ctx.session.add(schema.Deployment(id="bench", name="bench", deployed_at=NOW))
        ctx.session.flush()
        ctx.session.add(schema.ProcessSpec(hash="bench", serializer_version="-", content="{}", created_at=NOW))
        ctx.session.flush()
        ctx.session.add(schema.ProcessDefinition(
            id=definition_id, key="bench", version=1, deployment_id="bench", resource_name="bench.bpmn",
            content_hash="-", spec_hash="bench", created_at=NOW))
    batch = 5000
    for start in range(0, count, batch):
        instances_rows, tasks, candidates = [], [], []
        for _ in range(min(batch, count - start)):
            instance_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
            instances_rows.append({
                "id": instance_id, "definition_id": definition_id, "definition_key": "bench",
                "business_key": f"AZ-{rng.randrange(10**6)}", "state": "active", "revision": 1,
                "started_at": NOW, "last_activity_at": NOW, "open_incidents": 0, "projection": {},
                "serializer_version": "-", "engine_state": ""})
            group = rng.choice(GROUPS)
            follow_up = NOW + timedelta(days=rng.randint(1, 60)) if rng.random() < 0.2 else None
            assignee = f"sb{rng.randrange(200):03d}" if rng.random() < 0.5 else None
            tasks.append({
                "id": task_id, "instance_id": instance_id, "definition_id": definition_id, "definition_key": "bench",
                "business_key": instances_rows[-1]["business_key"], "task_definition_key": "task",
                "name": "Aufgabe", "assignee": assignee, "candidate_groups": [group], "candidate_users": [],
                "created_at": NOW - timedelta(days=rng.randint(0, 400)),
                "due_at": NOW + timedelta(days=rng.randint(-30, 90)), "follow_up_at": follow_up,
                "priority": 50, "properties": {}, "suspended": False})
            candidates.append({"task_id": task_id, "kind": "group", "value": group})
        with runtime.command() as ctx:
            ctx.session.execute(sa.insert(schema.ProcessInstance), instances_rows)
            ctx.session.execute(sa.insert(schema.HumanTask), tasks)
            ctx.session.execute(sa.insert(schema.HumanTaskCandidate), candidates)
    with runtime.engine.begin() as connection:
        connection.execute(sa.text("ANALYZE"))


def inbox_latencies(runtime: Any, samples: int) -> list[float]:
    rng = random.Random(11)
    latencies = []
    for _ in range(samples):
        actor = Actor(f"user-{rng.randrange(200)}", "caseworker", frozenset(rng.sample(GROUPS, 3)))
        query = human_tasks.TaskQuery(follow_up_before_or_none=NOW, sort_by=[("due", "asc")])
        started = time.perf_counter()
        with runtime.command(actor) as ctx:
            page = human_tasks.find(ctx, query, limit=50)
        latencies.append(time.perf_counter() - started)
        assert len(page) == 50
    return latencies


def task_query(pg_url: str, *, quick: bool = False) -> list[dict[str, Any]]:
    count = 10_000 if quick else 100_000
    figures = []
    for backend, url in backends(pg_url):
        runtime = fresh_runtime(url)
        seed_tasks(runtime, count)
        inbox_latencies(runtime, 20)
        latencies = sorted(inbox_latencies(runtime, 100 if quick else 400))
        runtime.engine.dispose()
        figures.append({"figure": "task_query", "database": backend, "open_tasks": count,
                        "p50_ms": round(statistics.median(latencies) * 1000, 2),
                        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
                        "query": "user in 3 of 200 groups, follow-up passed or unset, sorted by due, page of 50",
                        "measured": "one transaction per query, from the runtime API"})
    return figures
