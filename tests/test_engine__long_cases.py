"""Cases that run for years keep a flat per-step cost and a flat state (finished history leaves the engine)."""

from __future__ import annotations

import time

import pytest

from tests.engine_harness import Harness
from workflows.engine.serializer import dump_state


def _round(h: Harness) -> float:
    """CPU time of one round (two steps), so that other processes on the machine do not blur the figure."""
    started = time.process_time()
    h.complete("kontakt")
    h.complete("pruefen", abgeschlossen=False)
    return time.process_time() - started


def test_loop_runs_5000_rounds_at_flat_cost_and_size() -> None:
    h = Harness("loop/wiedervorlage_loop.bpmn", "wiedervorlage_loop", restore=True).start(abgeschlossen=False)
    timings: dict[int, list[float]] = {50: [], 5000: []}  # the 40 rounds up to each mark
    sizes: dict[int, int] = {}
    for round_number in range(1, 5001):
        elapsed = _round(h)
        for mark, values in timings.items():
            if mark - 40 < round_number <= mark:
                values.append(elapsed)
        if round_number in (50, 5000):
            sizes[round_number] = len(dump_state(h.workflow))  # type: ignore[arg-type]
    early, late = sorted(timings[50])[10], sorted(timings[5000])[10]  # lower quartiles of 40 rounds
    assert late <= 1.5 * early, (early, late)
    assert sizes[5000] <= 2 * sizes[50], sizes
    assert h.ready() == ["kontakt"]
    h.complete("kontakt")
    h.complete("pruefen", abgeschlossen=True)
    assert h.completed


def test_parallel_loop_with_boundary_cycle_stays_flat() -> None:
    h = Harness("long_cases/parallel_loop.bpmn", "parallel_loop", restore=True).start(fertig=False)
    sizes = []
    for round_number in range(300):
        assert h.ready() == ["kontakt", "ziel"], round_number
        if round_number % 3 == 0:
            h.wait(days=1, seconds=1)  # a reminder fires on the non-interrupting boundary timer
        h.complete("ziel")
        h.complete("kontakt")
        if round_number in (20, 299):
            sizes.append(len(dump_state(h.workflow)))  # type: ignore[arg-type]
    assert sizes[1] <= 2 * sizes[0], sizes
    h.complete("ziel")
    h.complete("kontakt", fertig=True)
    assert h.completed


def test_join_waits_for_both_branches_in_every_round() -> None:
    h = Harness("long_cases/parallel_loop.bpmn", "parallel_loop", restore=True).start(fertig=False)
    for _ in range(30):
        h.complete("kontakt")
        assert h.ready() == ["ziel"]  # an earlier round's branch must not satisfy this round's join
        h.complete("ziel")
        assert h.ready() == ["kontakt", "ziel"]


@pytest.mark.parametrize("restore", [False, True])
def test_loop_with_subprocess_multi_instance_and_event_subprocess(restore: bool) -> None:
    h = Harness("long_cases/nested_loop.bpmn", "nested_loop", restore=restore).start(
        fertig=False, partner_liste=["jobcenter", "sozialamt"])
    sizes = []
    for round_number in range(200):
        h.complete("r_task", runde=round_number)
        h.complete("partner")
        h.complete("partner")
        if round_number in (20, 199):
            sizes.append(len(dump_state(h.workflow)))  # type: ignore[arg-type]
            assert len(h.workflow.subprocesses) <= 2  # type: ignore[union-attr]
    assert sizes[1] <= 2 * sizes[0], sizes
    assert h.variables["runde"] == 199
    h.message("kontakt_abgebrochen")
    assert h.ready() == ["k_task", "r_task"]
    h.complete("k_task")
    h.complete("r_task")
    h.complete("partner")
    h.complete("partner", fertig=True)
    assert h.completed
