"""The §11 quality gate as SQL run inside Snowflake (pure): the same checks, names and levels as
run.quality, from the same rule definitions (KEYS, ACCEPTED, PERCENT_COLUMNS, PER_CUSTOMER, the
segment rules with their display tolerance), so only counts and a few example keys leave
Snowflake. The independent recomputation is SQL over the sample run.quality would draw (every
k-th customer of the population in id order), straight from the validated transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from segengine.config import QualityConfig, SegmentsConfig
from segengine.models.segments import DISPLAY_TOLERANCE, SEGMENT_NAMES
from segengine.run.quality import ACCEPTED, KEYS, PER_CUSTOMER, PERCENT_COLUMNS, CheckResult
from segengine.sync.sql import Statement

Ref = Callable[[str], str]
"""Relation name -> its qualified run table."""
EXAMPLES = 3


@dataclass(frozen=True)
class Check:
    """One check: name, level and a SELECT of one example value per failing row."""

    name: str
    failing: str
    level: str = "error"


def literal(value: str | int | float) -> str:
    """A constant of the rule definitions or a number from the settings, rendered by sqlglot."""
    if isinstance(value, str):
        return exp.Literal.string(value).sql(dialect="snowflake")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a gate literal: {value!r}")
    if isinstance(value, int):
        return exp.Literal.number(str(value)).sql(dialect="snowflake")
    return f"CAST({exp.Literal.number(repr(value)).sql(dialect='snowflake')} AS DOUBLE)"


def _text(column: str) -> str:
    return f"CAST({column} AS VARCHAR)"


def key_checks(ref: Ref, tables: Mapping[str, set[str]]) -> list[Check]:
    out = []
    for table, keys in KEYS.items():
        if table not in tables:
            continue
        nulls = " OR ".join(f"{k} IS NULL" for k in keys)
        part = ", ".join(keys)
        out.append(Check(f"{table}: {'+'.join(keys)} not null",
                         f"SELECT {_text(keys[0])} AS example FROM {ref(table)} WHERE {nulls}"))
        out.append(Check(f"{table}: {'+'.join(keys)} unique",
                         f"SELECT {_text(keys[0])} AS example FROM (SELECT {part}, COUNT(*) OVER "
                         f"(PARTITION BY {part}) AS copies FROM {ref(table)}) WHERE copies > 1"))
    return out


def accepted_checks(ref: Ref, tables: Mapping[str, set[str]]) -> list[Check]:
    out = []
    for (table, column), allowed in ACCEPTED.items():
        if table not in tables:
            continue
        values = ", ".join(literal(v) for v in allowed if v is not None)
        bad = (f"{column} IS NOT NULL AND {column} NOT IN ({values})" if None in allowed
               else f"NOT COALESCE({column} IN ({values}), FALSE)")
        out.append(Check(f"{table}.{column} accepted values",
                         f"SELECT {_text(column)} AS example FROM {ref(table)} WHERE {bad}"))
    return out


def population(ref: Ref) -> str:
    """Customers with an approved transaction on or before as_of (from the validated rows)."""
    return (f"SELECT DISTINCT customer_id FROM {ref('transactions')} WHERE status = 'approved' "
            "AND transaction_date <= CAST($as_of AS DATE)")


def population_checks(ref: Ref) -> list[Check]:
    segments = ref("customer_segments")
    return [
        Check("every customer with an approved transaction has a segment",
              f"SELECT p.customer_id AS example FROM ({population(ref)}) AS p "
              f"WHERE p.customer_id NOT IN (SELECT customer_id FROM {segments})"),
        Check("segmented customers all have an approved transaction",
              f"SELECT s.customer_id AS example FROM {segments} AS s WHERE s.customer_id NOT IN "
              f"(SELECT customer_id FROM ({population(ref)}))"),
    ]


def rule_conditions(config: SegmentsConfig, *, lenient: bool) -> dict[str, str]:
    """models.segments.rule_matches in SQL: per segment, whether a row's display columns
    satisfy its rule (lenient: with the benefit of rounding); NULL comparisons are false."""
    t = DISPLAY_TOLERANCE if lenient else -DISPLAY_TOLERANCE
    ams, tp = "CAST(avg_monthly_spend AS DOUBLE)", "CAST(travel_spend_pct AS DOUBLE)"
    npct = "CAST(necessities_spend_pct AS DOUBLE)"
    chg, prior = "CAST(spend_change_pct AS DOUBLE)", "CAST(spend_prior_90_days AS DOUBLE)"
    c = config
    rules = {
        "High-Value Travelers": f"{ams} >= {literal(c.hvt_min_avg_monthly_spend - t)} "
                                f"AND {tp} >= {literal(c.hvt_min_travel_pct - t)}",
        "Declining": f"{chg} <= {literal(c.declining_max_change_pct + t)} "
                     f"AND {prior} >= {literal(float(c.declining_min_prior_spend))}",
        "New & Growing": f"tenure_months <= {literal(int(c.new_max_tenure_months))} "
                         f"AND {chg} >= {literal(c.new_min_change_pct - t)}",
        "Budget-Conscious": f"{ams} < {literal(c.budget_max_avg_monthly_spend + t)} "
                            f"AND {npct} >= {literal(c.budget_min_necessities_pct - t)}",
    }
    return {name: f"COALESCE(({cond}), FALSE)" for name, cond in rules.items()}


def rule_check(ref: Ref, config: SegmentsConfig) -> Check:
    """Each row's segment rule holds (leniently) and no earlier rule strictly matches."""
    may, must = rule_conditions(config, lenient=True), rule_conditions(config, lenient=False)
    parts = []
    for i, name in enumerate(SEGMENT_NAMES):
        wrong = [f"NOT {may[name]}"] if name in may else []
        wrong += [must[prev] for prev in SEGMENT_NAMES[:i]]
        if wrong:
            parts.append(f"(customer_segment = {literal(name)} AND ({' OR '.join(wrong)}))")
    return Check("segment rules hold for every row",
                 f"SELECT customer_id AS example FROM {ref('customer_segments')} WHERE "
                 + " OR ".join(parts))


