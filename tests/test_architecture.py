"""House rules that keep the layers apart."""

from __future__ import annotations

import ast
from pathlib import Path

from workflows.settings import settings_markdown

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_ENGINE = ("flask", "apscheduler", "werkzeug", "service")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_layer_never_imports_the_web_framework_or_the_scheduler() -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & set(FORBIDDEN_IN_ENGINE))
                 for p in (ROOT / "workflows").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_engine_layer_never_reads_the_wall_clock() -> None:
    offenders = []
    for path in (ROOT / "workflows").rglob("*.py"):
        if path.name == "clock.py":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


def test_spiffworkflow_is_wrapped_in_one_place() -> None:
    allowed = {"engine"}
    offenders = []
    for path in (ROOT / "workflows").rglob("*.py"):
        relative = path.relative_to(ROOT / "workflows")
        if relative.parts[0] in allowed:
            continue
        if "SpiffWorkflow" in _imports(path):
            offenders.append(str(relative))
    assert offenders == []


def test_the_readme_shows_the_configuration_table_as_kimflow_settings_prints_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_markdown() in readme, "run `kimflow settings` and paste its table into the README"
