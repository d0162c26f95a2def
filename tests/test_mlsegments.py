"""Tests for segengine.models.mlsegments (external segmentation CSV)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from segengine.errors import DataError
from segengine.models.mlsegments import ML_SEGMENTS, attach_segments, read_segments_file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "segments.csv"
    path.write_text(text)
    return path


def test_good_file_keeps_ids_as_text_and_sorts_them(tmp_path: Path) -> None:
    path = write(tmp_path, "customer_id,segment_id,segment_name\n"
                           "00002,1,At-Risk (Lapsing)\n00001,03,Champions (VIPs)\n")
    expected = pl.DataFrame({"customer_id": ["00001", "00002"], "segment_id": ["03", "1"],
                             "segment_name": ["Champions (VIPs)", "At-Risk (Lapsing)"]})
    assert_frame_equal(read_segments_file(path), expected)


def test_duplicate_ids_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "customer_id,segment_id,segment_name\n"
                           "b,1,x\na,1,x\nb,2,y\na,3,z\nc,1,x\n")
    with pytest.raises(DataError, match=r"2 duplicated customer_id\(s\): a, b"):
        read_segments_file(path)


def test_missing_columns_are_named_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "customer_id,cluster\n1,2\n")
    with pytest.raises(DataError, match="segment_id, segment_name") as err:
        read_segments_file(path)
    assert str(path) in str(err.value)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_segments_file(tmp_path / "nope.csv")


def test_empty_customer_id_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "customer_id,segment_id,segment_name\n,1,x\na,1,x\n")
    with pytest.raises(DataError, match="1 row"):
        read_segments_file(path)


def test_unknown_ids_are_counted_and_shown_not_silently_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "customer_id,segment_id,segment_name\n"
                           "00001,0,Big Spenders\n00009,1,Loyal\nzz,1,Loyal\n")
    ext = read_segments_file(path)
    attached = attach_segments(ext, pl.Series(["00001", "00002", "00001"]))
    expected = pl.DataFrame({"customer_id": ["00001"], "ml_segment_id": ["0"],
                             "ml_segment_name": ["Big Spenders"]}, schema=ML_SEGMENTS)
    assert_frame_equal(attached.segments, expected)
    assert attached.unknown_count == 2
    assert attached.unknown_examples == ["00009", "zz"]


def test_columns_repeated_up_to_case_are_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "seg.csv"
    path.write_text("customer_id,Segment_ID,segment_id,segment_name\nA,1,2,x\n")
    with pytest.raises(DataError, match="segment_id more than once"):
        read_segments_file(path)