def sample(ref: Ref, size: int) -> str:
    """run.quality.sample_ids in SQL: every k-th customer of the population in id order,
    k = max(1, n // size), at most `size` of them."""
    n = max(size, 1)
    step = f"GREATEST(1, FLOOR(total / {n}))"
    return (f"SELECT customer_id FROM (SELECT customer_id, ROW_NUMBER() OVER (ORDER BY "
            f"customer_id) - 1 AS i, COUNT(*) OVER () AS total FROM ({population(ref)})) "
            f"WHERE MOD(i, {step}) = 0 AND i < {step} * {size}")


RECONCILED = ("spend_last_90_days", "spend_prior_90_days", "lifetime_value",
              "total_transactions")


def reconciliation_check(ref: Ref, size: int, sampled: int) -> Check:
    """Window sums, LTV and counts recomputed from the validated transactions for the sample
    (its own SQL, nothing shared with the models) equal the published ones within 0.001."""
    recomputed = (
        "SELECT t.customer_id, "
        "SUM(CASE WHEN t.transaction_date >= DATEADD(DAY, -90, CAST($as_of AS DATE)) "
        "THEN t.transaction_amount ELSE 0 END) AS spend_last_90_days, "
        "SUM(CASE WHEN t.transaction_date BETWEEN DATEADD(DAY, -180, CAST($as_of AS DATE)) "
        "AND DATEADD(DAY, -91, CAST($as_of AS DATE)) THEN t.transaction_amount ELSE 0 END) "
        "AS spend_prior_90_days, SUM(t.transaction_amount) AS lifetime_value, "
        f"COUNT(*) AS total_transactions FROM {ref('transactions')} AS t "
        f"WHERE t.customer_id IN ({sample(ref, size)}) AND t.status = 'approved' "
        "AND t.transaction_date <= CAST($as_of AS DATE) GROUP BY t.customer_id")
    differs = " OR ".join(f"COALESCE(ABS(CAST(r.{c} AS DOUBLE) - CAST(s.{c} AS DOUBLE)), 1) "
                          "> 0.001" for c in RECONCILED)
    return Check(f"window sums reconcile for a sample of {sampled}",
                 f"SELECT r.customer_id AS example FROM ({recomputed}) AS r LEFT JOIN "
                 f"{ref('customer_segments')} AS s ON s.customer_id = r.customer_id "
                 f"WHERE {differs}")


def integrity_checks(ref: Ref, tables: Mapping[str, set[str]]) -> list[Check]:
    profile = ref("customer_360_profile")
    out = [Check(f"{table}.customer_id references customer_360_profile",
                 f"SELECT customer_id AS example FROM {ref(table)} WHERE customer_id NOT IN "
                 f"(SELECT customer_id FROM {profile})")
           for table in PER_CUSTOMER if table in tables and table != "customer_360_profile"]
    out.append(Check("customer_360_profile matches customer_segments",
                     f"SELECT customer_id AS example FROM {profile} WHERE customer_id NOT IN "
                     f"(SELECT customer_id FROM {ref('customer_segments')})"))
    return out


def percentage_checks(ref: Ref, tables: Mapping[str, set[str]]) -> list[Check]:
    out = []
    for table, cols in PERCENT_COLUMNS.items():
        for col in cols:
            if col in tables.get(table, set()):
                v = f"CAST({col} AS DOUBLE)"
                out.append(Check(f"{table}.{col} within 0..100",
                                 f"SELECT customer_id AS example FROM {ref(table)} WHERE {v} < 0 "
                                 f"OR {v} > 100"))
    return out


