"""Deploy slots (bs/core/slots.py): windows, freezes and daylight-saving changes.

Europe/London office hours (Mon-Thu 09:30-17:00) are the running example:
windows are wall-clock times, so they open at 09:30 local on both sides of the
clock changes (2026-03-29 and 2026-10-25), while slot lengths are real time.
Hypothesis checks every slot around both changes against a simple day-by-day
oracle. Schedule validation is checked on the model and, for a few mistakes,
through a whole policy file (tests/policyhelpers.py).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bs.core.slots import (
    HORIZON,
    USEFUL_SLOT,
    NoSlot,
    Schedule,
    Slot,
    deploy_slot,
    describe_instant,
)
from tests.conftest import World
from tests.policyhelpers import edit, line_number, refused_everywhere

LONDON = ZoneInfo("Europe/London")
OFFICE_HOURS = [{"days": ["mon-thu"], "from": "09:30", "to": "17:00"}]
ALWAYS_OPEN = [{"days": ["mon-sun"], "from": "00:00", "to": "24:00"}]
TWO_HOURS = timedelta(hours=2)


def schedule(**fields: Any) -> Schedule:
    return Schedule.model_validate({"timezone": "Europe/London", **fields})


def london(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A London wall-clock time, as the UTC instant it is."""
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def slot_of(merged_at: datetime, **fields: Any) -> Slot:
    return deploy_slot(merged_at, schedule(**fields))


# --- windows -----------------------------------------------------------------------------------


def test_merged_inside_a_window_starts_at_once_for_the_whole_slot() -> None:
    merged = london(2026, 6, 2, 10, 0)  # a Tuesday
    assert slot_of(merged, windows=OFFICE_HOURS) == Slot(merged, merged + TWO_HOURS, (), None)


def test_merged_near_the_close_ends_at_the_close() -> None:
    merged = london(2026, 6, 2, 16, 0)
    slot = slot_of(merged, windows=OFFICE_HOURS)
    assert (slot.start, slot.end) == (merged, london(2026, 6, 2, 17, 0))
    assert slot.cut_short_by == "the deploy window closes"


def test_a_slot_the_close_would_cut_to_minutes_starts_at_the_next_opening() -> None:
    merged = london(2026, 6, 2, 16, 59, 50)  # ten seconds before Tuesday's close
    slot = slot_of(merged, windows=OFFICE_HOURS)
    assert (slot.start, slot.end) == (london(2026, 6, 3, 9, 30), london(2026, 6, 3, 11, 30))
    assert "too little of the window was left" in slot.waited_for
    fifteen_left = slot_of(london(2026, 6, 2, 16, 45), windows=OFFICE_HOURS)
    assert (fifteen_left.start, fifteen_left.end) == (
        london(2026, 6, 2, 16, 45),
        london(2026, 6, 2, 17, 0),
    )


def test_a_slot_a_freeze_would_cut_to_seconds_starts_after_the_freeze() -> None:
    freeze = [{"from": "2026-06-03", "to": "2026-06-03", "reason": "release day off"}]
    merged = london(2026, 6, 2, 23, 59, 59)
    slot = slot_of(merged, freezes=freeze)
    assert (slot.start, slot.end) == (london(2026, 6, 4, 0, 0), london(2026, 6, 4, 2, 0))


def test_a_short_policy_slot_is_never_pushed_back() -> None:
    merged = london(2026, 6, 2, 16, 54)  # six minutes left, and the slot is five
    slot = slot_of(merged, windows=OFFICE_HOURS, slot="5m")
    assert (slot.start, slot.end) == (merged, london(2026, 6, 2, 16, 59))


