"""Engine throughput: SpiffWorkflow alone (the yardstick), kimflow persisted, and a 5,000-round case."""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from service.runtime import Runtime
from workflows import db, definitions, human_tasks, instances, schema
from workflows.clock import ManualClock
from workflows.context import Actor
from workflows.settings import load_settings

DATA = Path(__file__).resolve().parent.parent / "data"
THREE_TASKS = DATA / "three_tasks" / "three_tasks.bpmn"
LOOP = DATA / "loop" / "wiedervorlage_loop.bpmn"
ADMIN = Actor("bench", "admin", frozenset())


def _rate(run_one: Callable[[], None], seconds: float) -> tuple[float, int]:
    """Instances per second over at least `seconds` (after a short warm-up)."""
    for _ in range(20):
        run_one()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        run_one()
        count += 1
    return count / (time.perf_counter() - started), count


# --- raw engine --------------------------------------------------------------------------------------------


def _raw_engine_runner() -> Callable[[], None]:
    parser = CamundaParser()
    parser.add_bpmn_file(str(THREE_TASKS))
    spec, subprocess_specs = parser.get_spec("three_tasks"), parser.get_subprocess_specs("three_tasks")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))

    def run_one() -> None:
        workflow = BpmnWorkflow(spec, subprocess_specs)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        for _ in range(3):
            workflow = serializer.deserialize_json(state)
            workflow.get_tasks(state=TaskState.READY, manual=True)[0].run()
            workflow.do_engine_steps()
            state = serializer.serialize_json(workflow)
        assert serializer.deserialize_json(state).completed

    return run_one


def raw_engine(*, quick: bool = False) -> list[dict[str, Any]]:
    rate, count = _rate(_raw_engine_runner(), 2 if quick else 10)
    return [{"figure": "raw_engine", "instances_per_s": round(rate, 1), "instances": count,
             "model": "three_tasks (3 user tasks)", "steps": "start + 3 completions, JSON state after each"}]


# --- persisted ---------------------------------------------------------------------------------------------


def fresh_runtime(url: str) -> Runtime:
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    db.upgrade(url)
    settings = load_settings(env={}, database_url=url)
    runtime = Runtime.build(settings, ManualClock())
    return runtime


def _deploy(runtime: Runtime, *paths: Path) -> None:
    with runtime.command() as ctx:
        definitions.deploy(ctx, [(p.name, p.read_bytes()) for p in paths], name="bench")


def _persisted_runner(runtime: Runtime) -> Callable[[], None]:
    done = 0

    def run_one() -> None:
        nonlocal done
        with runtime.command(ADMIN) as ctx:
            started = instances.start(ctx, key="three_tasks")
        instance_id, (task_id,) = started.id, started.open_task_ids
        for step in range(3):
            with runtime.command(ADMIN) as ctx:
                next_tasks = human_tasks.complete(ctx, task_id)
            if step < 2:
                (task_id,) = next_tasks
        done += 1
        if done % 100 == 1:  # spot check outside the measured work: the instance has ended
            with runtime.command() as ctx:
                ended = instances.get(ctx, instance_id)
                assert ended is not None and ended.state == "completed"

    return run_one


