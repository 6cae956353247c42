"""Fallmanagement cases for the demo (bpmn/fallmanagement.bpmn): new contacts, people outside the target group,
consent, assessment, Hilfeplan goals with Wiedervorlagen, monthly contacts (and cases where contact stopped),
referrals to the Jobcenter, the Ausländerbehörde and the Einbürgerungsbehörde, a withdrawn consent, closures."""

from __future__ import annotations

from typing import Any

from workflows.demo.story import CaseFile, Story

# (kind, days before today that the case began); the kind says where the story leaves the case
CASES: tuple[tuple[str, int], ...] = (
    ("nicht_zielgruppe", 3), ("nicht_zielgruppe_erledigt", 150), ("nicht_zielgruppe_erledigt", 60),
    ("erstkontakt", 4), ("erstkontakt", 19), ("assessment", 12), ("assessment", 45), ("hilfeplan", 26),
    ("begleitung", 205), ("begleitung", 150), ("begleitung", 95), ("begleitung", 70),
    ("ueberfaellig", 170), ("ueberfaellig", 125), ("kein_kontakt", 97), ("kein_kontakt", 128),
    ("verweisung_jobcenter", 45), ("verweisung_abh", 80), ("verweisung_ebh", 65), ("widerruf", 90),
    ("evaluation", 140), ("abgeschlossen:ziele_erreicht", 230), ("abgeschlossen:regelsystem", 212),
    ("abgeschlossen:umzug", 185), ("abgeschlossen:abbruch", 160),
)
ANLIEGEN = ("Sprachkurs und Arbeit", "Anerkennung des Berufsabschlusses als Pflegefachkraft", "Wohnungssuche",
            "Schulplatz für die Kinder und Kita", "Aufenthalt klären und Arbeit finden",
            "Unterstützung bei Anträgen (Bürgergeld, Kindergeld)", "Ausbildungsplatz finden",
            "Gesundheitliche Versorgung und Therapieplatz")
ZUGANG = ("selbst", "jobcenter", "sozialamt", "jugendamt", "abh", "schule", "beratungsstelle")
ZWECK = {"jobcenter": "Vermittlung in Arbeit und Leistungen", "sozialamt": "Leistungen nach dem AsylbLG",
         "jugendamt": "Hilfen für die Kinder", "kurstraeger": "Anmeldung zum Integrationskurs",
         "abh": "Bleiberecht prüfen", "ebh": "Einbürgerung beraten"}
ZIELE = (("Anmeldung zum Integrationskurs", "sprache", "die Person"),
         ("Arbeitsstelle oder Ausbildungsplatz finden", "arbeit", "Jobcenter"),
         ("Wohnung mit eigenem Mietvertrag", "wohnen", "die Person"),
         ("Anerkennungsverfahren beginnen", "bildung", "Fallmanagerin"),
         ("Kita-Platz für das jüngste Kind", "familie", "Jugendamt"),
         ("Hausärztliche Versorgung sichern", "gesundheit", "die Person"))
VERMERKE = ("Gespräch im Büro, Unterlagen gesichtet.", "Telefonat: Kurs läuft, Termin beim Jobcenter vereinbart.",
            "Hausbesuch, Familie gut angekommen.", "Videotermin mit Dolmetscherin.",
            "Person berichtet von Fortschritten im Sprachkurs.", "Bewerbungen gemeinsam geschrieben.")


def story(c: CaseFile) -> Story:
    """A case from the first contact to where its kind leaves it."""
    o, fm = c.office, c.staff.fm
    eligible = not c.kind.startswith("nicht_zielgruppe")
    c.instance = o.start(fm, "fallmanagement", _erstkontakt(c, eligible))
    if not eligible:
        yield from _outside_target_group(c)
        return
    if c.kind == "erstkontakt":
        return
    yield c.rng.uniform(2, 5)
    partners = _partners(c)
    o.submit(fm, c.instance, "einwilligung_einholen", {
        "einwilligung_partner": partners, "einwilligung_zweck": {p: ZWECK[p] for p in partners},
        "einwilligung_form": c.rng.choice(("schriftlich", "elektronisch")), "einwilligung_datum": o.today()})
    if c.kind == "assessment":
        return
    yield c.rng.uniform(6, 12)
    o.submit(fm, c.instance, "assessment", _assessment(c))
    if c.kind == "hilfeplan":
        return
    yield c.rng.uniform(4, 9)
    o.submit(fm, c.instance, "hilfeplan_erstellen", {"ziele": _goals(c)})
    yield from _accompany(c)


