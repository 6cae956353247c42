"""Einbürgerung cases for the demo (bpmn/einbuergerung.bpmn, §10/§12a StAG): counselling appointments (one
missed), applications and fees, missing documents, the Regelanfrage at the Verfassungsschutz and the BZR and police
checks (answered, late, or failing at the police interface), a pending investigation, decisions, a ceremony ahead,
an Einbürgerungszusicherung, naturalisations and a refusal."""

from __future__ import annotations

from typing import Any

from workflows.demo.story import CaseFile, Story

CASES: tuple[tuple[str, int], ...] = (
    ("beratung", 3), ("beratung_versaeumt", 12), ("antrag", 10), ("gebuehr", 14), ("nachforderung", 20),
    ("regelanfrage", 35), ("vs_erinnert", 75), ("polizei_stoerung", 32), ("ermittlung", 130),
    ("entscheidung", 60), ("feier", 80), ("zusicherung", 150),
    ("eingebuergert", 220), ("eingebuergert", 175), ("abgelehnt", 160),
)
AGES = (19, 64)

VORAUSSETZUNGEN = {
    "aufenthalt_jahre": 6, "besondere_integration": False, "identitaet_geklaert": True, "bekenntnis_fdgo": True,
    "bekenntnis_verantwortung": True, "lebensunterhalt_ohne_sgb": True, "ausnahme_gastarbeiter": False,
    "vollzeit_monate": 24, "ehegatte_vollzeit_mit_kind": False, "sprachniveau": "B1", "einbuergerungstest_punkte": 25,
    "test_befreiung": "keine", "mehrehe": False, "mehrstaatigkeit": True, "ermittlungsverfahren_anhaengig": False,
    "menschenverachtendes_motiv": False, "verurteilungen": []}
POLIZEI_STOERUNG = "Schnittstelle der Kreispolizeibehörde: Zeitüberschreitung nach 30 s (Auskunftssystem gestört)"


