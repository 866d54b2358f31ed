"""Issue 19: the Schedule value (recurrence), its texts for pages, and hostile values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from travelinfo.model import ModelError, Schedule
from travelinfo.vocab import describe_schedule

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def test_describe_schedule_in_both_languages() -> None:
    s = Schedule(WEEKDAYS, "07:00", "19:00")
    assert describe_schedule(s, "en") == "Mon-Fri 07:00-19:00"
    assert describe_schedule(s, "sv") == "mån-fre 07.00-19.00"
    assert describe_schedule(s, "sv-SE") == "mån-fre 07.00-19.00"
    assert describe_schedule(Schedule(("sat", "sun")), "en") == "Sat, Sun"
    assert describe_schedule(Schedule((), "22:00", "06:00"), "sv") == "alla dagar 22.00-06.00"


def test_night_window_runs_past_midnight_and_dst_is_wall_clock() -> None:
    s = Schedule(("fri",), "22:00", "06:00")
    assert s.matches(datetime(2024, 3, 1, 22, 30, tzinfo=UTC))  # Fri 23:30 CET
    assert s.matches(datetime(2024, 3, 2, 4, 30, tzinfo=UTC))  # Sat 05:30 CET, the Friday night
    assert not s.matches(datetime(2024, 3, 2, 5, 30, tzinfo=UTC))  # Sat 06:30
    summer = Schedule((), "07:00", "08:00")
    assert summer.occurrences(datetime(2024, 3, 30, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)) == [
        (datetime(2024, 3, 30, 6, tzinfo=UTC), datetime(2024, 3, 30, 7, tzinfo=UTC)),  # CET
        (datetime(2024, 3, 31, 5, tzinfo=UTC), datetime(2024, 3, 31, 6, tzinfo=UTC)),  # CEST
    ]


def test_exceptions_cut_occurrences() -> None:
    hole = (datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))
    s = Schedule((), "10:00", "11:00", "UTC", (hole,))
    got = s.occurrences(datetime(2024, 4, 30, tzinfo=UTC), datetime(2024, 5, 3, tzinfo=UTC))
    assert [a.day for a, _ in got] == [30, 2]
    assert not s.matches(datetime(2024, 5, 1, 10, 30, tzinfo=UTC))
    assert Schedule.from_json(s.to_json()) == s


@pytest.mark.parametrize(
    "args",
    [(("funday",),), ((), "25:00"), ((), "7:00"), ((), "07:00", "19:60"), ((), None, None, "Mars/Olympus")],
)
def test_hostile_schedule_values_are_refused(args: tuple) -> None:
    with pytest.raises(ModelError):
        Schedule(*args)
