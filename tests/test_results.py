"""`report`, `export`, `docs` and the result-printing commands on a tiny published data dir."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner, Result
from tests.published import EARLIER, copy_of, published  # noqa: F401 - fixture

from segengine.cli import cli
from segengine.lake.layout import Layout
from segengine.present import webreport
from segengine.run.results import open_results


def cli_run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--data-dir", str(root), *args])


@pytest.fixture(scope="module")
def report_html(published: Path, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    out = tmp_path_factory.mktemp("report") / "r.html"
    r = cli_run(published, "report", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"report: {out}")
    return out.read_text()


def test_report_is_one_offline_file_with_every_section(report_html: str) -> None:
    assert "Plotly" in report_html and len(report_html) > 3_000_000  # plotly.js inlined
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?:", report_html)
    for anchor in ("headline", "segments", "reasons", "migration", "rfm", "clusters", "trend",
                   "values", "churn", "quality", "run"):
        assert f'<section id="{anchor}">' in report_html
    for chart in ("chart-segments", "chart-migration", "chart-sankey", "chart-rf",
                  "chart-rfm-segments", "chart-clusters", "chart-mom", "chart-ltv", "chart-atv",
                  "chart-churn-bands"):
        assert f'id="{chart}"' in report_html


def test_report_numbers_are_the_published_ones(report_html: str) -> None:
    # 25 customers; lifetime value 5 x (24,500 + 4,500 + 1,200 + 270 + 2,800) = 166,350.00
    assert ">25</div><div class=label>customers<" in report_html
    assert ">$166,350.00</div><div class=label>lifetime value, total<" in report_html
    assert ">$6,654.00</div><div class=label>lifetime value, average per customer<" in report_html
    assert "Segment migration 2025-09-30 → 2025-10-31" in report_html
    assert "avg_monthly_spend ≥ 5,000 and travel_spend_pct ≥ 25" in report_html
    assert re.search(r"<p class=summary>\d+ PASS, 0 WARN, 0 ERROR</p>", report_html)


def test_report_of_the_same_results_is_byte_identical(published: Path,  # noqa: F811
                                                      report_html: str) -> None:
    with open_results(Layout(published)) as r:
        assert webreport.render(webreport.collect(r)) == report_html


def test_report_of_an_earlier_date_reads_its_out_folder_and_defaults_there(
        published: Path, tmp_path: Path) -> None:  # noqa: F811
    root = copy_of(published, tmp_path)
    r = cli_run(root, "report", "--as-of", EARLIER.isoformat())
    assert r.exit_code == 0, r.output
    text = (root / "out" / EARLIER.isoformat() / "report.html").read_text()
    assert "as of 2025-09-30" in text and "Only one as-of date has been run" in text
    r = cli_run(root, "report", "--as-of", "2024-01-31")
    assert r.exit_code == 1
    assert "no published results for as-of 2024-01-31" in r.stderr
    assert "published: 2025-09-30, 2025-10-31" in r.stderr


def test_export_writes_exactly_the_selected_customers(published: Path,  # noqa: F811
                                                      tmp_path: Path) -> None:
    out = tmp_path / "declining.csv"
    r = cli_run(published, "export", "--audience", "segment=declining", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert ("audience segment=Declining as of 2025-10-31: 5 customers, lifetime value "
            "$22,500.00 total, $4,500.00 average per customer") in r.stdout
    rows = pl.read_csv(out)
    assert rows["customer_id"].to_list() == ["D0", "D1", "D2", "D3", "D4"]
    assert set(rows["customer_segment"]) == {"Declining"}
    parquet = tmp_path / "two.parquet"
    r = cli_run(published, "export", "--audience", "segment=Declining|New & Growing",
                "-o", str(parquet))
    assert r.exit_code == 0, r.output
    assert pl.read_parquet(parquet)["customer_id"].to_list() == [
        "D0", "D1", "D2", "D3", "D4", "G0", "G1", "G2", "G3", "G4"]


def test_export_to_stdout_is_csv_and_the_summary_goes_to_stderr(published: Path) -> None:  # noqa: F811
    r = cli_run(published, "export", "--audience", "segment=High-Value Travelers",
                "--as-of", EARLIER.isoformat())
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith("customer_id,customer_key,")
    assert len(r.stdout.splitlines()) == 1  # nobody was a traveller on 2025-09-30
    assert "0 customers" in r.stderr


def test_export_refuses_a_bad_filter_and_parquet_to_the_terminal(published: Path) -> None:  # noqa: F811
    r = cli_run(published, "export", "--audience", "segment=Decling")
    assert r.exit_code == 1 and "segment 'Decling' is not one of" in r.stderr
    r = cli_run(published, "export", "--audience", "segment=Declining", "--format", "parquet")
    assert r.exit_code == 1 and "Pass -o FILE.parquet" in r.stderr


def test_docs_prints_every_table_with_its_column_comments(published: Path,  # noqa: F811
                                                          tmp_path: Path) -> None:
    r = cli_run(published, "docs")
    assert r.exit_code == 0, r.output
    assert "customer_segments: One row per customer" in r.stdout
    assert "(no comment)" not in r.stdout
    assert re.search(r"spend_change_pct\s+DECIMAL\(18,2\)\s+Change of 90-day spend \[%\]",
                     r.stdout)
    md = tmp_path / "catalogue.md"
    r = cli_run(published, "docs", "--format", "markdown", "-o", str(md))
    assert r.exit_code == 0 and "| `lifetime_value` | DECIMAL(18,2) |" in md.read_text()


def test_check_prints_pass_warn_error_and_a_summary(published: Path) -> None:  # noqa: F811
    r = cli_run(published, "check")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert all(re.match(r"(PASS|WARN|ERROR)  ", line) for line in lines[:-1])
    assert re.fullmatch(r"\d+ checks: \d+ PASS, \d+ WARN, 0 ERROR", lines[-1])
    assert "[error]" not in r.stdout and ": ok" not in r.stdout


def test_rfm_clusters_and_migration_take_as_of_and_format(published: Path) -> None:  # noqa: F811
    r = cli_run(published, "rfm", "--as-of", EARLIER.isoformat(), "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {row["as_of_date"] for row in rows} == {"2025-09-30"}
    assert sum(row["customers"] for row in rows) == 25
    r = cli_run(published, "clusters", "--format", "csv")
    assert r.exit_code == 0 and r.stdout.startswith("cluster_id,cluster_name,customers,")
    r = cli_run(published, "migration", "--format", "csv")
    assert r.exit_code == 0, r.output
    assert "Stable Mid-Spenders,Declining,5,25.0" in r.stdout  # 5 of 20 moved
    r = cli_run(published, "migration")
    assert "rows = segment on 2025-09-30 (from), columns = segment on 2025-10-31 (to)" in r.stdout
    assert re.search(r"^Stable Mid-Spenders\s+5 \(25\.0%\)\s+5 \(25\.0%\)", r.stdout, re.M)


def test_sql_record_format_prints_one_column_per_line(published: Path) -> None:  # noqa: F811
    r = cli_run(published, "sql", "SELECT customer_id, lifetime_value FROM customer_360_profile "
                "WHERE customer_id IN ('H0', 'D0') ORDER BY 1", "--format", "record")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "-[ record 1 ]------", "customer_id    | D0", "lifetime_value | 4,500.00",
        "-[ record 2 ]------", "customer_id    | H0", "lifetime_value | 24,500.00"]


def test_run_warns_once_and_ends_with_where_the_results_are(published: Path,  # noqa: F811
                                                            tmp_path: Path) -> None:
    root = copy_of(published, tmp_path)
    r = CliRunner().invoke(cli, ["--data-dir", str(root), "run"],
                           env={"SEGENGINE_QUALITY__MIN_SEGMENT_PCT": "25"})
    assert r.exit_code == 0, r.output
    assert "  warning: segment Declining holds 20.0% of customers (warn under 25%): below " \
           "threshold" in r.stderr
    assert "[warning]" not in r.stderr
    tail = r.stderr.splitlines()[-9:]
    assert tail[0] == "results:"
    assert tail[1] == f"  warehouse  {(root / 'warehouse.duckdb').resolve()}"
    assert tail[2].startswith(f"  tables     {(root / 'out' / '2025-10-31').resolve()}/ (")
    assert tail[4].startswith(f"  report     {(root / 'out' / '2025-10-31').resolve()}/report")
    assert tail[5:8] == ["next:", f"  segengine --data-dir {root} report" + " " * 19 +
                         "# one offline HTML file with every chart",
                         f"  segengine --data-dir {root} app" + " " * 22 +
                         "# explorer + campaign builder (segengine[app])"]
    assert "lifetime value ($, total)" in r.stdout and "(\u0024, avg per customer)" in r.stdout


def test_a_narrow_terminal_wraps_labels_but_never_cuts_a_number() -> None:
    from rich.console import Console

    from segengine.present.console import rich_table

    frame = pl.DataFrame({"segment": ["Budget-Conscious customers of the portfolio"],
                          "lifetime value ($, total)": [29393274.19], "customers": [1234567]})
    console = Console(width=40, record=True, color_system=None)
    console.print(rich_table(frame))
    text = console.export_text()
    assert "29,393,274.19" in text and "1,234,567" in text and "…" not in text


def test_the_app_script_has_no_bare_strings_that_streamlit_would_print() -> None:
    """Streamlit's "magic" writes every bare expression of the script on the page."""
    import ast

    from segengine.present import campaign

    script = Path(campaign.__file__).with_name("app.py")
    body = ast.parse(script.read_text()).body
    bare = [node.lineno for node in body[1:] if isinstance(node, ast.Expr)
            and not isinstance(node.value, ast.Call)]
    assert bare == []