def backends(pg_url: str) -> Iterator[tuple[str, str]]:
    folder = tempfile.mkdtemp(prefix="kimflow-bench-")
    yield "sqlite", f"sqlite:///{folder}/bench.db"
    try:
        engine = sa.create_engine(pg_url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception:  # no PostgreSQL here: report SQLite only
        return
    yield "postgresql", pg_url


def persisted(pg_url: str, *, quick: bool = False) -> list[dict[str, Any]]:
    raw_rate, _ = _rate(_raw_engine_runner(), 2 if quick else 5)
    figures = []
    for backend, url in backends(pg_url):
        runtime = fresh_runtime(url)
        _deploy(runtime, THREE_TASKS)
        rate, count = _rate(_persisted_runner(runtime), 3 if quick else 15)
        runtime.engine.dispose()
        figures.append({"figure": "persisted", "database": backend, "instances_per_s": round(rate, 1),
                        "instances": count, "raw_engine_per_s": round(raw_rate, 1),
                        "ratio_to_raw": round(rate / raw_rate, 2),
                        "steps": "start + 3 completions, each its own transaction"})
    return figures


# --- the same in parallel: N processes, as N web processes share one PostgreSQL in production ----------------


def _parallel_worker(url: str | None, seconds: float, barrier: Any, results: Any) -> None:
    """One process: warm up, wait for the others, then run for `seconds` (the windows overlap exactly)."""
    runtime = Runtime.build(load_settings(env={}, database_url=url), ManualClock()) if url else None
    run_one = _persisted_runner(runtime) if runtime else _raw_engine_runner()
    for _ in range(20):
        run_one()
    barrier.wait()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        run_one()
        count += 1
    results.put(count / (time.perf_counter() - started))
    if runtime:
        runtime.engine.dispose()


def _parallel_rate(url: str | None, processes: int, seconds: float) -> float:
    context = multiprocessing.get_context("spawn")  # no inherited connections or caches
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_parallel_worker, args=(url, seconds, barrier, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    rates = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(rates)


def persisted_parallel(pg_url: str, *, quick: bool = False, processes: int | None = None) -> list[dict[str, Any]]:
    """The persisted figure with one process per core on PostgreSQL (SQLite has one writer: more only queue)."""
    processes = processes or os.cpu_count() or 2
    seconds = 3 if quick else 15
    figures = []
    for backend, url in backends(pg_url):
        if backend != "postgresql":
            continue
        raw_rate = _parallel_rate(None, processes, seconds)
        runtime = fresh_runtime(url)
        _deploy(runtime, THREE_TASKS)
        runtime.engine.dispose()
        rate = _parallel_rate(url, processes, seconds)
        figures.append({"figure": "persisted_parallel", "database": backend, "processes": processes,
                        "instances_per_s": round(rate, 1), "raw_engine_per_s": round(raw_rate, 1),
                        "ratio_to_raw": round(rate / raw_rate, 2),
                        "steps": "start + 3 completions, each its own transaction; the raw engine in as many "
                                 "processes"})
    return figures


# --- long case ---------------------------------------------------------------------------------------------


def long_case(*, quick: bool = False, rounds: int = 5000) -> list[dict[str, Any]]:
    rounds = 500 if quick else rounds
    folder = tempfile.mkdtemp(prefix="kimflow-bench-")
    runtime = fresh_runtime(f"sqlite:///{folder}/long.db")
    _deploy(runtime, LOOP)
    with runtime.command(ADMIN) as ctx:
        instance_id = instances.start(ctx, key="wiedervorlage_loop", variables_in={"abgeschlossen": False}).id
    timings: dict[int, list[float]] = {50: [], rounds: []}
    sizes: dict[int, int] = {}
    for round_number in range(1, rounds + 1):
        started = time.perf_counter()
        for _ in range(2):
            with runtime.command(ADMIN) as ctx:
                (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id), limit=1)
                human_tasks.complete(ctx, task.id)
        elapsed = (time.perf_counter() - started) / 2
        for mark, values in timings.items():
            if mark - 20 < round_number <= mark:
                values.append(elapsed)
        if round_number in timings:
            with runtime.command() as ctx:
                sizes[round_number] = len(ctx.session.get(schema.ProcessInstance, instance_id).engine_state)
    early, late = statistics.median(timings[50]), statistics.median(timings[rounds])
    return [{"figure": "long_case", "rounds": rounds, "step_ms_round_50": round(early * 1000, 2),
             f"step_ms_round_{rounds}": round(late * 1000, 2), "time_ratio": round(late / early, 2),
             "state_bytes_round_50": sizes[50], f"state_bytes_round_{rounds}": sizes[rounds],
             "size_ratio": round(sizes[rounds] / sizes[50], 2), "database": "sqlite",
             "model": "two user tasks in a loop (Wiedervorlage)"}]