def test_unquoted_times_and_a_single_range_of_days() -> None:
    with pytest.raises(
        ValidationError, match=re.escape('write times in quotes, e.g. from: "09:30"')
    ):
        schedule(windows=[{"days": ["mon"], "from": 570, "to": "17:00"}])  # YAML's 09:30
    one_range = schedule(windows=[{"days": "mon-thu", "from": "09:30", "to": "17:00"}])
    assert one_range.windows is not None and one_range.windows[0].days == ["mon-thu"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1969-12-31"])
def test_freeze_dates_bs_cannot_plan_around_are_refused(day: str) -> None:
    with pytest.raises(
        ValidationError, match="is not a date bs can plan around: give one from 1970"
    ):
        schedule(freezes=[{"from": day, "to": day, "reason": "forever"}])


def test_a_slot_ending_exactly_at_the_close_is_not_cut_short() -> None:
    merged = london(2026, 6, 2, 15, 0)
    slot = slot_of(merged, windows=OFFICE_HOURS)
    assert slot.end == london(2026, 6, 2, 17, 0)
    assert slot.cut_short_by is None


def test_merged_at_the_opening_starts_at_once() -> None:
    merged = london(2026, 6, 2, 9, 30)
    assert slot_of(merged, windows=OFFICE_HOURS).start == merged


def test_merged_at_the_close_waits_for_the_next_opening() -> None:
    slot = slot_of(london(2026, 6, 2, 17, 0), windows=OFFICE_HOURS)
    assert slot.start == london(2026, 6, 3, 9, 30)
    assert slot.waited_for == ("outside the deploy windows",)


def test_merged_before_the_opening_starts_at_the_opening() -> None:
    slot = slot_of(london(2026, 6, 2, 7, 0), windows=OFFICE_HOURS)
    assert (slot.start, slot.end) == (london(2026, 6, 2, 9, 30), london(2026, 6, 2, 11, 30))


@pytest.mark.parametrize(
    "merged",
    [london(2026, 6, 4, 17, 30), london(2026, 6, 5, 18, 0), london(2026, 6, 7, 23, 59)],
    ids=["thursday-evening", "friday-evening", "sunday-night"],
)
def test_merged_after_thursdays_close_starts_monday_at_the_opening(merged: datetime) -> None:
    slot = slot_of(merged, windows=OFFICE_HOURS)
    assert slot.start == london(2026, 6, 8, 9, 30)
    assert slot.start == utc(2026, 6, 8, 8, 30)
    assert slot.end == slot.start + TWO_HOURS
    assert slot.waited_for == ("outside the deploy windows",)


def test_a_second_window_on_friday_is_used() -> None:
    windows = [*OFFICE_HOURS, {"days": ["fri"], "from": "09:30", "to": "12:00"}]
    slot = slot_of(london(2026, 6, 5, 11, 0), windows=windows)
    assert (slot.start, slot.end) == (london(2026, 6, 5, 11, 0), london(2026, 6, 5, 12, 0))


def test_a_range_of_days_may_wrap_past_sunday() -> None:
    windows = [{"days": ["sat-mon"], "from": "10:00", "to": "11:00"}]
    assert slot_of(london(2026, 6, 2, 12, 0), windows=windows).start == london(2026, 6, 6, 10, 0)


def test_without_windows_a_slot_starts_at_once_at_any_hour() -> None:
    merged = utc(2026, 6, 6, 3, 17)  # a Saturday night
    assert slot_of(merged) == Slot(merged, merged + TWO_HOURS)


def test_the_slot_length_is_the_policys() -> None:
    merged = london(2026, 6, 2, 10, 0)
    assert slot_of(merged, slot="1h30m").end == merged + timedelta(minutes=90)
    assert slot_of(merged, slot="5m").end == merged + timedelta(minutes=5)


# --- daylight saving ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merged", "opens", "offset"),
    [
        # Friday before the clocks go forward (GMT) -> Monday after, in BST.
        (london(2026, 3, 27, 18, 0), utc(2026, 3, 30, 8, 30), timedelta(hours=1)),
        # Friday before the clocks go back (BST) -> Monday after, in GMT.
        (london(2026, 10, 23, 18, 0), utc(2026, 10, 26, 9, 30), timedelta(0)),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_across_a_clock_change_the_window_opens_at_0930_local(
    merged: datetime, opens: datetime, offset: timedelta
) -> None:
    slot = slot_of(merged, windows=OFFICE_HOURS)
    assert slot.start == opens
    local = slot.start.astimezone(LONDON)
    assert local.time() == time(9, 30)
    assert local.utcoffset() == offset
    assert slot.end - slot.start == TWO_HOURS


def test_the_same_window_opens_at_different_utc_times_either_side_of_a_change() -> None:
    before = slot_of(london(2026, 3, 26, 8, 0), windows=OFFICE_HOURS).start  # Thu, GMT
    after = slot_of(london(2026, 3, 30, 8, 0), windows=OFFICE_HOURS).start  # Mon, BST
    assert (before, after) == (utc(2026, 3, 26, 9, 30), utc(2026, 3, 30, 8, 30))


@pytest.mark.parametrize(
    ("merged", "wall_clock"),
    [
        (utc(2026, 3, 29, 0, 30), timedelta(hours=3)),  # 00:30 GMT -> 03:30 BST
        (utc(2026, 10, 25, 0, 30), timedelta(hours=1)),  # 01:30 BST -> 02:30 GMT
        (utc(2026, 10, 24, 23, 30), timedelta(hours=1)),  # 00:30 BST -> the second 01:30
    ],
    ids=["spring-forward", "fall-back", "fall-back-repeated-hour"],
)
def test_a_2h_slot_across_the_change_lasts_2h_of_real_time(
    merged: datetime, wall_clock: timedelta
) -> None:
    for windows in (ALWAYS_OPEN, None):
        fields = {"windows": windows} if windows else {}
        slot = slot_of(merged, slot="2h", **fields)
        assert (slot.start, slot.end) == (merged, merged + TWO_HOURS)
        assert slot.cut_short_by is None
        start, end = slot.start.astimezone(LONDON), slot.end.astimezone(LONDON)
        assert end.replace(tzinfo=None) - start.replace(tzinfo=None) == wall_clock


def test_a_7d_slot_in_an_always_open_window_is_never_cut_short_across_spring_forward() -> None:
    merged = london(2026, 3, 23, 23, 30)  # Monday night, GMT; the clocks go forward on Sunday
    slot = slot_of(merged, slot="7d", windows=ALWAYS_OPEN)
    assert slot.cut_short_by is None
    assert slot.end - slot.start == timedelta(days=7)


def test_a_7d_slot_without_windows_lasts_7_days_across_spring_forward() -> None:
    """The same slot as above, without windows: what the always-open window should match."""
    merged = london(2026, 3, 23, 23, 30)
    assert slot_of(merged, slot="7d") == Slot(merged, merged + timedelta(days=7))


# --- freezes -----------------------------------------------------------------------------------

JUNE_FREEZE = [{"from": "2026-06-01", "to": "2026-06-02", "reason": "data centre move"}]


def test_merged_in_a_freeze_starts_at_the_first_opening_after_it() -> None:
    slot = slot_of(london(2026, 6, 1, 10, 0), windows=OFFICE_HOURS, freezes=JUNE_FREEZE)
    assert slot.start == london(2026, 6, 3, 9, 30)
    # The freeze ends at midnight; the window opens at 09:30.
    assert slot.waited_for == ("the freeze 'data centre move'", "outside the deploy windows")


def test_a_freeze_ending_on_thursday_waits_for_monday() -> None:
    freezes = [{"from": "2026-06-01", "to": "2026-06-04", "reason": "audit"}]
    slot = slot_of(london(2026, 6, 2, 10, 0), windows=OFFICE_HOURS, freezes=freezes)
    assert slot.start == london(2026, 6, 8, 9, 30)
    assert slot.waited_for == ("the freeze 'audit'", "outside the deploy windows")


@pytest.mark.parametrize(
    "merged",
    [london(2026, 6, 1, 0, 0), london(2026, 6, 2, 23, 59)],
    ids=["first-minute", "last-minute"],
)
def test_freeze_dates_are_whole_local_dates_both_included(merged: datetime) -> None:
    slot = slot_of(merged, freezes=JUNE_FREEZE)
    assert slot.start == london(2026, 6, 3, 0, 0)
    assert slot.start == utc(2026, 6, 2, 23, 0)


def test_a_slot_running_into_a_freeze_is_cut_short_at_its_start() -> None:
    merged = london(2026, 5, 31, 23, 0)
    slot = slot_of(merged, freezes=JUNE_FREEZE)
    assert (slot.start, slot.end) == (merged, london(2026, 6, 1, 0, 0))
    assert slot.end == utc(2026, 5, 31, 23, 0)
    assert slot.cut_short_by == "the freeze 'data centre move' begins"


def test_a_freeze_cuts_a_slot_short_inside_an_open_window() -> None:
    merged = london(2026, 5, 31, 22, 30)
    slot = slot_of(merged, windows=ALWAYS_OPEN, freezes=JUNE_FREEZE)
    assert slot.end == london(2026, 6, 1, 0, 0)
    assert slot.cut_short_by == "the freeze 'data centre move' begins"


def test_overlapping_freezes_are_all_waited_out() -> None:
    freezes = [
        {"from": "2026-06-01", "to": "2026-06-03", "reason": "first"},
        {"from": "2026-06-02", "to": "2026-06-09", "reason": "second"},
    ]
    slot = slot_of(london(2026, 6, 1, 10, 0), windows=OFFICE_HOURS, freezes=freezes)
    assert slot.start == london(2026, 6, 10, 9, 30)
    assert slot.waited_for == (
        "the freeze 'first'",
        "the freeze 'second'",
        "outside the deploy windows",
    )


def test_a_freeze_of_almost_a_year_is_waited_out() -> None:
    freezes = [{"from": "2026-01-01", "to": "2026-12-31", "reason": "a long year"}]
    slot = slot_of(london(2026, 6, 1, 10, 0), windows=OFFICE_HOURS, freezes=freezes)
    assert slot.start == london(2027, 1, 4, 9, 30)  # 1 January 2027 is a Friday
    assert slot.start == utc(2027, 1, 4, 9, 30)


@pytest.mark.parametrize("windows", [OFFICE_HOURS, None], ids=["office-hours", "no-windows"])
def test_freezes_over_more_than_the_horizon_give_no_slot(windows: Any) -> None:
    freezes = [
        {"from": "2026-01-01", "to": "2026-12-31", "reason": "this year"},
        {"from": "2027-01-01", "to": "2027-03-31", "reason": "next year"},
    ]
    merged = london(2026, 1, 10, 10, 0)
    assert london(2027, 4, 1, 0, 0) - merged > HORIZON
    fields = {"windows": windows} if windows else {}
    with pytest.raises(NoSlot, match="no deploy window opens within 400 days of 2026-01-10"):
        slot_of(merged, freezes=freezes, **fields)


# --- properties around the clock changes -------------------------------------------------------

PROPERTY_FREEZES = [
    {"from": "2026-03-30", "to": "2026-03-31", "reason": "spring freeze"},
    {"from": "2026-10-27", "to": "2026-10-28", "reason": "autumn freeze"},
]
FROZEN_DATES = {date(2026, 3, 30), date(2026, 3, 31), date(2026, 10, 27), date(2026, 10, 28)}
#: Opening hours by weekday (Monday 0), for the oracle; the windows the schedules are made of.
HOURS: dict[str, dict[int, tuple[time, time]]] = {
    "mon-thu": {day: (time(9, 30), time(17, 0)) for day in range(4)},
    "mon-thu+fri-morning": {
        **{day: (time(9, 30), time(17, 0)) for day in range(4)},
        4: (time(9, 30), time(12, 0)),
    },
}
WINDOWS = {
    "mon-thu": OFFICE_HOURS,
    "mon-thu+fri-morning": [*OFFICE_HOURS, {"days": ["fri"], "from": "09:30", "to": "12:00"}],
}
SLOTS = {"5m": timedelta(minutes=5), "90m": timedelta(minutes=90), "2h": TWO_HOURS}
SLOTS |= {"8h": timedelta(hours=8), "1d": timedelta(days=1)}


@functools.cache
def property_schedule(hours: str, slot: str) -> Schedule:
    return schedule(slot=slot, windows=WINDOWS[hours], freezes=PROPERTY_FREEZES)


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, LONDON).astimezone(UTC)


def freeze_intervals() -> list[tuple[datetime, datetime]]:
    found = []
    for freeze in PROPERTY_FREEZES:
        first, last = date.fromisoformat(freeze["from"]), date.fromisoformat(freeze["to"])
        found.append((at(first, time(0)), at(last + timedelta(days=1), time(0))))
    return found


def is_open(moment: datetime, hours: dict[int, tuple[time, time]]) -> bool:
    day = moment.astimezone(LONDON).date()
    if day in FROZEN_DATES or day.weekday() not in hours:
        return False
    opens, closes = hours[day.weekday()]
    return at(day, opens) <= moment < at(day, closes)


def first_opening(
    merged: datetime, hours: dict[int, tuple[time, time]], length: timedelta
) -> tuple[datetime, time]:
    """The oracle: the first instant from `merged` in a window, outside the freezes,
    with at least a useful slot (15 minutes, or the slot if shorter) left before the
    window closes, found local day by local day; and the closing time of its window."""
    first = merged.astimezone(LONDON).date()
    for offset in range(30):
        day = first + timedelta(days=offset)
        if day in FROZEN_DATES or day.weekday() not in hours:
            continue
        opens, closes = hours[day.weekday()]
        candidate = max(merged, at(day, opens))
        if at(day, closes) - candidate >= min(USEFUL_SLOT, length):
            return candidate, closes
    raise AssertionError("no opening within 30 days")


def minutes_between(first: datetime, last: datetime) -> st.SearchStrategy[datetime]:
    return st.datetimes(min_value=first, max_value=last, timezones=st.just(UTC)).map(
        lambda moment: moment.replace(second=0, microsecond=0)
    )


merge_instants = st.one_of(
    minutes_between(datetime(2026, 3, 20), datetime(2026, 4, 5, 23, 59)),
    minutes_between(datetime(2026, 10, 18), datetime(2026, 11, 5, 23, 59)),
)


@settings(max_examples=300, deadline=None)
@given(
    merged=merge_instants,
    hours_name=st.sampled_from(sorted(HOURS)),
    slot=st.sampled_from(sorted(SLOTS)),
)
def test_every_slot_is_the_first_opening_within_windows_and_outside_freezes(
    merged: datetime, hours_name: str, slot: str
) -> None:
    hours, length = HOURS[hours_name], SLOTS[slot]
    found = deploy_slot(merged, property_schedule(hours_name, slot))
    start, end = found.start, found.end
    local_start, local_end = start.astimezone(LONDON), end.astimezone(LONDON)
    opens, closes = hours[local_start.weekday()]

    assert start >= merged
    assert local_start.date() not in FROZEN_DATES
    assert opens <= local_start.time() < closes
    assert start < end <= start + length
    assert local_end.date() == local_start.date()
    assert local_end.time() <= closes
    for freeze_start, freeze_end in freeze_intervals():
        assert end <= freeze_start or freeze_end <= start
    expected_start, expected_close = first_opening(merged, hours, length)
    assert start == expected_start
    if start == merged:
        assert is_open(merged, hours)
        assert found.waited_for == ()
    else:
        assert found.waited_for != ()
    assert end == min(start + length, at(local_start.date(), expected_close))
    assert (found.cut_short_by is None) == (end == start + length)


@settings(max_examples=200, deadline=None)
@given(merged=merge_instants, slot=st.sampled_from(sorted(SLOTS)))
def test_with_an_always_open_window_every_slot_starts_at_once_for_its_full_length(
    merged: datetime, slot: str
) -> None:
    found = deploy_slot(merged, property_schedule_always_open(slot))
    assert found == Slot(merged, merged + SLOTS[slot])


@functools.cache
def property_schedule_always_open(slot: str) -> Schedule:
    return schedule(slot=slot, windows=ALWAYS_OPEN)


# --- describing instants -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone", "text"),
    [
        (utc(2026, 6, 1, 8, 30), "Europe/London", "Mon 01 Jun 2026 09:30 BST (08:30 UTC)"),
        (utc(2026, 11, 26, 9, 30), "Europe/London", "Thu 26 Nov 2026 09:30 GMT (09:30 UTC)"),
        (
            utc(2026, 6, 1, 23, 30),
            "Europe/London",
            "Tue 02 Jun 2026 00:30 BST (Mon 01 Jun 23:30 UTC)",
        ),
        (utc(2026, 6, 1, 8, 30), "UTC", "Mon 01 Jun 2026 08:30 UTC"),
    ],
    ids=["summer", "winter", "local-date-differs", "utc-zone"],
)
def test_describe_instant_shows_local_and_utc_times(moment: datetime, zone: str, text: str) -> None:
    assert describe_instant(moment, ZoneInfo(zone)) == text


