"""`run --engine snowflake` SQL, offline: the whole plan as a golden file (regenerate with
`.venv/bin/python -m pytest --update-golden tests/test_sync_engine_sql.py`), every statement
parsed as Snowflake SQL (fakesnow accepts some that Snowflake rejects), names refused before any
SQL exists, the mapping, the step order, and the gate's segment rules against run.quality's."""

from __future__ import annotations

import dataclasses
import functools
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
import sqlglot
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests import golden_files

from segengine.config import (
    ChurnConfig,
    SegmentsConfig,
    Settings,
    SnowflakeConfig,
    SnowflakeSource,
    SnowflakeTarget,
)
from segengine.errors import ConfigError, DataError, QueryError
from segengine.lake.schemas import TRANSACTIONS, TRANSACTIONS_REQUIRED
from segengine.models.segments import rule_violations
from segengine.run.pipeline import INTERNAL_RELATIONS
from segengine.sync import engine, engine_gate, engine_sql, engine_steps
from segengine.sync.engine_plan import Note
from segengine.sync.engine_source import SourceColumn, map_source
from segengine.sync.pull import Sources
from segengine.sync.source import SourceTable
from segengine.sync.sql import Statement
from segengine.sync.target import CatalogColumn

GOLDEN = Path(__file__).parent / "golden" / "sync"
AS_OF = date(2025, 10, 31)
TODAY = date(2025, 11, 3)
TOKEN = "0123456789ab"


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/sync/<name> (tests/golden_files.py: --update-golden rewrites)."""
    golden_files.assert_golden(GOLDEN / name, text, test_file="tests/test_sync_engine_sql.py")


def source_settings(**source: object) -> Settings:
    src = {"database": "ANALYTICS", "schema": "RAW", "transactions_table": "CARD_TXNS",
           "customers_table": "CUSTOMERS",
           "columns": {"transaction_id": "TXN_ID", "customer_id": "cust_no",
                       "transaction_date": "TXN_TS",
                       "transaction_amount": "amount_cents / 100.0"}} | source
    return Settings(snowflake=SnowflakeConfig(source=SnowflakeSource(**src),  # type: ignore[arg-type]
                                              target=SnowflakeTarget("ANALYTICS", "SEGENGINE")))


TXN_COLUMNS = [SourceColumn(n, t) for n, t in (
    ("TXN_ID", "TEXT"), ("CUST_NO", "TEXT"), ("TXN_TS", "TIMESTAMP_NTZ"),
    ("AMOUNT_CENTS", "NUMBER"), ("MERCHANT_NAME", "TEXT"), ("MERCHANT_CATEGORY", "TEXT"),
    ("Status", "TEXT"))]
CUSTOMER_COLUMNS = [SourceColumn(n, t) for n, t in (
    ("CUSTOMER_ID", "TEXT"), ("FIRST_NAME", "TEXT"), ("AGE", "NUMBER"),
    ("CREDIT_LIMIT", "NUMBER"), ("ACCOUNT_OPEN_DATE", "TEXT"))]
SOURCES = Sources(SourceTable("ANALYTICS", "RAW", "CARD_TXNS"), "TXN_TS",
                  SourceTable("ANALYTICS", "RAW", "CUSTOMERS"))


def plan_for(settings: Settings, tmp: Path, *, segments_file: bool = False) -> engine.RunPlan:
    return engine.build_plan(settings, SOURCES, {"transactions": TXN_COLUMNS,
                                                 "customers": CUSTOMER_COLUMNS},
                             token=TOKEN, tmp=tmp, today=TODAY, segments_file=segments_file)


def test_the_whole_plan_matches_its_golden_file(tmp_path: Path) -> None:
    plan = plan_for(source_settings(), tmp_path / "upload")
    text = engine.render(plan.items(AS_OF, given=True), tmp=tmp_path / "upload")
    assert "<TMP>/customer_rfm.parquet" in text and str(tmp_path) not in text
    assert_golden("engine_plan.sql", text)


def statements(plan: engine.RunPlan) -> list[Statement]:
    return [i for i in plan.items(AS_OF, given=False) if isinstance(i, Statement)]


def test_every_planned_statement_parses_as_snowflake_sql(tmp_path: Path) -> None:
    plan = plan_for(source_settings(), tmp_path)
    found = statements(plan)
    assert len(found) > 100
    for stmt in found:
        if stmt.sql.startswith(("PUT ", "COPY INTO", "CREATE TEMPORARY STAGE")):
            continue  # file commands: sqlglot has no grammar for them (push's golden shows them)
        text = stmt.sql.replace("%s", "NULL")
        sqlglot.parse_one(text, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)


def test_parameters_are_bound_or_sqlglot_literals_never_formatted_text(tmp_path: Path) -> None:
    hostile = "5000'; DROP TABLE X; --"
    settings = dataclasses.replace(source_settings(), segments=SegmentsConfig())
    plan = plan_for(settings, tmp_path)
    sets = [s for s in statements(plan) if s.sql.startswith("SET ")]
    assert all(s.sql.endswith("= %s") and len(s.params) == 1 for s in sets)
    assert {s.sql.split()[1] for s in sets} >= {"as_of", "as_of_month", "hvt_min_travel_pct"}
    params = plan.parameters(AS_OF) | {"hvt_min_travel_pct_label": hostile}
    bound = engine_sql.variable_statements(params)
    assert all(hostile not in s.sql for s in bound)
    assert engine_gate.literal("Can't Lose Them") in ("'Can\\'t Lose Them'", "'Can''t Lose Them'")


@pytest.mark.parametrize(("section", "value"), [
    ("target", {"schema": 'SEG"; DROP SCHEMA X; --'}),
    ("target", {"database": "ANALYTICS", "schema": ""}),
    ("source", {"transactions_table": "T;X"}),
    ("source", {"schema": "RAW\n"}),
])
def test_a_bad_name_is_refused_before_any_sql_exists(section: str, value: dict[str, str],
                                                     tmp_path: Path) -> None:
    base = source_settings()
    sf = base.snowflake
    sf = (dataclasses.replace(sf, target=dataclasses.replace(sf.target, **value))
          if section == "target" else
          dataclasses.replace(sf, source=dataclasses.replace(sf.source, **value)))
    with pytest.raises(ConfigError):
        engine.check_settings(dataclasses.replace(base, snowflake=sf))


def test_leftover_run_tables_are_only_other_runs_tables_of_the_exact_pattern() -> None:
    found = ["CUSTOMER_RFM__RUN_00112233AABB", "CUSTOMER_RFM__RUN_0123456789AB",
             "TRANSACTIONS_CHECKED__RUN_FFEEDDCCBBAA", "MY__RUN_NOTES", "X__RUN_0011223344",
             "CUSTOMER_RFM__LOAD_00112233AABB", "customer_rfm__run_00112233aabb"]
    assert engine_sql.leftover_run_tables(found, current=TOKEN) == [
        "CUSTOMER_RFM__RUN_00112233AABB", "TRANSACTIONS_CHECKED__RUN_FFEEDDCCBBAA"]


def test_mapping_reads_columns_ignoring_case_and_translates_expressions() -> None:
    mapped = map_source(TXN_COLUMNS, {"customer_id": "cust_no", "transaction_date": "txn_ts",
                                      "transaction_amount": "amount_cents / 100.0",
                                      "status": "lower(status)"},
                        schema=TRANSACTIONS, required=TRANSACTIONS_REQUIRED,
                        setting="snowflake.source.columns", source_name="T")
    assert mapped["customer_id"].sql == '"CUST_NO"'
    assert mapped["transaction_amount"].sql == '("AMOUNT_CENTS" / 100.0)'
    assert mapped["status"].sql == '(LOWER("Status"))'
    assert mapped["merchant_name"].sql == '"MERCHANT_NAME"'  # unmapped: same-named column
    assert "channel" not in mapped and "transaction_id" not in mapped


@pytest.mark.parametrize(("mapping", "error", "text"), [
    ({"customer_id": "cust_no"}, DataError, "missing required column.s. transaction_amount"),
    ({"customer_id": "cust_no", "loyalty": "x"}, ConfigError, "unknown target column"),
    ({"customer_id": "cust_no", "transaction_amount": "(SELECT 1)"}, ConfigError, "subquery"),
    ({"customer_id": "cust_no", "transaction_amount": "price * qty"}, DataError,
     "reads column price"),
    ({"customer_id": "cust_no", "transaction_amount": "1; DROP TABLE x"}, ConfigError,
     "one SQL expression"),
])
def test_bad_mappings_are_refused_naming_the_setting(mapping: dict[str, str],
                                                      error: type[Exception], text: str) -> None:
    columns = [c for c in TXN_COLUMNS if c.name != "AMOUNT_CENTS"] + [
        SourceColumn("TRANSACTION_DATE", "DATE")]
    with pytest.raises(error, match=text) as caught:
        map_source(columns, mapping, schema=TRANSACTIONS, required=TRANSACTIONS_REQUIRED,
                   setting="snowflake.source.columns", source_name="Snowflake table T")
    assert "snowflake.source.columns" in str(caught.value) or error is DataError


def test_steps_come_in_dependency_order_and_produce_every_published_table() -> None:
    steps = engine_steps.order(Settings(), segments_file=False)
    done: set[str] = set(engine_steps.SOURCES)
    for step in steps:
        reads = (step.reads if isinstance(step, engine_steps.ModelStep)
                 else (*(f.table for f in step.fetch), *step.uses))
        assert set(reads) <= done, step
        done |= set(engine_steps.columns(step)) | set(getattr(step, "outputs", ()))
    assert set(engine_steps.PUBLISHED) | set(INTERNAL_RELATIONS) <= done
    no_churn = engine_steps.order(Settings(churn=ChurnConfig(enabled=False)),
                                  segments_file=False)
    names = {getattr(s, "model", getattr(s, "name", "")) for s in no_churn}
    assert "churn_labels" not in names and "churn_model" in names  # empty scores only
    assert "churn_model_report" not in engine_steps.published(
        Settings(churn=ChurnConfig(enabled=False)))


def test_a_model_reading_an_unknown_relation_stops_the_plan(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from segengine.sync import translate

    real = translate.relations_read
    monkeypatch.setattr(engine_steps, "relations_read", lambda m: (
        ("customer_activity", "loyalty_points") if m == "dim_customer" else real(m)))
    with pytest.raises(QueryError, match="no model or step produces loyalty_points"):
        engine_steps.order(Settings(), segments_file=False)


def test_models_read_run_tables_aliased_by_their_own_names(tmp_path: Path) -> None:
    plan = plan_for(source_settings(), tmp_path)
    step = next(s for s in plan.steps if getattr(s, "model", "") == "metric_customer_ltv")
    text = plan.step_items(step)[0].render()
    assert ('FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_0123456789AB" '
            "AS customer_segments") in text
    assert text.startswith('CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE".'
                           '"METRIC_CUSTOMER_LTV__RUN_0123456789AB" '
                           "DATA_RETENTION_TIME_IN_DAYS = 0 AS")


def test_published_tables_are_typed_as_push_types_them() -> None:
    def typed(kind: str, precision: int | None = None, scale: int | None = None) -> str:
        return engine_sql.push_type(CatalogColumn("C", kind, precision, scale))

    assert typed("NUMBER", 18, 0) == "NUMBER(38,0)"  # COUNT(*): an integer, as push writes
    assert typed("NUMBER", 12, 2) == "NUMBER(18,2)"  # money: at least NUMBER(18,2)
    assert typed("NUMBER", 38, 4) == "NUMBER(38,4)"
    assert typed("TEXT") == "VARCHAR" and typed("FLOAT") == "FLOAT"
    assert typed("DATE") == "DATE" and typed("TIMESTAMP_NTZ") == "TIMESTAMP_NTZ"


def test_the_dry_run_plan_notes_what_depends_on_the_catalog(tmp_path: Path) -> None:
    items = plan_for(source_settings(), tmp_path).items(AS_OF, given=False)
    notes = [i.text for i in items if isinstance(i, Note)]
    assert any("earlier run" in n for n in notes) and any("CREATE TABLE IF NOT EXISTS" in n
                                                          for n in notes)
    assert any(n.startswith("as_of: the latest valid transaction date") for n in notes)
    rendered = [i.render() for i in items]
    begin = rendered.index("BEGIN;")
    assert rendered[begin + 1] == "SELECT CURRENT_TRANSACTION();"
    assert rendered[begin + 2:].count("COMMIT;") == 1
    after = rendered[rendered.index("COMMIT;") + 1:]
    assert after and all(r.startswith("DROP TABLE IF EXISTS") for r in after)


# --- the gate's segment rules: SQL from the same definitions as run.quality ---------------

COLUMNS = ("avg_monthly_spend", "travel_spend_pct", "necessities_spend_pct", "spend_change_pct",
           "spend_prior_90_days")
NAMES = ("High-Value Travelers", "Declining", "New & Growing", "Budget-Conscious",
         "Stable Mid-Spenders")


def _rule_rows() -> st.SearchStrategy[list[dict[str, object]]]:
    near = st.sampled_from([None, 0, 24.99, 25, 25.004, 49.995, 50, 59.99, 60, 1499.99, 1500,
                            1500.004, 2000, 4999.99, 4999.995, 5000, -29.995, -30, -30.01])
    row = st.fixed_dictionaries({c: near for c in COLUMNS} | {
        "tenure_months": st.sampled_from([None, 5, 6, 7]),
        "customer_segment": st.sampled_from(NAMES)})
    return st.lists(row, min_size=1, max_size=40)


@functools.cache
def _rule_check_on_duckdb() -> str:
    check = engine_gate.rule_check(lambda _t: "segments", SegmentsConfig())
    return sqlglot.transpile(check.failing, read="snowflake", write="duckdb")[0]


@settings(max_examples=30, deadline=None)
@given(rows=_rule_rows())
def test_the_gate_rule_check_in_sql_flags_exactly_the_rows_quality_flags(
        rows: list[dict[str, object]]) -> None:
    frame = pl.DataFrame(rows, schema={**{c: pl.Decimal(18, 2) for c in COLUMNS},
                                       "tenure_months": pl.Int32, "customer_segment": pl.String},
                         orient="row").with_row_index("customer_id").with_columns(
        pl.col("customer_id").cast(pl.String))
    want = sorted(rule_violations(frame, SegmentsConfig())["customer_id"].to_list())
    con = duckdb.connect()
    con.register("segments", frame.to_arrow())
    got = sorted(str(r[0]) for r in con.sql(_rule_check_on_duckdb()).fetchall())
    assert got == want


def test_gate_results_keep_quality_order_names_and_levels() -> None:
    ref = engine_sql.RunNames(SnowflakeTarget("A", "S"), TOKEN).run_ref
    tables = {t: {"customer_id", "travel_spend_pct", "necessities_spend_pct", "decline_rate_pct",
                  "churn_risk_score", "credit_utilization_pct"} for t in engine_steps.PUBLISHED}
    gate = engine_gate.gate(ref, tables, segments=SegmentsConfig(),
                            config=Settings().quality, sampled=7)
    counts = engine_gate.Counts({"Declining": 1, "Stable Mid-Spenders": 9}, 10, 9, 7)
    number = next(i for i, c in enumerate(gate.all()) if c.name == "segment rules hold for "
                                                                  "every row")
    results = engine_gate.results(gate, [(number, 2, "C1"), (number, 2, "C2")], counts,
                                  config=Settings().quality)
    names = [r.name for r in results]
    assert names.index("window sums reconcile for a sample of 7") < names.index(
        "customer_360_profile row count equals customer_segments") < names.index(
        "customer_segments.travel_spend_pct within 0..100") < names.index(
        "segment Declining holds 10.0% of customers (warn under 5%)") < names.index(
        "customer_360_profile.credit_utilization_pct within 0..1000")
    rules = results[names.index("segment rules hold for every row")]
    assert (rules.failing, rules.examples, rules.level) == (2, ["C1", "C2"], "error")
    assert results[names.index("customer_360_profile row count equals customer_segments")
                   ].failing == 1
    assert [r.failing for r in results if r.level == "warning"] == [1, 0, 1, 1, 0]


def test_run_tokens_and_literals_are_checked() -> None:
    with pytest.raises(ConfigError, match="12 lower-case hex"):
        engine_sql.RunNames(SnowflakeTarget("A", "S"), "0123456789AB; --")
    assert engine.new_token() != engine.new_token()
    assert re.fullmatch(r"[0-9a-f]{12}", engine.new_token())
    from segengine.sync.engine_source import literal

    assert literal(date(2025, 1, 2)) == "CAST('2025-01-02' AS DATE)"
    assert literal(Decimal("1000000.00")) == "1000000.00"


def test_without_customers_or_churn_the_plan_creates_empty_typed_tables(tmp_path: Path) -> None:
    settings = dataclasses.replace(source_settings(customers_table=""),
                                   churn=ChurnConfig(enabled=False))
    sources = Sources(SOURCES.transactions, "TXN_TS", None)
    plan = engine.build_plan(settings, sources, {"transactions": TXN_COLUMNS}, token=TOKEN,
                             tmp=tmp_path, today=TODAY, segments_file=True)
    text = engine.render(plan.items(AS_OF, given=True), tmp=tmp_path)
    assert ('CREATE OR REPLACE TRANSIENT TABLE "ANALYTICS"."SEGENGINE".'
            '"CUSTOMERS__RUN_0123456789AB" ("CUSTOMER_ID" VARCHAR, ') in text
    assert "CUSTOMERS_CHECKED" not in text and "CHURN_LABELS" not in text
    assert ('"CHURN_SCORES__RUN_0123456789AB" ("CUSTOMER_ID" VARCHAR, "CHURN_RISK_SCORE" FLOAT, '
            '"CHURN_PROBABILITY" FLOAT) DATA_RETENTION_TIME_IN_DAYS = 0;') in text
    assert "PUT 'file://<TMP>/churn_scores.parquet'" not in text
    assert "PUT 'file://<TMP>/ml_segments.parquet'" in text  # a segments file is uploaded
    assert 'SELECT customer_id FROM "ANALYTICS"."SEGENGINE"."CUSTOMER_SEGMENTS__RUN_' in text
    assert '"CHURN_MODEL_REPORT"' not in text


def _profiles() -> st.SearchStrategy[list[dict[str, object]]]:
    from segengine.models.cluster_names import INACTIVITY_NAMES
    from segengine.models.lifecycle import STAGES
    from segengine.models.rfm import SEGMENTS

    row = st.fixed_dictionaries({
        "days_since_last_transaction": st.integers(0, 200),
        "total_transactions": st.integers(1, 30),
        "span": st.integers(0, 400),
        "rfm_segment": st.sampled_from(SEGMENTS),
        "cluster_name": st.sampled_from(("Champions", "Loyal Customers", "Core Regulars",
                                         *INACTIVITY_NAMES)),
        "recency_status": st.sampled_from(("Active (30 days)", "Recent (60 days)")),
        "lifecycle_stage": st.sampled_from(STAGES),
        "churn_risk_category": st.sampled_from(("High Risk", "Low Risk", "Not Scored")),
    })
    return st.lists(row, min_size=1, max_size=30)


ON_THE_GAP = [  # typical gap exactly 10 days, and an inactive label bought exactly 10 days ago
    {"days_since_last_transaction": d, "total_transactions": 2, "span": 10, "rfm_segment": seg,
     "cluster_name": "Dormant", "recency_status": "Recent (60 days)", "lifecycle_stage": "Lost",
     "churn_risk_category": risk}
    for d, seg, risk in ((10, "Lost", "High Risk"), (3, "Champions", "Low Risk"),
                         (40, "Lost", "High Risk"))]


@settings(max_examples=25, deadline=None)
@example(rows=ON_THE_GAP)
@given(rows=_profiles())
def test_the_label_warnings_in_sql_equal_the_quality_gate_s(rows: list[dict[str, object]]) -> None:
    from segengine.run.quality import check_labels
    from segengine.sync import engine_labels

    profile = pl.DataFrame(rows).with_row_index("customer_id").with_columns(
        pl.col("customer_id").cast(pl.String),
        last_transaction_date=pl.lit(date(2025, 10, 31)) - pl.duration(
            days=pl.col("days_since_last_transaction")),
    ).with_columns(first_transaction_date=pl.col("last_transaction_date") - pl.duration(
        days=pl.col("span"))).drop("span")
    want = [(r.name, r.level, r.failing) for r in check_labels(
        {"customer_360_profile": profile})]
    stmt = engine_labels.statement(lambda _t: "profile", set(profile.columns))
    con = duckdb.connect()
    con.register("profile", profile.to_arrow())
    row = con.sql(sqlglot.transpile(stmt.sql, read="snowflake", write="duckdb")[0]).fetchall()
    got = [(r.name, r.level, r.failing)
           for r in engine_labels.results(row[0], set(profile.columns))]
    assert got == want
