"""The worst-columns table ranks columns by drift size (value / threshold), never by raw values of methods on
different scales."""

import polars as pl

from monitoring_pipeline.core.drift.compare import column_verdicts
from monitoring_pipeline.defs.metadata import worst_columns


def test_columns_rank_by_size_relative_to_their_threshold() -> None:
    frame = pl.DataFrame(
        {
            "column": ["income", "income", "channel", "age"],
            "role": ["feature"] * 4,
            "kind": ["numeric", "numeric", "categorical", "numeric"],
            "method": ["psi", "ks", "jensen_shannon", "ks"],
            "value": [2.0, 0.05, 0.5, 0.01],
            "threshold": [1.0, 0.1, 0.1, 0.1],
            "verdict": ["drift", "drift", "drift", "ok"],
            "decisive": [True, True, True, True],
            "n_reference": [100] * 4,
            "n_current": [100] * 4,
        }
    )
    verdicts = column_verdicts(frame)
    assert verdicts.height == 3 and verdicts.filter(pl.col("column") == "income")["method"].item() == "psi"
    rows = [record.data for record in worst_columns(verdicts).value.records]
    assert [row["column"] for row in rows] == ["channel", "income", "age"]
    assert rows[0] | {"method": "jensen_shannon", "size": 5.0} == rows[0]  # larger than psi's 2.0 / 1.0
    assert (rows[1]["method"], rows[1]["value"], rows[1]["size"]) == ("psi", 2.0, 2.0)  # income by its largest size
