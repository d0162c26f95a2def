"""Stream a query's Arrow batches into one Parquet file with the schema the query declares.

The schema comes from `cursor.description` (Snowflake's column types), never from the first
batch: the connector sizes integers per chunk, a batch can be empty, and with
`arrow_number_to_decimal` NUMBER(p,s) arrives as an exact decimal that must stay one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from segengine.errors import DataError
from segengine.sync.session import Session
from segengine.sync.sql import Statement


def _unit(scale: int | None) -> str:
    """Arrow time unit that holds a Snowflake fractional-seconds scale without loss."""
    if scale is None or scale > 6:
        return "ns"
    return "s" if scale == 0 else "ms" if scale <= 3 else "us"


def arrow_type(type_name: str, precision: int | None, scale: int | None) -> pa.DataType:
    """The Arrow type a Snowflake result column is written as."""
    if type_name == "FIXED":
        if not scale and (precision or 38) <= 18:
            return pa.int64()
        return pa.decimal128(38, scale or 0)
    fixed: dict[str, pa.DataType] = {
        "REAL": pa.float64(), "TEXT": pa.large_string(), "DATE": pa.date32(),
        "BOOLEAN": pa.bool_(), "BINARY": pa.large_binary(),
    }
    if type_name in fixed:
        return fixed[type_name]
    if type_name in ("TIMESTAMP_NTZ", "TIMESTAMP"):
        return pa.timestamp(_unit(scale))
    if type_name in ("TIMESTAMP_LTZ", "TIMESTAMP_TZ"):
        return pa.timestamp(_unit(scale), tz="UTC")
    if type_name == "TIME":
        return pa.time64("ns") if _unit(scale) == "ns" else pa.time64("us")
    return pa.large_string()  # VARIANT, OBJECT, ARRAY, GEOGRAPHY...: JSON/WKT text


def schema_from_description(description: Sequence[Any]) -> pa.Schema:
    """Arrow schema (lower-cased names) of a Snowflake result, from cursor.description."""
    from snowflake.connector.constants import FIELD_ID_TO_NAME

    return pa.schema([
        pa.field(str(col.name).lower(),
                 arrow_type(FIELD_ID_TO_NAME[col.type_code], col.precision, col.scale))
        for col in description])


def conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema, *, source: str) -> pa.Table:
    """A batch cast to the declared schema; a value that cannot be cast exactly is an error."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    table = table.rename_columns([n.lower() for n in table.column_names])
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{source} returned values that do not fit the column types Snowflake "
                        f"declared ({exc}). Check the source column types") from None


def stream_to_parquet(session: Session, stmt: Statement, path: Path) -> int:
    """Run a SELECT and append its Arrow batches to `path`; returns rows (0 = no file)."""
    cur = session.execute(stmt)
    schema = schema_from_description(cur.description)
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        with session.fetching(stmt.purpose or "downloading results"):
            for batch in cur.fetch_arrow_batches():
                if batch.num_rows == 0:
                    continue
                table = conform(batch, schema, source=stmt.purpose or "the query")
                if writer is None:
                    writer = pq.ParquetWriter(path, schema)
                writer.write_table(table)
                rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows
