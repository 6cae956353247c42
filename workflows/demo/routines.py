"""What happens in the office every week besides single cases: the Teamleitungen decide closure proposals and
document the "zureichender Grund" when a procedure runs past three months (§75 VwGO); the statistics service
delivers the quarter's figures for the KIM report (bpmn/kim_bericht.bpmn), and the Prozessverantwortliche
approve a report once the next quarter is well under way. Recent items stay open, so the inboxes show them."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from workflows.context import SYSTEM
from workflows.demo.story import CaseFile, Story

TOPIC = "kim_quartalszahlen"
GRUENDE_ABH = (("ausstehende_pruefungen", "Auskunft des Bundeszentralregisters steht noch aus; erinnert."),
               ("fehlende_unterlagen", "Pass wurde erst nach der Nachforderung vorgelegt."),
               ("voruebergehende_ueberlastung", "Zwei Stellen im Team sind seit dem Sommer unbesetzt."))
GRUENDE_EBH = (("ausstehende_pruefungen", "Die Regelanfrage beim Verfassungsschutz ist noch nicht beantwortet."),
               ("ermittlungsverfahren", "Ermittlungsverfahren der Staatsanwaltschaft anhängig (§12a Abs. 3 StAG)."),
               ("voruebergehende_ueberlastung", "Hohe Zahl an Anträgen seit der Reform; Termine sind vergeben."))


def teamleitung(c: CaseFile) -> Story:
    """Every Monday: proposals and §75 VwGO questions older than two weeks are decided and documented."""
    o, staff = c.office, c.staff
    while True:
        yield 7
        old = o.clock.now() - timedelta(days=14)
        for task in o.tasks(staff.fm_lead, "abschluss_vorschlagen", created_before=old):
            close = c.rng.random() < 0.5
            o.submit_task(staff.fm_lead, task.id, {
                "abschlussvorschlag": "abschliessen" if close else "weiterfuehren",
                "abschlussvorschlag_begruendung": "Mehrfach nicht erreichbar, Post kam zurück." if close
                else "Person war im Krankenhaus; Kontakt wieder aufgenommen."})
        for lead, gruende in ((staff.abh_lead, GRUENDE_ABH), (staff.ebh_lead, GRUENDE_EBH)):
            for task in o.tasks(lead, "zureichenden_grund_dokumentieren", created_before=old):
                grund, text = c.rng.choice(gruende)
                o.submit_task(lead, task.id, {"zureichender_grund": grund, "zureichender_grund_erlaeuterung": text,
                                              "zureichender_grund_massnahme": "Wiedervorlage in vier Wochen."})


def quarter_days(since: datetime, until: datetime, tz: str) -> list[datetime]:
    """06:00 local time on each first day of a quarter between the two moments (as the start timer would)."""
    zone = ZoneInfo(tz)
    day = since.astimezone(zone).date().replace(day=1)
    found = []
    while datetime.combine(day, time(6), zone) <= until:
        moment = datetime.combine(day, time(6), zone)
        if day.month in (1, 4, 7, 10) and moment >= since:
            found.append(moment.astimezone(ZoneInfo("UTC")))
        day = (day + timedelta(days=32)).replace(day=1)
    return found


def quarterly_report(c: CaseFile) -> Story:
    """A report the start timer would have begun on a quarter day before kimflow was deployed here."""
    c.instance = c.office.start(SYSTEM, "kim_bericht", {})
    yield from ()


def statistics_service(c: CaseFile) -> Story:
    """The statistics service's worker: once a day it delivers the figures every waiting report asks for."""
    while True:
        yield 1
        for instance in c.office.waiting_instances(TOPIC):
            c.office.answer(instance, TOPIC, {"quartalszahlen": figures(c.rng)})


def prozess(c: CaseFile) -> Story:
    """The Prozessverantwortliche approve a report when its quarter ended more than 100 days ago."""
    o = c.office
    while True:
        yield 7
        for task in o.tasks(c.staff.prozess, "quartalsbericht_pruefen"):
            ende = o.variables(task.instance_id).get("quartal_ende")
            if isinstance(ende, str) and ende < o.today(-100):
                o.submit_task(c.staff.prozess, task.id, {
                    "bericht_freigabe": "freigegeben",
                    "bericht_anmerkung": "Für die Lenkungsgruppe freigegeben; Verweisungen an Kursträger steigen."})


def figures(rng: random.Random) -> dict[str, object]:
    """Counts only, in the shape the model accepts (README: the kim_quartalszahlen worker contract)."""
    def some(low: int, high: int) -> int:
        return rng.randint(low, high)
    return {
        "faelle_eroeffnet": some(8, 20), "faelle_abgeschlossen": some(4, 12),
        "abschluesse_nach_grund": {"ziele_erreicht": some(2, 6), "regelsystem": some(0, 3),
                                   "anderes_fallmanagement": some(0, 1), "abbruch": some(0, 2), "umzug": some(0, 2),
                                   "einwilligung_widerrufen": some(0, 1), "kein_kontakt": some(0, 3)},
        "verweisungen_nach_partner": {"jobcenter": some(3, 9), "sozialamt": some(0, 4), "jugendamt": some(0, 3),
                                      "kurstraeger": some(2, 7), "abh": some(1, 4), "ebh": some(0, 3)},
        "entscheidungen_25a": {"erteilt": some(1, 4), "abgelehnt": some(0, 1)},
        "entscheidungen_25b": {"erteilt": some(1, 4), "abgelehnt": some(0, 2)},
        "einbuergerungen": some(6, 15),
        "median_dauer_tage": {"fallmanagement": some(120, 200), "aufenthalt_25a": some(45, 90),
                              "aufenthalt_25b": some(60, 120), "einbuergerung": some(150, 260)},
        "ueberschreitungen_drei_monate": {"abh": some(0, 3), "ebh": some(1, 6)},
    }
