"""What fakesnow does not emulate of Snowflake's transactions, added around its HTTP endpoints.

fakesnow runs each statement on DuckDB, so in server mode (with AUTOCOMMIT on):
- DDL inside an explicit transaction does not commit it (Snowflake commits it first);
- a transaction holds no table locks: a second writer fails at once with a DuckDB conflict
  instead of waiting for LOCK_TIMEOUT seconds;
- CURRENT_TRANSACTION() and SYSTEM$ABORT_TRANSACTION() do not exist;
- MEDIAN(<NUMBER>) is computed on DOUBLE (fakesnow casts its argument), while Snowflake returns
  an exact NUMBER (scale + 3: docs.snowflake.com sql-reference/functions/median, the median of
  integers 1, 3, 10, 1, 3 is 3.000), so a half-cent midpoint could round the other way;
- nothing records what the client sent.
This module adds exactly those, following Snowflake's documented behaviour
(docs.snowflake.com: sql-reference/transactions, system_abort_transaction, parameters#lock-timeout),
so tests can show an implicit commit, a detached transaction keeping its locks after its client
vanished, the wait, and the abort. Everything else is fakesnow's.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_LOCK_TIMEOUT = 43200
"""Snowflake's default LOCK_TIMEOUT in seconds (12 hours)."""
LOCK_ERRNO = "000625"
_ABORT = re.compile(r"^\s*SELECT\s+SYSTEM\$ABORT_TRANSACTION\s*\(\s*'?(\d+)'?\s*\)\s*;?\s*$", re.I)
_CURRENT = re.compile(r"^\s*SELECT\s+CURRENT_TRANSACTION\s*\(\s*\)\s*;?\s*$", re.I)
_BEGIN = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION)\b", re.I)
_END = re.compile(r"^\s*(COMMIT|ROLLBACK)\b", re.I)
_DDL = re.compile(r"^\s*(CREATE|DROP|ALTER|UNDROP|GRANT|REVOKE|COMMENT)\b", re.I)
_DML = re.compile(r"^\s*(INSERT|DELETE|UPDATE|MERGE|TRUNCATE|COPY)\b", re.I)


@dataclass
class Transaction:
    """An explicit transaction of one session: its id and the tables it has locked."""

    id: int
    token: str
    locks: set[str] = field(default_factory=set)


@dataclass
class Received:
    """One statement as the server received it (after the client bound its parameters)."""

    token: str
    sql: str
    at: float


class Semantics:
    """Per-server state: sessions' lock timeouts, open transactions, the statement log."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[Received] = []
        self.lock_timeout: dict[str, float] = {}
        self.open: dict[str, Transaction] = {}
        self._ids = itertools.count(1_700_000_000_000_000_001)
        self.aborted: list[int] = []
        """Ids of transactions ended by SYSTEM$ABORT_TRANSACTION."""
        self.max_wait = 15.0
        """Safety cap for tests: no lock wait lasts longer, whatever LOCK_TIMEOUT says."""

    def statements(self, token: str | None = None) -> list[str]:
        """Every statement received (of one session, if given), in order."""
        with self.lock:
            return [r.sql for r in self.log if token is None or r.token == token]

    def transaction_of(self, token: str) -> Transaction | None:
        with self.lock:
            return self.open.get(token)

    def holder(self, table: str, token: str) -> Transaction | None:
        """The other session's transaction that holds a lock on `table`, if any."""
        with self.lock:
            for txn in self.open.values():
                if txn.token != token and table in txn.locks:
                    return txn
        return None

    def end(self, token: str) -> None:
        with self.lock:
            self.open.pop(token, None)


SEMANTICS = Semantics()


def _exact_median(sql: str) -> str | None:
    """`sql` with MEDIAN(x) as PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x), which fakesnow
    computes on the exact type (Snowflake's MEDIAN of a NUMBER is exact); None: no MEDIAN."""
    if "MEDIAN" not in sql.upper():
        return None
    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.ParseError:
        return None
    if tree.find(exp.Median) is None:
        return None

    def exact(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Median):
            return exp.WithinGroup(this=exp.PercentileCont(this=exp.Literal.number("0.5")),
                                   expression=exp.Order(expressions=[exp.Ordered(
                                       this=node.this, nulls_first=False)]))
        return node

    return tree.transform(exact).sql(dialect="snowflake")


def _table_key(sql: str, conn: Any) -> str | None:
    """DB.SCHEMA.TABLE (upper-cased unless quoted) written by a DML statement."""
    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.ParseError:
        return None
    target = tree.this if isinstance(tree, (exp.Insert, exp.Delete, exp.Update, exp.Merge,
                                            exp.Copy)) else tree.find(exp.Table)
    if isinstance(target, exp.Schema):
        target = target.this
    if not isinstance(target, exp.Table):
        return None

    def part(ident: exp.Expression | None, default: str | None) -> str:
        if not isinstance(ident, exp.Identifier):
            return (default or "").upper()
        return ident.name if ident.quoted else ident.name.upper()

    return ".".join((part(target.args.get("catalog"), conn.database),
                     part(target.args.get("db"), conn.schema),
                     part(target.args.get("this"), None)))


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def _replace_sql(request: Request, body: dict[str, Any], sql: str) -> None:
    """Make fakesnow run `sql` instead of what the client sent (Starlette caches the body)."""
    raw = json.dumps({**body, "sqlText": sql, "bindings": None}).encode()
    request._body = gzip.compress(raw) if request.headers.get("Content-Encoding") == "gzip" \
        else raw


