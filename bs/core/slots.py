"""Deploy slots: when an approved release may go out.

A policy may say how long a slot lasts (``slot``, default 2h), the weekly
windows deploys may happen in (``windows``, in the policy's ``timezone``) and
the dates nothing may be deployed (``freezes``). A request merged inside a
window gets its slot at once; merged outside one, at the next opening; during
a freeze, at the first opening after it. A slot never runs past the close of
its window or into a freeze: it is cut short there instead.

Windows are wall-clock times, so 09:30 stays 09:30 across daylight-saving
changes; durations are real time, so a 2h slot is two hours even on the night
the clocks change. Pure: the merge time is an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SLOT = "2h"
#: Shortest and longest slot a policy may give.
MIN_SLOT = timedelta(minutes=5)
MAX_SLOT = timedelta(days=7)
#: How far ahead a slot is looked for before the policy is called impossible.
HORIZON = timedelta(days=400)
#: A slot shorter than this (or than the policy's slot, if that is shorter) is no
#: slot: one that a window's close or a freeze would cut this short starts at the
#: next opening instead.
USEFUL_SLOT = timedelta(minutes=15)
#: Freeze dates outside these years are refused (datetime ends at year 9999).
FIRST_YEAR, LAST_YEAR = 1970, 9000

DURATION_PATTERN = r"^(?:\d{1,3}d)?(?:\d{1,4}h)?(?:\d{1,5}m)?$"
CLOCK_PATTERN = r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DAY_PATTERN = r"^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?$"
#: What each pattern means, for error messages (bs.validation names them).
PATTERN_NAMES = {
    DURATION_PATTERN: "a duration: write it like 2h, 90m or 1h30m",
    CLOCK_PATTERN: "a time of day: HH:MM, 24-hour, e.g. 09:30 (24:00 ends a day)",
    DATE_PATTERN: "a date: YYYY-MM-DD, e.g. 2026-12-21",
    DAY_PATTERN: "a day (mon, tue, wed, thu, fri, sat, sun) or a range such as mon-thu",
}
_DURATION = re.compile(r"^(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,5})m)?$")

Duration = Annotated[
    str, Field(pattern=DURATION_PATTERN, description="a duration such as 2h, 90m or 1h30m")
]
Clock = Annotated[str, Field(pattern=CLOCK_PATTERN, description="HH:MM, 24-hour; 24:00 ends a day")]
DateText = Annotated[str, Field(pattern=DATE_PATTERN, description="a date, YYYY-MM-DD")]
DaySpec = Annotated[
    str, Field(pattern=DAY_PATTERN, description="a day (mon) or a range of days (mon-thu)")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groups()):
        raise ValueError(f"'{text}' is not a duration: write it like 2h, 90m or 1h30m")
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _clock(text: str) -> time | None:
    """The time of day, or None for 24:00 (the end of the day)."""
    if text == "24:00":
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def expand_days(specs: list[str]) -> list[int]:
    """Weekday numbers (Monday 0) for ``[mon-thu, sat]``; a range may wrap (``fri-mon``)."""
    found: list[int] = []
    for spec in specs:
        first, _, last = spec.partition("-")
        start, end = DAYS.index(first), DAYS.index(last or first)
        day = start
        while True:
            if day not in found:
                found.append(day)
            if day == end:
                break
            day = (day + 1) % 7
    return sorted(found)


class Window(_Strict):
    """A weekly time deploys may happen: ``{days: [mon-thu], from: "09:30", to: "17:00"}``."""

    days: list[DaySpec] = Field(min_length=1)
    from_: Clock = Field(alias="from")
    to: Clock

    @field_validator("days", mode="before")
    @classmethod
    def _one_day_spec(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value  # `days: mon-thu` is one range

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _quoted_times(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # YAML reads 09:30 unquoted as a number (sexagesimal): say how to write it.
            raise ValueError('write times in quotes, e.g. from: "09:30", to: "17:00"')
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.from_ == "24:00":
            raise ValueError("a window cannot start at 24:00: use 00:00 of the next day")
        if self.to != "24:00" and self.to <= self.from_:
            raise ValueError(
                f"the window ends ({self.to}) before it starts ({self.from_}): a window is "
                "within one day; split one that runs past midnight into two"
            )
        return self

    def describe(self) -> str:
        return f"{', '.join(self.days)} {self.from_}-{self.to}"


class Freeze(_Strict):
    """Dates nothing may be deployed on, both included, in the policy's time zone."""

    from_: DateText = Field(alias="from")
    to: DateText
    reason: str = Field(min_length=1, max_length=200)

    @field_validator("from_", "to")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a date that exists") from None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValueError(
                f"{value} is not a date bs can plan around: give one from {FIRST_YEAR} to "
                f"{LAST_YEAR} (for a freeze with no end in sight, a date far ahead)"
            )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        if self.to < self.from_:
            raise ValueError(f"the freeze ends ({self.to}) before it starts ({self.from_})")
        return self


