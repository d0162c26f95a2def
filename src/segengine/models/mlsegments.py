"""External segmentation (design §5.6): read a CSV from another ML pipeline and attach it.

`read_segments_file` is the only function here that touches a file (the CLI/pipeline calls it);
`attach_segments` is pure and returns the frame joined into customer_360 as ml_segment_id/name.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import polars as pl

from segengine.errors import DataError

COLUMNS = ("customer_id", "segment_id", "segment_name")
EXAMPLES = 10

ML_SEGMENTS: dict[str, pl.DataType] = {
    "customer_id": pl.String(), "ml_segment_id": pl.String(), "ml_segment_name": pl.String(),
}
"""Schema of the joinable frame (all text: ids are never reinterpreted as numbers)."""


class AttachedSegments(NamedTuple):
    """The joinable frame plus the file's customer ids the lake does not know."""

    segments: pl.DataFrame
    unknown_count: int
    unknown_examples: list[str]


def read_segments_file(path: str | Path) -> pl.DataFrame:
    """Read and validate `customer_id, segment_id, segment_name` (all as text), sorted by id."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"segments file {path} does not exist. Check `ml.segments_file` or "
                        "--segments-file")
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"segments file {path} is not a readable CSV ({exc}). Export it as "
                        "UTF-8 CSV with a header row") from exc
    normalised = [c.strip().lower() for c in raw.columns]
    clashes = sorted({c for c in normalised if normalised.count(c) > 1})
    if clashes:
        raise DataError(f"segments file {path} has the column(s) {', '.join(clashes)} more than "
                        "once (names are compared without case and surrounding spaces). Keep "
                        "one of each")
    raw = raw.rename(dict(zip(raw.columns, normalised, strict=True)))
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"segments file {path} is missing column(s) {', '.join(missing)} "
                        f"(found: {', '.join(raw.columns) or 'none'}). Its header must be "
                        "customer_id,segment_id,segment_name")
    frame = raw.select(pl.col(c).str.strip_chars() for c in COLUMNS)
    blank = frame.filter(pl.col("customer_id").is_null() | (pl.col("customer_id") == ""))
    if blank.height:
        raise DataError(f"segments file {path} has {blank.height} row(s) with an empty "
                        "customer_id. Fill them in or remove them")
    dupes = (frame.group_by("customer_id").len().filter(pl.col("len") > 1)
             .sort("customer_id")["customer_id"].to_list())
    if dupes:
        shown = ", ".join(dupes[:EXAMPLES]) + (", ..." if len(dupes) > EXAMPLES else "")
        raise DataError(f"segments file {path} has {len(dupes)} duplicated customer_id(s): "
                        f"{shown}. Keep one row per customer")
    return frame.sort("customer_id")


def attach_segments(ext: pl.DataFrame, customer_ids: pl.Series) -> AttachedSegments:
    """Rows for customers the lake knows, renamed for customer_360; unknown ids are counted."""
    known = pl.DataFrame({"customer_id": customer_ids.cast(pl.String).unique()})
    renamed = ext.select(
        pl.col("customer_id").cast(pl.String),
        pl.col("segment_id").cast(pl.String).alias("ml_segment_id"),
        pl.col("segment_name").cast(pl.String).alias("ml_segment_name"),
    )
    unknown = renamed.join(known, on="customer_id", how="anti").sort("customer_id")
    matched = renamed.join(known, on="customer_id", how="semi").sort("customer_id")
    examples = unknown["customer_id"].head(EXAMPLES).to_list()
    return AttachedSegments(matched, unknown.height, examples)
