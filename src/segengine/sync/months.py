"""Calendar months of a pull (pure): `--since` parsing, month arithmetic, the start month."""

from __future__ import annotations

import re
from datetime import date

from segengine.errors import ConfigError
from segengine.lake.layout import month_key

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_YEAR = 1900
"""Earlier months are refused: a two-digit year read as 00YY would plan thousands of months."""


def parse_month(value: str, *, what: str = "--since") -> date:
    """Exactly `YYYY-MM` (four-digit year from 1900) -> first day of that month."""
    match = MONTH.match(value.strip()) if isinstance(value, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 \
            or int(match.group(1)) < FIRST_YEAR:
        raise ConfigError(f"{what} {value!r} is not a month; use YYYY-MM with a four-digit "
                          f"year from {FIRST_YEAR}, e.g. 2025-01")
    return date(int(match.group(1)), int(match.group(2)), 1)


def shift_month(month: str, delta: int) -> str:
    """Month `YYYY-MM` moved by `delta` months."""
    first = parse_month(month, what="month")
    index = first.year * 12 + first.month - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    """[first day, first day of the next month)."""
    return parse_month(month, what="month"), parse_month(shift_month(month, 1), what="month")


def months_between(first: str, last: str) -> list[str]:
    """Every month from first to last, inclusive."""
    out = []
    month = first
    while month <= last:
        out.append(month)
        month = shift_month(month, 1)
    return out


def start_month(*, watermark: str | None, since: str | None, full: bool,
                repull_months: int) -> str | None:
    """First month to read: --since, else watermark minus re-read window; None = from the start."""
    if since:
        return month_key(parse_month(since))
    if full or watermark is None:
        return None
    return shift_month(watermark, -max(repull_months - 1, -1))