# --- validation --------------------------------------------------------------------------------


def window(start: str = "09:30", end: str = "17:00", days: Any = ("mon-thu",)) -> dict[str, Any]:
    return {"days": list(days), "from": start, "to": end}


def freeze(first: str = "2026-12-21", last: str = "2027-01-04", reason: str = "x") -> Any:
    return {"from": first, "to": last, "reason": reason}


BAD_SCHEDULES: dict[str, tuple[dict[str, Any], str]] = {
    "slot-in-words": ({"slot": "2 hours"}, "slot"),
    "slot-zero": ({"slot": "0m"}, "a slot lasts between 5m and 7d, not 0m"),
    "slot-too-short": ({"slot": "4m"}, "a slot lasts between 5m and 7d, not 4m"),
    "slot-too-long": ({"slot": "8d"}, "a slot lasts between 5m and 7d, not 8d"),
    "slot-empty": ({"slot": ""}, "'' is not a duration: write it like 2h, 90m or 1h30m"),
    "slot-not-text": ({"slot": 2}, "valid string"),
    "unknown-zone": ({"timezone": "Europe/Londres"}, "unknown time zone 'Europe/Londres'"),
    "zone-path": ({"timezone": "../../etc/passwd"}, "unknown time zone"),
    "window-backwards": ({"windows": [window("17:00", "09:30")]}, "the window ends (09:30)"),
    "window-empty": ({"windows": [window("09:30", "09:30")]}, "the window ends (09:30)"),
    "window-from-2400": ({"windows": [window("24:00", "24:00")]}, "cannot start at 24:00"),
    "window-bad-clock": ({"windows": [window("9:30")]}, "windows.0.from"),
    "window-2400-minutes": ({"windows": [window("09:30", "24:30")]}, "windows.0.to"),
    "window-bad-day": ({"windows": [window(days=["monday"])]}, "windows.0.days.0"),
    "window-no-days": ({"windows": [window(days=[])]}, "at least 1 item"),
    "windows-empty": ({"windows": []}, "given but empty"),
    "windows-null": ({"windows": None}, "given but empty"),
    "freeze-backwards": ({"freezes": [freeze("2027-01-04", "2026-12-21")]}, "the freeze ends"),
    "freeze-no-such-date": ({"freezes": [freeze("2026-02-30")]}, "2026-02-30 is not a date"),
    "freeze-no-reason": ({"freezes": [freeze(reason="")]}, "at least 1 character"),
    "unknown-key": ({"windowz": OFFICE_HOURS}, "Extra inputs are not permitted"),
    "unknown-window-key": ({"windows": [{**window(), "until": "18:00"}]}, "Extra inputs"),
}


