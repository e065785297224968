"""The standard five-field cron schedules CronJobs use: when should the last run have started?

Supports what the CronJob controller accepts: ``*``, numbers, ranges ``a-b``, steps ``*/n`` and
``a-b/n``, lists, month and weekday names, and the ``@hourly``-style macros. Day-of-month and
day-of-week combine as in Vixie cron: when both are restricted, either matching is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_DAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
SEARCH_DAYS = 400  # a yearly schedule's previous run is at most a leap year back


class CronError(ValueError):
    """The schedule is not one the CronJob controller would accept."""


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, moment: datetime) -> bool:
        if moment.month not in self.months:
            return False
        weekday = (moment.weekday() + 1) % 7  # cron counts from Sunday
        day_ok, weekday_ok = moment.day in self.days, weekday in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def previous(self, before: datetime) -> datetime | None:
        """The latest scheduled minute at or before ``before`` (its own time zone)."""
        moment = before.replace(second=0, microsecond=0)
        day = moment.replace(hour=23, minute=59)
        for offset in range(SEARCH_DAYS):
            candidate_day = day - timedelta(days=offset)
            if not self.day_matches(candidate_day):
                continue
            for hour in sorted(self.hours, reverse=True):
                for minute in sorted(self.minutes, reverse=True):
                    at = candidate_day.replace(hour=hour, minute=minute)
                    if at <= moment:
                        return at
        return None


def _field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    for part in text.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if (step_text and not step_text.isdigit()) or step < 1:
            raise CronError(f"bad step in {text!r}")
        if base in ("*", "?"):
            start, stop = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, stop = _value(first, names), _value(last, names)
        else:
            start = _value(base, names)
            stop = high if step_text else start
        if not (low <= start <= high and low <= stop <= high) or start > stop:
            raise CronError(f"{text!r} is outside {low}-{high}")
        values.update(range(start, stop + 1, step))
    return frozenset(values), text not in ("*", "?")


def _value(text: str, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise CronError(f"{text!r} is not a number")
    return int(text)


def parse_schedule(text: str) -> Schedule:
    spec = MACROS.get(text.strip().lower(), text.strip())
    fields = spec.split()
    if fields and fields[0].startswith(("TZ=", "CRON_TZ=")):
        fields = fields[1:]  # the controller rejects these; reading past them costs nothing
    if len(fields) != 5:
        raise CronError(f"expected 5 fields, got {len(fields)} in {text!r}")
    minutes, _ = _field(fields[0], 0, 59, {})
    hours, _ = _field(fields[1], 0, 23, {})
    days, days_restricted = _field(fields[2], 1, 31, {})
    months, _ = _field(fields[3], 1, 12, _MONTHS)
    weekdays, weekdays_restricted = _field(fields[4], 0, 7, _DAYS)
    weekdays = frozenset(day % 7 for day in weekdays)  # 7 is Sunday too
    return Schedule(minutes, hours, days, months, weekdays, days_restricted, weekdays_restricted)
