"""Parallel joins fire exactly once, when the last branch arrives, however the branches' arrivals are spread over
commands (and saves): at top level, inside an embedded subprocess and round after round in a loop."""

from __future__ import annotations

from itertools import permutations

import pytest

from tests.engine_harness import Harness
from workflows.engine.serializer import dump_state

MODEL = "parallel_joins/parallel_joins.bpmn"


@pytest.fixture(params=["straight", "save_restore"])
def restore(request: pytest.FixtureRequest) -> bool:
    return request.param == "save_restore"


def _orders(branches: int) -> list[tuple[str, ...]]:
    """In order, in reverse, and one shuffled order: enough to put every branch first and last once."""
    names = [f"b{i}" for i in range(1, branches + 1)]
    return [tuple(names), tuple(reversed(names)), next(p for p in permutations(names) if p[0] == names[1])]


def _complete_branches(h: Harness, order: tuple[str, ...]) -> None:
    """Complete one branch per command; the join waits until the last one."""
    for done, element in enumerate(order, start=1):
        assert "danach" not in h.ready(), f"the join fired after {done - 1} of {len(order)} branches"
        h.complete(element, **{f"von_{element}": True})
        assert sorted(h.ready()) == sorted(order[done:]) + (["danach"] if done == len(order) else [])


@pytest.mark.parametrize("branches", [2, 3, 4])
@pytest.mark.parametrize("where", ["", "_subprocess"])
def test_a_join_fires_once_after_its_last_branch(restore: bool, branches: int, where: str) -> None:
    for order in _orders(branches):
        h = Harness(MODEL, f"join_{branches}{where}", restore=restore).start()
        _complete_branches(h, order)
        assert h.ready() == ["danach"]
        assert h.history().count("join") == 1
        assert {f"von_{b}" for b in order} <= set(h.variables)  # every branch's data went through the join
        h.complete("danach")
        assert h.completed


@pytest.mark.parametrize("branches", [2, 3, 4])
def test_a_join_in_a_loop_fires_once_per_round(restore: bool, branches: int) -> None:
    h = Harness(MODEL, f"join_{branches}_loop", restore=restore).start(fertig=False)
    orders = _orders(branches)
    sizes = []
    for round_number in range(12):
        _complete_branches(h, orders[round_number % len(orders)])
        assert h.history().count("join") == round_number + 1
        h.complete("danach")
        sizes.append(len(dump_state(h.workflow)))  # type: ignore[arg-type]
    assert max(sizes[3:]) <= 1.2 * sizes[2], sizes  # the join's leftovers do not pile up
    _complete_branches(h, orders[0])
    h.complete("danach", fertig=True)
    assert h.completed


def test_an_earlier_rounds_arrival_does_not_count_when_the_loop_returns_in_the_same_command(restore: bool) -> None:
    """Round 1: B arrives, then A fires the join; round 2 starts in that same command and A skips its task, so
    A arrives at once. B's arrival from round 1 must not let the join fire without B of round 2."""
    h = Harness(MODEL, "join_skip_loop", restore=restore).start(warten=True, fertig=False)
    assert h.ready() == ["a_task", "b_task"]
    h.complete("b_task")
    h.complete("a_task", warten=False)
    assert h.ready() == ["b_task"]
    assert h.history().count("join") == 1
    h.complete("b_task", fertig=True)
    assert h.history().count("join") == 2
    assert h.completed