def _erstkontakt(c: CaseFile, eligible: bool) -> dict[str, Any]:
    person, o = c.who, c.office
    moved_in = -c.rng.randint(90, 900) if eligible else -c.rng.randint(1200, 3000)
    return {"aktenzeichen": c.aktenzeichen, "person_name": person.name, "geburtsdatum": person.born.isoformat(),
            "anschrift": person.address, "erstkontakt_datum": o.today(), "zugangsweg": c.rng.choice(ZUGANG),
            "zuwanderungsgeschichte": True, "wohnsitz_seit": o.today(moved_in), "anderes_fallmanagement": False,
            "zugang_regelsystem": False, "anliegen": c.rng.choice(ANLIEGEN)}


def _outside_target_group(c: CaseFile) -> Story:
    if c.kind == "nicht_zielgruppe_erledigt":
        yield c.rng.uniform(1, 3)
        c.office.submit(c.staff.fm, c.instance, "an_regelsystem_verweisen", {
            "verweisung_stelle": c.rng.choice(("jobcenter", "migrationsberatung", "sozialamt")),
            "abschlussgrund": "regelsystem", "abgeschlossen_am": c.office.today(),
            "verweisung_hinweis": "Seit mehr als drei Jahren im Kreis: Migrationsberatung für Erwachsene."})


def _partners(c: CaseFile) -> list[str]:
    """Consent for one to three partners, always for the one the story refers to or withdraws later."""
    chosen = set(c.rng.sample(["jobcenter", "sozialamt", "jugendamt", "kurstraeger"], c.rng.randint(1, 3)))
    needed = {"verweisung_abh": "abh", "verweisung_ebh": "ebh", "verweisung_jobcenter": "jobcenter",
              "widerruf": "jobcenter"}.get(c.kind)
    return sorted(chosen | ({needed} if needed else set()))


def _assessment(c: CaseFile) -> dict[str, Any]:
    status = c.rng.choice(("duldung", "gestattung", "aufenthaltserlaubnis", "chancen_104c", "fiktion"))
    if c.kind == "verweisung_ebh":
        status = "aufenthaltserlaubnis"
    return {"lebensbereiche_bedarf": sorted(c.rng.sample(["sprache", "arbeit", "wohnen", "bildung", "familie",
                                                          "leistungen", "gesundheit"], 3)),
            "aufenthaltsstatus": status, "aufenthalt_gueltig_bis": c.office.today(c.rng.randint(60, 500)),
            "sprachniveau": c.rng.choice(("keine", "A1", "A2", "B1")), "kinder_im_haushalt": str(c.rng.randint(0, 4)),
            "assessment_notiz": "Erstgespräch mit Dolmetscherin; Ziele gemeinsam besprochen."}


def _goals(c: CaseFile) -> list[dict[str, str]]:
    goals = []
    for ziel, bereich, wer in c.rng.sample(ZIELE, c.rng.randint(1, 3)):
        review = c.rng.randint(14, 60)
        goals.append({"ziel": ziel, "lebensbereich": bereich, "verantwortlich": wer,
                      "faellig_am": c.office.today(review + c.rng.randint(30, 120)),
                      "wiedervorlage_am": c.office.today(review)})
    return goals


# --- accompanying the case: contacts, goals, referrals, closure ---------------------------------------------


def _accompany(c: CaseFile) -> Story:
    kind = c.kind.split(":")[0]
    if kind == "kein_kontakt":
        return
    if kind in ("begleitung", "ueberfaellig", "evaluation", "abgeschlossen", "widerruf"):
        stop = {"ueberfaellig": 55, "evaluation": 6, "widerruf": 5, "abgeschlossen": 200}.get(kind, 0)
        yield from _monthly_contacts(c, stop_days_before_today=stop, at_most=3 if kind == "abgeschlossen" else 99)
    yield from {"verweisung_jobcenter": _refer_to_partner, "verweisung_abh": _refer_to_abh,
                "verweisung_ebh": _refer_to_ebh, "widerruf": _withdraw, "evaluation": _evaluate,
                "abgeschlossen": _close}.get(kind, _nothing)(c)


def _nothing(c: CaseFile) -> Story:
    yield from ()


def _monthly_contacts(c: CaseFile, *, stop_days_before_today: int, at_most: int) -> Story:
    done = 0
    while done < at_most and c.days_left() - 30 > stop_days_before_today:
        yield c.rng.uniform(24, 33)
        _tidy(c)
        c.office.submit(c.staff.fm, c.instance, "fall_begleiten", {
            "naechster_schritt": "kontakt", "kontakt_datum": c.office.today(),
            "kontakt_art": c.rng.choice(("persoenlich", "telefon", "video")),
            "kontakt_vermerk": c.rng.choice(VERMERKE)})
        done += 1


