"""Verdicts judged on real data: Seattle's daily weather 2012-2015 (shipped by the vega_datasets package).

Precipitation is mostly zero and heavy-tailed (57% dry days): the classic false-alarm shape.
"""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
import vega_datasets

from monitoring_pipeline.core.drift.frames import drift_frames

NUMERIC = ["precipitation", "temp_max", "temp_min", "wind"]


@pytest.fixture(scope="module")
def weather() -> pl.DataFrame:
    path = Path(vega_datasets.__file__).parent / "_data" / "seattle-weather.csv"
    return pl.read_csv(path, try_parse_dates=True)


def _verdicts(reference: pl.DataFrame, current: pl.DataFrame, columns: list[str]) -> dict[str, str]:
    return {c.column: c.verdict for c in drift_frames(reference, current, columns).columns}


def test_random_halves_of_real_data_never_drift(weather: pl.DataFrame) -> None:
    for seed in range(5):
        shuffled = weather.sample(fraction=1.0, shuffle=True, seed=seed)
        half = shuffled.height // 2
        verdicts = _verdicts(shuffled.head(half), shuffled.tail(-half), [*NUMERIC, "weather"])
        assert set(verdicts.values()) == {"ok"}, verdicts


def test_summer_against_winter_drifts_on_what_really_moved(weather: pl.DataFrame) -> None:
    month = pl.col("date").dt.month()
    summer, winter = weather.filter(month.is_in([6, 7, 8])), weather.filter(month.is_in([12, 1, 2]))
    verdicts = _verdicts(summer, winter, NUMERIC)
    assert verdicts["temp_max"] == verdicts["temp_min"] == verdicts["precipitation"] == "drift"


def test_spring_against_the_next_spring_stays_quiet(weather: pl.DataFrame) -> None:
    spring = pl.col("date").dt.month().is_in([3, 4, 5])
    year = pl.col("date").dt.year()
    for first, second in ((2012, 2013), (2013, 2014)):
        verdicts = _verdicts(
            weather.filter(spring & (year == first)), weather.filter(spring & (year == second)), NUMERIC
        )
        assert set(verdicts.values()) == {"ok"}, (first, second, verdicts)


def test_real_relabelling_of_a_category_is_caught(weather: pl.DataFrame) -> None:
    # The dataset's "weather" label really changed: 2012 calls most wet days "rain", 2014 mostly "fog"/"sun".
    year = pl.col("date").dt.year()
    verdicts = _verdicts(weather.filter(year == 2012), weather.filter(year == 2014), ["weather"])
    assert verdicts == {"weather": "drift"}
    assert weather["date"].min() == date(2012, 1, 1)
