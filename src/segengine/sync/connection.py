"""Snowflake connection settings, resolved the way Snowflake's own tools do (design §9).

Sources, lowest to highest precedence: `[connections.<name>]` in config.toml, `[<name>]` in
connections.toml (both under `SNOWFLAKE_HOME`, else `~/.snowflake/`), the Snowflake CLI's
`SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>` variables, then plain `SNOWFLAKE_<KEY>` variables. With no
connection name and no `default` connection, `SNOWFLAKE_ACCOUNT`, `SNOWFLAKE_USER`, ... alone
form an env-only connection. Secrets never appear in repr, logs or error text.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segengine.config import SnowflakeConfig
from segengine.errors import ConfigError
from segengine.sync.retry import classify

KEYS = ("account", "user", "password", "role", "warehouse", "database", "schema",
        "authenticator", "private_key_file", "private_key_file_pwd", "token", "host", "port",
        "protocol")
"""Keys read from files and SNOWFLAKE_* variables, in the connector's own spelling."""
ALIASES = {"username": "user", "private_key_path": "private_key_file",
           "private_key_passphrase": "private_key_file_pwd", "dbname": "database"}
"""Spellings used by the Snowflake CLI / SnowSQL, mapped to the connector's."""
SECRETS = ("password", "private_key_file_pwd", "token")
MASK = "********"
ENV_ONLY = "(environment)"


def session_parameters(config: SnowflakeConfig) -> dict[str, Any]:
    """Session parameters segengine relies on, pinned whatever the account or user sets.

    TIMEZONE: TO_DATE of a TIMESTAMP_LTZ (pull's month predicate) is read in it.
    LOCK_TIMEOUT: a publish waits this long (not 12 hours) behind another transaction's lock.
    ABORT_DETACHED_QUERY: a statement whose client vanished is aborted (after ~5 minutes)
    instead of running on. QUERY_TAG: find segengine's queries in QUERY_HISTORY.
    """
    return {"TIMEZONE": config.timezone, "LOCK_TIMEOUT": int(config.lock_timeout_s),
            "ABORT_DETACHED_QUERY": True, "QUERY_TAG": "segengine"}


PINNED = {"autocommit": True, "arrow_number_to_decimal": True}
"""Connector options segengine relies on: statements outside BEGIN commit at once (the
publish transaction is explicit), and NUMBER columns arrive as exact decimals, never float64."""


