"""Values that JSON has no type for (dates, durations, decimals...) persist in engine state and come back as
the same Python type; the projection and the API show them as Camunda would."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from service.runtime import Runtime
from tests.conftest import ADMIN, deploy
from tests.engine_harness import Harness
from workflows import execution, human_tasks, instances, variables
from workflows.durations import Duration
from workflows.engine.serializer import dump_state, load_state
from workflows.feel_functions import YearsMonths

EXPECTED = {
    "antragsdatum": date(2026, 3, 31),
    "eingang": datetime(2026, 3, 31, 7, 30, tzinfo=UTC),
    "ende": date(2026, 4, 28),
    "dauer": Duration(months=1, days=2, seconds=10800.0),
    "abstand": timedelta(days=3),
    "liste": [date(2026, 3, 31), {"bis": date(2026, 4, 28)}],
}


@pytest.mark.parametrize("restore", [False, True], ids=["straight", "save_restore"])
def test_a_script_stores_dates_and_durations(restore: bool) -> None:
    h = Harness("variable_types/werte.bpmn", "werte", restore=restore).start()
    assert h.ready() == ["pruefen"]
    assert h.variables == EXPECTED
    assert all(type(h.variables[name]) is type(value) for name, value in EXPECTED.items())
    h.complete("pruefen", geprueft_am=date(2026, 4, 1))
    assert h.completed


@pytest.mark.parametrize("value", [
    date(2026, 2, 28), datetime(2026, 2, 28, 23, 59, 59, 123456, tzinfo=UTC), time(9, 30),
    timedelta(days=1, seconds=5, microseconds=7), Decimal("12.50"), Duration(years=1, negative=True),
    YearsMonths(14), {"nested": [Decimal("1.1"), date(2026, 1, 1)]},
])
def test_each_value_type_restores_as_itself(value: object) -> None:
    h = Harness("variable_types/werte.bpmn", "werte", restore=False).start()
    h.complete("pruefen", wert=value)
    assert h.workflow is not None
    restored = load_state(dump_state(h.workflow), h.bundle)
    assert restored.data["wert"] == value
    assert type(restored.data["wert"]) is type(value)


def test_dates_from_a_script_survive_the_command_and_show_in_the_api(runtime: Runtime) -> None:
    deploy(runtime, "variable_types")
    with runtime.command() as ctx:
        instance = instances.start(ctx, key="werte").id
    with runtime.command() as ctx:
        typed = instances.typed_variables(ctx, instance)
        assert typed is not None
        assert typed["antragsdatum"][1] == "Date"
        assert typed["ende"][0].date() == date(2026, 4, 28)
        loaded = execution.load(ctx, instance)
        assert loaded is not None
        assert variables.of(loaded.workflow)["ende"] == date(2026, 4, 28)
    with runtime.command(ADMIN) as ctx:
        (task,) = human_tasks.find(ctx, human_tasks.TaskQuery(instance_id=instance))
        human_tasks.complete(ctx, task.id, {"geprueft": True})
    with runtime.command() as ctx:
        assert instances.get(ctx, instance).state == "completed"  # type: ignore[union-attr]
