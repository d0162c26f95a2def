"""Record pushes in the run manifest (runs/<run_id>.json), written atomically."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from segengine.lake.layout import Layout, write_json_atomic

PUSH_ONLY_PREFIX = "push-"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_run_manifest(layout: Layout, as_of: date) -> Path | None:
    """The newest local run manifest (by modification time) whose as_of is `as_of` (a
    `run --engine snowflake` manifest describes tables published inside Snowflake, not files a
    push uploads)."""
    if not layout.runs_dir.is_dir():
        return None
    candidates = []
    for path in layout.runs_dir.glob("*.json"):
        if path.name.startswith(PUSH_ONLY_PREFIX):
            continue
        data = _read(path)
        if (data is not None and str(data.get("as_of", "")) == as_of.isoformat()
                and data.get("engine", "local") != "snowflake"):
            candidates.append((path.stat().st_mtime_ns, path.name, path))
    return max(candidates)[2] if candidates else None


def record_push(layout: Layout, record: dict[str, Any], *, as_of: date,
                now: datetime, run_id: str | None = None) -> Path:
    """Append `record` to the run manifest's "pushes" list (runs/<run_id>.json when the pushed
    run is known), or write runs/push-<ts>.json."""
    named = layout.runs_dir / f"{run_id}.json" if run_id else None
    path = named if named is not None and named.exists() else find_run_manifest(layout, as_of)
    if path is not None:
        data = _read(path) or {}
        pushes = data.get("pushes")
        data["pushes"] = [*(pushes if isinstance(pushes, list) else []), record]
        write_json_atomic(path, data)
        return path
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    path = layout.runs_dir / f"{PUSH_ONLY_PREFIX}{stamp}.json"
    write_json_atomic(path, {"run_id": None, "as_of": as_of.isoformat(), "pushes": [record]})
    return path


def transaction_journal(layout: Layout) -> Path:
    """Where the id of a publish transaction is kept while it is open."""
    return layout.root / ".snowflake-transaction.json"


def record_open_transaction(layout: Layout, *, account: str, transaction: str | None) -> None:
    """Keep the open publish transaction's id on disk (None: it ended), so a push after a
    killed one can abort the transaction Snowflake keeps open for the dead client."""
    path = transaction_journal(layout)
    if transaction is None:
        path.unlink(missing_ok=True)
        return
    write_json_atomic(path, {"account": account, "transaction": transaction})


def open_transaction(layout: Layout, *, account: str) -> str | None:
    """The id an earlier push on this data directory left open on this account, if any."""
    data = _read(transaction_journal(layout))
    if not data or str(data.get("account", "")).lower() != account.lower():
        return None
    value = str(data.get("transaction", ""))
    return value if value.isdigit() else None