def _tidy(c: CaseFile) -> None:
    """What the Fallmanagerin sees first: a Hilfeplan review that came due, goals whose Wiedervorlage arrived."""
    o, fm = c.office, c.staff.fm
    if o.has(c.instance, "hilfeplan_erstellen"):
        o.submit(fm, c.instance, "hilfeplan_erstellen", {"ziele": _goals(c)})
    for task in o.tasks(fm, "ziel_verfolgen", instance_id=c.instance, follow_up_before=o.clock.now()):
        if c.rng.random() < 0.6:
            o.submit_task(fm, task.id, {"ziel_stand": c.rng.choice(("erreicht", "teilweise")),
                                        "ziel_vermerk": "Beim letzten Kontakt besprochen."})


def _hub(c: CaseFile, values: dict[str, Any]) -> None:
    _tidy(c)
    c.office.submit(c.staff.fm, c.instance, "fall_begleiten", values)


def _refer_to_partner(c: CaseFile) -> Story:
    yield max(1.0, c.days_left() - 3)
    _hub(c, {"naechster_schritt": "verweisung", "verweisung_partner": "jobcenter",
             "verweisung_anliegen": "Vermittlung in eine Teilzeitstelle im Lager, Kinderbetreuung ist geklärt."})


def _refer_to_abh(c: CaseFile) -> Story:
    yield c.rng.uniform(5, 10)
    _hub(c, {"naechster_schritt": "verweisung", "verweisung_partner": "abh",
             "verweisung_anliegen": "Die Person ist seit vier Jahren geduldet und in Ausbildung: Bleiberecht prüfen."})
    yield c.rng.uniform(3, 6)
    o, person = c.office, c.who
    referred = o.referred_case("bleiberecht", c.aktenzeichen)
    o.submit(c.staff.abh, referred, "verweisung_annehmen", {
        "aktenzeichen": c.notes["abh_aktenzeichen"], "person_name": person.name,
        "geburtsdatum": person.born.isoformat(), "aufenthaltsstatus": "duldung", "antrag_liegt_vor": True,
        "antragsdatum": o.today(-2), "antragsart": "25a", "verlaengerung": False})


def _refer_to_ebh(c: CaseFile) -> Story:
    yield c.rng.uniform(5, 10)
    _hub(c, {"naechster_schritt": "verweisung", "verweisung_partner": "ebh",
             "verweisung_anliegen": "Seit acht Jahren mit Niederlassungserlaubnis hier: Beratung zur Einbürgerung."})
    yield c.rng.uniform(2, 4)
    o, person = c.office, c.who
    referred = o.referred_case("einbuergerung", c.aktenzeichen)
    o.submit(c.staff.ebh, referred, "verweisung_annehmen", {
        "aktenzeichen": c.notes["ebh_aktenzeichen"], "person_name": person.name,
        "geburtsdatum": person.born.isoformat(), "beratungsdatum": o.today(7)})
    yield 7
    o.submit(c.staff.ebh, referred, "beratung_durchfuehren", {
        "beratung_ergebnis": "kein_antrag",
        "beratung_vermerk": "Person möchte erst den B1-Test ablegen und dann den Antrag stellen."})


def _withdraw(c: CaseFile) -> Story:
    yield max(1.0, c.days_left() - 5)
    c.office.correlate(c.staff.fm, "einwilligung_widerrufen", c.aktenzeichen, {"widerruf_partner": ["jobcenter"]})


def _evaluate(c: CaseFile) -> Story:
    yield max(1.0, c.days_left() - 6)
    _hub(c, {"naechster_schritt": "evaluation"})


def _close(c: CaseFile) -> Story:
    yield c.rng.uniform(5, 20)
    _hub(c, {"naechster_schritt": "evaluation"})
    yield c.rng.uniform(2, 6)
    c.office.submit(c.staff.fm, c.instance, "evaluation", {
        "zielerreichung": c.rng.choice(("erreicht", "teilweise")), "evaluation_ergebnis": "abschliessen"})
    yield c.rng.uniform(1, 3)
    c.office.submit(c.staff.fm, c.instance, "fallabschluss", {
        "abschlussgrund": c.kind.split(":")[1], "abgeschlossen_am": c.office.today(),
        "abschluss_vermerk": "Abschlussgespräch geführt."})
