"""One variable scope per process, as in Camunda 7: what any path sets is a process variable.

Subprocesses hand back what all their branches set (not one branch's data); a path after a non-interrupting
boundary event and a non-interrupting event subprocess pass on what they set to the main path when they end.
Engine tests run straight through and with save/restore per step; the runtime tests read variables as the REST
API does (instances.get_variables) and run call activities, which are separate instances.
"""

from __future__ import annotations

from itertools import permutations

import pytest

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from tests.engine_harness import Harness
from workflows import human_tasks, instances, messages

SUBPROCESSES = "process_scope/subprocesses.bpmn"
NON_INTERRUPTING = "process_scope/non_interrupting.bpmn"


@pytest.fixture(params=["straight", "save_restore"])
def restore(request: pytest.FixtureRequest) -> bool:
    return request.param == "save_restore"


# --- embedded subprocesses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("order", list(permutations(["b1", "b2", "b3"])))
def test_a_subprocess_hands_back_what_every_branch_set(restore: bool, order: tuple[str, ...]) -> None:
    """Three branches end in their own end events, one after an exclusive gateway and a script."""
    h = Harness(SUBPROCESSES, "branches_end_apart", restore=restore).start(rechnen=True)
    for element in order:
        h.complete(element, **{f"von_{element}": element})
    assert h.ready() == ["danach"]
    expected = {"rechnen": True, "von_b1": "b1", "von_b2": "b2", "von_b3": "b3", "ergebnis": 42}
    assert h.variables == expected
    assert {k: h.ready_task("danach").data[k] for k in expected} == expected  # the parent's next task sees them


def test_a_terminate_end_event_keeps_what_the_cancelled_branches_set(restore: bool) -> None:
    h = Harness(SUBPROCESSES, "terminate_keeps_branches", restore=restore).start()
    h.complete("sichten", gesichtet="Pass, Meldebescheinigung")
    assert h.ready() == ["nachfassen", "zustaendigkeit"]
    h.complete("zustaendigkeit", zustaendig=False)
    assert h.ready() == ["danach"]
    assert h.variables == {"gesichtet": "Pass, Meldebescheinigung", "zustaendig": False}


# --- non-interrupting event subprocesses and boundary events -----------------------------------------------


def test_a_non_interrupting_event_subprocess_passes_its_variables_to_the_main_path(restore: bool) -> None:
    h = Harness(NON_INTERRUPTING, "scope_event_subprocess", restore=restore).start(adresse="Alt 1", hinweis="")
    h.message("adresse_geaendert")
    assert h.ready() == ["adresse_pruefen", "erfassen"]
    h.complete("adresse_pruefen", adresse="Neu 2", hinweis="eilig")
    assert h.variables == {"adresse": "Neu 2", "hinweis": "eilig"}
    h.complete("erfassen")
    assert h.ready() == ["eilig"]  # the gateway on the main path saw the event subprocess's variable
    assert h.ready_task("eilig").data["adresse"] == "Neu 2"


def test_an_event_subprocess_does_not_undo_a_later_change_on_the_main_path(restore: bool) -> None:
    h = Harness(NON_INTERRUPTING, "scope_event_subprocess", restore=restore).start(adresse="Alt 1", hinweis="")
    h.message("adresse_geaendert")
    h.complete("erfassen", adresse="Neu vom Hauptpfad")
    h.complete("adresse_pruefen", geprueft=True)
    assert h.variables == {"adresse": "Neu vom Hauptpfad", "hinweis": "", "geprueft": True}


def test_a_path_after_a_non_interrupting_boundary_passes_its_variables_to_the_main_path(restore: bool) -> None:
    h = Harness(NON_INTERRUPTING, "scope_boundary", restore=restore).start()
    h.message("nachfrage")
    assert h.ready() == ["antworten", "pruefen"]
    h.complete("pruefen")
    assert h.waiting() == ["bescheid_abwarten"]
    h.complete("antworten", antwort="ja")
    assert h.variables == {"antwort": "ja"}
    h.message("bescheid")  # the waiting event takes its data again when it fires: the answer must survive
    assert h.ready() == ["bewilligen"]


def test_a_boundary_path_that_ends_before_the_main_task_passes_its_variables_on(restore: bool) -> None:
    h = Harness(NON_INTERRUPTING, "scope_boundary", restore=restore).start()
    h.message("nachfrage")
    h.complete("antworten", antwort="ja")
    assert h.variables == {"antwort": "ja"}
    h.complete("pruefen")
    h.message("bescheid")
    assert h.ready() == ["bewilligen"]


# --- through the runtime: the REST variables and call activities -------------------------------------------


def _complete(runtime: Runtime, instance_id: str, element: str, **values: object) -> None:
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance_id, task_definition_key=element))
        human_tasks.complete(ctx, task.id, values)


def test_the_variables_api_shows_what_a_non_interrupting_event_subprocess_set(runtime: Runtime) -> None:
    deploy(runtime, "process_scope")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="scope_event_subprocess", business_key="ABH-1",
                                   variables_in={"adresse": "Alt 1", "hinweis": ""}).id
    with runtime.command() as ctx:
        messages.correlate(ctx, "adresse_geaendert", business_key="ABH-1")
    _complete(runtime, instance, "adresse_pruefen", adresse="Neu 2")
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, instance) == {"adresse": "Neu 2", "hinweis": ""}
    _complete(runtime, instance, "erfassen")
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, instance) == {"adresse": "Neu 2", "hinweis": ""}


@pytest.mark.parametrize("zustaendig", [True, False])
def test_a_call_activity_gets_back_what_every_branch_of_the_child_set(runtime: Runtime, zustaendig: bool) -> None:
    deploy(runtime, "process_scope")
    with runtime.command() as ctx:
        parent = instances.start(ctx, key="scope_parent", variables_in={"aktenzeichen": "EB-1"}).id
        (child,) = instances.list_instances(ctx, super_instance_id=parent)
    _complete(runtime, child.id, "sichten", gesichtet="Pass")
    if zustaendig:
        _complete(runtime, child.id, "nachfassen", nachgefasst=True)
    _complete(runtime, child.id, "zustaendigkeit", zustaendig=zustaendig)
    with runtime.command() as ctx:
        assert instances.get(ctx, child.id).state == "completed"  # type: ignore[union-attr]
        variables = instances.get_variables(ctx, parent)
    expected = {"aktenzeichen": "EB-1", "gesichtet": "Pass", "zustaendig": zustaendig}
    assert variables == (expected | {"nachgefasst": True} if zustaendig else expected)
