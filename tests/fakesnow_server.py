"""Test helpers: one local fakesnow server per test session, connections.toml, a cutting proxy.

The server is fakesnow's Starlette app under uvicorn on 127.0.0.1 (what `fakesnow.server()`
does, with quieter logging), wrapped with Snowflake's transaction semantics that fakesnow lacks
(tests/snowflake_double.py), reached through the real snowflake-connector-python over HTTP.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SERVER: dict[str, Any] = {}


def listening_socket() -> socket.socket:
    """A socket bound to a port the OS picked and kept open: the server is handed the socket
    itself, so no other process can take the port between choosing and using it."""
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (else every
    # response waits ~40 ms for a delayed ACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port that refuses connections: bound (so nobody else can take it) but not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def server_kwargs() -> dict[str, Any]:
    """Connector kwargs of the shared fakesnow server, starting it on first use."""
    if "kwargs" not in _SERVER:
        import fakesnow.server
        import uvicorn
        from tests.snowflake_double import wrap

        logging.getLogger("fakesnow.server").setLevel(logging.WARNING)
        sock = listening_socket()
        port = int(sock.getsockname()[1])
        server = uvicorn.Server(uvicorn.Config(wrap(fakesnow.server), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fakesnow",
                                  daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fakesnow server did not start")
            time.sleep(0.05)
        _SERVER.update(server=server, thread=thread, port=port, socket=sock, kwargs={
            "account": "fakesnow", "user": "fake", "password": "snow", "host": "127.0.0.1",
            "port": port, "protocol": "http", "network_timeout": 5, "login_timeout": 5,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        })
        atexit.register(stop_server)
    return dict(_SERVER["kwargs"])


def stop_server() -> None:
    """Stop the shared server (at interpreter exit)."""
    server = _SERVER.pop("server", None)
    if server is not None:
        server.should_exit = True
        _SERVER["thread"].join(timeout=5)
        _SERVER["socket"].close()
    _SERVER.clear()


def unique_name(prefix: str = "T") -> str:
    """A schema/database name no other test uses (fakesnow state is process-wide)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}".upper()


def write_connections_toml(folder: Path, name: str, kwargs: dict[str, Any],
                           **extra: Any) -> Path:
    """A Snowflake connections.toml with one [name] connection for these connector kwargs."""
    folder.mkdir(parents=True, exist_ok=True)
    values = {**kwargs, **extra}
    lines = [f"[{name}]"]
    nested = {}
    for key, value in values.items():
        if isinstance(value, dict):
            nested[key] = value
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    for key, table in nested.items():
        lines.append(f"[{name}.{key}]")
        lines += [f"{k} = {'true' if v is True else 'false' if v is False else repr(v)}"
                  for k, v in table.items()]
    path = folder / "connections.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


class CuttingProxy:
    """TCP proxy on 127.0.0.1 that forwards to `port` until cut (or a byte budget is spent).

    After the cut every open connection is closed and new ones are refused at once, like a
    network that went away.
    """

    def __init__(self, port: int, budget: int | None = None) -> None:
        self.upstream = port
        self.budget = budget
        self.sent = 0
        self.cut_event = threading.Event()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Close every connection now and refuse new ones."""
        self.cut_event.set()
        with self._lock:
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._socks.clear()

    def restore(self) -> None:
        """Accept new connections again (the network came back; old connections stay dead)."""
        self.cut_event.clear()
        with self._lock:
            self.budget = None

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(timeout=2)
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.cut_event.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            with self._lock:
                self._socks += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        with contextlib.suppress(OSError):
            while not self.cut_event.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if counted:
                    with self._lock:
                        self.sent += len(data)
                        over = self.budget is not None and self.sent > self.budget
                    if over:
                        self.cut()
                        return
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def isolate_snowflake_env(monkeypatch: Any, home: Path) -> None:
    """No SNOWFLAKE_* variables from the developer; Path.home() is `home`."""
    import os

    for name in [n for n in os.environ if n.startswith("SNOWFLAKE")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(Path, "home", classmethod(lambda _cls: home))


def session_tokens() -> set[str]:
    """Tokens of the fakesnow sessions open now."""
    import fakesnow.server

    return set(fakesnow.server.sessions)


def abort_transactions_since(tokens: set[str]) -> None:
    """Test teardown only: abort what sessions opened after `tokens` left open, so a later test
    does not meet their locks. Never call it before asserting what the product did."""
    import fakesnow.server
    from tests.snowflake_double import SEMANTICS

    for token, conn in list(fakesnow.server.sessions.items()):
        if token not in tokens and SEMANTICS.transaction_of(token) is not None:
            with contextlib.suppress(Exception):
                conn.rollback()
            SEMANTICS.end(token)
