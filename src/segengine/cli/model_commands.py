"""CLI commands: model (`rfm`, `clusters`): print one as-of date's results from the warehouse."""

from __future__ import annotations

from datetime import date

import click
import polars as pl

from segengine.cli import AppContext, as_of_option, cli, error_boundary, pass_app
from segengine.lake.layout import Layout
from segengine.present.console import print_frame
from segengine.present.display import FORMATS
from segengine.present.report import CLUSTER_HEADERS, RFM_HEADERS, cluster_fit, rf_grid, rfm_table

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
    help="Output format (csv/json/record print the summary table's rows with full precision).")


@cli.command()
@as_of_option
@format_option
@pass_app
@error_boundary
def rfm(app: AppContext, as_of: date | None, fmt: str) -> None:
    """Print the RFM segment summary and the R×F grid of customer counts.

    Default: the current run; --as-of D reads that date's published out/D/ files.

    Example: segengine rfm --as-of 2025-09-30 --format csv
    """
    from segengine.run import insights
    from segengine.run.results import open_results

    with open_results(Layout(app.settings().data_dir), as_of) as r:
        r.require("rfm_segment_summary", "customer_rfm")
        summary, counts = insights.rfm_summary(r), insights.rf_counts(r)
    if fmt != "table":
        print_frame(summary, fmt)
        return
    table = rfm_table(summary)
    when = str(summary["as_of_date"].max()) if "as_of_date" in summary.columns else "-"
    print_frame(table, title=f"RFM segments as of {when} "
                             f"({int(summary['customers'].sum()):,} customers)",
                headers=RFM_HEADERS)
    print_frame(rf_grid(counts), title="Customers by recency score R (rows, 5 = most recent) "
                                       "and frequency score F (columns)")


@cli.command()
@as_of_option
@format_option
@pass_app
@error_boundary
def clusters(app: AppContext, as_of: date | None, fmt: str) -> None:
    """Print the KMeans cluster profiles (size, averages, revenue share).

    Default: the current run; --as-of D reads that date's published out/D/ files.

    Example: segengine clusters --format json
    """
    from segengine.run import insights
    from segengine.run.results import open_results

    with open_results(Layout(app.settings().data_dir), as_of) as r:
        r.require("cluster_profiles")
        profiles = insights.cluster_profiles(r)
    if fmt != "table":
        print_frame(profiles, fmt)
        return
    if profiles.is_empty():
        click.echo("No clusters (no customers).")
        return
    table = profiles.select("cluster_id", "cluster_name", "customers", "pct_customers",
                            "avg_recency", "avg_frequency", pl.col("avg_monetary"),
                            "pct_revenue")
    print_frame(table, title=cluster_fit(profiles), headers=CLUSTER_HEADERS)
