"""Backfill: which as-of dates one `run` computes, checked before any computation (issue #13).

`segengine run --as-of 2025-01-31..2025-12-31 --every month-end` (or `--as-of` repeated) runs
every date oldest first in one process (pipeline.run_dates); each date is published as its own
run, so customer_segments_history holds them all and the newest is the current run afterwards.
Pure functions only: parsing, the month-end calendar, the lake-end check and the message when
a date fails part-way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from segengine.errors import ConfigError, DataError, SegengineError

EVERY = ("month-end",)
"""Supported --every steps."""

_RANGE = re.compile(r"^\s*(?P<a>[^.]+?)\s*\.\.\s*(?P<b>[^.]+?)\s*$")


def _date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a date; use YYYY-MM-DD, or A..B with "
                          "--every month-end (e.g. --as-of 2025-01-31..2025-12-31 --every "
                          "month-end)") from None


def month_ends(first: date, last: date) -> list[date]:
    """Every last day of a month d with first <= d <= last, oldest first."""
    out, month = [], first.replace(day=1)
    while month <= last:
        end = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if first <= end <= last:
            out.append(end)
        month = end + timedelta(days=1)
    return out


def parse_as_of(values: Sequence[str], every: str | None) -> list[date]:
    """The as-of dates of `--as-of` values (dates, or one range A..B with `every`), sorted
    oldest first without repeats; [] when none was given (the lake's last date)."""
    if every is not None and every not in EVERY:
        raise ConfigError(f"--every {every!r} is not supported; use one of: {', '.join(EVERY)}")
    ranges = [v for v in values if ".." in v]
    if ranges and every is None:
        raise ConfigError(f"--as-of {ranges[0]} is a range: say which dates in it with "
                          "--every month-end")
    if every is not None and len(ranges) != 1:
        raise ConfigError("--every needs exactly one --as-of range A..B (e.g. --as-of "
                          "2025-01-31..2025-12-31 --every month-end)")
    dates: set[date] = set()
    for value in values:
        if ".." not in value:
            dates.add(_date(value, "--as-of"))
            continue
        match = _RANGE.match(value)
        if match is None:
            raise ConfigError(f"--as-of {value!r} is not a range; use A..B with two dates "
                              "YYYY-MM-DD (e.g. 2025-01-31..2025-12-31)")
        first, last = _date(match["a"], "--as-of"), _date(match["b"], "--as-of")
        if first > last:
            raise ConfigError(f"--as-of {value}: the range starts after it ends ({first} > "
                              f"{last}); write the older date first")
        ends = month_ends(first, last)
        if not ends:
            raise ConfigError(f"--as-of {value} holds no month-end; widen the range to "
                              "include the last day of a month")
        dates.update(ends)
    return sorted(dates)


def check_dates(dates: Sequence[date], *, lake_end: date, root: Path,
                allow_stale_lake: bool) -> None:
    """Refuse as-of dates after the lake's last transaction (§4) before any computation."""
    late = [d for d in dates if d > lake_end]
    if not late or allow_stale_lake:
        return
    if len(dates) == 1:
        raise DataError(
            f"--as-of {late[0]} is after the last transaction in the lake ({root}): "
            f"the lake ends on {lake_end}, so every recent window would look empty and "
            "healthy customers would be published as Declining. Pull or ingest first, or "
            "pass --allow-stale-lake")
    raise DataError(
        f"{len(late)} of the {len(dates)} as-of dates are after the last transaction in the "
        f"lake ({root}), which ends on {lake_end}: {', '.join(map(str, late[:5]))}"
        f"{', ...' if len(late) > 5 else ''}. Nothing was computed. End the range on or before "
        f"{lake_end}, pull or ingest first, or pass --allow-stale-lake")


def stopped_at(exc: SegengineError, failed: date, *, published: Sequence[date],
               total: int) -> SegengineError:
    """The error of a backfill that failed at one date: which date, what is published."""
    done = (f"the {len(published)} earlier date(s) {published[0]}..{published[-1]} are "
            "published" if published else "no date was published")
    return type(exc)(
        f"backfill stopped at {failed} (date {len(published) + 1} of {total}): {exc}. "
        f"{done}; the later dates were not computed. Fix the cause, then rerun from {failed}")
