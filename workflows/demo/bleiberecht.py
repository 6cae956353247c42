"""Bleiberecht cases for the demo (bpmn/bleiberecht.bpmn, §25a/§25b AufenthG): new applications, missing documents
(requested, reminded, decided on the file), AZR and BZR checks that are answered, late or failing, decisions,
an Anhörung that waits for a statement, permits granted (now waiting for the Wiedervorlage before they expire)
and applications refused."""

from __future__ import annotations

from typing import Any

from workflows.demo.story import CaseFile, Story

CASES: tuple[tuple[str, int], ...] = (
    ("eingang", 2), ("nachforderung", 12), ("nachforderung_erinnert", 26), ("aktenlage", 45),
    ("pruefungen", 9), ("azr_erinnert", 35), ("azr_stoerung", 20), ("untaetig", 120),
    ("entscheidung", 30), ("entscheidung_spaet", 55), ("anhoerung", 40),
    ("erteilt", 210), ("erteilt", 170), ("erteilt", 100), ("abgelehnt", 190), ("abgelehnt", 130),
)
AGES = {"25a": (16, 25), "25b": (28, 55)}

VORAUSSETZUNGEN_25A = {
    "voraufenthalt_jahre": 4, "laengste_unterbrechung_monate": 0, "pass_erfuellt": True, "rolle": "jugendlich",
    "duldung_monate": 30, "schulbesuch_jahre": 3, "abschluss_anerkannt": False, "schulbefreiung": False,
    "integrationsprognose": True, "fdgo_bedenken": False, "in_ausbildung": True, "lebensunterhalt_gesichert": False,
    "taeuschung": False, "straftaten": False}
VORAUSSETZUNGEN_25B = {
    "voraufenthalt_jahre": 6.5, "laengste_unterbrechung_monate": 1, "pass_erfuellt": True,
    "minderjaehriges_kind": True, "unterbrechungen_anzahl": 1, "fdgo_erklaerung": True, "grundkenntnisse": True,
    "lebensunterhalt_ueberwiegend": True, "lebensunterhalt_ausnahme": False, "deutsch_a2": True,
    "schulbesuch_kinder": "nachgewiesen", "aktuelle_taeuschung": False, "ausweisungsinteresse": False}
AZR_STOERUNG = "AZR-Webservice antwortet nicht (HTTP 503 Service Unavailable)"


REFUSED = ("abgelehnt", "anhoerung")  # §25b applications without A2 German: refused after an Anhörung


def antragsart(kind: str, chance: float) -> str:
    """§25a for the young, §25b for adults; a refusal for want of A2 German is a §25b case."""
    return "25b" if kind in REFUSED or chance < 0.4 else "25a"


