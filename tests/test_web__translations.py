"""Every German text of the web app has its English translation, and the compiled catalogue is current."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "service" / "translations" / "en" / "LC_MESSAGES"


def _texts_in_code() -> set[str]:
    method_map = [("service/**.py", "python"), ("service/templates/**.html", "jinja2")]
    found = extract_from_dir(str(ROOT), method_map=method_map, keywords={"_": None, "gettext": None},
                             options_map={"service/templates/**.html": {}})
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


def test_every_text_is_translated_to_english() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    translated = {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}
    missing = sorted(_texts_in_code() - set(translated))
    assert missing == [], "run `make translations` and translate the new entries"


def test_the_compiled_catalogue_matches_the_source() -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        source = {m.id: m.string for m in read_po(handle) if m.id and m.string}
    with (CATALOGUE / "messages.mo").open("rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    assert compiled == source, "run `pybabel compile -d service/translations`"