class Schedule(_Strict):
    """The deploy-time part of a policy."""

    slot: Duration = Field(default=DEFAULT_SLOT, description="how long a deploy slot lasts")
    timezone: str = Field(default="UTC", description="an IANA time zone, e.g. Europe/London")
    windows: list[Window] | None = Field(
        default=None, description="weekly times deploys may happen; absent: any time"
    )
    freezes: list[Freeze] = Field(default_factory=list)

    @field_validator("slot")
    @classmethod
    def _slot_length(cls, value: str) -> str:
        length = parse_duration(value)
        if not MIN_SLOT <= length <= MAX_SLOT:
            raise ValueError(f"a slot lasts between 5m and 7d, not {value}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            known = value in _zone_names() and ZoneInfo(value) is not None
        except (ZoneInfoNotFoundError, ValueError, OSError):
            known = False
        if not known:
            raise ValueError(
                f"unknown time zone '{value}': use an IANA name such as Europe/London or UTC"
            ) from None
        return value

    @field_validator("windows", mode="before")
    @classmethod
    def _some_windows(cls, value: Any) -> Any:
        if value is None or value == []:
            raise ValueError("given but empty: list at least one window, or remove windows")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def duration(self) -> timedelta:
        return parse_duration(self.slot)


@cache
def _zone_names() -> frozenset[str]:
    # Only real zone names: not a folder of them ("Europe"), not names whose meaning
    # depends on the machine ("localtime", "Factory", "posixrules", posix/..., right/...).
    machine = {"localtime", "Factory", "posixrules"}
    return frozenset(
        name
        for name in available_timezones()
        if name not in machine and not name.startswith(("posix/", "right/"))
    ) | {"UTC"}


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    #: Why the slot starts later than the merge ("outside the deploy windows", a freeze).
    waited_for: tuple[str, ...] = ()
    #: Why the slot is shorter than the policy's length, if it is.
    cut_short_by: str | None = None


class NoSlot(ValueError):
    """No window opens within the horizon: the policy's freezes cover them all."""


def _local(day: date, clock: time | None, zone: ZoneInfo, *, edge: str) -> datetime:
    """The instant a wall-clock time names. Where the clocks change, a time may name
    two instants (autumn) or none (spring): a window's start takes the later reading
    and its end the earlier, so a slot never holds a time its window does not."""
    if clock is None:
        day, clock = day + timedelta(days=1), time(0)
    readings = [
        datetime.combine(day, clock, zone).replace(fold=fold).astimezone(UTC) for fold in (0, 1)
    ]
    # A time in a spring gap comes back from UTC as another wall time: it names no instant.
    real = [
        r
        for r in readings
        if r.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, clock)
    ]
    if not real:  # in the gap: the edge is the moment the clocks jump
        return _jump(min(readings), max(readings), zone)
    return max(real) if edge == "start" else min(real)


