"""Settings precedence (flag > env > file > default), validation, `config show` and `init`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from segengine.cli import cli
from segengine.config import load_settings, show_rows
from segengine.errors import ConfigError

TOML = """
[paths]
data_dir = "from-file"
[segments]
hvt_min_travel_pct = 30
declining_min_prior_spend = 2500
[rfm]
analysis_period_days = 180
[snowflake]
connection = "prod"
[snowflake.target]
schema = "FILE_SCHEMA"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "segengine.toml"
    path.write_text(TOML)
    return path


def test_flag_beats_env_beats_file_beats_default(config_file: Path) -> None:
    env = {"SEGENGINE_SEGMENTS__HVT_MIN_TRAVEL_PCT": "40", "SEGENGINE_DATA_DIR": "from-env",
           "SEGENGINE_SNOWFLAKE__TARGET__SCHEMA": "ENV_SCHEMA"}
    s = load_settings({"paths.data_dir": "from-flag"}, config_file, environ=env)
    assert s.paths.data_dir == "from-flag" and s.sources["paths.data_dir"] == "flag"
    assert s.segments.hvt_min_travel_pct == 40.0
    assert s.sources["segments.hvt_min_travel_pct"] == "env"
    assert s.segments.declining_min_prior_spend == 2500.0
    assert s.sources["segments.declining_min_prior_spend"] == f"file:{config_file}"
    assert s.segments.new_max_tenure_months == 6
    assert s.sources["segments.new_max_tenure_months"] == "default"
    assert s.snowflake.target.schema == "ENV_SCHEMA"
    assert s.snowflake.connection == "prod"


def test_env_data_dir_short_form_and_file_without_flag(config_file: Path) -> None:
    assert load_settings({}, config_file, environ={}).paths.data_dir == "from-file"
    env = {"SEGENGINE_DATA_DIR": "from-env"}
    assert load_settings({}, config_file, environ=env).paths.data_dir == "from-env"


def test_config_file_is_found_in_the_current_directory(config_file: Path) -> None:
    s = load_settings({}, None, environ={}, cwd=config_file.parent)
    assert s.rfm.analysis_period_days == 180


def test_bad_value_names_the_setting(config_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"`rfm.analysis_period_days` has value 'soon'"):
        load_settings({}, config_file, environ={"SEGENGINE_RFM__ANALYSIS_PERIOD_DAYS": "soon"})


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[segments]\nhvt_min_travle_pct = 10\n")
    with pytest.raises(ConfigError, match="segments.hvt_min_travle_pct"):
        load_settings({}, path, environ={})


def test_missing_explicit_config_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="segengine init"):
        load_settings({}, tmp_path / "nope.toml", environ={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[segments\n")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_settings({}, path, environ={})


def test_secrets_are_masked_in_config_show(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[snowflake.source.columns]\ncustomer_id = "C"\n'
                    '[ingest.columns]\napi_token = "hunter2"\n')
    rows = {k: v for k, v, _ in show_rows(load_settings({}, path, environ={}))}
    assert "hunter2" not in str(rows)


def test_config_show_prints_values_and_sources(config_file: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config_file), "config", "show"],
                                env={"SEGENGINE_CLUSTERS__K": "4"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines()}
    assert lines["clusters.k"] == "env"
    assert lines["segments.hvt_min_travel_pct"].startswith("file:")
    assert lines["generate.seed"] == "default"


def test_init_writes_a_loadable_commented_config(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert (tmp_path / "segengine.toml").read_text().startswith("# segengine configuration")
    load_settings({}, tmp_path / "segengine.toml", environ={})
    again = runner.invoke(cli, ["init"])
    assert again.exit_code != 0 and "--force" in again.output
