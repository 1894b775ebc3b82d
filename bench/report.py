"""What every benchmark reports: goals (met or MISSED, never a failure) and table rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A table row: (label, median or peak, goal or note, OK/MISSED or ""), or a section heading.
Row = tuple[str, str, str, str] | str


@dataclass(frozen=True)
class Goal:
    name: str
    value: float
    limit: float
    unit: str
    inclusive: bool  # value <= limit (else value < limit)

    @property
    def ok(self) -> bool:
        return self.value <= self.limit if self.inclusive else self.value < self.limit

    @property
    def mark(self) -> str:
        return "OK" if self.ok else "MISSED"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "goal": f"{'<=' if self.inclusive else '<'} {self.limit}",
            "unit": self.unit,
            "ok": self.ok,
        }


def spread(values: list[float], scale: float = 1.0, unit: str = "s") -> str:
    """``range 1.23-1.45 s``: the lowest and highest of the measured runs."""
    digits = 1 if unit == "ms" else 2
    low, high = min(values) * scale, max(values) * scale
    return f"range {low:.{digits}f}-{high:.{digits}f} {unit}"