def _jump(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (low, high] with `high`'s UTC offset: when the clocks moved."""
    after = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _open_intervals(
    schedule: Schedule, after: datetime, days: int
) -> list[tuple[datetime, datetime, str]]:
    """The windows' instants from the day before `after` for `days` days, merged
    where they touch, each with the window it came from (for messages)."""
    zone = schedule.zone
    first = after.astimezone(zone).date() - timedelta(days=1)
    found: list[tuple[datetime, datetime, str]] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        for window in schedule.windows or ():
            if day.weekday() in expand_days(window.days):
                start = _local(day, _clock(window.from_), zone, edge="start")
                end = _local(day, _clock(window.to), zone, edge="end")
                if end > start:
                    found.append((start, end, window.describe()))
    found.sort()
    merged: list[tuple[datetime, datetime, str]] = []
    for start, end, label in found:
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, label))
    return merged


def freeze_instants(schedule: Schedule) -> list[tuple[datetime, datetime, str]]:
    zone = schedule.zone
    return sorted(
        (
            # A freeze takes the widest reading of its edges: it never shrinks.
            _local(date.fromisoformat(f.from_), time(0), zone, edge="end"),
            _local(date.fromisoformat(f.to), None, zone, edge="start"),
            f.reason,
        )
        for f in schedule.freezes
    )


def deploy_slot(merged_at: datetime, schedule: Schedule) -> Slot:
    """The slot of a request merged at `merged_at` (aware), under `schedule`."""
    moment = merged_at.astimezone(UTC)
    limit = moment + HORIZON
    freezes = freeze_instants(schedule)
    waited: list[str] = []
    while moment < limit:
        frozen = next((f for f in freezes if f[0] <= moment < f[1]), None)
        if frozen is not None:
            moment = frozen[1]
            waited.append(f"the freeze '{frozen[2]}'")
            continue
        window_end: datetime | None = None
        if schedule.windows is not None:
            # Far enough ahead that touching windows merge over a whole (7d) slot.
            span = 9 + schedule.duration.days + 2
            interval = next(
                (i for i in _open_intervals(schedule, moment, span) if i[1] > moment), None
            )
            if interval is None or interval[0] > moment:
                moment = interval[0] if interval is not None else moment + timedelta(days=7)
                if "outside the deploy windows" not in waited:
                    waited.append("outside the deploy windows")
                continue
            window_end = interval[1]
        slot = _slot_from(moment, schedule.duration, window_end, freezes, tuple(waited))
        if slot.end - slot.start >= min(USEFUL_SLOT, schedule.duration):
            return slot
        # Too little left before the window closes or a freeze begins: wait for more.
        moment = slot.end
        reason = "too little of the window was left" if window_end == slot.end else None
        if reason and reason not in waited:
            waited.append(reason)
    raise NoSlot(
        f"no deploy window opens within {HORIZON.days} days of {merged_at:%Y-%m-%d}: "
        "the policy's freezes cover every window"
    )


def _slot_from(
    start: datetime,
    length: timedelta,
    window_end: datetime | None,
    freezes: list[tuple[datetime, datetime, str]],
    waited: tuple[str, ...],
) -> Slot:
    end, cut = start + length, None
    if window_end is not None and window_end < end:
        end, cut = window_end, "the deploy window closes"
    next_freeze = next((f for f in freezes if f[0] > start), None)
    if next_freeze is not None and next_freeze[0] < end:
        end, cut = next_freeze[0], f"the freeze '{next_freeze[2]}' begins"
    return Slot(start, end, waited, cut)


def describe_instant(moment: datetime, zone: ZoneInfo) -> str:
    """``Thu 26 Nov 2026 09:30 GMT (09:30 UTC)``; only the local time when the zone is UTC."""
    local, utc = moment.astimezone(zone), moment.astimezone(UTC)
    text = f"{local:%a %d %b %Y %H:%M} {local.tzname()}"
    if str(zone) == "UTC":
        return text
    return (
        f"{text} ({utc:%H:%M} UTC)"
        if utc.date() == local.date()
        else f"{text} ({utc:%a %d %b %H:%M} UTC)"
    )
