"""`make bench`: every benchmark of the project, one JSON line per figure (see README, Performance)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

from tests.benchmarks import bench_engine, bench_queries, bench_timers, bench_web

PG_URL = os.environ.get("KIMFLOW_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def machine() -> dict[str, object]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "system": platform.system()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument("--only", nargs="*", help="names of benchmarks to run")
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke run)")
    args = parser.parse_args()
    print(json.dumps({"figure": "machine", **machine()}), flush=True)
    suites = {
        "raw_engine": lambda: bench_engine.raw_engine(quick=args.quick),
        "persisted": lambda: bench_engine.persisted(PG_URL, quick=args.quick),
        "persisted_parallel": lambda: bench_engine.persisted_parallel(PG_URL, quick=args.quick),
        "long_case": lambda: bench_engine.long_case(quick=args.quick),
        "task_query": lambda: bench_queries.task_query(PG_URL, quick=args.quick),
        "inbox_page": lambda: bench_web.inbox_page(PG_URL, quick=args.quick),
        "timers_burst": lambda: bench_timers.timers_burst(PG_URL, quick=args.quick),
        "timer_lateness": lambda: bench_timers.timer_lateness(PG_URL, quick=args.quick),
    }
    for name, run in suites.items():
        if args.only and name not in args.only:
            continue
        for figure in run():
            print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    sys.exit(main())
