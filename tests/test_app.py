"""`segengine app` driven by Streamlit's AppTest on the tiny published data dir: every page
runs without an exception, filters change the numbers, the campaign builder's ROI equals a
hand-computed value, and saving the audience writes exactly the selected customers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from tests.published import copy_of, published  # noqa: F401 - fixture

pytest.importorskip("streamlit", reason="the app extra (streamlit) is not installed")
from streamlit.testing.v1 import AppTest  # noqa: E402

from segengine.present.app import PAGES  # noqa: E402

pytestmark = [pytest.mark.app, pytest.mark.slow]  # ~12 s: the slow tier of .ci/run
SCRIPT = str(Path(__file__).resolve().parents[1] / "src" / "segengine" / "present" / "app.py")


@pytest.fixture
def app(published: Path, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, Path]:
    root = copy_of(published, tmp_path)
    monkeypatch.setenv("SEGENGINE_DATA_DIR", str(root))
    return AppTest.from_file(SCRIPT, default_timeout=60).run(), root


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_every_page_renders_without_an_error(app: tuple[AppTest, Path]) -> None:
    at, _ = app
    for page in PAGES:
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception and not at.error, (page, at.exception, at.error)
        assert at.header[0].value.split(" — ")[0] in {
            "Segment explorer", "Customer lookup", "Segment migration", "RFM and clusters",
            "Churn risk", "Campaign builder"}


def test_segment_filters_change_the_numbers(app: tuple[AppTest, Path]) -> None:
    at, _ = app
    assert metrics(at)["Customers"] == "25"
    assert metrics(at)["Lifetime value (total)"] == "$166,350.00"
    at.sidebar.multiselect(key="explore-segment").set_value(["High-Value Travelers"]).run()
    assert metrics(at)["Customers"] == "5"
    assert metrics(at)["Lifetime value (total)"] == "$122,500.00"
    assert metrics(at)["Lifetime value (avg)"] == "$24,500.00"
    at.sidebar.multiselect(key="explore-segment").set_value(
        ["High-Value Travelers", "Declining"]).run()
    assert metrics(at)["Customers"] == "10"
    # the RFM filter intersects: the five Declining customers (2 approved purchases, last one
    # 10 days ago) are Potential Loyalists; the five travellers (3 purchases) are Loyal Customers
    at.sidebar.multiselect(key="explore-rfm_segment").set_value(["Potential Loyalists"]).run()
    assert metrics(at)["Customers"] == "5"
    assert metrics(at)["Lifetime value (total)"] == "$22,500.00"  # 5 x (4,000.00 + 500.00)


def test_customer_lookup_shows_the_360_row_and_its_history(app: tuple[AppTest, Path]) -> None:
    at, _ = app
    at.sidebar.radio(key="page").set_value("Customer lookup").run()
    at.text_input(key="customer-id").input("D2").run()
    assert metrics(at)["Lifetime value"] == "$4,500.00"
    history = at.dataframe[1].value
    assert list(history["customer_segment"]) == ["Stable Mid-Spenders", "Declining"]
    at.text_input(key="customer-id").input("NOPE").run()
    assert "No customer 'NOPE'" in at.warning[0].value


def test_campaign_roi_equals_the_hand_computed_value_and_save_writes_the_audience(
        app: tuple[AppTest, Path]) -> None:
    at, root = app
    at.sidebar.radio(key="page").set_value("Campaign builder").run()
    at.multiselect(key="campaign-segment").set_value(["Declining"]).run()
    at.number_input(key="cost").set_value(5.0)
    at.number_input(key="response").set_value(10.0)
    at.number_input(key="uplift").set_value(20.0).run()
    # 5 Declining customers spent 5 x 500.00 = 2,500.00 in the last 90 days:
    # revenue 0.10 x 0.20 x 2,500 = 50.00, cost 5 x 5 = 25.00, ROI 100%, break-even 5%
    got = metrics(at)
    assert (got["Customers"], got["Expected revenue"], got["Cost"], got["ROI"],
            got["Break-even response rate"]) == ("5", "$50.00", "$25.00", "100.00%", "5.00%")
    at.multiselect(key="campaign-segment").set_value(["Declining", "New & Growing"])
    at.number_input(key="cost").set_value(2.0)
    at.number_input(key="response").set_value(25.0)
    at.number_input(key="uplift").set_value(10.0).run()
    # 10 customers, 2,500 + 5 x 900 = 7,000: revenue 0.25 x 0.10 x 7,000 = 175.00, cost 20.00,
    # ROI 155 / 20 = 775%, break-even 20 / 700 = 2.857% -> 2.86%
    got = metrics(at)
    assert (got["Customers"], got["Expected revenue"], got["Cost"], got["ROI"],
            got["Break-even response rate"]) == ("10", "$175.00", "$20.00", "775.00%", "2.86%")
    assert "break-even response rate = cost / (u × S)" in at.markdown[-1].value
    at.button(key="save").click().run()
    saved = pl.read_csv(root / "exports" / "audience-2025-10-31.csv")
    assert saved["customer_id"].to_list() == ["D0", "D1", "D2", "D3", "D4",
                                              "G0", "G1", "G2", "G3", "G4"]
    parquet = pl.read_parquet(root / "exports" / "audience-2025-10-31.parquet")
    assert parquet["customer_id"].to_list() == saved["customer_id"].to_list()


def test_migration_page_offers_the_history_dates(app: tuple[AppTest, Path]) -> None:
    at, _ = app
    at.sidebar.radio(key="page").set_value("Migration").run()
    assert str(at.selectbox(key="from-date").value) == "2025-09-30"
    assert str(at.selectbox(key="to-date").value) == "2025-10-31"
    assert not at.exception
