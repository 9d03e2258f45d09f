"""The vocabulary every layer shares, each defined once: the two sides and the local day.

A side is written ``HK``/``SZ`` in records and ``hk``/``sz`` in topic names and metric labels;
:class:`Side` converts. Hong Kong and Shenzhen are both UTC+8: calendar days (dates of birth, limit
windows, "today") are days in :data:`LOCAL_TZ`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Final

__all__ = ["LOCAL_TZ", "Side", "local_date"]

LOCAL_TZ: Final = timezone(timedelta(hours=8), "UTC+8")


class Side(StrEnum):
    """A side of the boundary, as records spell it (``HK``, ``SZ``)."""

    HK = "HK"
    SZ = "SZ"

    @property
    def topic(self) -> str:
        """The side as topic names and metric labels spell it (``hk``, ``sz``)."""
        return self.value.lower()

    @classmethod
    def of_topic(cls, wire: str) -> Side:
        """``hk``/``sz`` (as in topic names) -> the side; ValueError for anything else."""
        return cls(wire.upper())


def local_date(instant: datetime) -> date:
    """The calendar day in Hong Kong and Shenzhen at ``instant`` (an aware datetime)."""
    return instant.astimezone(LOCAL_TZ).date()
