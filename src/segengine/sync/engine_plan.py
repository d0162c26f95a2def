"""The whole plan of one `run --engine snowflake`, as statements (pure): what the run executes
and what `--dry-run` prints, from the same functions.

Order: target schema; run tables an earlier run left (dropped); the source step (mapped,
checked, valid and rejected rows, reject counts per month and reason); the latest valid date;
the run's parameters as session variables; every step (model CTAS, or customer-grain fetches,
a Python model and the bulk load of its outputs); the quality gate; the publish (one
transaction, as push); the run tables dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from segengine.config import Settings
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS
from segengine.models.segments import segment_params
from segengine.run.pipeline import date_params
from segengine.sync import engine_gate, engine_labels, engine_sql, engine_steps, sql
from segengine.sync.engine_source import CUSTOMER_REASONS, TRANSACTION_REASONS
from segengine.sync.engine_sql import Publish, RunNames
from segengine.sync.engine_steps import ModelStep, PythonStep, Step
from segengine.sync.sql import Column, Statement

REJECT_TEXT: dict[str, dict[str, str]] = {
    "transactions": {"transaction_id": "transaction_id", "customer_id": "customer_id",
                     "transaction_date": "CAST(transaction_date AS VARCHAR)",
                     "transaction_amount": "raw_amount", "merchant_name": "merchant_name",
                     "merchant_category": "merchant_category", "channel": "channel",
                     "status": "status"},
    "customers": {**{c: c for c in CUSTOMERS},
                  "age": "raw_age", "credit_limit": "raw_credit_limit",
                  "account_open_date": "raw_account_open_date"},
}
"""Rejected rows keep their mapped values as text (as pull's rejects/ files do): column ->
the expression over the checked rows."""
SCHEMAS = {"transactions": TRANSACTIONS, "customers": CUSTOMERS}
REASONS = {"transactions": TRANSACTION_REASONS, "customers": CUSTOMER_REASONS}


@dataclass(frozen=True)
class Note:
    """A line of the printed plan that is not a statement (what runs in Python, or a step
    whose statements depend on what the run finds)."""

    text: str

    def render(self) -> str:
        return f"-- {self.text}"


Item = Statement | Note


@dataclass(frozen=True)
class RunPlan:
    """One run's names, settings and steps; `checked` holds the source SELECTs (mapped and
    checked rows) of transactions and, if configured, customers."""

    names: RunNames
    settings: Settings
    steps: tuple[Step, ...]
    checked: Mapping[str, Statement]
    tmp: Path

    def source_statements(self, source: str) -> list[Statement]:
        """The checked rows, the valid ones (lake types), the rejected ones (as text), and the
        counts per month and reason (one row per month: pull's reject limit is per month)."""
        n = self.names
        checked = f"{source}_checked"
        if source not in self.checked:
            columns = engine_sql.columns_of(SCHEMAS[source], table=source)
            rejects = engine_sql.columns_of(dict.fromkeys(_reject_names(source), pl.String()),
                                            table=f"{source}_rejects")
            return [engine_sql.create_statement(n, source, columns),
                    engine_sql.create_statement(n, f"{source}_rejects", rejects)]
        month = ("CAST(DATE_TRUNC('MONTH', transaction_date) AS DATE)"
                 if source == "transactions" else "CAST(NULL AS DATE)")
        reasons = ", ".join(f"SUM(CASE WHEN r_{r} THEN 1 ELSE 0 END) AS {r}"
                            for r in REASONS[source])
        text = ", ".join(f"{expr} AS {name}" for name, expr in REJECT_TEXT[source].items())
        return [
            engine_sql.ctas(n, checked, self.checked[source].sql, purpose=f"check {source}"),
            engine_sql.ctas(n, source, f"SELECT {', '.join(SCHEMAS[source])} FROM "
                            f"{n.run_ref(checked)} WHERE reject_reason IS NULL",
                            purpose=f"valid {source}"),
            engine_sql.ctas(n, f"{source}_rejects", f"SELECT reject_reason, {text} FROM "
                            f"{n.run_ref(checked)} WHERE reject_reason IS NOT NULL",
                            purpose=f"rejected {source}"),
            Statement(f"SELECT {month} AS month, COUNT(*) AS rows_read, SUM(CASE WHEN "
                      f"reject_reason IS NULL THEN 0 ELSE 1 END) AS rejected, {reasons} FROM "
                      f"{n.run_ref(checked)} GROUP BY 1 ORDER BY 1 NULLS FIRST",
                      purpose=f"count {source} rejects"),
        ]

    def last_date_statement(self) -> Statement:
        return engine_sql.scalar_statement(self.names, "transactions", "MAX(transaction_date)",
                                           purpose="latest valid transaction date")

    def parameters(self, as_of: date) -> dict[str, Any]:
        """Every model parameter, as the local run computes them."""
        return {**date_params(as_of, self.settings), **segment_params(self.settings.segments)}

    def variables(self, as_of: date) -> list[Statement]:
        return engine_sql.variable_statements(self.parameters(as_of))

    def fetch_statement(self, fetch: engine_steps.Fetch) -> Statement:
        if fetch.aggregate:
            return engine_sql.scalar_statement(self.names, fetch.table, fetch.aggregate,
                                               purpose=f"fetch {fetch.table}")
        return engine_sql.fetch_statement(self.names, fetch.table, fetch.columns)

    def output_columns(self, step: PythonStep, table: str) -> tuple[Column, ...]:
        return engine_sql.columns_of(step.outputs[table], table=table)

    def upload_statements(self, step: PythonStep, table: str) -> list[Statement]:
        """The typed run table, then (unless the step reads nothing, so writes nothing) PUT,
        COPY and the loaded-row count."""
        columns = self.output_columns(step, table)
        if not step.fetch and not step.uses:
            return [engine_sql.create_statement(self.names, table, columns)]
        return engine_sql.upload_statements(self.names, table, self.tmp / f"{table}.parquet",
                                             columns)

    def stage_statement(self) -> Statement:
        """The run's temporary stage (created again on a new connection: it is the session's)."""
        return engine_sql.stage_statement(self.names)

    def count_statement(self) -> Statement:
        """Rows of every run table a step or the publish reads from."""
        return engine_sql.row_counts_statement(self.names, self.run_tables())

    def model_statement(self, step: ModelStep) -> Statement:
        return engine_sql.model_statement(self.names, step.model, step.reads)

    def step_items(self, step: Step) -> list[Item]:
        if isinstance(step, ModelStep):
            return [self.model_statement(step)]
        items: list[Item] = [self.fetch_statement(f) for f in step.fetch]
        items.append(Note(f"python: {step.name} -> {', '.join(step.outputs)}"))
        for table in step.uploads():
            items += self.upload_statements(step, table)
        return items

    def relations(self) -> dict[str, set[str]]:
        """Columns of every run table a step writes (from the SQL and the declared schemas)."""
        out: dict[str, set[str]] = {s: set(SCHEMAS[s]) for s in SCHEMAS}
        for step in self.steps:
            out.update({t: set(c) for t, c in engine_steps.columns(step).items()})
        return out

    def gate(self, sampled: int) -> engine_gate.Gate:
        tables = {t: c for t, c in self.relations().items()
                  if t in engine_steps.published(self.settings)}
        return engine_gate.gate(self.names.run_ref, tables, segments=self.settings.segments,
                                config=self.settings.quality, sampled=sampled)

    def profile_columns(self) -> set[str]:
        return self.relations().get("customer_360_profile", set())

    def gate_statements(self, sampled: int = 0) -> list[Statement]:
        """Counts, the row-level checks (one query), the §5.9 label warnings (one query)."""
        size = self.settings.quality.reconcile_sample
        return [engine_gate.counts_statement(self.names.run_ref, size),
                engine_gate.failing_statement(self.gate(sampled).all()),
                engine_labels.statement(self.names.run_ref, self.profile_columns())]

    def publishes(self) -> list[Publish]:
        """Every published table with its columns, in publish order: the outputs, the history,
        then the rejected source rows (replaced by each run)."""
        columns = self.relations()
        tables = [(t, t, False) for t in engine_steps.published(self.settings)]
        tables += [(h, src, True) for h, src in engine_steps.HISTORY.items()]
        tables += [(f"{s}_rejects", f"{s}_rejects", False) for s in SCHEMAS]
        out = []
        for table, source, history in tables:
            names = (_reject_names(source.removesuffix("_rejects"))
                     if source.endswith("_rejects") else self._ordered(source, columns))
            cols = tuple(Column(sql.quote(c), "") for c in names)
            out.append(Publish(table, source, cols, history))
        return out

    def _ordered(self, table: str, columns: Mapping[str, set[str]]) -> list[str]:
        for step in self.steps:
            found = engine_steps.columns(step).get(table)
            if found is not None:
                return found
        return sorted(columns[table])

    def publish_statements(self, as_of: date) -> list[Statement]:
        return engine_sql.publish_body(self.names, self.publishes(), as_of=as_of)

    def run_tables(self) -> list[str]:
        """Every run table, in creation order."""
        tables = []
        for source in SCHEMAS:
            tables += ([f"{source}_checked"] if source in self.checked else [])
            tables += [source, f"{source}_rejects"]
        for step in self.steps:
            tables += list(engine_steps.columns(step))
        return tables

    def items(self, as_of: date, *, given: bool) -> list[Item]:
        """The whole run, in order (what --dry-run prints)."""
        n = self.names
        items: list[Item] = [*engine_sql.setup_statements(n), engine_sql.leftovers_select(n),
                             Note("then DROP TABLE IF EXISTS each run table of an earlier "
                                  "run found above")]
        for source in SCHEMAS:
            items += self.source_statements(source)
        items.append(self.last_date_statement())
        if not given:
            items.append(Note(f"as_of: the latest valid transaction date above ({as_of})"))
        items += [*self.variables(as_of), self.stage_statement()]
        for step in self.steps:
            items += self.step_items(step)
        items += [self.count_statement(), *self.gate_statements()]
        items += [engine_sql.run_columns_select(n), engine_sql.target_columns_select(n),
                  Note("then CREATE TABLE IF NOT EXISTS each missing published table with its "
                       "run table's columns, typed as push types them")]
        items += [sql.BEGIN, sql.CURRENT_TRANSACTION,
                  *self.publish_statements(as_of), sql.COMMIT]
        return items + engine_sql.cleanup_statements(n, self.run_tables())


def _reject_names(source: str) -> list[str]:
    return ["reject_reason", *REJECT_TEXT[source]]


def render(items: Sequence[Item], *, tmp: Path) -> str:
    """The plan as text; the temporary upload folder shown as <TMP>."""
    lines = []
    for item in items:
        text = item.render()
        lines.append(text.replace(tmp.resolve().as_posix(), "<TMP>"))
    return "\n".join(lines) + "\n"
