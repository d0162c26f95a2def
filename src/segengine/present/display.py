"""Plain-text, CSV and JSON rendering of result frames for the console (pure: frame -> str)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.2f}"
        return f"{value:.4g}" if value % 1 else f"{value:.0f}"
    if isinstance(value, Decimal | date | datetime):
        return str(value)
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
