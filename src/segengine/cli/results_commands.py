"""CLI commands that show and hand over results: report, export, app, docs (design §13)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import click

from segengine.cli import AppContext, as_of_option, cli, error_boundary, pass_app
from segengine.errors import ConfigError, SegengineError
from segengine.lake.layout import Layout, write_file_atomic

_OUT = click.Path(dir_okay=False, path_type=Path)


@cli.command()
@as_of_option
@click.option("-o", "--output", type=_OUT, help="HTML file (default out/<as_of>/report.html).")
@pass_app
@error_boundary
def report(app: AppContext, as_of: date | None, output: Path | None) -> None:
    """Write one self-contained HTML report (charts inlined, opens with no network).

    Headline numbers, segments and their reasons, migration, RFM, clusters, month-over-month
    trend, value distributions, churn model and risk bands, quality gate, run metadata.

    Example: segengine report --as-of 2025-10-31 -o report.html
    """
    from segengine.present import webreport
    from segengine.present.console import spinner
    from segengine.run.results import open_results

    layout = Layout(app.settings().data_dir)
    with spinner("writing the report", quiet=app.verbosity < 0):
        with open_results(layout, as_of) as r:
            r.require("customer_segments", "customer_360_profile")
            data = webreport.collect(r)
        text = webreport.render(data)
        path = output or layout.out_dir(data.as_of) / "report.html"
        write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    click.echo(f"report: {path.resolve()} ({len(text.encode()) / 1e6:.1f} MB, open it in a "
               "browser; no network needed)")


@cli.command()
@click.option("--audience", "audience_text", required=True, metavar="FILTER",
              help='e.g. "segment=Declining|Budget-Conscious,churn_band=High Risk,'
                   'eligible=retention"; keys: segment, rfm_segment, cluster, lifecycle, '
                   "churn_band, eligible.")
@as_of_option
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]),
              help="Default: from the -o suffix, else csv.")
@click.option("-o", "--output", type=_OUT, help="File to write (default: CSV to stdout).")
@pass_app
@error_boundary
def export(app: AppContext, audience_text: str, as_of: date | None, fmt: str | None,
           output: Path | None) -> None:
    """Export a campaign audience from customer_360_profile and print its size and value.

    Example: segengine export --audience "segment=Declining,churn_band=High Risk" -o list.csv
    """
    from segengine.present.campaign import EXPORT_COLUMNS, audience_where, parse_audience
    from segengine.present.display import cell
    from segengine.run import insights
    from segengine.run.results import open_results

    audience = parse_audience(audience_text)
    fmt = fmt or ("parquet" if output and output.suffix.lower() == ".parquet" else "csv")
    if fmt == "parquet" and output is None:
        raise ConfigError("Parquet cannot go to the terminal. Pass -o FILE.parquet")
    with open_results(Layout(app.settings().data_dir), as_of) as r:
        r.require("customer_360_profile")
        where, params = audience_where(audience, r.columns("customer_360_profile"))
        summary = insights.audience_summary(r, where, params)
        rows = insights.audience_rows(r, where, params, EXPORT_COLUMNS)
        when = r.as_of
    line = (f"audience {audience.describe()} as of {when}: {cell(summary['customers'])} "
            f"customers, lifetime value ${cell(summary['total_lifetime_value'])} total, "
            f"${cell(summary['avg_lifetime_value'])} average per customer")
    if output is None:
        click.echo(rows.write_csv(), nl=False)
        app.info(line)
        return
    if fmt == "parquet":
        write_file_atomic(output, lambda tmp: rows.write_parquet(tmp))
    else:
        write_file_atomic(output, lambda tmp: rows.write_csv(tmp))
    click.echo(f"{line}\nwrote {output.resolve()}")


@cli.command()
@click.option("--port", default=8501, show_default=True, help="Port to serve on.")
@click.option("--host", default="localhost", show_default=True, help="Address to listen on.")
@pass_app
@error_boundary
def app(app: AppContext, port: int, host: str) -> None:
    """Open the Streamlit explorer over the published warehouse (read-only).

    Pages: segments, customer lookup, migration, RFM and clusters, churn, campaign builder.
    Needs the optional extra: pip install 'segengine[app]'.

    Example: segengine app --port 8501
    """
    import importlib.util

    from segengine.run.results import open_results

    if importlib.util.find_spec("streamlit") is None:
        raise SegengineError("the app needs Streamlit, which is not installed. Install the "
                             "extra: pip install 'segengine[app]'")
    settings = app.settings()
    with open_results(Layout(settings.data_dir)) as r:  # a clear error before starting
        r.require("customer_360_profile")
    script = Path(__file__).resolve().parents[1] / "present" / "app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(script),
               "--server.headless", "true", "--server.port", str(port),
               "--server.address", host, "--browser.gatherUsageStats", "false",
               "--", "--data-dir", str(Path(settings.data_dir).resolve())]
    app.info(f"segengine app on http://{host}:{port} (Ctrl+C to stop)")
    sys.exit(subprocess.call(command))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html"]),
              default="text", show_default=True, help="Output format.")
@click.option("-o", "--output", type=_OUT, help="Write to a file instead of stdout.")
@pass_app
@error_boundary
def docs(app: AppContext, fmt: str, output: Path | None) -> None:
    """Print the catalogue of warehouse tables and columns (what, unit, formula, design §).

    Example: segengine docs --format markdown -o CATALOGUE.md
    """
    from segengine.present.docs import render_docs
    from segengine.run.results import open_results

    with open_results(Layout(app.settings().data_dir)) as r:
        columns = r.frame("SELECT table_name, column_name, data_type, comment "
                          "FROM duckdb_columns() WHERE schema_name = 'main' AND NOT internal "
                          "ORDER BY table_name, column_index")
        tables = r.frame("SELECT table_name, comment FROM duckdb_tables() "
                         "WHERE schema_name = 'main' UNION ALL SELECT view_name, comment "
                         "FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal")
    text = render_docs(columns, tables, fmt)
    if output is None:
        click.echo(text)
        return
    write_file_atomic(output, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    click.echo(f"wrote {output.resolve()}")
