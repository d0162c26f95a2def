"""Snowflake connection settings: connections.toml, SNOWFLAKE_* variables, masked secrets (§9)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.fakesnow_server import server_kwargs, write_connections_toml

from segengine.config import SnowflakeConfig
from segengine.errors import ConfigError
from segengine.sync.connection import resolve_connection

SECRET = "s3cr3t-Pa55word"


def _toml(folder: Path, text: str, name: str = "connections.toml") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


CONNECTIONS = """
[dev]
account = "dev-acct"
user = "dev_user"
password = "s3cr3t-Pa55word"
role = "ANALYST"
warehouse = "WH_XS"

[prod]
account = "prod-acct"
user = "svc"
private_key_file = "{key}"
private_key_file_pwd = "key-passphrase"
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    key = tmp_path / "rsa_key.p8"
    key.write_text("not really a key")
    _toml(tmp_path / "home" / ".snowflake", CONNECTIONS.format(key=key))
    return tmp_path / "home"


def test_named_connection_comes_from_connections_toml(home: Path) -> None:
    params = resolve_connection(SnowflakeConfig(connection="dev"), {}, home)
    assert params.name == "dev"
    assert params.get("account") == "dev-acct" and params.get("role") == "ANALYST"
    assert params.connect_kwargs()["password"] == SECRET


def test_snowflake_home_moves_the_config_folder(tmp_path: Path) -> None:
    _toml(tmp_path / "elsewhere", '[x]\naccount = "a"\nuser = "u"\npassword = "p"\n')
    params = resolve_connection(SnowflakeConfig(connection="x"),
                                {"SNOWFLAKE_HOME": str(tmp_path / "elsewhere")}, tmp_path)
    assert params.get("account") == "a"


def test_default_connection_name_from_config_toml_then_env_then_setting(home: Path) -> None:
    _toml(home / ".snowflake", 'default_connection_name = "prod"\n', "config.toml")
    assert resolve_connection(SnowflakeConfig(), {}, home).name == "prod"
    env = {"SNOWFLAKE_DEFAULT_CONNECTION_NAME": "dev"}
    assert resolve_connection(SnowflakeConfig(), env, home).name == "dev"
    assert resolve_connection(SnowflakeConfig(connection="prod"), env, home).name == "prod"


def test_connection_named_default_is_used_without_a_name(tmp_path: Path) -> None:
    _toml(tmp_path / ".snowflake", '[default]\naccount = "d"\nuser = "u"\npassword = "p"\n')
    assert resolve_connection(SnowflakeConfig(), {}, tmp_path).get("account") == "d"


def test_cli_style_connection_variables_override_the_file(home: Path) -> None:
    env = {"SNOWFLAKE_CONNECTIONS_DEV_ROLE": "ADMIN", "SNOWFLAKE_CONNECTIONS_DEV_WAREHOUSE": "WH"}
    params = resolve_connection(SnowflakeConfig(connection="dev"), env, home)
    assert params.get("role") == "ADMIN" and params.get("warehouse") == "WH"
    assert params.get("user") == "dev_user"


def test_connection_defined_only_by_cli_style_variables(tmp_path: Path) -> None:
    env = {"SNOWFLAKE_CONNECTIONS_CI_RUN_ACCOUNT": "ci", "SNOWFLAKE_CONNECTIONS_CI_RUN_USER": "bot",
           "SNOWFLAKE_CONNECTIONS_CI_RUN_PASSWORD": SECRET}
    params = resolve_connection(SnowflakeConfig(connection="ci_run"), env, tmp_path)
    assert params.get("account") == "ci" and params.get("user") == "bot"


def test_plain_snowflake_variables_override_the_named_connection(home: Path) -> None:
    params = resolve_connection(SnowflakeConfig(connection="dev"),
                                {"SNOWFLAKE_WAREHOUSE": "BIG_WH"}, home)
    assert params.get("warehouse") == "BIG_WH" and params.get("account") == "dev-acct"


def test_env_only_connection_from_snowflake_account_user_password(tmp_path: Path) -> None:
    env = {"SNOWFLAKE_ACCOUNT": "xy12345", "SNOWFLAKE_USER": "me", "SNOWFLAKE_PASSWORD": SECRET,
           "SNOWFLAKE_ROLE": "R", "SNOWFLAKE_DATABASE": "DB", "SNOWFLAKE_SCHEMA": "S"}
    params = resolve_connection(SnowflakeConfig(), env, tmp_path)
    assert params.name == "(environment)"
    assert params.connect_kwargs()["password"] == SECRET
    assert params.get("database") == "DB"