def _error(code: str, sqlstate: str, message: str) -> JSONResponse:
    return JSONResponse({"data": {"errorCode": code, "sqlState": sqlstate}, "code": code,
                         "message": message, "success": False})


def wrap(app_module: Any, semantics: Semantics = SEMANTICS) -> Starlette:
    """fakesnow's Starlette app with the transaction semantics above around its endpoints."""
    original_login: Callable[[Request], Awaitable[Response]] = app_module.login_request
    original_query: Callable[[Request], Awaitable[Response]] = app_module.query_request
    original_session: Callable[[Request], Awaitable[Response]] = app_module.session
    sessions: dict[str, Any] = app_module.sessions

    async def login_request(request: Request) -> Response:
        params = (await _body(request))["data"].get("SESSION_PARAMETERS", {})
        response = await original_login(request)
        token = json.loads(bytes(response.body))["data"]["token"]
        timeout = params.get("LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
        with semantics.lock:
            semantics.lock_timeout[token] = float(timeout)
        return response

    def abort(txn_id: int) -> str:
        with semantics.lock:
            found = next((t for t in semantics.open.values() if t.id == txn_id), None)
            if found is not None:
                semantics.open.pop(found.token, None)
        if found is None:
            return f"Transaction {txn_id} is not running."
        semantics.aborted.append(txn_id)
        conn = sessions.get(found.token)
        if conn is not None:
            conn.rollback()
        return f"Aborted transaction {txn_id}."

    async def wait_for_lock(table: str, token: str, sql: str) -> Response | None:
        deadline = time.monotonic() + min(semantics.max_wait,
                                          semantics.lock_timeout.get(token, DEFAULT_LOCK_TIMEOUT))
        while (holder := semantics.holder(table, token)) is not None:
            if time.monotonic() >= deadline:
                return _error(LOCK_ERRNO, "57014", (
                    f"Statement has locked table '{table}' in transaction {holder.id} and this "
                    f"lock has not yet been released. Your statement '{sql[:40]}' was aborted "
                    "because it waited longer than LOCK_TIMEOUT."))
            await asyncio.sleep(0.02)
        return None

    async def session_request(request: Request) -> Response:
        token = request.headers.get("Authorization", "")[17:-1]
        if request.query_params.get("delete") and semantics.transaction_of(token):
            conn = sessions.get(token)
            if conn is not None:
                conn.rollback()  # a session closed by its client rolls back its transaction
            semantics.end(token)
        return await original_session(request)

    async def query_request(request: Request) -> Response:
        try:
            token = app_module.to_token(request)
        except Exception:  # noqa: BLE001 - fakesnow answers a missing token itself
            return await original_query(request)
        body = await _body(request)
        sql: str = body.get("sqlText", "")
        with semantics.lock:
            semantics.log.append(Received(token, sql, time.monotonic()))
        conn = sessions.get(token)
        if conn is None:
            return await original_query(request)
        txn = semantics.transaction_of(token)
        if not body.get("bindings") and (median := _exact_median(sql)) is not None:
            _replace_sql(request, body, median)
        if (match := _ABORT.match(sql)) is not None:
            _replace_sql(request, body, f"SELECT '{abort(int(match.group(1)))}'")
        elif _CURRENT.match(sql):
            value = f"'{txn.id}'" if txn is not None else "NULL"
            _replace_sql(request, body, f"SELECT {value}")
        elif _BEGIN.match(sql) and txn is None:
            with semantics.lock:
                semantics.open[token] = Transaction(next(semantics._ids), token)
        elif _END.match(sql):
            semantics.end(token)
        elif _DDL.match(sql) and txn is not None:
            conn.commit()  # Snowflake commits the open transaction before any DDL
            semantics.end(token)
        elif _DML.match(sql) and (table := _table_key(sql, conn)) is not None:
            refused = await wait_for_lock(table, token, sql)
            if refused is not None:
                return refused
            if txn is not None:
                with semantics.lock:
                    txn.locks.add(table)
        return await original_query(request)

    routes = []
    for route in app_module.routes:
        if route.path == "/session/v1/login-request":
            routes.append(Route(route.path, login_request, methods=["POST"]))
        elif route.path == "/session":
            routes.append(Route(route.path, session_request, methods=["POST"]))
        elif route.path == "/queries/v1/query-request":
            routes.append(Route(route.path, query_request, methods=["POST"]))
        else:
            routes.append(route)
    return Starlette(routes=routes)
