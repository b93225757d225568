"""Reading days: a day spread over many data files comes back with each column in one chunk (a frame chunked
unlike itself is copied whole by the next step that replaces a column), rows and columns as stored."""

from datetime import UTC, date, datetime, timedelta

import polars as pl

from monitoring_pipeline.io import delta, storage
from monitoring_pipeline.io.delta import Lake


def test_a_day_in_many_files_reads_as_one_chunk_per_column(tmp_path) -> None:
    ref = Lake(str(tmp_path)).table("logs/m")
    start = datetime(2026, 9, 1, tzinfo=UTC)
    for part in range(4):  # four commits: four data files for the day
        rows = [
            {"prediction_id": f"p{part}-{i}", "event_ts": start + timedelta(minutes=part * 10 + i), "score": i / 10}
            for i in range(10)
        ]
        delta.append(ref, pl.DataFrame(rows))
    day = storage.read_days(ref, [date(2026, 9, 1)], "event_ts", None)
    assert day.height == 40 and set(day.n_chunks("all")) == {1}
    assert sorted(day["prediction_id"].to_list()) == sorted(f"p{p}-{i}" for p in range(4) for i in range(10))
    picked = storage.read_days(ref, [date(2026, 9, 1)], "event_ts", None, columns=["score", "not_there"])
    assert picked.columns == ["score"] and picked.height == 40
