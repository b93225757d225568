"""The Delta adapter: safe table addressing and atomic, idempotent partition writes."""

from datetime import UTC, date

import polars as pl
import pytest

from monitoring_pipeline.io import delta
from monitoring_pipeline.io.delta import Lake, LakePathError


def _rows(model: str, day: date, n: int) -> pl.DataFrame:
    schema = {"model_name": pl.String, "day": pl.Date, "value": pl.Int64}
    return pl.DataFrame({"model_name": [model] * n, "day": [day] * n, "value": list(range(n))}, schema=schema)


@pytest.mark.parametrize(
    "name", ["../outside", "/etc/passwd", "file:///etc/passwd", "s3://other/bucket", "a/../../b", ""]
)
def test_table_names_cannot_escape_the_lake(tmp_path, name: str) -> None:
    with pytest.raises(LakePathError):
        Lake(str(tmp_path)).table(name)


def test_object_store_roots_keep_their_scheme_and_options() -> None:
    ref = Lake("s3://bucket/prefix/", {"AWS_REGION": "eu-west-1"}).table("reports/drift_report")
    assert ref.uri == "s3://bucket/prefix/reports/drift_report"
    assert ref.options == {"AWS_REGION": "eu-west-1"}
    with pytest.raises(LakePathError, match="unsupported scheme"):
        Lake("http://example.com/lake").table("x")


def test_rewriting_a_partition_replaces_it_and_leaves_the_others(tmp_path) -> None:
    ref = Lake(str(tmp_path)).table("reports/t")
    day = date(2026, 9, 1)
    delta.write_partition(ref, _rows("a", day, 3), {"model_name": "a", "day": day})
    delta.write_partition(ref, _rows("b", day, 2), {"model_name": "b", "day": day})
    for _ in range(2):  # a rerun replaces, never duplicates
        delta.write_partition(ref, _rows("a", day, 5), {"model_name": "a", "day": day})
    counts = dict(delta.scan(ref).group_by("model_name").len().sort("model_name").collect().iter_rows())
    assert counts == {"a": 5, "b": 2}
    delta.write_partition(ref, _rows("a", day, 0), {"model_name": "a", "day": day})  # an empty day empties it
    assert delta.scan(ref).collect()["model_name"].to_list() == ["b", "b"]


def test_rows_outside_the_partition_are_refused_before_anything_is_written(tmp_path) -> None:
    ref = Lake(str(tmp_path)).table("reports/t")
    day = date(2026, 9, 1)
    delta.write_partition(ref, _rows("a", day, 1), {"model_name": "a", "day": day})
    version = delta.version(ref)
    with pytest.raises(ValueError, match="3 rows fall outside the partition model_name='b'"):
        delta.write_partition(ref, _rows("a", day, 3), {"model_name": "b", "day": day})
    assert delta.version(ref) == version


def test_unsafe_partition_values_are_refused(tmp_path) -> None:
    ref = Lake(str(tmp_path)).table("reports/t")
    bad = "x' OR '1'='1"
    with pytest.raises(ValueError, match="unsafe value"):
        delta.write_partition(ref, pl.DataFrame({"model_name": [bad], "value": [1]}), {"model_name": bad})
    assert not delta.exists(ref)


def test_scan_days_selects_utc_days_in_runs(tmp_path) -> None:
    from datetime import datetime, timedelta

    ref = Lake(str(tmp_path)).table("logs/x")
    start = datetime(2026, 9, 1, tzinfo=UTC)
    stamps = [start + timedelta(hours=12 * i) for i in range(10)]  # two rows a day over five days
    delta.overwrite(ref, pl.DataFrame({"event_ts": stamps, "i": list(range(10))}))
    days = [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 4)]
    picked = delta.scan_days(ref, days, "event_ts").collect().sort("i")["i"].to_list()
    assert picked == [0, 1, 2, 3, 6, 7]
    assert delta.scan_days(ref, [], "event_ts").collect().height == 0


def test_last_row_reads_the_maximum_from_statistics_and_survives_compaction(tmp_path) -> None:
    from monitoring_pipeline.io.delta import TableRef, append, compact, last_row, scan

    ref = TableRef(str(tmp_path / "log"))
    for seq in (0, 2, 1, 5, 3):
        append(ref, pl.DataFrame({"seq": [seq], "note": [f"n{seq}"]}))
    assert last_row(ref, "seq").rows() == [(5, "n5")]
    compact(ref)
    assert last_row(ref, "seq").rows() == [(5, "n5")]
    assert sorted(scan(ref).collect()["seq"].to_list()) == [0, 1, 2, 3, 5]


def test_a_partition_larger_than_a_batch_is_written_whole_in_one_commit(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(delta, "BATCH_ROWS", 7)  # the writer reads the frame 7 rows at a time
    ref = Lake(str(tmp_path)).table("reports/t")
    day = date(2026, 9, 1)
    frame = _rows("a", day, 50).with_columns(pl.col("value").cast(pl.String).cast(pl.Categorical).alias("label"))
    version = delta.write_partition(ref, frame, {"model_name": "a", "day": day})
    assert version == delta.version(ref) and len(delta.history(ref)) == version + 1
    stored = delta.scan(ref).sort("value").collect().select(frame.columns)
    assert stored.with_columns(pl.col("label").cast(pl.String)).equals(
        frame.with_columns(pl.col("label").cast(pl.String))
    )
