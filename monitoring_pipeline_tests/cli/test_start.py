"""`init` and `run` as a user with their own Parquet log runs them: a proposed config that parses, then a range
of days monitored through Dagster; and mistakes in the log named in one line."""

import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from monitoring_pipeline.cli import main
from monitoring_pipeline.demo.generator import labels_for, tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import PROJECT_ROOT, load_config

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(21)]


@pytest.fixture
def parquet_log(tmp_path: Path) -> tuple[Path, Path]:
    log = pl.concat([tabular_day(day, 150) for day in DAYS]).with_columns(pl.lit("churn").alias("model_name"))
    log.write_parquet(tmp_path / "log.parquet")
    labels_for(log).rename({"label": "outcome"}).write_parquet(tmp_path / "labels.parquet")  # named otherwise
    return tmp_path / "log.parquet", tmp_path / "labels.parquet"


def test_init_proposes_a_config_that_parses_and_run_monitors_the_range(
    parquet_log, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    log, labels = parquet_log
    out = tmp_path / "churn.yaml"
    argv = ["init", "--log", str(log), "--labels", str(labels), "--label-column", "outcome", "--out", str(out)]
    assert main(argv) == 0
    assert "next: monitoring-pipeline run --model churn" in capsys.readouterr().out
    raw = yaml.safe_load(out.read_text())
    model = raw["models"]["churn"]
    assert model["log_table"] == "logs/churn" and model["label_table"] == "labels/churn"  # copied into Delta
    assert model["baseline"] == {"start": DAYS[0], "end": DAYS[6]} and model["reference"]["match_weekday"] is True
    assert model["performance"]["label_column"] == "outcome"
    assert model["performance"]["positive_label"] == "default" and "prediction_id" not in model["features"]["numeric"]
    assert "# left out: postcode, " in out.read_text() and "high-cardinality" in out.read_text()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    argv = ["run", "--model", "churn", "--from", str(DAYS[14]), "--to", str(DAYS[16]), "--config", str(out)]
    assert main(argv) == 0
    config = load_config(out)
    verdicts = delta.scan(catalog.table(config, catalog.DRIFT_VERDICTS)).collect()
    assert sorted(set(verdicts["day"]) - set(DAYS[:7])) == DAYS[14:17]  # the range, after the reference days
    performance = delta.scan(catalog.table(config, catalog.PERFORMANCE)).collect()
    assert set(DAYS[14:17]) <= set(performance["day"])
    capsys.readouterr()
    argv = ["run", "--model", "churn", "--from", str(DAYS[14]), "--to", str(DAYS[17]), "--config", str(out)]
    assert main([*argv, "--resume"]) == 0  # after a stop: the days that ran are skipped
    said = capsys.readouterr().err
    assert "3 of 4 days already ran" in said and "churn: 1 daily partitions materialized" in said
    with dg.DagsterInstance.from_config(str(home)) as instance:  # the reference days were not profiled again
        assert len(instance.get_runs(filters=dg.RunsFilter(job_name="churn_profiles"))) == 7
    verdicts = delta.scan(catalog.table(config, catalog.DRIFT_VERDICTS)).collect()
    assert sorted(set(verdicts["day"]) - set(DAYS[:7])) == DAYS[14:18]
    assert main(["run", "--model", "churn", "--from", str(DAYS[18]), "--config", str(out)]) == 0  # no --to
    verdicts = delta.scan(catalog.table(config, catalog.DRIFT_VERDICTS)).collect()
    assert sorted(set(verdicts["day"]) - set(DAYS[:7])) == DAYS[14:]  # to the log's last day, not to today


def test_a_log_in_another_time_zone_is_copied_with_its_utc_days(parquet_log, tmp_path: Path) -> None:
    log, _ = parquet_log
    tokyo = tmp_path / "tokyo.parquet"  # midnight UTC is 09:00 in Tokyo: half the rows fall on another local day
    pl.read_parquet(log).with_columns(pl.col("event_ts").dt.convert_time_zone("Asia/Tokyo")).write_parquet(tokyo)
    assert main(["init", "--log", str(tokyo), "--out", str(tmp_path / "t.yaml")]) == 0
    copied = pl.read_delta(str(tmp_path / "lake" / "logs" / "churn"))
    assert copied.height == pl.read_parquet(log).height
    assert (copied["event_date"] == copied["event_ts"].dt.convert_time_zone("UTC").dt.date()).all()
    assert load_config(tmp_path / "t.yaml").model("churn").start_date == DAYS[0]
    assert f"({len(DAYS)} days logged, to {DAYS[-1]})" in (tmp_path / "t.yaml").read_text()  # UTC days, not Tokyo's


def test_a_folder_of_parquet_files_is_read_as_one_log(parquet_log, tmp_path: Path) -> None:
    log, _ = parquet_log
    frame = pl.read_parquet(log).with_columns(pl.col("event_ts").dt.date().alias("event_date"))
    frame.write_parquet(tmp_path / "dataset", partition_by=["event_date"])  # event_date=.../0.parquet
    assert main(["init", "--log", str(tmp_path / "dataset"), "--out", str(tmp_path / "d.yaml")]) == 0
    assert pl.read_delta(str(tmp_path / "lake" / "logs" / "churn")).height == frame.height
    assert "# left out: event_date, a timestamp or date" in (tmp_path / "d.yaml").read_text()


def test_a_log_missing_a_contract_column_or_a_time_zone_is_named_with_what_to_do(parquet_log, tmp_path: Path) -> None:
    log, labels = parquet_log
    renamed = tmp_path / "renamed.parquet"
    pl.read_parquet(log).rename({"prediction_id": "predictionid"}).write_parquet(renamed)
    with pytest.raises(SystemExit, match=r"lacks prediction_id \(nearest: predictionid\)"):
        main(["init", "--log", str(renamed), "--out", str(tmp_path / "a.yaml")])
    numbered = tmp_path / "numbered.parquet"
    pl.read_parquet(log).drop("prediction_id").with_row_index("prediction_id").write_parquet(numbered)
    with pytest.raises(SystemExit, match=r"column prediction_id is UInt32; the log contract wants text"):
        main(["init", "--log", str(numbered), "--out", str(tmp_path / "n.yaml")])
    naive = tmp_path / "naive.parquet"
    pl.read_parquet(log).with_columns(pl.col("event_ts").dt.replace_time_zone(None)).write_parquet(naive)
    with pytest.raises(SystemExit, match=r"column event_ts is .*with no time zone; store it as UTC"):
        main(["init", "--log", str(naive), "--out", str(tmp_path / "b.yaml")])
    naive_labels = tmp_path / "naive_labels.parquet"
    pl.read_parquet(labels).with_columns(pl.col("label_ts").dt.replace_time_zone(None)).write_parquet(naive_labels)
    argv = ["init", "--log", str(log), "--labels", str(naive_labels), "--label-column", "outcome"]
    with pytest.raises(SystemExit, match=r"column label_ts is .*with no time zone; store it as UTC"):
        main([*argv, "--out", str(tmp_path / "l.yaml")])
    assert not (tmp_path / "lake").exists()  # refused before anything was copied
    assert main(["init", "--log", str(log), "--out", str(tmp_path / "churn.yaml")]) == 0
    other = tmp_path / "other.yaml"  # a model the log holds no rows of: nothing to run to, not every day to today
    other.write_text((tmp_path / "churn.yaml").read_text().replace("  churn:", "  other:"))
    with pytest.raises(SystemExit, match=r"log table .*logs/churn holds no rows of model other"):
        main(["run", "--model", "other", "--config", str(other)])
    (tmp_path / "c.yaml").write_text("mine")
    with pytest.raises(SystemExit, match=r"c.yaml exists; give another --out, or --force"):
        main(["init", "--log", str(log), "--out", str(tmp_path / "c.yaml")])
    assert (tmp_path / "c.yaml").read_text() == "mine"
