"""The README stays true: every test its table "Rechtsregeln und ihre Tests" names exists, every legal decision
table appears in it, the kim_quartalszahlen worker contract lists the keys the model accepts, and the demo
accounts it prints are those config/demo.toml creates."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
LEGAL_TABLES = ("aufenthg_25a", "aufenthg_25b", "aufenthg_26", "stag_10", "stag_12a", "stag_37", "stag_38",
                "fallmanagement_zielgruppe", "einbuergerung_aktualitaet")


def _section(title: str) -> str:
    start = README.index(f"\n{title}\n")
    level = title.split(" ", 1)[0]
    end = README.find(f"\n{level} ", start + len(title) + 2)
    return README[start:end if end != -1 else None]


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_the_rules_table_names_exists() -> None:
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", _section("## Rechtsregeln und ihre Tests"))
    assert len(named) >= 60
    missing = [f"{file}::{name}" for file, name in named
               if not (ROOT / file).exists() or name not in _tests_in(ROOT / file)]
    assert missing == []


def test_every_row_of_the_rules_table_names_a_test() -> None:
    rows = [line for line in _section("## Rechtsregeln und ihre Tests").splitlines()
            if line.startswith("| ") and not line.startswith(("| Rechtsgrundlage", "| **"))]
    assert len(rows) >= 35
    assert [row for row in rows if "::test_" not in row] == []


def test_every_legal_decision_table_appears_in_the_rules_table() -> None:
    section = _section("## Rechtsregeln und ihre Tests")
    assert [key for key in LEGAL_TABLES if f"`{key}" not in section] == []


def test_the_worker_contract_lists_exactly_the_keys_the_model_keeps() -> None:
    tree = etree.parse(str(ROOT / "bpmn" / "kim_bericht.bpmn"))
    (script,) = [s.findtext("{*}script") for s in tree.iter("{*}scriptTask") if s.get("id") == "quartalszahlen_pruefen"]
    aufbau = ast.literal_eval(script.split("aufbau = ", 1)[1].split("\n}", 1)[0] + "\n}")
    expected = {key if parts is None else f"{key}.{part}" for key, parts in aufbau.items()
                for part in (parts or [None])}
    section = _section("### `kim_quartalszahlen`: the figures of the KIM quarterly report")
    example = ast.literal_eval(section.split("```json", 1)[1].split("```", 1)[0].replace("null", "None"))
    documented = {key if not isinstance(value, dict) else f"{key}.{part}" for key, value in example.items()
                  for part in (value if isinstance(value, dict) else [None])}
    assert documented == expected
    assert 'topic **`kim_quartalszahlen`**' in section
    assert all(name in section for name in ("`quartal`", "`quartal_beginn`", "`quartal_ende`"))


def test_the_demo_accounts_in_the_readme_are_those_the_demo_creates() -> None:
    config = tomllib.loads((ROOT / "config" / "demo.toml").read_text(encoding="utf-8"))
    rows = re.findall(r"^\| `([\w.]+)` \| `([^`]+)` \| (\w+) \| ([^|]*) \|", README, flags=re.MULTILINE)
    documented = {user: (password, role, sorted(re.findall(r"`([\w-]+)`", groups)))
                  for user, password, role, groups in rows}
    configured = {user: (config["password"], values["role"], sorted(values["groups"]))
                  for user, values in config["users"].items()}
    assert documented == configured