def story(c: CaseFile) -> Story:
    o, ebh = c.office, c.staff.ebh
    late = 4 if c.kind == "beratung_versaeumt" else (8 if c.kind == "beratung" else 0)
    c.instance = o.start(ebh, "einbuergerung", _beratung(c, o.today(late)))
    if c.kind.startswith("beratung"):
        return
    yield 0.2
    o.submit(ebh, c.instance, "beratung_durchfuehren", {"beratung_ergebnis": "antrag_angekuendigt",
                                                         "beratung_vermerk": "Unterlagenliste ausgehändigt."})
    if c.kind == "antrag":
        return
    yield c.rng.uniform(3, 8)
    o.submit(ebh, c.instance, "antrag_erfassen", {"antragsdatum": o.today(), "aufenthaltstitel": "unbefristet",
                                                  "miteinbuergerung_minderjaehrig": False})
    if c.kind == "gebuehr":
        return
    yield c.rng.uniform(1, 3)
    o.submit(ebh, c.instance, "gebuehr_festsetzen", {"gebuehr_bescheid_datum": o.today()})
    yield c.rng.uniform(2, 5)
    if c.kind == "nachforderung":
        yield from _request_documents(c)
        return
    o.submit(ebh, c.instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": True})
    yield c.rng.uniform(1, 4)
    o.submit(ebh, c.instance, "voraussetzungen_erfassen", _voraussetzungen(c))
    yield from _checks(c)
    yield from _decide(c)


def _beratung(c: CaseFile, termin: str) -> dict[str, Any]:
    person = c.who
    return {"aktenzeichen": c.aktenzeichen, "person_name": person.name, "geburtsdatum": person.born.isoformat(),
            "anschrift": person.address, "beratungsdatum": termin, "staatsangehoerigkeit": person.nationality}


def _request_documents(c: CaseFile) -> Story:
    o, ebh = c.office, c.staff.ebh
    o.submit(ebh, c.instance, "vollstaendigkeit_pruefen", {"unterlagen_vollstaendig": False,
                                                            "fehlende_unterlagen": ["sprachnachweis"]})
    yield 0.1
    o.submit(ebh, c.instance, "unterlagen_nachfordern", {"nachforderung_datum": o.today(),
                                                         "nachforderung_text": "Zertifikat B1 (DTZ) fehlt."})


def _voraussetzungen(c: CaseFile) -> dict[str, Any]:
    values = {**VORAUSSETZUNGEN, "aufenthalt_jahre": c.rng.choice((5, 6, 7, 9, 12)),
              "mehrstaatigkeit": c.rng.random() < 0.7}
    if c.kind == "ermittlung":
        values["ermittlungsverfahren_anhaengig"] = True
    if c.kind == "abgelehnt":
        values["einbuergerungstest_punkte"] = 14
    if c.kind == "eingebuergert" and c.rng.random() < 0.5:
        values["verurteilungen"] = [{"art": "geldstrafe", "tagessaetze": 30, "erlassen": False,
                                     "tilgungsreif": False}]
    return values


def _checks(c: CaseFile) -> Story:
    """BZR and police answer within weeks; the Verfassungsschutz takes longer, or has not answered yet."""
    o = c.office
    if c.kind == "ermittlung":
        return  # the decision is suspended: the story ends with the monthly re-checks
    if c.kind == "polizei_stoerung":
        yield c.rng.uniform(3, 6)
        o.answer(c.instance, "bzr_auskunft", {"bzr_auskunft_ergebnis": "keine Eintragungen"})
        for retries in (2, 1, 0):
            yield 0.04
            o.fail(c.instance, "polizei_anfrage", POLIZEI_STOERUNG, retries=retries)
        return
    for topic, days in (("bzr_auskunft", (4, 12)), ("polizei_anfrage", (3, 10))):
        yield c.rng.uniform(*days)
        o.answer(c.instance, topic, {f"{topic}_ergebnis": "keine Erkenntnisse"})
    if c.kind in ("regelanfrage", "vs_erinnert"):
        return  # waiting for the Verfassungsschutz (after six weeks: a reminder the Teamleitung sees too)
    yield c.rng.uniform(10, 25)
    o.answer(c.instance, "vs_regelanfrage", {"vs_regelanfrage_ergebnis": "keine Erkenntnisse"})


def _decide(c: CaseFile) -> Story:
    o, ebh = c.office, c.staff.ebh
    if not o.has(c.instance, "entscheidung_treffen") or c.kind == "entscheidung":
        return
    yield c.rng.uniform(2, 6)
    if c.kind == "abgelehnt":
        yield from _hear_then_refuse(c)
        return
    zusicherung = c.kind == "zusicherung"
    o.submit(ebh, c.instance, "entscheidung_treffen", {
        "entscheidung": "einbuergern", "zusicherung_erforderlich": zusicherung,
        "entscheidung_begruendung": "Voraussetzungen nach §10 StAG erfüllt."})
    yield c.rng.uniform(2, 5)
    if zusicherung:
        o.submit(ebh, c.instance, "zusicherung_erteilen", {
            "zusicherung_datum": o.today(),
            "zusicherung_bedingung": f"Nachweis der Entlassung aus der {c.who.nationality}en Staatsangehörigkeit"})
        return
    yield from _ceremony(c)


def _ceremony(c: CaseFile) -> Story:
    o, ebh = c.office, c.staff.ebh
    days = (int(c.days_left()) + 10 if c.kind == "feier" else 14) + c.rng.randint(0, 4)  # "feier": still ahead
    o.submit(ebh, c.instance, "feier_terminieren", {"feier_termin": o.today(days), "feier_ort": "Rathaus, Ratssaal"})
    if c.kind == "feier":
        return
    yield days
    o.submit(ebh, c.instance, "urkunde_aushaendigen", {"feier_ergebnis": "ausgehaendigt", "bekenntnis_abgegeben": True,
                                                       "aushaendigung_datum": o.today()})
    yield c.rng.uniform(1, 3)
    for topic in ("meldebehoerde_mitteilung", "abh_mitteilung"):
        o.answer(c.instance, topic)


def _hear_then_refuse(c: CaseFile) -> Story:
    o, ebh = c.office, c.staff.ebh
    reasons = "Einbürgerungstest nicht bestanden (14 von 33 Punkten; §10 Abs. 1 S. 1 Nr. 7 StAG)."
    refuse = {"entscheidung": "ablehnen", "entscheidung_begruendung": reasons}
    o.submit(ebh, c.instance, "entscheidung_treffen", refuse)
    yield c.rng.uniform(1, 3)
    o.submit(ebh, c.instance, "anhoerung_durchfuehren", {"anhoerung_datum": o.today(), "anhoerung_gruende": reasons})
    yield 20
    o.submit(ebh, c.instance, "entscheidung_treffen", refuse)
    yield c.rng.uniform(1, 4)
    o.submit(ebh, c.instance, "ablehnungsbescheid_erlassen", {
        "bescheid_datum": o.today(), "ablehnungsgruende": reasons, "rechtsbehelfsbelehrung": True})