def test_key_pair_auth_passes_the_key_file_and_passphrase(home: Path) -> None:
    kwargs = resolve_connection(SnowflakeConfig(connection="prod"), {}, home).connect_kwargs()
    assert kwargs["private_key_file"].endswith("rsa_key.p8")
    assert kwargs["private_key_file_pwd"] == "key-passphrase"
    assert kwargs["authenticator"] == "SNOWFLAKE_JWT"
    assert "password" not in kwargs


def test_snowflake_cli_key_spellings_are_accepted(tmp_path: Path) -> None:
    key = tmp_path / "k.p8"
    key.write_text("k")
    env = {"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_USER": "u",
           "SNOWFLAKE_PRIVATE_KEY_PATH": str(key), "PRIVATE_KEY_PASSPHRASE": "pp"}
    kwargs = resolve_connection(SnowflakeConfig(), env, tmp_path).connect_kwargs()
    assert kwargs["private_key_file"] == str(key) and kwargs["private_key_file_pwd"] == "pp"


def test_missing_private_key_file_is_named(home: Path) -> None:
    env = {"SNOWFLAKE_CONNECTIONS_PROD_PRIVATE_KEY_FILE": "/nope/key.p8"}
    with pytest.raises(ConfigError, match="/nope/key.p8 of Snowflake connection 'prod'"):
        resolve_connection(SnowflakeConfig(connection="prod"), env, home)


def test_externalbrowser_needs_no_password(tmp_path: Path) -> None:
    env = {"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_USER": "me@corp",
           "SNOWFLAKE_AUTHENTICATOR": "externalbrowser"}
    kwargs = resolve_connection(SnowflakeConfig(), env, tmp_path).connect_kwargs()
    assert kwargs["authenticator"] == "externalbrowser" and "password" not in kwargs


def test_unknown_connection_lists_the_defined_ones(home: Path) -> None:
    with pytest.raises(ConfigError, match=r"'staging' is not defined .*defined: dev, prod"):
        resolve_connection(SnowflakeConfig(connection="staging"), {}, home)


def test_incomplete_settings_say_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing account, user, password"):
        resolve_connection(SnowflakeConfig(), {}, tmp_path)


def test_repr_and_errors_mask_secrets(home: Path) -> None:
    dev = resolve_connection(SnowflakeConfig(connection="dev"), {}, home)
    prod = resolve_connection(SnowflakeConfig(connection="prod"), {}, home)
    assert SECRET not in repr(dev) and SECRET not in str(dev) and "********" in repr(dev)
    assert "key-passphrase" not in repr(prod)
    assert SECRET not in f"{dev!r} {dev!s}"
    with pytest.raises(KeyError):
        dev.get("password")
    _toml(home / ".snowflake", f'[bad]\naccount = "a"\npassword = "{SECRET}"\n')
    with pytest.raises(ConfigError) as info:
        resolve_connection(SnowflakeConfig(connection="bad"), {}, home)
    assert SECRET not in str(info.value)


@pytest.fixture
def snowflake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HOME with a connections.toml pointing at the local fakesnow server."""
    home = tmp_path / "home"
    for name in [n for n in os.environ if n.startswith("SNOWFLAKE")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(Path, "home", classmethod(lambda _cls: home))
    write_connections_toml(home / ".snowflake", "local", server_kwargs(), role="SEG_ROLE",
                           warehouse="WH_XS")
    return home


def test_snowflake_test_prints_the_session_without_secrets(snowflake_env: Path,
                                                           invoke) -> None:  # noqa: ANN001
    result = invoke("snowflake", "test", "--connection", "local")
    assert result.exit_code == 0, result.output
    assert "connection  local" in result.output
    assert "account     fakesnow" in result.output
    assert "user        fake" in result.output
    assert "warehouse   WH_XS" in result.output
    assert "target      (default).SEGENGINE" in result.output
    assert "snow" not in result.output.replace("fakesnow", "")


def test_unreachable_snowflake_fails_naming_the_connection_without_the_secret(
        snowflake_env: Path, invoke, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from tests.fakesnow_server import refusing_port

    with refusing_port() as port:
        write_connections_toml(snowflake_env / ".snowflake", "down",
                               {**server_kwargs(), "port": port, "password": SECRET,
                                "login_timeout": 2})
        result = invoke("-v", "snowflake", "test", "--connection", "down")
    assert result.exit_code == 1
    assert "connection 'down'" in result.output and "Check the network" in result.output
    assert SECRET not in result.output