def plausibility_checks(ref: Ref, tables: Mapping[str, set[str]],
                        max_pct: float) -> list[Check]:
    if "credit_utilization_pct" not in tables.get("customer_360_profile", set()):
        return []
    v = "CAST(credit_utilization_pct AS DOUBLE)"
    return [Check(f"customer_360_profile.credit_utilization_pct within 0..{max_pct:g}",
                  f"SELECT customer_id AS example FROM {ref('customer_360_profile')} WHERE "
                  f"{v} > {literal(float(max_pct))} OR {v} < 0")]


def counts_statement(ref: Ref, size: int) -> Statement:
    """Customers per segment, the row counts of customer_360_profile and customer_segments, and
    the sample size: what the size warnings and the check names need."""
    segments = ref("customer_segments")
    return Statement(
        f"SELECT 'segment' AS kind, customer_segment AS name, COUNT(*) AS n FROM {segments} "
        "GROUP BY customer_segment\n"
        f"UNION ALL SELECT 'segments', NULL, COUNT(*) FROM {segments}\n"
        f"UNION ALL SELECT 'profiles', NULL, COUNT(*) FROM {ref('customer_360_profile')}\n"
        f"UNION ALL SELECT 'sample', NULL, COUNT(*) FROM ({sample(ref, size)})",
        purpose="gate counts")


def failing_statement(checks: Sequence[Check]) -> Statement:
    """One query for every check: at most EXAMPLES rows per failing check, each with the
    check's number, its failing row count and one example (checks that pass give no row)."""
    union = "\n  UNION ALL\n  ".join(f"SELECT {i} AS check_no, example FROM ({c.failing})"
                                     for i, c in enumerate(checks))
    return Statement(
        f"WITH failing AS (\n  {union}\n), ranked AS (\n  SELECT check_no, example, "
        "COUNT(*) OVER (PARTITION BY check_no) AS failing, ROW_NUMBER() OVER (PARTITION BY "
        "check_no ORDER BY example NULLS FIRST) AS n FROM failing\n)\nSELECT check_no, "
        f"failing, example FROM ranked WHERE n <= {EXAMPLES} ORDER BY check_no, n",
        purpose="quality gate")


@dataclass(frozen=True)
class Counts:
    """What counts_statement returned."""

    segments: dict[str, int]
    customers: int
    profiles: int
    sampled: int

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> Counts:
        per = {str(r[1]): int(r[2]) for r in rows if r[0] == "segment"}
        other = {str(r[0]): int(r[2]) for r in rows if r[0] != "segment"}
        return cls(per, other["segments"], other["profiles"], other["sample"])


@dataclass(frozen=True)
class Gate:
    """The row-level checks in run.quality.run_checks' order: `checks` up to and including
    the integrity ones (the row-count check follows them), then `after` (percentages and the
    plausibility bound, which come after the segment-size warnings there)."""

    checks: tuple[Check, ...]
    percentages: tuple[Check, ...]
    plausibility: tuple[Check, ...]

    def all(self) -> list[Check]:
        return [*self.checks, *self.percentages, *self.plausibility]


def gate(ref: Ref, tables: Mapping[str, set[str]], *, segments: SegmentsConfig,
         config: QualityConfig, sampled: int) -> Gate:
    """Every row-level check for the run tables (`tables`: relation -> its columns)."""
    size = config.reconcile_sample
    return Gate(
        tuple(key_checks(ref, tables) + accepted_checks(ref, tables) + population_checks(ref)
              + [rule_check(ref, segments), reconciliation_check(ref, size, sampled)]
              + integrity_checks(ref, tables)),
        tuple(percentage_checks(ref, tables)),
        tuple(plausibility_checks(ref, tables, config.max_credit_utilization_pct)))


def results(checks: Gate, rows: Sequence[Sequence[Any]], counts: Counts, *,
            config: QualityConfig) -> list[CheckResult]:
    """CheckResults in run.quality's order, from the rows of failing_statement and counts."""
    failing: dict[int, int] = {}
    examples: dict[int, list[Any]] = {}
    for number, n, example in rows:
        failing[int(number)] = int(n)
        examples.setdefault(int(number), []).append(example)
    found = [CheckResult(c.name, c.level, failing.get(i, 0), examples.get(i, []))
             for i, c in enumerate(checks.all())]
    head = len(checks.checks)
    out = found[:head]
    if counts.profiles != counts.customers:
        out.append(CheckResult("customer_360_profile row count equals customer_segments",
                               "error", abs(counts.profiles - counts.customers)))
    out += found[head:head + len(checks.percentages)]
    total = max(counts.customers, 1)
    for name in SEGMENT_NAMES:
        pct = 100.0 * counts.segments.get(name, 0) / total
        out.append(CheckResult(f"segment {name} holds {pct:.1f}% of customers (warn under "
                               f"{config.min_segment_pct:g}%)", "warning",
                               0 if pct >= config.min_segment_pct else 1))
    return out + found[head + len(checks.percentages):]
