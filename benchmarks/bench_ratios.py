"""The §12 ratio table: targets, medians and PASS/MISS, from measured timings (no I/O).

run_bench.py measures; this module only turns per-repetition measurements into the table the
acceptance reads (design §12): one row per target, its measured value, its goal and PASS, MISS
or n/a (not measured, or the option is not supported by this build). Kept free of processes
and files so tests can check it on hand-made timings.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

NOT_SUPPORTED = "n/a (not supported by this build)"
NOT_MEASURED = "n/a (not measured)"
GB = 1e9  # decimal gigabytes: the strict reading of "<= 1.0 GB"


@dataclass(frozen=True)
class Target:
    """One §12 row: value = numerator / denominator (or the numerator alone), goal direction."""

    key: str
    scale: str  # "1" or "10": the table is printed per scale
    label: str
    goal: float
    at_least: bool  # True: value >= goal passes; False: value <= goal passes
    unit: str  # "x" for ratios, "s", "GB"


TARGETS: tuple[Target, ...] = (
    Target("full_vs_dbt", "1", "full run vs dbt-on-DuckDB (dbt s / segengine s)", 1.0, True, "x"),
    Target("full_vs_pandas", "1", "full run vs fair pandas (pandas s / segengine s)", 5.0, True,
           "x"),
    Target("daily_cycle", "1", "daily cycle: (ingest 1 day + run) / run --no-summaries", 0.5,
           False, "x"),
    Target("backfill", "1", "12-date backfill (--as-of A..B --every month-end) / one run", 4.0,
           False, "x"),
    Target("peak_rss", "1", "peak RSS of a full run", 1.0, False, "GB"),
    Target("generate", "1", "generate at defaults", 10.0, False, "s"),
    Target("scale_time", "10", "10x data: run time / run time at 1x", 10.0, False, "x"),
    Target("peak_rss", "10", "10x data: peak RSS of a full run", 4.0, False, "GB"),
    Target("daily_cycle", "10", "daily cycle at 10x: (ingest 1 day + run) / run --no-summaries",
           0.3, False, "x"),
)


def median(values: list[float | None] | None) -> float | None:
    """Median of the measured values; None when nothing was measured (or any run failed)."""
    if not values or any(v is None for v in values):
        return None
    return float(statistics.median(v for v in values if v is not None))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def verdict(target: Target, value: float | None) -> str:
    if value is None:
        return "n/a"
    ok = value >= target.goal if target.at_least else value <= target.goal
    return "PASS" if ok else "MISS"


def medians_of(reps: dict[str, list[float | None]]) -> dict[str, float | None]:
    """Per measured quantity, the median over repetitions."""
    return {name: median(values) for name, values in reps.items()}


def target_values(scale: str, m: dict[str, float | None],
                  base: dict[str, float | None] | None = None) -> dict[str, float | None]:
    """Each target's value at this scale from the medians `m` (and the 1x medians `base`).

    Keys of m: run_s, run_rss_bytes, dbt_s, pandas_s, cycle_s (ingest + run, per repetition),
    no_summaries_s, backfill_s, generate_s."""
    base = base or {}
    if scale == "1":
        return {
            "full_vs_dbt": ratio(m.get("dbt_s"), m.get("run_s")),
            "full_vs_pandas": ratio(m.get("pandas_s"), m.get("run_s")),
            "daily_cycle": ratio(m.get("cycle_s"), m.get("no_summaries_s")),
            "backfill": ratio(m.get("backfill_s"), m.get("run_s")),
            "peak_rss": ratio(m.get("run_rss_bytes"), GB),
            "generate": m.get("generate_s"),
        }
    return {
        "scale_time": ratio(m.get("run_s"), base.get("run_s")),
        "peak_rss": ratio(m.get("run_rss_bytes"), GB),
        "daily_cycle": ratio(m.get("cycle_s"), m.get("no_summaries_s")),
    }


def table_rows(values: dict[str, dict[str, float | None]],
               unsupported: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """One row per §12 target, in the order of TARGETS, for the scales measured.

    values: scale -> target key -> value (None = not measured); unsupported: scale -> target
    key -> the reason shown instead of a value (e.g. NOT_SUPPORTED)."""
    unsupported = unsupported or {}
    rows = []
    for t in TARGETS:
        if t.scale not in values:
            continue
        value = values[t.scale].get(t.key)
        note = unsupported.get(t.scale, {}).get(t.key)
        if value is not None:
            shown = f"{value:.2f}{t.unit}" if t.unit == "x" else f"{value:.2f} {t.unit}"
        else:
            shown = note or NOT_MEASURED
        unit = t.unit if t.unit == "x" else f" {t.unit}"
        goal = f"{'>=' if t.at_least else '<='} {t.goal:g}{unit}"
        rows.append({"scale": t.scale, "key": t.key, "target": t.label, "value": value,
                     "shown": shown, "goal": goal, "verdict": verdict(t, value)})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, grouped by scale."""
    lines = ["| scale | target | measured | goal | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scale']}x | {r['target']} | {r['shown']} | {r['goal']} | "
                     f"{r['verdict']} |")
    return "\n".join(lines)