def story(c: CaseFile) -> Story:
    o, abh = c.office, c.staff.abh
    c.instance = o.start(abh, "bleiberecht", _antrag(c))
    if c.kind == "eingang":
        return
    yield c.rng.uniform(1, 3)
    if c.kind.startswith(("nachforderung", "aktenlage", "untaetig")):
        yield from _request_documents(c)
        if not o.has(c.instance, "voraussetzungen_erfassen"):
            return
    else:
        o.submit(abh, c.instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": True})
    if c.kind == "aktenlage":
        return
    yield c.rng.uniform(1, 4)
    o.submit(abh, c.instance, "voraussetzungen_erfassen", _voraussetzungen(c))
    yield from _checks(c)
    if not o.has(c.instance, "entscheidung_treffen") or c.kind.startswith("entscheidung"):
        return
    yield max(1.0, c.days_left() - 8) if c.kind == "anhoerung" else c.rng.uniform(2, 6)  # heard just now
    yield from (_hear_then_refuse(c) if c.kind in REFUSED else _grant(c))


def _antrag(c: CaseFile) -> dict[str, Any]:
    person, o = c.who, c.office
    before = 40 if c.kind == "entscheidung_spaet" else c.rng.randint(0, 6)  # received earlier, entered now
    return {"aktenzeichen": c.aktenzeichen, "person_name": person.name, "geburtsdatum": person.born.isoformat(),
            "anschrift": person.address, "antragsdatum": o.today(-before), "antragsart": c.notes["antragsart"],
            "verlaengerung": False, "aufenthaltsstatus": "duldung"}


def _request_documents(c: CaseFile) -> Story:
    o, abh = c.office, c.staff.abh
    o.submit(abh, c.instance, "vollstaendigkeit_pruefen", {
        "unterlagen_vollstaendig": False,
        "fehlende_unterlagen": sorted(c.rng.sample(["pass", "schulzeugnisse", "einkommensnachweise",
                                                    "meldebescheinigung"], 2))})
    yield c.rng.uniform(0.1, 0.3)
    o.submit(abh, c.instance, "unterlagen_nachfordern", {
        "nachforderung_datum": o.today(), "nachforderung_text": "Bitte reichen Sie die fehlenden Unterlagen ein."})
    if c.kind != "untaetig":
        return  # the deadline runs: reminder a week before, then the decision on the file (Aktenlage)
    yield c.rng.uniform(15, 20)
    o.submit(abh, c.instance, "unterlagen_eingang_abwarten", {"unterlagen_eingegangen": True,
                                                               "unterlagen_eingang_datum": o.today()})
    yield c.rng.uniform(1, 3)
    o.submit(abh, c.instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": True})


def _voraussetzungen(c: CaseFile) -> dict[str, Any]:
    if c.notes["antragsart"] == "25a":
        return {**VORAUSSETZUNGEN_25A, "voraufenthalt_jahre": c.rng.choice((3, 4, 5)),
                "duldung_monate": c.rng.randint(14, 48)}
    refused = c.kind in REFUSED
    return {**VORAUSSETZUNGEN_25B, "voraufenthalt_jahre": c.rng.choice((6, 7, 8)), "deutsch_a2": not refused,
            "minderjaehriges_kind": c.rng.random() < 0.6}


def _checks(c: CaseFile) -> Story:
    """The Ausländerzentralregister and the Bundeszentralregister answer (or not) as the kind says."""
    o = c.office
    if c.kind == "pruefungen":
        return
    if c.kind == "azr_stoerung":
        for retries in (2, 1, 0):
            yield 0.04
            o.fail(c.instance, "azr_abfrage", AZR_STOERUNG, retries=retries)
    elif c.kind != "azr_erinnert":
        yield c.rng.uniform(2, 6)
        o.answer(c.instance, "azr_abfrage", {"azr_ergebnis": "Duldung bestätigt, keine weiteren Eintragungen"})
    if c.kind == "untaetig":
        return  # the Bundeszentralregister is late: a reminder, and the §75 VwGO question to the Teamleitung
    yield c.rng.uniform(5, 12)
    o.answer(c.instance, "bzr_auskunft", {"bzr_eintraege": 0})


def _grant(c: CaseFile) -> Story:
    o, abh = c.office, c.staff.abh
    o.submit(abh, c.instance, "entscheidung_treffen", {
        "entscheidung": "erteilen", "atypisch": False, "entscheidung_begruendung": "Voraussetzungen erfüllt."})
    yield c.rng.uniform(3, 8)
    o.submit(abh, c.instance, "aufenthaltserlaubnis_erteilen", {
        "erteilungsdatum": o.today(), "befristung_monate": 36 if c.notes["antragsart"] == "25a" else 24})


def _hear_then_refuse(c: CaseFile) -> Story:
    o, abh = c.office, c.staff.abh
    reasons = "Mündliche Deutschkenntnisse auf Niveau A2 nicht nachgewiesen (§25b Abs. 1 S. 2 Nr. 4 AufenthG)."
    refuse = {"entscheidung": "ablehnen", "atypisch": False, "entscheidung_begruendung": reasons}
    o.submit(abh, c.instance, "entscheidung_treffen", refuse)
    yield c.rng.uniform(1, 3)
    o.submit(abh, c.instance, "anhoerung_durchfuehren", {"anhoerung_datum": o.today(), "anhoerung_gruende": reasons})
    if c.kind == "anhoerung":
        return
    yield 20  # the period for a statement ends unused: the decision comes back
    o.submit(abh, c.instance, "entscheidung_treffen", refuse)
    yield c.rng.uniform(1, 4)
    o.submit(abh, c.instance, "ablehnungsbescheid_erlassen", {
        "bescheid_datum": o.today(), "ablehnungsgruende": reasons, "rechtsbehelfsbelehrung": True})
