"""User tasks: Camunda attributes, visibility by group, claim/unclaim, completion races, form validation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from service.runtime import Runtime
from tests.conftest import ADMIN, CASEWORKER, OTHER_CASEWORKER, SUPERVISOR, deploy
from workflows import audit, human_tasks, instances, schema
from workflows.clock import ManualClock
from workflows.context import Actor
from workflows.errors import ConflictError, NotFoundError, PermissionDeniedError

STARTER = Actor("erika", "caseworker", frozenset({"fm-team"}))


def _start_attributes(runtime: Runtime) -> str:
    deploy(runtime, "user_task_attributes")
    with runtime.command(STARTER) as ctx:
        return instances.start(ctx, key="attributes", variables_in={
            "tage": 14, "teams": ["ebh-team", "ebh-teamleitung"], "frist": "2026-02-01T12:00:00+01:00",
            "wiedervorlage": datetime(2026, 1, 20, 8, 0, tzinfo=UTC), "prio": 90}).id


def _only_task(runtime: Runtime) -> schema.HumanTask:
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery())
        return task


def test_literal_attributes(runtime: Runtime, clock: ManualClock) -> None:
    _start_attributes(runtime)
    task = _only_task(runtime)
    assert task.assignee == "erika"
    assert task.candidate_users == ["bernd", "tina"]
    assert task.candidate_groups == ["fm-team", "abh-team"]
    assert task.due_at == clock.now() + timedelta(days=3)
    assert task.follow_up_at == datetime(2026, 1, 7, 8, 0, tzinfo=UTC)  # 09:00 Berlin
    assert task.priority == 80
    assert task.description == "Bitte den Erstkontakt erfassen."
    assert task.properties == {"phase": "Zugang"}
    assert task.form == {"form_key": "camunda-forms:deployment:erstkontakt.form", "element_id": "literal"}


def test_expression_attributes_and_initiator(runtime: Runtime) -> None:
    _start_attributes(runtime)
    with runtime.command(ADMIN) as ctx:
        human_tasks.complete(ctx, _only_task(runtime).id)
    task = _only_task(runtime)
    assert task.name == "Frist 14 Tage"
    assert task.assignee == "erika"  # ${starter}, set by camunda:initiator
    assert task.candidate_groups == ["ebh-team", "ebh-teamleitung"]
    assert task.due_at == datetime(2026, 2, 1, 11, 0, tzinfo=UTC)
    assert task.follow_up_at == datetime(2026, 1, 20, 8, 0, tzinfo=UTC)
    assert task.priority == 90
    assert task.form["form_ref"] == "erstkontakt"  # type: ignore[index]


def test_form_data_fields_validate_submissions(runtime: Runtime) -> None:
    _start_attributes(runtime)
    for _ in range(2):
        with runtime.command(ADMIN) as ctx:
            human_tasks.complete(ctx, _only_task(runtime).id)
    task = _only_task(runtime)
    assert task.task_definition_key == "form_data"
    with runtime.command(ADMIN) as ctx:
        errors = human_tasks.submit_form(ctx, task.id, {"name": "A", "kinder": "99", "quelle": "x"})
    assert set(errors) == {"name", "kinder", "quelle"}
    assert _only_task(runtime).id == task.id  # nothing applied
    with runtime.command(ADMIN) as ctx:
        assert human_tasks.submit_form(ctx, task.id, {"name": "Ada", "kinder": "2", "quelle": "abh",
                                                      "einwilligung": "on"}) == {}
    with runtime.command(ADMIN) as ctx:
        assert human_tasks.find(ctx, human_tasks.TaskQuery()) == []


@pytest.mark.parametrize("minor", [False, True])
def test_form_conditions_see_the_process_variables(runtime: Runtime, clock: ManualClock, minor: bool) -> None:
    clock.set(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    deploy(runtime, "form_conditions")
    with runtime.command(ADMIN) as ctx:
        instances.start(ctx, key="form_conditions", variables_in={"minderjaehrig": minor})
    task = _only_task(runtime)
    with runtime.command(ADMIN) as ctx:
        errors = human_tasks.submit_form(ctx, task.id, {"name": "Ada", "termin": "09.03.2026"})
    expected = {"termin"} | ({"vertretung"} if minor else set())  # a passed date; Vertretung only for minors
    assert set(errors) == expected
    with runtime.command(ADMIN) as ctx:
        assert human_tasks.submit_form(ctx, task.id, {"name": "Ada", "termin": "10.03.2026", "vertretung": "Eltern"
                                                      }) == {}
        stored = instances.get_variables(ctx, task.instance_id) or {}
    assert stored.get("vertretung") == ("Eltern" if minor else None)  # a hidden field's value is not stored


def test_visibility_follows_groups_and_candidate_users(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        instances.start(ctx, key="three_tasks", business_key="FM-1")
    with runtime.command(CASEWORKER) as ctx:
        assert len(human_tasks.find(ctx, human_tasks.TaskQuery())) == 1
        assert human_tasks.count(ctx, human_tasks.TaskQuery()) == 1
    with runtime.command(OTHER_CASEWORKER) as ctx:
        task_id = _only_task(runtime).id
        assert human_tasks.find(ctx, human_tasks.TaskQuery()) == []
        assert human_tasks.get(ctx, task_id) is None
        with pytest.raises(NotFoundError):
            human_tasks.claim(ctx, task_id)
        with pytest.raises(NotFoundError):
            human_tasks.complete(ctx, task_id)


def test_claim_unclaim_and_conflicting_claims(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        instances.start(ctx, key="three_tasks")
    task_id = _only_task(runtime).id
    colleague = Actor("jonas", "caseworker", frozenset({"fm-team"}))
    with runtime.command(CASEWORKER) as ctx:
        human_tasks.claim(ctx, task_id)
    with runtime.command(colleague) as ctx, pytest.raises(ConflictError):
        human_tasks.claim(ctx, task_id)
    with runtime.command(colleague) as ctx, pytest.raises(PermissionDeniedError):
        human_tasks.complete(ctx, task_id)
    with runtime.command(colleague) as ctx:
        assert [t.id for t in human_tasks.find(ctx, human_tasks.TaskQuery(assignee="erika"))] == [task_id]
    with runtime.command(CASEWORKER) as ctx:
        human_tasks.unclaim(ctx, task_id)
    with runtime.command(colleague) as ctx:
        human_tasks.claim(ctx, task_id)
    with runtime.command(SUPERVISOR) as ctx:
        human_tasks.set_assignee(ctx, task_id, "erika", reason="Vertretung")
    with runtime.command() as ctx:
        kinds = [e.kind for e in audit.query(ctx, kinds=["task_claimed", "task_unclaimed", "task_assigned"])]
    assert kinds == ["task_claimed", "task_unclaimed", "task_claimed", "task_assigned"]


def test_follow_up_hides_a_task_until_its_date(runtime: Runtime, clock: ManualClock) -> None:
    _start_attributes(runtime)
    query = human_tasks.TaskQuery(follow_up_before_or_none=clock.now())
    with runtime.command(CASEWORKER) as ctx:
        assert human_tasks.find(ctx, query) == []
    later = human_tasks.TaskQuery(follow_up_before_or_none=datetime(2026, 1, 7, 8, 0, tzinfo=UTC))
    with runtime.command(CASEWORKER) as ctx:
        assert len(human_tasks.find(ctx, later)) == 1


def test_sorting_filtering_and_paging(runtime: Runtime, clock: ManualClock) -> None:
    deploy(runtime, "three_tasks")
    for number in range(5):
        clock.advance(minutes=1)
        with runtime.command() as ctx:
            instances.start(ctx, key="three_tasks", business_key=f"FM-{number}")
    with runtime.command(CASEWORKER) as ctx:
        newest_first = human_tasks.find(ctx, human_tasks.TaskQuery(sort_by=[("created", "desc")]), limit=2)
        assert [t.business_key for t in newest_first] == ["FM-4", "FM-3"]
        page = human_tasks.find(ctx, human_tasks.TaskQuery(sort_by=[("created", "asc")]), first=2, limit=2)
        assert [t.business_key for t in page] == ["FM-2", "FM-3"]
        assert [t.business_key for t in human_tasks.find(ctx, human_tasks.TaskQuery(business_key="FM-1"))] == [
            "FM-1"]
        assert human_tasks.count(ctx, human_tasks.TaskQuery(definition_key="three_tasks",
                                                            task_definition_key="task_a")) == 5


def test_second_completion_of_the_same_task_gets_a_plain_message(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks")
    task_id = _only_task(runtime).id
    with runtime.command(CASEWORKER) as ctx:
        human_tasks.complete(ctx, task_id, {"wer": "erika"})
    with runtime.command(CASEWORKER) as ctx, pytest.raises(NotFoundError) as caught:
        human_tasks.complete(ctx, task_id, {"wer": "nochmal"})
    assert "completed already" in str(caught.value)
    with runtime.command() as ctx:
        assert len(audit.for_instance(ctx, started.id, kinds=["task_completed"])) == 1
        assert instances.get_variables(ctx, started.id) == {"wer": "erika"}


def test_racing_completions_exactly_one_wins(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command() as ctx:
        started = instances.start(ctx, key="three_tasks")
    task_id = _only_task(runtime).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def work(name: str) -> None:
        barrier.wait()
        try:
            with runtime.command(Actor(name, "caseworker", frozenset({"fm-team"}))) as ctx:
                human_tasks.complete(ctx, task_id, {"wer": name})
            outcomes.append("won")
        except (ConflictError, NotFoundError):
            outcomes.append("lost")

    threads = [threading.Thread(target=work, args=(name,)) for name in ("erika", "jonas")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "won"]
    with runtime.command() as ctx:
        assert len(audit.for_instance(ctx, started.id, kinds=["task_completed"])) == 1
        assert [t.task_definition_key for t in human_tasks.find(ctx, human_tasks.TaskQuery())] == ["task_b"]


def test_start_and_completion_name_the_next_open_tasks(runtime: Runtime) -> None:
    deploy(runtime, "three_tasks")
    with runtime.command(ADMIN) as ctx:
        started = instances.start(ctx, key="three_tasks")
    (first,) = started.open_task_ids
    seen = [first]
    with runtime.command(ADMIN) as ctx:
        task_id = first
        for _ in range(2):
            (task_id,) = human_tasks.complete(ctx, task_id)
            assert human_tasks.get(ctx, task_id) is not None
            seen.append(task_id)
        assert human_tasks.complete(ctx, task_id) == []  # the case has ended
    assert len(set(seen)) == 3
