"""Error classification against the installed connector's own error numbers, and the session
settings every connection pins (design §9, issue #16 items 5 and 9) - offline."""

from __future__ import annotations

from pathlib import Path

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
