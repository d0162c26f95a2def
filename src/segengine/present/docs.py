"""`segengine docs`: the warehouse catalogue as text, Markdown or HTML (pure: frames -> str).

Input: one row per column (table_name, column_name, data_type, comment) and one per table
(table_name, comment), read from the published warehouse, so the document shows exactly the
comments the tables carry (run/catalogue.py declares them).
"""

from __future__ import annotations

import html

import polars as pl

DOC_FORMATS = ("text", "markdown", "html")


def _groups(columns: pl.DataFrame, tables: pl.DataFrame) -> list[tuple[str, str, pl.DataFrame]]:
    about = dict(tables.select("table_name", "comment").iter_rows())
    return [(name, about.get(name) or "", columns.filter(pl.col("table_name") == name))
            for name in sorted(set(columns["table_name"].to_list()))]


def render_docs(columns: pl.DataFrame, tables: pl.DataFrame, fmt: str) -> str:
    """The catalogue in `text`, `markdown` or `html`."""
    groups = _groups(columns, tables)
    if fmt == "markdown":
        out = ["# segengine warehouse catalogue", ""]
        for name, about, cols in groups:
            out += [f"## {name}", "", about, "", "| column | type | meaning |", "|---|---|---|"]
            out += [f"| `{c}` | {t} | {(m or '').replace('|', '/')} |"
                    for _, c, t, m in cols.iter_rows()]
            out.append("")
        return "\n".join(out)
    if fmt == "html":
        parts = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>segengine "
                 "warehouse catalogue</title><style>body{font-family:system-ui,sans-serif;"
                 "margin:24px}table{border-collapse:collapse}td,th{border-bottom:1px solid "
                 "#ddd;padding:3px 8px;text-align:left;vertical-align:top}code{color:#1f3a5f}"
                 "</style></head><body><h1>segengine warehouse catalogue</h1>"]
        for name, about, cols in groups:
            rows = "".join(f"<tr><td><code>{html.escape(c)}</code></td><td>{html.escape(t)}"
                           f"</td><td>{html.escape(m or '')}</td></tr>"
                           for _, c, t, m in cols.iter_rows())
            parts.append(f"<h2 id='{html.escape(name)}'>{html.escape(name)}</h2>"
                         f"<p>{html.escape(about)}</p><table><tr><th>column</th><th>type</th>"
                         f"<th>meaning</th></tr>{rows}</table>")
        return "".join(parts) + "</body></html>\n"
    out = []
    for name, about, cols in groups:
        width = max(len(c) for c in cols["column_name"].to_list())
        out += [f"{name}: {about}"]
        out += [f"  {c:<{width}}  {t:<14} {m or '(no comment)'}" for _, c, t, m in cols.iter_rows()]
        out.append("")
    return "\n".join(out).rstrip("\n")