@pytest.mark.parametrize(("fields", "says"), BAD_SCHEDULES.values(), ids=BAD_SCHEDULES.keys())
def test_a_bad_schedule_is_refused(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        schedule(**fields)
    assert isinstance(refused.value, ValueError)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"slot": "5m"},
        {"slot": "7d"},
        {"slot": "1h30m"},
        {"slot": "1d2h3m"},
        {"windows": [window("00:00", "24:00", days=["fri-mon"])]},
        {"freezes": [freeze("2026-12-25", "2026-12-25")]},
        {"timezone": "UTC"},
    ],
    ids=["5m", "7d", "1h30m", "1d2h3m", "whole-days", "one-day-freeze", "utc"],
)
def test_a_good_schedule_is_accepted(fields: dict[str, Any]) -> None:
    schedule(**fields)


def test_the_default_schedule_is_a_2h_slot_any_time_in_utc() -> None:
    default = Schedule()
    assert (default.duration, default.timezone, default.windows, default.freezes) == (
        TWO_HOURS,
        "UTC",
        None,
        [],
    )


# --- validation through a policy file ----------------------------------------------------------

DEPLOY_SLOT = "  slot: 2h\n"
BAD_POLICY_DEPLOY = {
    "unknown-zone": (
        "  timezone: Europe/London",
        "  timezone: Europe/Londres",
        "deploy.timezone: unknown time zone 'Europe/Londres': use an IANA name such as "
        "Europe/London or UTC.",
    ),
    "window-backwards": (
        DEPLOY_SLOT,
        DEPLOY_SLOT + '  windows:\n    - {days: [mon-thu], from: "17:00", to: "09:30"}\n',
        "deploy.windows[0]: the window ends (09:30) before it starts (17:00): a window is "
        "within one day; split one that runs past midnight into two.",
    ),
    "window-from-2400": (
        DEPLOY_SLOT,
        DEPLOY_SLOT + '  windows:\n    - {days: [fri], from: "24:00", to: "24:00"}\n',
        "deploy.windows[0]: a window cannot start at 24:00: use 00:00 of the next day.",
    ),
    "windows-empty": (
        DEPLOY_SLOT,
        DEPLOY_SLOT + "  windows: []\n",
        "deploy.windows: given but empty: list at least one window, or remove windows.",
    ),
    "slot-too-long": (
        DEPLOY_SLOT,
        "  slot: 8d\n",
        "deploy.slot: a slot lasts between 5m and 7d, not 8d.",
    ),
    "unknown-key": (
        DEPLOY_SLOT,
        DEPLOY_SLOT + "  window: []\n",
        "unknown key 'window' in deploy: allowed keys here: slot, timezone, windows, freezes.",
    ),
}


def bad_deploy(old: str, new: str) -> tuple[str, int]:
    """The standard policy with `old` replaced by `new`; and the line of `new`'s last line."""
    content = edit(old, new)
    return content, line_number(content, new.rstrip("\n").splitlines()[-1])


@pytest.mark.parametrize(
    ("old", "new", "says"), BAD_POLICY_DEPLOY.values(), ids=BAD_POLICY_DEPLOY.keys()
)
def test_a_bad_deploy_schedule_in_a_policy_names_the_line_and_the_fix(
    app_world: World, old: str, new: str, says: str
) -> None:
    content, line = bad_deploy(old, new)
    message = refused_everywhere(app_world, content)
    assert message == f"policies/standard.yaml: 1 problem:\n  line {line}: {says}"


def test_a_slot_in_words_in_a_policy_says_how_to_write_a_duration(app_world: World) -> None:
    content, line = bad_deploy(DEPLOY_SLOT, "  slot: 2 hours\n")
    message = refused_everywhere(app_world, content)
    assert f"line {line}: deploy.slot: " in message
    assert "write it like 2h, 90m or 1h30m" in message
