"""The deadline calendar against worked examples of §31 VwVfG NRW with §§187–193 BGB (pure unit tests).

Each example names the rule and shows the arithmetic. "Ereignis" = §187(1) (the event day does not count),
"Beginn" = §187(2) (the first day counts), "§193" = an end on Saturday, Sunday or a public holiday in NRW moves
to the next working day.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows import helpers, sandbox
from workflows.calendar import BusinessCalendar, CalendarConfigError, calendar_helpers, load_calendar, parse_calendar
from workflows.errors import ExpressionError, KimflowError

PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "config"
BERLIN = ZoneInfo("Europe/Berlin")
NRW = BusinessCalendar()
OFFICE = BusinessCalendar(yearly_closing_days=frozenset({(12, 24), (12, 31)}))
OFFICE_EXTENDING = BusinessCalendar(yearly_closing_days=frozenset({(12, 24), (12, 31)}),
                                    closing_days_extend_deadlines=True)


# --- §193: ends on public holidays and weekends ------------------------------------------------------------------


def test_period_ending_on_easter_monday_runs_to_tuesday() -> None:
    # Ereignis: Fri 06.03.2026 + 1 month = Mon 06.04.2026 (Ostermontag) -> §193 -> Tue 07.04.2026
    assert NRW.period_end(date(2026, 3, 6), "P1M") == date(2026, 4, 6)
    assert NRW.frist(date(2026, 3, 6), "P1M") == date(2026, 4, 7)


def test_two_weeks_from_a_saturday_ending_on_easter_saturday_skip_sunday_and_easter_monday() -> None:
    # Ereignis: Sat 21.03.2026 + 2 weeks = Sat 04.04.2026 -> Sun 05.04. -> Mon 06.04. is Ostermontag -> Tue 07.04.
    assert NRW.period_end(date(2026, 3, 21), "P2W") == date(2026, 4, 4)
    assert NRW.frist(date(2026, 3, 21), "P2W") == date(2026, 4, 7)


def test_period_ending_on_good_friday_skips_the_whole_easter_weekend() -> None:
    # Ereignis: Fri 20.03.2026 + 2 weeks = Fri 03.04.2026 (Karfreitag) -> Sat, Sun, Ostermontag -> Tue 07.04.2026
    assert NRW.frist(date(2026, 3, 20), "P2W") == date(2026, 4, 7)


def test_period_ending_on_fronleichnam_runs_to_friday_in_nrw_but_not_in_berlin() -> None:
    # Ereignis: Thu 21.05.2026 + 2 weeks = Thu 04.06.2026 (Fronleichnam, a holiday in NW) -> Fri 05.06.2026
    assert NRW.frist(date(2026, 5, 21), "P2W") == date(2026, 6, 5)
    # Berlin does not keep Fronleichnam: the same period ends on Thu 04.06.2026
    assert BusinessCalendar(subdivision="BE").frist(date(2026, 5, 21), "P2W") == date(2026, 6, 4)


def test_period_ending_on_tag_der_deutschen_einheit_on_a_friday_runs_to_monday() -> None:
    # Ereignis: Fri 05.09.2025 + 4 weeks = Fri 03.10.2025 (Tag der Deutschen Einheit) -> Sat, Sun -> Mon 06.10.2025
    assert NRW.holiday_name(date(2025, 10, 3)) == "Tag der Deutschen Einheit"
    assert NRW.frist(date(2025, 9, 5), "P4W") == date(2025, 10, 6)


def test_tag_der_deutschen_einheit_on_a_saturday_moves_only_as_far_as_monday() -> None:
    # Ereignis: Sat 05.09.2026 + 4 weeks = Sat 03.10.2026 (Saturday and holiday at once) -> Sun -> Mon 05.10.2026
    assert NRW.frist(date(2026, 9, 5), "P4W") == date(2026, 10, 5)


def test_period_ending_on_allerheiligen_runs_to_the_next_day_in_nrw_only() -> None:
    # Ereignis: Fri 01.10.2027 + 1 month = Mon 01.11.2027 (Allerheiligen, a holiday in NW) -> Tue 02.11.2027
    assert NRW.holiday_name(date(2027, 11, 1)) == "Allerheiligen"
    assert NRW.frist(date(2027, 10, 1), "P1M") == date(2027, 11, 2)
    # Niedersachsen does not keep Allerheiligen: Mon 01.11.2027 stands
    assert BusinessCalendar(subdivision="NI").frist(date(2027, 10, 1), "P1M") == date(2027, 11, 1)


def test_period_ending_at_christmas_runs_past_both_holidays_and_the_sunday() -> None:
    # Ereignis: Wed 25.11.2026 + 1 month = Fri 25.12.2026 (1. Weihnachtstag) -> Sat 26.12. (2. Weihnachtstag)
    # -> Sun 27.12. -> Mon 28.12.2026
    assert NRW.frist(date(2026, 11, 25), "P1M") == date(2026, 12, 28)


def test_period_ending_on_new_year_runs_to_monday() -> None:
    # Ereignis: Tue 01.12.2026 + 1 month = Fri 01.01.2027 (Neujahr) -> Sat, Sun -> Mon 04.01.2027
    assert NRW.frist(date(2026, 12, 1), "P1M") == date(2027, 1, 4)


def test_saturday_end_moves_to_monday() -> None:
    # Ereignis: Sat 07.03.2026 + 1 week = Sat 14.03.2026 -> Mon 16.03.2026
    assert NRW.frist(date(2026, 3, 7), "P1W") == date(2026, 3, 16)
    # Ereignis in days: Thu 05.03.2026 + 9 days = Sat 14.03.2026 -> Mon 16.03.2026
    assert NRW.frist(date(2026, 3, 5), "P9D") == date(2026, 3, 16)


def test_a_working_day_end_stays() -> None:
    # Ereignis: Tue 10.03.2026 + 1 month = Fri 10.04.2026, a working day: nothing moves
    assert NRW.frist(date(2026, 3, 10), "P1M") == date(2026, 4, 10)


# --- §188(2), §188(3): months, month ends, Beginnfrist ----------------------------------------------------------


def test_one_month_from_31_january_ends_on_the_last_day_of_february() -> None:
    # §188(3): Mon 31.01.2028 + 1 month -> there is no 31.02. -> Tue 29.02.2028 (leap year), a working day
    assert NRW.frist(date(2028, 1, 31), "P1M") == date(2028, 2, 29)
    # 2026: 31.01. + 1 month -> Sat 28.02.2026 -> §193 -> Mon 02.03.2026
    assert NRW.period_end(date(2026, 1, 31), "P1M") == date(2026, 2, 28)
    assert NRW.frist(date(2026, 1, 31), "P1M") == date(2026, 3, 2)


def test_a_year_from_29_february_ends_on_28_february() -> None:
    # §188(3): Thu 29.02.2024 + 1 year -> no 29.02.2025 -> Fri 28.02.2025
    assert NRW.frist(date(2024, 2, 29), "P1Y") == date(2025, 2, 28)


def test_beginnfrist_ends_a_day_earlier_than_ereignisfrist_for_the_same_input() -> None:
    # Ereignis: Tue 10.03.2026 + 1 month = Fri 10.04.2026
    # Beginn:   10.03.2026 counts, 1 month ends the day before Fri 10.04. = Thu 09.04.2026
    assert NRW.frist(date(2026, 3, 10), "P1M") == date(2026, 4, 10)
    assert NRW.frist(date(2026, 3, 10), "P1M", beginn=True) == date(2026, 4, 9)
    # In days: Ereignis 10.03. + 10 = Fri 20.03.2026; Beginn 10.03. + 10 - 1 = Thu 19.03.2026
    assert NRW.frist(date(2026, 3, 10), "P10D") == date(2026, 3, 20)
    assert NRW.frist(date(2026, 3, 10), "P10D", beginn=True) == date(2026, 3, 19)


def test_beginnfrist_of_a_calendar_month_ends_on_its_last_day() -> None:
    # Beginn: Sun 01.03.2026 + 1 month ends the day before 01.04. = Tue 31.03.2026
    assert NRW.frist(date(2026, 3, 1), "P1M", beginn=True) == date(2026, 3, 31)
    # Beginn: Tue 31.03.2026 + 1 month: "31.04." does not exist -> §188(3) -> Thu 30.04.2026 (not 29.04.)
    assert NRW.frist(date(2026, 3, 31), "P1M", beginn=True) == date(2026, 4, 30)
    # Beginn: 30.01.2027 + 1 month: neither "30.02." nor the day before it exists -> Sun 28.02.2027 -> Mon 01.03.
    assert NRW.period_end(date(2027, 1, 30), "P1M", beginn=True) == date(2027, 2, 28)
    assert NRW.frist(date(2027, 1, 30), "P1M", beginn=True) == date(2027, 3, 1)


def test_lebensalter_counts_the_birthday_and_is_not_moved_by_weekends() -> None:
    # §187(2) second sentence: born 10.03.2008, 18 years are complete at the end of 09.03.2026 (a Monday)
    assert NRW.period_end(date(2008, 3, 10), "P18Y", beginn=True) == date(2026, 3, 9)
    # born 29.02.2008: no 29.02.2026 -> §188(3) -> complete at the end of Sat 28.02.2026 (period_end, no §193)
    assert NRW.period_end(date(2008, 2, 29), "P18Y", beginn=True) == date(2026, 2, 28)


def test_untaetigkeitsklage_is_possible_after_three_months_from_the_application() -> None:
    # §75 VwGO: application received Thu 27.11.2025; Ereignis + 3 months = Fri 27.02.2026, over at 24:00,
    # so an action is admissible from Sat 28.02.2026 00:00 Europe/Berlin = Fri 27.02.2026 23:00 UTC
    assert NRW.frist(date(2025, 11, 27), "P3M") == date(2026, 2, 27)
    assert NRW.frist_ende(date(2025, 11, 27), "P3M") == datetime(2026, 2, 27, 23, 0, tzinfo=UTC)
    # application 30.11.2025 + 3 months: no 30.02. -> §188(3) -> Sat 28.02.2026
    assert NRW.period_end(date(2025, 11, 30), "P3M") == date(2026, 2, 28)


# --- the instant a deadline is over -----------------------------------------------------------------------------


def test_frist_ende_is_local_midnight_after_the_last_day_in_summer_and_winter() -> None:
    # last day Fri 05.06.2026 (CEST, UTC+2): over at Sat 06.06.2026 00:00 Berlin = Fri 05.06.2026 22:00 UTC
    assert NRW.frist_ende(date(2026, 5, 21), "P2W") == datetime(2026, 6, 5, 22, 0, tzinfo=UTC)
    # last day Mon 28.12.2026 (CET, UTC+1): over at Tue 29.12.2026 00:00 Berlin = Mon 28.12.2026 23:00 UTC
    assert NRW.frist_ende(date(2026, 11, 25), "P1M") == datetime(2026, 12, 28, 23, 0, tzinfo=UTC)


def test_frist_ende_never_falls_inside_the_last_day() -> None:
    # a timer due at frist_ende fires only when the whole last day (Fri 27.03.2026, before the clock change on
    # Sun 29.03.) is over: one microsecond earlier is still that day in Berlin
    end = NRW.frist_ende(date(2026, 3, 13), "P2W")
    assert (end - timedelta(microseconds=1)).astimezone(BERLIN).date() == date(2026, 3, 27)
    assert end.astimezone(BERLIN) == datetime(2026, 3, 28, 0, 0, tzinfo=BERLIN)
    assert end.tzinfo is UTC


# --- working days -----------------------------------------------------------------------------------------------


def test_add_working_days_skips_pfingstmontag_and_fronleichnam_like_the_escalation() -> None:
    # from Thu 28.05.2026: Fri 29. (1), Mon 01.06. (2), Tue 02. (3), Wed 03. (4), Thu 04. Fronleichnam, Fri 05. (5)
    assert NRW.add_working_days(date(2026, 5, 28), 5) == date(2026, 6, 5)
    # from Fri 22.05.2026: Sat, Sun, Mon 25.05. Pfingstmontag -> Tue 26.05.2026 is the first working day
    assert NRW.add_working_days(date(2026, 5, 22), 1) == date(2026, 5, 26)
    assert type(NRW.add_working_days(date(2026, 5, 28), 5)) is date


def test_negative_and_zero_working_days() -> None:
    # back from Fri 05.06.2026 by 5: Wed 03. (1), Tue 02. (2), Mon 01. (3), Fri 29.05. (4), Thu 28.05. (5)
    assert NRW.add_working_days(date(2026, 6, 5), -5) == date(2026, 5, 28)
    # back from Tue 26.05.2026 by 1: Pfingstmontag, Sun, Sat are skipped -> Fri 22.05.2026
    assert NRW.add_working_days(date(2026, 5, 26), -1) == date(2026, 5, 22)
    assert NRW.add_working_days(date(2026, 5, 28), 0) == date(2026, 5, 28)
    assert NRW.add_working_days(date(2026, 5, 23), 0) == date(2026, 5, 26)  # Saturday -> next working day


def test_next_working_day_and_holiday_names() -> None:
    assert NRW.next_working_day(date(2026, 6, 3)) == date(2026, 6, 3)
    assert NRW.next_working_day(date(2026, 4, 3)) == date(2026, 4, 7)  # Karfreitag -> Tue after Ostermontag
    assert NRW.holiday_name(date(2026, 6, 4)) == "Fronleichnam"
    assert NRW.holiday_name(date(2026, 6, 5)) is None
    assert not NRW.is_working_day(date(2026, 6, 6))  # Saturday


# --- closing days (config) --------------------------------------------------------------------------------------


def test_closing_days_are_never_working_days() -> None:
    assert OFFICE.is_closing_day(date(2026, 12, 24)) and not OFFICE.is_working_day(date(2026, 12, 24))
    # from Wed 23.12.2026: 24. closed, 25./26. holidays, 27. Sunday -> Mon 28.12.2026
    assert OFFICE.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert NRW.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 24)


def test_closing_day_end_stays_by_default_and_moves_with_the_flag() -> None:
    # Ereignis: Tue 24.11.2026 + 1 month = Thu 24.12.2026, a closing day but no public holiday:
    # §193 does not apply, the deadline ends on 24.12.2026 (the letterbox still receives)
    assert OFFICE.frist(date(2026, 11, 24), "P1M") == date(2026, 12, 24)
    # closing_days_extend_deadlines = true: 24.12. closed -> 25./26. holidays -> Sun 27. -> Mon 28.12.2026
    assert OFFICE_EXTENDING.frist(date(2026, 11, 24), "P1M") == date(2026, 12, 28)


def test_one_off_closing_day_from_the_config(tmp_path: Path) -> None:
    (tmp_path / "calendar.toml").write_text('[calendar]\nclosing_days = ["2026-05-15", 2026-12-30]\n')
    cal = load_calendar(tmp_path)
    # Brückentag Fri 15.05.2026 after Christi Himmelfahrt (Thu 14.05.): from Wed 13.05. the next working day
    # is Mon 18.05.2026
    assert cal.add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 18)
    assert not cal.is_working_day(date(2026, 12, 30)) and cal.is_working_day(date(2027, 12, 30))
    assert cal.subdivision == "NW" and not cal.closing_days_extend_deadlines


def test_the_shipped_config_closes_on_24_and_31_december() -> None:
    cal = load_calendar(PROJECT_CONFIG)
    assert cal.is_closing_day(date(2030, 12, 24)) and cal.is_closing_day(date(2030, 12, 31))
    assert cal.subdivision == "NW" and not cal.closing_days_extend_deadlines


def test_missing_config_gives_the_nrw_defaults(tmp_path: Path) -> None:
    assert load_calendar(tmp_path) == BusinessCalendar()


def test_config_is_reread_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text('[calendar]\nclosing_days = ["12-24"]\n')
    first = load_calendar(tmp_path)
    assert load_calendar(str(tmp_path)) is first
    path.write_text('[calendar]\nclosing_days = ["12-31"]\n')
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert load_calendar(tmp_path).yearly_closing_days == frozenset({(12, 31)})


@pytest.mark.parametrize(("text", "named"), [
    ('[calendar]\nclosing_days = ["24.12."]\n', "'24.12.'"),
    ('[calendar]\nclosing_days = ["12-32"]\n', "'12-32'"),
    ('[calendar]\nclosing_days = ["2026-02-30"]\n', "'2026-02-30'"),
    ('[calendar]\nclosing_days = ["2026-W20-5"]\n', "'2026-W20-5'"),
    ('[calendar]\nclosing_days = "12-24"\n', "closing_days must be a list"),
    ('[calendar]\nsubdivision = "NRW"\n', "'NRW'"),
    ('[calendar]\nclosing_days_extend_deadlines = "yes"\n', "'yes'"),
    ('[calendar]\nholidays = ["12-24"]\n', "holidays"),
    ('[kalender]\nsubdivision = "NW"\n', "kalender"),
    ('[calendar\nsubdivision = "NW"\n', "not valid TOML"),
])
def test_malformed_config_is_refused_naming_the_bad_entry(tmp_path: Path, text: str, named: str) -> None:
    (tmp_path / "calendar.toml").write_text(text)
    with pytest.raises(CalendarConfigError, match=r"calendar\.toml") as raised:
        load_calendar(tmp_path)
    assert named in str(raised.value)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, KimflowError)


def test_unknown_subdivision_is_refused_when_built_directly() -> None:
    with pytest.raises(CalendarConfigError, match="'XX'"):
        BusinessCalendar(subdivision="XX")


@pytest.mark.parametrize("duration", ["-P2W", "P0D", "PT36H", "P1DT2H", "two weeks"])
def test_periods_the_bgb_does_not_define_are_refused(duration: str) -> None:
    with pytest.raises(ValueError, match=r"duration|period"):
        NRW.frist(date(2026, 3, 10), duration)


def test_parse_calendar_accepts_every_key() -> None:
    cal = parse_calendar('[calendar]\nsubdivision = "BY"\nclosing_days = ["02-29", "2027-02-08"]\n'
                         "closing_days_extend_deadlines = true\n")
    assert cal == BusinessCalendar("BY", frozenset({date(2027, 2, 8)}), frozenset({(2, 29)}), True)


# --- helpers for models -----------------------------------------------------------------------------------------


HELPERS = calendar_helpers(NRW)


def test_helpers_take_iso_strings_dates_and_datetimes() -> None:
    assert HELPERS["frist"]("2026-05-21", "P2W") == date(2026, 6, 5)
    assert HELPERS["frist"](date(2026, 3, 10), "P1M", True) == date(2026, 4, 9)
    assert HELPERS["frist"]("2026-03-10", "P1M", beginn=True) == date(2026, 4, 9)
    assert HELPERS["frist_ende"]("2026-05-21", "P2W") == datetime(2026, 6, 5, 22, 0, tzinfo=UTC)
    assert HELPERS["add_working_days"]("2026-05-28", 5) == date(2026, 6, 5)
    assert HELPERS["add_working_days"]("2026-06-05", -5.0) == date(2026, 5, 28)
    assert HELPERS["naechster_werktag"]("2026-05-23") == date(2026, 5, 26)
    assert HELPERS["is_working_day"]("2026-06-04") is False
    assert HELPERS["feiertag"]("2026-06-04") == "Fronleichnam"
    assert HELPERS["feiertag"]("2026-06-05") is None


def test_helpers_take_a_moment_on_its_berlin_date() -> None:
    # 20.05.2026 22:30 UTC is Thu 21.05.2026 00:30 in Berlin: 21.05. + 2 weeks = Fronleichnam -> Fri 05.06.2026
    assert HELPERS["frist"]("2026-05-20T22:30:00Z", "P2W") == date(2026, 6, 5)
    assert HELPERS["frist"]("2026-05-20T22:30:00+00:00", "P2W") == date(2026, 6, 5)
    assert HELPERS["frist"](datetime(2026, 5, 20, 22, 30, tzinfo=UTC), "P2W") == date(2026, 6, 5)
    # a naive date-time is already local: Wed 20.05. + 2 weeks = Wed 03.06.2026
    assert HELPERS["frist"]("2026-05-20T22:30:00", "P2W") == date(2026, 6, 3)


@pytest.mark.parametrize(("name", "args", "message"), [
    ("frist", ("next week", "P2W"), "frist: 'next week' is not a date"),
    ("frist", ("2026-05-21T25:00", "P2W"), "frist: '2026-05-21T25:00' is not a date"),
    ("frist", ("2026-05-21", "two weeks"), "frist: not an ISO 8601 duration"),
    ("frist", ("2026-05-21", "PT36H"), "frist: a deadline needs a positive period"),
    ("frist", ("2026-05-21", 14), "frist: 14 is not an ISO 8601 duration"),
    ("frist", ("2026-05-21", "P2W", "ja"), "frist: beginn must be true or false"),
    ("frist_ende", (None, "P2W"), "frist_ende: None is not a date"),
    ("frist_ende", ("9999-12-31", "P1Y"), "frist_ende: "),
    ("add_working_days", ("2026-05-28", "5"), "add_working_days: the number of working days must be a whole"),
    ("add_working_days", ("2026-05-28", 2.5), "add_working_days: the number of working days must be a whole"),
    ("add_working_days", ("2026-05-28", True), "add_working_days: the number of working days must be a whole"),
    ("add_working_days", ("2026-05-28",), "add_working_days: "),
    ("naechster_werktag", ("28.05.2026",), "naechster_werktag: '28.05.2026' is not a date"),
    ("is_working_day", (20260528,), "is_working_day: 20260528 is not a date"),
    ("feiertag", ([],), "feiertag: [] is not a date"),
])
def test_helpers_report_bad_input_as_expression_errors(name: str, args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        HELPERS[name](*args)
    assert str(raised.value).startswith(message)


def test_the_engine_offers_the_deadline_helpers_to_models() -> None:
    offered = helpers._calendar_helpers(str(PROJECT_CONFIG))
    assert set(offered) == {"frist", "frist_ende", "add_working_days", "naechster_werktag", "is_working_day",
                            "feiertag"}
    expression = sandbox.compile_expression("frist(eingang, 'P2W') <= naechster_werktag(heute)")
    assert expression.evaluate({"eingang": "2026-05-21", "heute": "2026-06-06"}, offered) is True


def test_stdlib_calendar_is_still_the_one_durations_uses() -> None:
    from workflows import durations

    assert durations.calendar.monthrange(2028, 2) == (1, 29)
    assert durations.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


# --- properties -------------------------------------------------------------------------------------------------


days = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
periods = st.builds(lambda n, unit: f"P{n}{unit}", st.integers(1, 30), st.sampled_from("DWMY"))


def _legal_working_day(day: date) -> bool:
    return day.weekday() < 5 and NRW.holiday_name(day) is None


@given(days, periods, st.booleans())
def test_a_deadline_ends_on_the_first_working_day_on_or_after_the_period_end(
        start: date, period: str, beginn: bool) -> None:
    end = NRW.period_end(start, period, beginn=beginn)
    last_day = NRW.frist(start, period, beginn=beginn)
    assert last_day >= end and _legal_working_day(last_day)
    assert not any(_legal_working_day(end + timedelta(days=i)) for i in range((last_day - end).days))
    assert NRW.frist_ende(start, period, beginn=beginn).astimezone(BERLIN).date() == last_day + timedelta(days=1)


@given(days, st.integers(1, 400))
def test_beginnfrist_in_days_is_ereignisfrist_from_the_day_before(start: date, n: int) -> None:
    assert NRW.period_end(start, f"P{n}D", beginn=True) == NRW.period_end(start - timedelta(days=1), f"P{n}D")


@given(days, st.integers(-60, 60))
def test_working_days_forward_then_back_return_to_the_working_day(start: date, n: int) -> None:
    day = OFFICE.next_working_day(start)
    moved = OFFICE.add_working_days(day, n)
    assert OFFICE.is_working_day(moved)
    assert OFFICE.add_working_days(moved, -n) == day
