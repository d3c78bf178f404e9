"""Shift and day windows in site-local time.

Shifts are written in local clock time (``06:00``–``14:00``; ``22:00``–``06:00`` runs past
midnight) but the engine counts in UTC nanoseconds, so every boundary is localised with the
site's IANA zone: a night shift on the night clocks go back is an hour longer, on the night they
go forward an hour shorter, and a ``day`` window is 23 or 25 hours long on those dates.

Time not covered by any shift (days off, holidays, gaps between shifts) forms ``off`` segments,
so shift windows partition time exactly like the fixed windows do and totals agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from ..config import WEEKDAYS, ShiftCalendar
from ..records import NS_PER_S, to_ns

OFF = "off"



@dataclass(frozen=True)
class Segments:
    """Consecutive time segments: ``starts[i]`` ns (ascending) begins segment ``names[i]``."""

    starts: np.ndarray
    names: tuple[str, ...]

    def index(self, times: np.ndarray) -> np.ndarray:
        """The segment each of ``times`` (ns) falls in."""
        return np.searchsorted(self.starts, times, side="right") - 1


class SiteCalendar:
    """Local midnights and shift boundaries for one site, computed on demand per date."""

    def __init__(self, calendar: ShiftCalendar, timezone: str) -> None:
        self._calendar = calendar
        self._zone = ZoneInfo(timezone)
        self._holidays = {date.fromisoformat(d) for d in calendar.holidays}
        self._days_off = {WEEKDAYS.index(d) for d in calendar.days_off}

    def local_date(self, t: int) -> date:
        return datetime.fromtimestamp(t / NS_PER_S, self._zone).date()

    def midnight(self, day: date) -> int:
        """UTC ns of local midnight starting ``day`` (the first instant of the local date)."""
        return to_ns(datetime(day.year, day.month, day.day, tzinfo=self._zone))

    def days(self, start: int, end: int) -> Segments:
        """``day`` windows covering ``[start, end)``, each named by its local date."""
        first = self.local_date(start)
        last = self.local_date(end)
        dates = [first + timedelta(days=i) for i in range((last - first).days + 2)]
        return Segments(
            np.array([self.midnight(d) for d in dates], dtype=np.int64),
            tuple(d.isoformat() for d in dates),
        )

    def shifts(self, start: int, end: int) -> Segments:
        """Shift windows (and ``off`` gaps) covering ``[start, end)``; needs at least one shift.

        A shift belongs to the local date it starts on; a day off or holiday removes the
        shifts starting on it. Overlapping shifts are cut at the next shift's start.
        """
        first = self.local_date(start) - timedelta(days=1)
        spans: list[tuple[int, int, str]] = []
        day = first
        # go on until a shift starts after ``end``, so the segment holding ``end`` has its true
        # end (an ``off`` stretch over a weekend ends when Monday's first shift starts)
        while not spans or spans[-1][0] <= end:
            if (day - first).days > 400:
                raise ValueError("the shift calendar has no working day in a year")
            if day.weekday() not in self._days_off and day not in self._holidays:
                for shift in self._calendar.shifts:
                    begin = datetime.combine(day, shift.start, self._zone)
                    finish_day = day + timedelta(days=1) if shift.end <= shift.start else day
                    finish = datetime.combine(finish_day, shift.end, self._zone)
                    spans.append((to_ns(begin), to_ns(finish), shift.name))
            day += timedelta(days=1)
        spans.sort()
        starts: list[int] = []
        names: list[str] = []
        cursor = self.midnight(first)
        for begin, finish, name in spans:
            begin = max(begin, cursor)  # overlapping shifts: the later one starts where it can
            if finish <= begin:
                continue
            if begin > cursor:
                starts.append(cursor)
                names.append(OFF)
            starts.append(begin)
            names.append(name)
            cursor = finish
        starts.append(cursor)
        names.append(OFF)
        return Segments(np.array(starts, dtype=np.int64), tuple(names))
