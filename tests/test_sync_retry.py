"""Error classification against the installed connector's own error numbers, and the session
settings every connection pins (design §9, issue #16 items 5 and 9) - offline."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from snowflake.connector import errorcode
from snowflake.connector import errors as sf

from segengine.config import SnowflakeConfig
from segengine.errors import TerminalSyncError, TransientSyncError
from segengine.sync import retry
from segengine.sync.connection import ConnectionParams, resolve_connection, session_parameters
from segengine.sync.retry import classify


def test_every_connector_error_name_in_the_retry_tables_exists_in_the_installed_connector() -> None:
    names = retry.AUTH_CLIENT_ERRORS + retry.TRANSIENT_CLIENT_ERRORS
    assert [n for n in names if not hasattr(errorcode, n)] == []
    # the numbers the issue named, as the installed connector (4.8) defines them
    assert errorcode.ER_IDP_CONNECTION_ERROR == 250006
    assert errorcode.ER_UNABLE_TO_START_WEBSERVER == 250009
    assert errorcode.ER_INCOMPLETE_RESULT_CHUNK == 252013
    assert 252013 in retry.client_errnos(retry.TRANSIENT_CLIENT_ERRORS)


@pytest.mark.parametrize("errno", [250006, 250007, 250008, 250009])
def test_identity_provider_and_browser_errors_are_terminal(errno: int) -> None:
    # the connector raises these with SQLSTATE 08001 (connection not established)
    exc = sf.DatabaseError(msg="The specified authenticator is not supported", errno=errno,
                           sqlstate="08001")
    error = classify(exc, connection="prod", action="connecting")
    assert isinstance(error, TerminalSyncError)
    assert "authentication failed" in str(error) and "authenticator" in str(error)


@pytest.mark.parametrize("errno", [250001, 250003, 251011, 252010, 252013, 253003])
def test_network_and_download_errors_are_transient(errno: int) -> None:
    exc = sf.OperationalError(msg="connection reset", errno=errno)
    assert isinstance(classify(exc, connection="c", action="a"), TransientSyncError)


def test_a_lock_timeout_is_transient_and_says_how_to_end_the_lock() -> None:
    exc = sf.ProgrammingError(
        msg="Statement '01b6' has locked table 'CUSTOMER_360_PROFILE' in transaction 1725 and "
            "this lock has not yet been released.", errno=625, sqlstate="57014")
    error = classify(exc, connection="prod", action="delete customer_360_profile")
    assert isinstance(error, TransientSyncError)
    assert "SHOW LOCKS" in str(error) and "SYSTEM$ABORT_TRANSACTION" in str(error)


def test_a_sql_error_stays_terminal() -> None:
    exc = sf.ProgrammingError(msg="SQL compilation error", errno=1003, sqlstate="42000")
    assert isinstance(classify(exc, connection="c", action="a"), TerminalSyncError)


def test_every_connection_pins_autocommit_decimals_timezone_and_lock_timeout(
        tmp_path: Path) -> None:
    config = SnowflakeConfig(timezone="Europe/Berlin", lock_timeout_s=45)
    environ = {"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_USER": "u", "SNOWFLAKE_PASSWORD": "pw-1"}
    kwargs = resolve_connection(config, environ, tmp_path).connect_kwargs()
    assert kwargs["autocommit"] is True
    assert kwargs["arrow_number_to_decimal"] is True
    assert kwargs["session_parameters"] == {
        "TIMEZONE": "Europe/Berlin", "LOCK_TIMEOUT": 45, "ABORT_DETACHED_QUERY": True,
        "QUERY_TAG": "segengine"}


def test_pinned_settings_win_over_the_connection_file_and_its_own_parameters_stay() -> None:
    params = ConnectionParams("c", "test", {
        "account": "a", "autocommit": False, "arrow_number_to_decimal": False,
        "session_parameters": {"TIMEZONE": "America/Los_Angeles", "QUERY_TAG": "x",
                               "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}},
        session=session_parameters(SnowflakeConfig()))
    kwargs = params.connect_kwargs()
    assert kwargs["autocommit"] is True and kwargs["arrow_number_to_decimal"] is True
    assert kwargs["session_parameters"]["TIMEZONE"] == "UTC"
    assert kwargs["session_parameters"]["LOCK_TIMEOUT"] == 120
    assert kwargs["session_parameters"]["CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED"] is False


class Described:
    """A cursor whose batches differ in type from each other and from what it declares."""

    def __init__(self, description: list[object], batches: list[pa.RecordBatch]) -> None:
        self.description = description
        self.batches = batches

    def cursor(self) -> Described:
        return self

    def execute(self, _sql: str, _params: object = None) -> None:
        pass

    def fetch_arrow_batches(self) -> list[pa.RecordBatch]:
        return self.batches

    def close(self) -> None:
        pass


def test_streamed_schema_comes_from_the_description_not_the_first_batch(tmp_path: Path) -> None:
    from decimal import Decimal

    import pyarrow.parquet as pq
    from snowflake.connector.cursor import ResultMetadata

    from segengine.sync import stream
    from segengine.sync.session import Session
    from segengine.sync.sql import Statement

    description = [ResultMetadata("AMOUNT", 0, None, None, 38, 2, True),
                   ResultMetadata("QTY", 0, None, None, 9, 0, True),
                   ResultMetadata("NAME", 2, None, None, None, None, True)]
    empty = pa.record_batch([pa.array([], pa.int8()), pa.array([], pa.int8()),
                             pa.array([], pa.string())], names=["AMOUNT", "QTY", "NAME"])
    narrow = pa.record_batch([pa.array([Decimal("0.10")], pa.decimal128(12, 2)),
                              pa.array([7], pa.int8()), pa.array(["a"])],
                             names=["AMOUNT", "QTY", "NAME"])
    wide = pa.record_batch([pa.array([Decimal("1234567890123456.78")], pa.decimal128(38, 2)),
                            pa.array([70000], pa.int32()), pa.array([None], pa.string())],
                           names=["AMOUNT", "QTY", "NAME"])
    session = Session(ConnectionParams("x", "test", {}),
                      connector=lambda _p: Described(description, [empty, narrow, wide]))
    path = tmp_path / "month.parquet"
    assert stream.stream_to_parquet(session, Statement("SELECT 1"), path) == 2
    table = pq.read_table(path)
    assert table.schema == pa.schema([("amount", pa.decimal128(38, 2)), ("qty", pa.int64()),
                                      ("name", pa.large_string())])
    assert table.column("amount").to_pylist() == [Decimal("0.10"), Decimal("1234567890123456.78")]
    assert table.column("qty").to_pylist() == [7, 70000]
