"""CLI commands: ingest."""

from __future__ import annotations

import click  # noqa: F401

from segengine.cli import AppContext, cli, error_boundary, pass_app  # noqa: F401
