"""Plain-text, record, CSV and JSON rendering of result frames for the console (pure: frame ->
str). Every number is shown with all the digits it holds (`cell`), so nothing is mis-rounded."""

from __future__ import annotations

import io
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl


def _cell(value: Any) -> str:
    """One value as text that never mis-states it: every digit the value holds (floats in their
    shortest round-trip form, never %g/scientific), thousands separators on numbers."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return f"{value:,f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


cell = _cell
"""Public name of the exact cell formatter (the report and the app use it too)."""

def fixed(value: Any, places: int) -> str:
    """A number rounded half-up to `places` decimals, for headline figures whose exact value
    is shown elsewhere; "-" for None."""
    if value is None:
        return "-"
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return f"{exact.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):,f}"


def percent(ratio: Any, places: int = 1) -> str:
    """A 0..1 ratio as a percentage rounded half-up, e.g. 0.0808 -> 8.1%; "-" for None."""
    if ratio is None:
        return "-"
    exact = ratio if isinstance(ratio, Decimal) else Decimal(repr(float(ratio)))
    return f"{fixed(100 * exact, places)}%"


FORMATS = ("table", "record", "csv", "json")
"""Output formats of result-printing commands."""


def check_status(level: str, passed: bool) -> str:
    """PASS, WARN (a failed warning-level check) or ERROR (a failed error-level check)."""
    if passed:
        return "PASS"
    return "WARN" if level == "warning" else "ERROR"


def format_table(frame: pl.DataFrame, *, max_rows: int = 50,
                 headers: dict[str, str] | None = None) -> str:
    """An aligned text table; numbers right-aligned; '(N more rows)' when cut; `headers`
    renames columns for display (e.g. to say total vs average)."""
    shown = frame.head(max_rows)
    header = [(headers or {}).get(c, c) for c in shown.columns]
    rows = [[_cell(v) for v in row] for row in shown.iter_rows()]
    numeric = [dt.is_numeric() for dt in shown.dtypes]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    if frame.height > max_rows:
        out.append(f"({frame.height - max_rows} more rows)")
    return "\n".join(out)


def format_records(frame: pl.DataFrame, *, max_rows: int = 50) -> str:
    """One block per row, one `column | value` line per column: for wide rows."""
    if frame.is_empty():
        return "(0 rows)"
    width = max(len(c) for c in frame.columns)
    blocks = []
    for number, row in enumerate(frame.head(max_rows).iter_rows(named=True), start=1):
        lines = [f"-[ record {number} ]" + "-" * max(4, width - 8)]
        lines += [f"{name.ljust(width)} | {_cell(value)}" for name, value in row.items()]
        blocks.append("\n".join(lines))
    if frame.height > max_rows:
        blocks.append(f"({frame.height - max_rows} more rows)")
    return "\n".join(blocks)


def render(frame: pl.DataFrame, fmt: str, *, max_rows: int = 50,
           headers: dict[str, str] | None = None) -> str:
    """Render as `table`, `record` (vertical), `csv` or `json` (records); csv and json keep the
    column names and full precision for machines."""
    if fmt == "record":
        return format_records(frame, max_rows=max_rows)
    if fmt == "csv":
        buf = io.StringIO()
        frame.write_csv(buf)
        return buf.getvalue().rstrip("\n")
    if fmt == "json":
        return json.dumps(frame.to_dicts(), default=str, indent=2)
    return format_table(frame, max_rows=max_rows, headers=headers)
