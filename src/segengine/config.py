"""Settings: frozen dataclasses, one section per stage.

Precedence: CLI flag > environment (`SEGENGINE_<SECTION>__<KEY>`, nested sections joined by `__`)
> `segengine.toml` (current directory or `--config`) > defaults. `SEGENGINE_DATA_DIR` is accepted
as a short form of `SEGENGINE_PATHS__DATA_DIR`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from segengine.errors import ConfigError

SECRET_KEY = re.compile(r"password|passphrase|private_key$|token|secret", re.IGNORECASE)
DEFAULT_END_DATE = date(2025, 10, 31)


@dataclass(frozen=True)
class PathsConfig:
    data_dir: str = "segengine-data"
    """Data directory: lake/, rejects/, warehouse.duckdb, out/, runs/."""


@dataclass(frozen=True)
class IngestConfig:
    columns: dict[str, str] = field(default_factory=dict)
    """Transactions mapping: target column -> source column name or DuckDB SQL expression."""
    customer_columns: dict[str, str] = field(default_factory=dict)
    """Customers mapping: target column -> source column name or DuckDB SQL expression."""
    max_reject_pct: float = 1.0
    """Fail the load (write nothing) when more than this % of rows is rejected."""
    delimiter: str = ","
    """CSV delimiter; `whitespace` splits on runs of spaces/tabs (e.g. CDNOW)."""
    header: bool = True
    """Whether CSV files have a header row."""
    column_names: list[str] = field(default_factory=list)
    """Names for CSV columns when `header = false` (default column0, column1, ...)."""
    max_amount: float = 1_000_000.00
    """Quarantine transactions above this amount (amount_out_of_range); at most 9999999999.99."""
    encoding: str = "utf-8"
    """Text encoding of CSV input, e.g. latin-1 or cp1252 (any Python codec name)."""


@dataclass(frozen=True)
class GenerateConfig:
    customers: int = 50_000
    """Number of synthetic customers."""
    months: int = 18
    """Calendar months of history, ending with the month of `end`."""
    end: date = DEFAULT_END_DATE
    """Last transaction date (a fixed default so data never depends on today)."""
    seed: int = 42
    """Random seed."""


@dataclass(frozen=True)
class SegmentsConfig:
    hvt_min_avg_monthly_spend: float = 5000
    """High-Value Travelers: avg_monthly_spend >= this."""
    hvt_min_travel_pct: float = 25
    """High-Value Travelers: travel_spend_pct >= this."""
    declining_max_change_pct: float = -30
    """Declining: spend_change_pct <= this."""
    declining_min_prior_spend: float = 2000
    """Declining: spend_prior_90_days >= this."""
    new_max_tenure_months: int = 6
    """New & Growing: tenure_months <= this."""
    new_min_change_pct: float = 50
    """New & Growing: spend_change_pct >= this."""
    budget_max_avg_monthly_spend: float = 1500
    """Budget-Conscious: avg_monthly_spend < this."""
    budget_min_necessities_pct: float = 60
    """Budget-Conscious: necessities_spend_pct >= this."""


@dataclass(frozen=True)
class RfmConfig:
    analysis_period_days: int = 365
    """Frequency/monetary window: as_of - N < date <= as_of."""
    scoring_method: str = "quintiles"
    """quintiles (k=5), quartiles (k=4) or custom (edges below)."""
    tie_policy: str = "shared"
    """shared (equal values, equal score; a tied group takes its best rank) or ntile (the
    reference's k equal groups: ties split arbitrarily by customer_id)."""
    recency_basis: str = "cadence"
    """cadence (R from recency in typical inter-purchase gaps: R5 within one gap, then one
    score lower per doubling) or days (R from recency-in-days quantiles, like F and M)."""
    recency_weight: float = 1.0
    """Weight of R in rfm_score."""
    frequency_weight: float = 1.0
    """Weight of F in rfm_score."""
    monetary_weight: float = 1.0
    """Weight of M in rfm_score."""
    edges: dict[str, list[float]] = field(default_factory=dict)
    """Custom ascending edges per dimension: recency, frequency, monetary."""
    segment_map: dict[str, str] = field(default_factory=dict)
    """Overrides of the R×F×M cell map, e.g. "555" = "Champions"."""


@dataclass(frozen=True)
class ClustersConfig:
    k: str = "auto"
    """Number of KMeans clusters, or `auto` (best sampled silhouette for k in 3..8)."""
    seed: int = 42
    """Random seed for KMeans and the silhouette sample."""
    sample_size: int = 2_000
    """Customers sampled (fixed seed) to choose k by silhouette and seed the final fit; the
    silhouette cost grows with its square, 2,000 keeps the stage well under a second at 50K."""


@dataclass(frozen=True)
class ChurnConfig:
    enabled: bool = True
    """Train and score the churn model during `run`."""
    seed: int = 42
    """Random seed for the split and the model."""


@dataclass(frozen=True)
class MlConfig:
    segments_file: str = ""
    """External segmentation CSV (customer_id, segment_id, segment_name) joined into 360."""


@dataclass(frozen=True)
class QualityConfig:
    min_segment_pct: float = 5.0
    """Warn when a behavioural segment holds less than this % of customers."""
    reconcile_sample: int = 1000
    """Customers whose window sums are recomputed independently by the gate."""
    max_credit_utilization_pct: float = 1000.0
    """Error when a customer's credit_utilization_pct exceeds this (10x the limit a month)."""


@dataclass(frozen=True)
class SnowflakeTarget:
    database: str = ""
    """Database for results (empty: the connection's default)."""
    schema: str = "SEGENGINE"
    """Schema for results."""
    transient: bool = False
    """Create result tables as TRANSIENT (no Fail-safe, Time Travel 0-1 day): cheaper per push,
    but not recoverable by Snowflake support. Applies when push creates a table."""
    retention_days: int = -1
    """DATA_RETENTION_TIME_IN_DAYS for result tables push creates (-1: the schema's default)."""


@dataclass(frozen=True)
class SnowflakeSource:
    database: str = ""
    """Database of the source tables (empty: the connection's default)."""
    schema: str = ""
    """Schema of the source tables (empty: the connection's default)."""
    transactions_table: str = "TRANSACTIONS"
    """Source table of transactions."""
    customers_table: str = ""
    """Source table of customers (empty: none)."""
    columns: dict[str, str] = field(default_factory=dict)
    """Mapping target column -> source column or SQL expression (as [ingest.columns])."""
    repull_months: int = 2
    """Months re-read on every incremental pull for late-arriving rows."""


@dataclass(frozen=True)
class SnowflakeConfig:
    connection: str = ""
    """Named connection in Snowflake's connections.toml (empty: default connection/env)."""
    target: SnowflakeTarget = field(default_factory=SnowflakeTarget)
    source: SnowflakeSource = field(default_factory=SnowflakeSource)
    timezone: str = "UTC"
    """Session TIMEZONE, pinned: TIMESTAMP_LTZ dates and month boundaries are read in it."""
    lock_timeout_s: int = 120
    """Session LOCK_TIMEOUT: how long a statement waits for a table lock before it fails
    (and is retried). Snowflake's default is 12 hours."""


@dataclass(frozen=True)
class Settings:
    paths: PathsConfig = field(default_factory=PathsConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    rfm: RfmConfig = field(default_factory=RfmConfig)
    clusters: ClustersConfig = field(default_factory=ClustersConfig)
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    ml: MlConfig = field(default_factory=MlConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    snowflake: SnowflakeConfig = field(default_factory=SnowflakeConfig)
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    """Where each leaf value came from: flag, env, file:<path> or default."""

    @property
    def data_dir(self) -> Path:
        return Path(self.paths.data_dir)


def _is_section(tp: Any) -> bool:
    return dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert a toml/env/flag value to the declared field type."""
    origin = typing.get_origin(tp)
    try:
        if tp is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in {"1", "true", "yes", "on"}:
                    return True
                if low in {"0", "false", "no", "off"}:
                    return False
                raise ValueError(value)
            return bool(value)
        if tp is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            return str(value)
        if tp is date:
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if origin in (dict, list):
            if isinstance(value, str):
                value = tomllib.loads(f"v = {value}")["v"]
            expected = dict if origin is dict else list
            if not isinstance(value, expected):
                raise ValueError(value)
            return value
    except (ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        kind = getattr(tp, "__name__", tp)
        raise ConfigError(
            f"setting `{key}` has value {value!r}, which is not a valid {kind}. "
            "Fix it in segengine.toml, the environment or the command line"
        ) from exc
    return value


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, globalns=vars(types) | globals())


def _build(cls: type, layers: list[tuple[str, dict[str, Any]]], prefix: str,
           sources: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "sources":
            continue
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        if _is_section(tp):
            sub_layers = [(src, d.get(f.name, {})) for src, d in layers]
            for src, d in sub_layers:
                if not isinstance(d, dict):
                    raise ConfigError(f"`{key}` must be a table ([{key}]) in {src}")
            kwargs[f.name] = _build(tp, sub_layers, key + ".", sources)
            continue
        for src, d in layers:  # highest precedence first
            if f.name in d:
                kwargs[f.name] = _coerce(d[f.name], tp, key)
                sources[key] = src
                break
        else:
            sources[key] = "default"
    known = {f.name for f in dataclasses.fields(cls)}
    for src, d in layers:
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {', '.join(prefix + u for u in unknown)} in {src}. "
                "Run `segengine config show` to list valid settings"
            )
    return cls(**kwargs)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Turn {"a.b.c": v} into {"a": {"b": {"c": v}}}."""
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        parts = dotted.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def env_layer(environ: dict[str, str]) -> dict[str, Any]:
    """Settings from `SEGENGINE_<SECTION>__<KEY>` variables."""
    flat: dict[str, Any] = {}
    if environ.get("SEGENGINE_DATA_DIR"):
        flat["paths.data_dir"] = environ["SEGENGINE_DATA_DIR"]
    for name, value in environ.items():
        if name.startswith("SEGENGINE_") and "__" in name:
            flat[".".join(p.lower() for p in name[len("SEGENGINE_"):].split("__"))] = value
    return _nest(flat)


def find_config_file(explicit: str | Path | None, cwd: Path | None = None) -> Path | None:
    """`--config` if given (must exist), else ./segengine.toml if present."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist. Create it with `segengine init`")
        return path
    candidate = (cwd or Path.cwd()) / "segengine.toml"
    return candidate if candidate.is_file() else None


def load_settings(
    flags: dict[str, Any] | None = None,
    config_file: str | Path | None = None,
    environ: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Apply flag > env > toml > default. `flags` uses dotted keys, e.g. {"paths.data_dir": …}."""
    path = find_config_file(config_file, cwd)
    file_layer: dict[str, Any] = {}
    if path is not None:
        try:
            file_layer = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file") from exc
    env = env_layer(dict(os.environ if environ is None else environ))
    flag_layer = _nest({k: v for k, v in (flags or {}).items() if v is not None})
    layers = [("flag", flag_layer), ("env", env), (f"file:{path}", file_layer)]
    sources: dict[str, str] = {}
    settings = _build(Settings, layers, "", sources)
    return dataclasses.replace(settings, sources=sources)


def leaf_values(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten settings into (dotted key, value) pairs."""
    out: list[tuple[str, Any]] = []
    for f in dataclasses.fields(obj):
        if f.name == "sources":
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(leaf_values(value, f"{prefix}{f.name}."))
        else:
            out.append((f"{prefix}{f.name}", value))
    return out


def mask(key: str, value: Any) -> Any:
    """Hide secrets: any key that looks like a password, token or private key."""
    if SECRET_KEY.search(key.split(".")[-1]) and value:
        return "********"
    if isinstance(value, dict):
        return {k: ("********" if SECRET_KEY.search(k) and v else v) for k, v in value.items()}
    return value


def show_rows(settings: Settings) -> list[tuple[str, str, str]]:
    """(key, masked value, source) for `segengine config show`."""
    return [
        (key, repr(mask(key, value)) if not isinstance(value, str) else mask(key, value),
         settings.sources.get(key, "default"))
        for key, value in leaf_values(settings)
    ]
