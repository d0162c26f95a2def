"""Plain-text, CSV and JSON rendering of result frames for the console (pure: frame -> str)."""

from __future__ import annotations

import io
import json
from decimal import Decimal
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


def format_table(frame: pl.DataFrame, *, max_rows: int = 50) -> str:
    """An aligned text table; numbers right-aligned; '(N more rows)' when cut."""
    shown = frame.head(max_rows)
    header = shown.columns
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


def render(frame: pl.DataFrame, fmt: str, *, max_rows: int = 50) -> str:
    """Render as `table`, `csv` or `json` (records)."""
    if fmt == "csv":
        buf = io.StringIO()
        frame.write_csv(buf)
        return buf.getvalue().rstrip("\n")
    if fmt == "json":
        return json.dumps(frame.to_dicts(), default=str, indent=2)
    return format_table(frame, max_rows=max_rows)
