"""Checkpoints tied to their training slice: registered once, verified through Delta time travel."""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.core.slices import FilterError, content_hash, parse_filter
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import models
from monitoring_pipeline.registry.audit_log import verify_audit

NOW = datetime(2026, 10, 1, tzinfo=UTC)
FILTER = "event_date >= '2026-09-01' and event_date <= '2026-09-02' and region != 'east'"


def test_register_pins_the_slice_and_verify_proves_it(lake) -> None:
    config, artifact = lake
    row = models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", FILTER, None, "ana", NOW)
    expected = (
        delta.scan(catalog.table(config, "logs/credit_risk"))
        .filter((pl.col("event_date") <= date(2026, 9, 2)) & (pl.col("region") != "east"))
        .collect()
    )
    assert row["train_rows"] == expected.height and row["train_table_version"] == 0
    assert row["train_content_sha256"] == content_hash(expected.sample(fraction=1.0, shuffle=True, seed=1))
    assert models.verify(config, "credit_risk", "1.0") == []
    assert verify_audit(config).ok


def test_later_writes_do_not_change_a_pinned_slice_but_lost_history_is_reported(lake) -> None:
    config, artifact = lake
    models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", FILTER, None, "ana", NOW)
    table = catalog.table(config, "logs/credit_risk")
    delta.append(table, delta.scan(table).head(5).collect())  # new rows land in version 1
    assert models.verify(config, "credit_risk", "1.0") == []  # time travel still reads version 0
    for file in Path(table.uri).rglob("*.parquet"):
        file.unlink()  # history lost (as after an aggressive VACUUM)
    (problem,) = models.verify(config, "credit_risk", "1.0")
    assert "cannot be read" in problem


def test_a_changed_artifact_is_reported(lake) -> None:
    config, artifact = lake
    models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", "", None, "ana", NOW)
    artifact.write_bytes(b"weights v1, edited")
    assert models.verify(config, "credit_risk", "1.0") == [f"artifact {artifact} has changed (SHA-256 differs)"]


def test_a_version_is_registered_once_and_parents_must_exist(lake) -> None:
    config, artifact = lake
    models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", "", None, "ana", NOW)
    with pytest.raises(models.RegistryError, match="already registered"):
        models.register(config, "credit_risk", "1.0", artifact, "logs/credit_risk", "", None, "ana", NOW)
    with pytest.raises(models.RegistryError, match=r"parent version '0\.9'"):
        models.register(config, "credit_risk", "1.1", artifact, "logs/credit_risk", "", "0.9", "ana", NOW)
    child = models.register(config, "credit_risk", "1.1", artifact, "logs/credit_risk", "", "1.0", "bo", NOW)
    assert child["parent_version"] == "1.0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region = 'north'", "cannot read condition"),
        ("nope == 1", "unknown column 'nope'"),
        ("region == north", "neither a number nor a quoted string"),
        ("region == 'x'; DROP TABLE y", "cannot read condition|neither a number"),
        ("region == 5", "holds String; quote the value"),
    ],
)
def test_filters_are_parsed_never_interpolated(text: str, message: str) -> None:
    schema = pl.Schema({"region": pl.String, "score": pl.Float64})
    with pytest.raises(FilterError, match=message):
        parse_filter(text, schema)
    frame = pl.DataFrame({"region": ["x'; DROP TABLE y", "x"], "score": [0.1, 0.9]})
    assert frame.filter(parse_filter('region == "x\'; DROP TABLE y" and score < 0.5', frame.schema)).height == 1


def test_the_command_line_registers_and_verifies(lake, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    import yaml

    from monitoring_pipeline.cli import main
    from monitoring_pipeline.io.config_file import DEFAULT_CONFIG

    config, artifact = lake
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = config.lake.root
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    common = ["--config", str(path)]
    args = [
        "models",
        "register",
        "credit_risk",
        "2.0",
        "--artifact",
        str(artifact),
        "--train-table",
        "logs/credit_risk",
    ]
    assert main([*args, "--train-filter", "event_date <= '2026-09-02'", "--by", "ana", *common]) == 0
    assert "registered credit_risk 2.0" in capsys.readouterr().out
    assert main(["models", "verify", "credit_risk", "2.0", *common]) == 0
    artifact.write_bytes(b"other weights")
    assert main(["models", "verify", "credit_risk", "2.0", *common]) == 3
    assert "has changed" in capsys.readouterr().out