@dataclass(frozen=True)
class ConnectionParams:
    """Resolved connector arguments for one Snowflake connection; repr masks secrets."""

    name: str
    """Connection name, or `(environment)` for an env-only connection."""
    origin: str
    """Where the settings came from (files and variables), for messages."""
    values: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for snowflake.connector.connect (contains secrets)."""
    session: dict[str, Any] = field(
        default_factory=lambda: session_parameters(SnowflakeConfig()))
    """Pinned session parameters (see session_parameters)."""

    def __repr__(self) -> str:
        shown = {k: (MASK if k in SECRETS and v else v) for k, v in sorted(self.values.items())}
        return f"ConnectionParams(name={self.name!r}, origin={self.origin!r}, values={shown!r})"

    __str__ = __repr__

    def get(self, key: str, default: str = "") -> str:
        """A non-secret value as text (account, user, role, warehouse, database, schema)."""
        if key in SECRETS:
            raise KeyError(f"{key} is a secret and is never read back as text")
        value = self.values.get(key)
        return default if value in (None, "") else str(value)

    def secret_values(self) -> list[str]:
        """Secret values, so error text can be scrubbed of them."""
        return [str(self.values[k]) for k in SECRETS if self.values.get(k)]

    def connect_kwargs(self) -> dict[str, Any]:
        """Arguments for snowflake.connector.connect; never print these. The connection's own
        session_parameters are kept; the pinned ones win."""
        own = self.values.get("session_parameters")
        session = {**(own if isinstance(own, dict) else {}), **self.session}
        return {"application": "segengine", **self.values, **PINNED,
                "session_parameters": session}


def snowflake_home(environ: Mapping[str, str], home: Path) -> Path:
    """`SNOWFLAKE_HOME` if set (with ~ expanded against `home`), else `home/.snowflake`."""
    value = environ.get("SNOWFLAKE_HOME", "")
    if not value:
        return home / ".snowflake"
    return home / value[2:] if value.startswith("~/") else Path(value)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, OSError) as exc:
        # tomllib messages quote only the position, never the value, so no secret leaks here
        raise ConfigError(f"{path} is not valid TOML ({exc}). Fix the file") from None


def _normalise(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        low = ALIASES.get(key.lower(), key.lower())
        out[low] = value
    return out


def _from_env(environ: Mapping[str, str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (*KEYS, *ALIASES):
        value = environ.get(f"{prefix}{key.upper()}")
        if value:
            out[ALIASES.get(key, key)] = value
    return out


def load_connections(folder: Path) -> dict[str, dict[str, Any]]:
    """Named connections: config.toml [connections.*] overlaid by connections.toml tables."""
    config = _read_toml(folder / "config.toml")
    merged: dict[str, dict[str, Any]] = {}
    for source in (config.get("connections", {}), _read_toml(folder / "connections.toml")):
        for name, table in source.items():
            if isinstance(table, dict):
                merged[name] = {**merged.get(name, {}), **_normalise(table)}
    return merged


def resolve_connection(config: SnowflakeConfig, environ: Mapping[str, str],
                       home: Path) -> ConnectionParams:
    """Pick and merge the connection settings; raise ConfigError saying what to set."""
    folder = snowflake_home(environ, home)
    connections = load_connections(folder)
    default_name = _read_toml(folder / "config.toml").get("default_connection_name", "")
    name = (config.connection or environ.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME", "")
            or str(default_name))
    origin: list[str] = []
    values: dict[str, Any] = {}
    if name:
        named_env = _from_env(environ, f"SNOWFLAKE_CONNECTIONS_{name.upper()}_")
        if name not in connections and not named_env:
            known = ", ".join(sorted(connections)) or "none"
            raise ConfigError(
                f"Snowflake connection {name!r} is not defined in {folder / 'connections.toml'} "
                f"(defined: {known}). Add a [{name}] table there, set "
                f"SNOWFLAKE_CONNECTIONS_{name.upper()}_ACCOUNT etc., or choose another with "
                "--connection / [snowflake] connection")
        if name in connections:
            values.update(connections[name])
            origin.append(f"{folder / 'connections.toml'} [{name}]")
        if named_env:
            values.update(named_env)
            origin.append(f"SNOWFLAKE_CONNECTIONS_{name.upper()}_*")
    elif "default" in connections:
        name = "default"
        values.update(connections[name])
        origin.append(f"{folder / 'connections.toml'} [default]")
    else:
        name = ENV_ONLY
    plain_env = _from_env(environ, "SNOWFLAKE_")
    if plain_env:
        values.update(plain_env)
        origin.append("SNOWFLAKE_* variables")
    if not environ.get("SNOWFLAKE_PRIVATE_KEY_FILE_PWD") and environ.get("PRIVATE_KEY_PASSPHRASE"):
        values["private_key_file_pwd"] = environ["PRIVATE_KEY_PASSPHRASE"]
    params = ConnectionParams(name=name, origin=", ".join(origin) or "nothing", values=values,
                              session=session_parameters(config))
    _check_complete(params, folder)
    return _with_auth_defaults(params)


def _check_complete(params: ConnectionParams, folder: Path) -> None:
    values = params.values
    missing = [k for k in ("account", "user") if not values.get(k)]
    authenticator = str(values.get("authenticator", "")).lower()
    if authenticator == "externalbrowser" and "user" in missing:
        missing.remove("user")
    uses_secret = values.get("private_key_file") or values.get("token") or authenticator not in (
        "", "snowflake")
    if not uses_secret and not values.get("password"):
        missing.append("password (or private_key_file, or authenticator = \"externalbrowser\")")
    if not missing:
        key_file = values.get("private_key_file")
        if key_file and not Path(str(key_file)).expanduser().is_file():
            raise ConfigError(
                f"private_key_file {key_file} of Snowflake connection {params.name!r} does not "
                f"exist (from {params.origin}). Fix the path")
        return
    where = (f"connection {params.name!r} ({params.origin})" if params.name != ENV_ONLY
             else "the environment (no connection name and no [default] connection)")
    raise ConfigError(
        f"Snowflake settings incomplete in {where}: missing {', '.join(missing)}. Set them in "
        f"{folder / 'connections.toml'} or as SNOWFLAKE_{missing[0].split()[0].upper()} etc., "
        "or pick a connection with --connection NAME")


def _with_auth_defaults(params: ConnectionParams) -> ConnectionParams:
    values = dict(params.values)
    if values.get("private_key_file"):
        values["private_key_file"] = str(Path(str(values["private_key_file"])).expanduser())
        values.setdefault("authenticator", "SNOWFLAKE_JWT")
    if "port" in values and isinstance(values["port"], str) and values["port"].isdigit():
        values["port"] = int(values["port"])
    return ConnectionParams(name=params.name, origin=params.origin, values=values,
                            session=params.session)


def open_connection(params: ConnectionParams, *, action: str = "connecting") -> Any:
    """Connect with the real connector; errors come out classified and scrubbed of secrets."""
    import snowflake.connector

    try:
        return snowflake.connector.connect(**params.connect_kwargs())
    except Exception as exc:  # noqa: BLE001 - classified into SyncError below
        raise classify(exc, connection=params.name, action=action,
                       secrets=params.secret_values()) from None


def describe_session(conn: Any, params: ConnectionParams) -> dict[str, str]:
    """Account, user, role, warehouse, database, schema of an open session (no secrets)."""
    info = {
        "account": str(getattr(conn, "account", "") or params.get("account")),
        "user": str(getattr(conn, "user", "") or params.get("user")),
        "role": str(getattr(conn, "role", "") or params.get("role")),
        "warehouse": str(getattr(conn, "warehouse", "") or params.get("warehouse")),
    }
    try:
        cur = conn.cursor()
        cur.execute("SELECT CURRENT_ACCOUNT(), CURRENT_USER(), CURRENT_ROLE(), "
                    "CURRENT_WAREHOUSE()")
        row = cur.fetchone()
        if row:
            for key, value in zip(("account", "user", "role", "warehouse"), row, strict=True):
                info[key] = str(value or info[key])
    except Exception:  # noqa: BLE001 - emulators lack CURRENT_*(); keep the connector's values
        pass
    return {k: (v or "(default)") for k, v in info.items()}
