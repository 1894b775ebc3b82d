"""``bs status``'s pure part: freezes and deploy windows seen from `now`, and times as text.

No I/O and no clock: `now` is an argument, so what "current", "coming" and
"open now" mean is decided here and tested with any moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bs.core.slots import NoSlot, Schedule, Slot, deploy_slot, freeze_instants


@dataclass(frozen=True)
class FreezeSpan:
    """A freeze as instants: from its first day's midnight to the midnight after its last."""

    reason: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ScheduleOutlook:
    """What a policy's ``deploy:`` means at one moment."""

    timezone: str
    #: Each window described (``mon-thu 09:30-17:00``); None: deploys may happen any time.
    windows: tuple[str, ...] | None
    current: tuple[FreezeSpan, ...]
    coming: tuple[FreezeSpan, ...]
    #: The slot a request merged at that moment would get; None when there is none.
    next_slot: Slot | None
    #: Why there is no slot (freezes cover every window), when there is none.
    no_slot: str | None = None

    def open_at(self, now: datetime) -> bool:
        """Whether a request merged at `now` could deploy at once."""
        return self.next_slot is not None and self.next_slot.start <= now


def schedule_outlook(schedule: Schedule, now: datetime) -> ScheduleOutlook:
    """The freezes under way at `now`, those starting after it (soonest first), and the
    slot a request merged at `now` would get. Freezes already over are left out."""
    spans = [FreezeSpan(reason, start, end) for start, end, reason in freeze_instants(schedule)]
    current = tuple(span for span in spans if span.start <= now < span.end)
    coming = tuple(span for span in spans if span.start > now)
    windows = None if schedule.windows is None else tuple(w.describe() for w in schedule.windows)
    try:
        slot: Slot | None = deploy_slot(now, schedule)
        no_slot = None
    except NoSlot as exc:
        slot, no_slot = None, str(exc)
    return ScheduleOutlook(schedule.timezone, windows, current, coming, slot, no_slot)


def span_text(delta: timedelta) -> str:
    """A duration to the minute, its two largest units: ``3d 4h``, ``2h 5m``, ``7m``."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts[:2])


def relative_text(moment: datetime, now: datetime) -> str:
    """``in 2h 5m`` or ``2h 5m ago``."""
    if moment >= now:
        return f"in {span_text(moment - now)}"
    return f"{span_text(now - moment)} ago"


def iso(moment: datetime | None) -> str | None:
    """A moment as JSON gives it: UTC, whole seconds, ``Z``."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
