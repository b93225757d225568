"""`monitoring-pipeline guard` and `quarantine release`, as a user runs them."""

import io
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from monitoring_pipeline.cli import main
from monitoring_pipeline.demo.generator import llm_day
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(tmp_path / "lake")
    path = tmp_path / "monitoring.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_guard_rules_lists_every_rule(capsys: pytest.CaptureFixture, config_file: Path) -> None:
    assert main(["guard", "rules", "--model", "support_summarizer", "--config", str(config_file)]) == 0
    printed = capsys.readouterr().out
    assert "summary_json" in printed and '"max_depth": 8' in printed and "warn" in printed
    argv = ["guard", "rules", "--model", "support_summarizer", "--format", "json", "--config", str(config_file)]
    assert main(argv) == 0
    rules = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in rules} == {"support_summarizer"} and {r["max_blocked_share"] for r in rules} == {0.05}
    assert "summary_json" in {r["rule"] for r in rules}


def test_guard_on_a_parquet_file_writes_three_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture, config_file: Path
) -> None:
    frame = llm_day(date(2026, 10, 6), 500)  # the demo's guard-burst day
    frame.write_parquet(tmp_path / "day.parquet")
    out = tmp_path / "guarded"
    argv = ["guard", str(tmp_path / "day.parquet"), "--out", str(out), "--format", "csv", "--config", str(config_file)]
    assert main(argv) == 0
    validated = pl.read_delta(str(out / "validated_predictions"))
    quarantined = pl.read_delta(str(out / "quarantined_predictions"))
    verdicts = pl.read_delta(str(out / "guard_verdicts"))
    assert validated.height + quarantined.height == frame.height
    assert quarantined.height > 0 and set(quarantined["prediction_id"]) <= set(verdicts["prediction_id"])
    printed = capsys.readouterr()
    assert f"{frame.height} rows: {validated.height} validated, {quarantined.height} quarantined" in printed.err
    failed = pl.read_csv(io.StringIO(printed.out))  # the data alone on standard output
    assert failed.columns == ["rule", "severity", "failed"] and failed["failed"].sum() >= quarantined.height


def test_release_of_an_unknown_prediction_is_a_clear_error(config_file: Path) -> None:
    with pytest.raises(SystemExit, match="prediction 'nope' is not in any quarantine"):
        main(["quarantine", "release", "nope", "--reason", "x", "--config", str(config_file)])


def test_audit_verify_on_an_empty_lake_certifies_nothing(config_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["audit", "verify", "--config", str(config_file)]) == 3  # a mistyped root is no certificate
    assert "audit log BROKEN at seq 0: no audit entries under the lake root" in capsys.readouterr().out
