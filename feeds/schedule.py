"""When a feed is due, as APScheduler's triggers: a cron expression read as crontab reads
it, or an interval with jitter. The config checks a cron expression by building its
trigger here; the scheduler (``service/scheduler.py``) runs the triggers. The only module
that imports APScheduler's triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""Weekday names as crontab counts the days: 0 (and 7) is Sunday."""
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
CRON_FIELDS = (
    ("minute", "minute", 0, 59, ()),
    ("hour", "hour", 0, 23, ()),
    ("day", "day", 1, 31, ()),
    ("month", "month", 1, 12, _MONTHS),
    ("weekday", "day_of_week", 0, 7, WEEKDAYS),
)
"""Each field of a cron expression: its name, APScheduler's, its range and names."""
_USAGE = "five fields, minute hour day month weekday, such as '*/15 * * * *' or '0 7 * * mon-fri'"


def cron_trigger(cron: str) -> BaseTrigger:
    """The trigger of a crontab expression (in UTC); ``ValueError`` saying which field is
    wrong and what it takes."""
    written = cron.split()
    if len(written) != len(CRON_FIELDS):
        raise ValueError(f"{cron!r} is not a cron expression: {_USAGE}")
    read = standard_weekdays(cron).split()  # the weekdays as APScheduler counts them
    for text, as_read, (name, keyword, low, high, names) in zip(
        written, read, CRON_FIELDS, strict=True
    ):
        try:
            CronTrigger(**{keyword: as_read}, timezone=UTC)
        except (ValueError, TypeError):
            raise ValueError(_field_problem(cron, text, name, low, high, names)) from None
    try:
        return CronTrigger.from_crontab(" ".join(read), timezone=UTC)
    except (ValueError, TypeError) as exc:  # fields valid alone, not together (Feb 30)
        raise ValueError(f"{cron!r} is not a cron expression ({exc}): {_USAGE}") from None


def _field_problem(
    cron: str, text: str, name: str, low: int, high: int, names: tuple[str, ...]
) -> str:
    """What is wrong with one field of a cron expression, as its user wrote it."""
    for step in (part.partition("/")[2] for part in text.split(",") if "/" in part):
        if not step.isdigit() or int(step) == 0:
            return f"{cron!r}: the {name} step {step!r} is not a number above 0"
    allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
    return f"{cron!r}: {name} {text!r} is not in {allowed}"


def interval_trigger(
    interval: timedelta, jitter: timedelta, start: datetime | None = None
) -> BaseTrigger:
    """Every ``interval`` from ``start`` (none: from now), each run moved by up to
    ``jitter`` (none: exactly)."""
    return IntervalTrigger(
        seconds=interval.total_seconds(),
        jitter=jitter.total_seconds() or None,
        start_date=start,
        timezone=UTC,
    )


def standard_weekdays(cron: str) -> str:
    """A crontab expression with its weekday numbers as names: crontab counts 0 (or 7) as
    Sunday, APScheduler 3 counts 0 as Monday (its from_crontab documents the mismatch).
    A numeric range becomes the list of its days, which crosses the week's end safely."""
    *rest, weekday = cron.split()
    parts = []
    for part in weekday.split(","):
        span, slash, step = part.partition("/")
        start, dash, stop = span.partition("-")
        first, last = _day_number(start), _day_number(stop)
        if first is None or (slash and not step.isdigit()) or (slash and int(step) == 0):
            parts.append(part)  # "*", "*/n", or what the trigger will refuse
            continue
        end = (last if dash and last is not None else first) + 1
        if end <= first:  # "fri-sun": to the week's end
            end += 7
        if slash and not dash:  # "n/step": from n to the week's end
            end = 7
        if first > 7 or end > 15:
            parts.append(part)  # out of range: the trigger refuses it
            continue
        numbers = range(first, end, int(step) if slash else 1)
        parts += list(dict.fromkeys(WEEKDAYS[number % 7] for number in numbers))
    return " ".join([*rest, ",".join(parts)])


def _day_number(bound: str) -> int | None:
    """A weekday as crontab counts it (0 or 7 Sunday, 1 Monday), from a number or a name."""
    if bound.isdigit():
        return int(bound)
    name = bound.lower()
    return WEEKDAYS.index(name) if name in WEEKDAYS else None
