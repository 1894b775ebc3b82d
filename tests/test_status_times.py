"""`bs status`'s pure part: freezes and windows seen from a given moment, times as text,
and the report's text and JSON with the emergencies section only when it has items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bs.core.slots import Schedule
from bs.usecases.status import PendingReview, PolicySchedule, StatusReport
from bs.usecases.status_store import StoreView
from bs.usecases.status_text import status_json, status_lines
from bs.usecases.status_times import ScheduleOutlook, relative_text, schedule_outlook, span_text

LONDON = ZoneInfo("Europe/London")
OFFICE_HOURS: dict[str, object] = {
    "timezone": "Europe/London",
    "windows": [{"days": ["mon-thu"], "from": "09:30", "to": "17:00"}],
    "freezes": [
        {"from": "2026-12-21", "to": "2027-01-04", "reason": "Christmas"},
        {"from": "2026-03-01", "to": "2026-03-02", "reason": "Over already"},
    ],
}


def london(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def outlook_at(moment: datetime, schedule: dict[str, object] = OFFICE_HOURS) -> ScheduleOutlook:
    return schedule_outlook(Schedule.model_validate(schedule), moment)


def test_inside_a_window_it_is_open_until_the_slot_ends() -> None:
    now = london(2026, 11, 25, 10, 0)  # a Wednesday
    outlook = outlook_at(now)
    assert outlook.open_at(now)
    assert outlook.windows == ("mon-thu 09:30-17:00",)
    assert outlook.next_slot is not None and outlook.next_slot.start == now
    assert outlook.next_slot.end == london(2026, 11, 25, 12, 0)
    assert [f.reason for f in outlook.current] == []
    assert [f.reason for f in outlook.coming] == ["Christmas"]  # the past one is left out


def test_outside_the_windows_the_next_opening_is_given() -> None:
    now = london(2026, 11, 27, 10, 0)  # a Friday
    outlook = outlook_at(now)
    assert not outlook.open_at(now)
    assert outlook.next_slot is not None
    assert outlook.next_slot.start == london(2026, 11, 30, 9, 30)  # Monday
    assert outlook.next_slot.waited_for == ("outside the deploy windows",)


def test_in_a_freeze_it_is_current_and_the_slot_waits_for_its_end() -> None:
    now = london(2026, 12, 22, 10, 0)
    outlook = outlook_at(now)
    (current,) = outlook.current
    assert current.reason == "Christmas"
    assert (current.start, current.end) == (london(2026, 12, 21, 0, 0), london(2027, 1, 5, 0, 0))
    assert outlook.coming == ()
    assert not outlook.open_at(now)
    assert outlook.next_slot is not None
    assert outlook.next_slot.start == london(2027, 1, 5, 9, 30)  # Tuesday after the freeze
    assert outlook.next_slot.waited_for[0] == "the freeze 'Christmas'"
    # The freeze's last instant is still in it; its end is not.
    assert outlook_at(london(2027, 1, 4, 23, 59)).current
    assert not outlook_at(london(2027, 1, 5, 0, 0)).current


def test_no_windows_means_open_any_time_outside_freezes() -> None:
    now = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # a Saturday night
    outlook = outlook_at(now, {"slot": "30m"})
    assert outlook.windows is None and outlook.open_at(now)
    assert outlook.next_slot is not None and outlook.next_slot.end == now + timedelta(minutes=30)


def test_freezes_covering_every_window_leave_no_slot() -> None:
    now = london(2026, 11, 25, 10, 0)
    outlook = outlook_at(
        now, {"freezes": [{"from": "2026-01-01", "to": "2028-12-31", "reason": "All"}]}
    )
    assert outlook.next_slot is None and not outlook.open_at(now)
    assert outlook.no_slot is not None and "freezes cover every window" in outlook.no_slot


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=59), "under a minute"),
        (timedelta(minutes=7, seconds=59), "7m"),
        (timedelta(hours=2, minutes=5), "2h 5m"),
        (timedelta(hours=2), "2h"),
        (timedelta(days=3, hours=4, minutes=5), "3d 4h"),
        (timedelta(days=1, minutes=5), "1d 5m"),
    ],
)
def test_span_text(delta: timedelta, text: str) -> None:
    assert span_text(delta) == text


def test_relative_text_says_which_way() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert relative_text(now + timedelta(hours=3), now) == "in 3h"
    assert relative_text(now - timedelta(minutes=90), now) == "1h 30m ago"


def report(emergencies: list[PendingReview]) -> StatusReport:
    now = london(2026, 11, 25, 10, 0)
    return StatusReport(
        now=now, apps=["frontend"], open_requests=[], deployed=[],
        store=StoreView("sqlite:////srv/gateway.sqlite", True, False),
        freezes=[PolicySchedule("standard", ("frontend",), outlook_at(now))],
        zones={"frontend": LONDON}, emergencies=emergencies,
    )  # fmt: skip


def test_the_emergencies_section_shows_only_when_it_has_items() -> None:
    empty = report([])
    text = "\n".join(status_lines(empty))
    assert "Emergency" not in text
    assert "  none" in text.split("Open requests\n")[1].splitlines()[0]
    assert status_json(empty)["emergencies"] == []
    pending = PendingReview("frontend", "20261125-aaaaaaaaaaaaaaaa", "https://x/pull/4", "deployed")
    lines = status_lines(report([pending]))
    start = lines.index("Emergency deploys whose follow-up review is not approved yet")
    assert lines[start + 1] == "  frontend 20261125-aaaaaaaaaaaaaaaa: deployed  https://x/pull/4"
    assert status_json(report([pending]))["emergencies"] == [
        {"app": "frontend", "request_id": "20261125-aaaaaaaaaaaaaaaa",
         "url": "https://x/pull/4", "what": "deployed"}
    ]  # fmt: skip


def test_status_json_has_every_section() -> None:
    data = status_json(report([]))
    assert set(data) >= {
        "open_requests", "deployed", "slots", "running", "locks", "freezes", "emergencies", "store",
    }  # fmt: skip
    assert data["store"] == {
        "reachable": True, "error": None, "exists": False, "location": "sqlite:////srv/gateway.sqlite",
    }  # fmt: skip
    (policy,) = data["freezes"]
    assert policy["open_now"] is True and policy["windows"] == ["mon-thu 09:30-17:00"]
    assert [f["reason"] for f in policy["coming"]] == ["Christmas"]
    assert policy["coming"][0]["start"] == "2026-12-21T00:00:00Z"
