"""Which names an instance shows as its variables (REST, case file): data objects are variables, as a process
owner reads the model; the locals of a multi-instance activity (element variable, loop counters) are not,
also not inside subprocesses."""

from __future__ import annotations

import pytest

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from tests.engine_harness import Harness
from workflows import human_tasks, instances, variables

MODEL = "visible_variables/visible_variables.bpmn"
MI_LOCALS = {"partner", "stelle", "loopCounter", "nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances"}


@pytest.fixture(params=["straight", "save_restore"])
def restore(request: pytest.FixtureRequest) -> bool:
    return request.param == "save_restore"


def test_a_data_object_is_a_variable_and_changing_it_reaches_the_tasks_that_read_it(restore: bool) -> None:
    h = Harness(MODEL, "einwilligungen_akte", restore=restore).start(partner_liste=["jobcenter", "jugendamt"])
    assert h.variables["einwilligungen"] == {"jobcenter": True, "jugendamt": True}
    h.act(lambda wf: variables.update(wf, {"einwilligungen": {"jobcenter": False, "jugendamt": True}}))
    assert h.variables["einwilligungen"] == {"jobcenter": False, "jugendamt": True}
    h.complete("pruefen")
    assert h.variables["erlaubt"] == ["jugendamt"]  # the script read the data object, not an old copy
    h.complete("sehen")
    assert h.completed
    assert h.variables["einwilligungen"] == {"jobcenter": False, "jugendamt": True}


def test_multi_instance_locals_inside_subprocesses_are_not_variables(restore: bool) -> None:
    h = Harness(MODEL, "beteiligung_im_teilprozess", restore=restore).start(
        partner_liste=["jobcenter", "jugendamt"], stellen=["a", "b"])
    assert h.ready() == ["beteiligen", "beteiligen"]
    assert not MI_LOCALS & set(h.variables)
    h.complete("beteiligen", rueckmeldung_jobcenter="ja")
    assert not MI_LOCALS & set(h.variables)
    h.complete("beteiligen")
    h.complete("abschluss")
    assert h.ready() == ["stelle_anfragen", "stelle_anfragen"]  # a multi-instance subprocess
    assert not MI_LOCALS & set(h.variables)
    h.complete("stelle_anfragen", angefragt=True)
    assert h.variables == {"partner_liste": ["jobcenter", "jugendamt"], "stellen": ["a", "b"],
                           "rueckmeldung_jobcenter": "ja", "angefragt": True}


def test_the_variables_api_lists_data_objects_and_can_change_them(runtime: Runtime) -> None:
    deploy(runtime, "visible_variables")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="einwilligungen_akte", variables_in={"partner_liste": ["jobcenter"]}).id
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, instance) == {"partner_liste": ["jobcenter"],
                                                          "einwilligungen": {"jobcenter": True}}
    with runtime.command(ADMIN) as ctx:
        instances.set_variables(ctx, instance, {"einwilligungen": {"jobcenter": False}}, reason="Widerruf")
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance))
        human_tasks.complete(ctx, task.id, {})
    with runtime.command() as ctx:
        assert instances.get_variables(ctx, instance) == {"partner_liste": ["jobcenter"], "erlaubt": [],
                                                          "einwilligungen": {"jobcenter": False}}
