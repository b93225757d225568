"""`monitoring-pipeline drift` on Parquet files and Delta tables, as a user runs it."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from monitoring_pipeline.cli import main
from monitoring_pipeline.io.delta import Lake, overwrite

METHODS = {"psi", "ks", "wasserstein", "wasserstein_norm", "jensen_shannon", "chi2", "unseen_share", "null_share"}


@pytest.fixture
def halves(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 4000
    reference = pl.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "c": rng.choice(list("abc"), n)})
    current = pl.DataFrame({"x": rng.normal(1.0, 1.0, n), "y": rng.normal(size=n), "c": rng.choice(list("abc"), n)})
    reference.write_parquet(tmp_path / "reference.parquet")
    overwrite(Lake(str(tmp_path)).table("current"), current)  # the current side as a Delta table
    return tmp_path / "reference.parquet", tmp_path / "current"


def test_json_output_lists_every_method_with_its_verdict(halves: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = halves
    out = tmp_path / "drift.json"
    assert (
        main(
            [
                "drift",
                "--reference",
                str(reference),
                "--current",
                str(current),
                "--format",
                "json",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())
    assert {"feature", "method", "value", "p_value", "threshold", "status"} <= set(rows[0])
    assert {r["method"] for r in rows} == METHODS
    verdict = {r["feature"]: r["verdict"] for r in rows}
    assert verdict == {"x": "drift", "y": "ok", "c": "ok"}
    psi_x = next(r for r in rows if r["feature"] == "x" and r["method"] == "psi")
    assert psi_x["status"] == "drift" and psi_x["threshold"] == 0.25


def test_feature_selection_and_table_format(halves: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    reference, current = halves
    main(["drift", "--reference", str(reference), "--current", str(current), "--features", "y", "--format", "table"])
    printed = capsys.readouterr().out
    assert "wasserstein_norm" in printed and " x " not in printed


def test_unknown_feature_is_a_clear_error(halves: tuple[Path, Path]) -> None:
    reference, current = halves
    with pytest.raises(SystemExit, match="reference frame has no column 'nope'"):
        main(["drift", "--reference", str(reference), "--current", str(current), "--features", "nope"])


def test_drift_command_does_not_import_dagster(halves: tuple[Path, Path]) -> None:
    reference, current = halves
    code = (
        "import sys; from monitoring_pipeline.cli import main; "
        f"main(['drift', '--reference', {str(reference)!r}, '--current', {str(current)!r}, '--format', 'json', "
        "'--output', '/dev/null']); assert 'dagster' not in sys.modules and 'great_expectations' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_explains_options_with_an_example(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["drift", "--help"])
    assert "example: monitoring-pipeline drift" in capsys.readouterr().out


def test_two_raw_logs_compare_without_features_skipping_ids_and_timestamps(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(1)
    n = 1500

    def log(shift: float, offset: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "prediction_id": [f"p-{offset + i}" for i in range(n)],
                "event_ts": pl.datetime_range(
                    datetime(2026, 10, 1 + offset // n), datetime(2026, 10, 2 + offset // n), "30s", eager=True
                ).head(n),
                "customer_id": rng.integers(0, 10**9, n),
                "note": [f"free text {i} {rng.random()}" for i in range(n)],
                "x": rng.normal(shift, 1.0, n),
                "channel": rng.choice(["web", "app"], n),
            }
        )

    log(0.0, 0).write_parquet(tmp_path / "reference.parquet")
    log(1.0, n).write_parquet(tmp_path / "current.parquet")
    argv = ["drift", "--reference", str(tmp_path / "reference.parquet"), "--current", str(tmp_path / "current.parquet")]
    assert main([*argv, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert {r["feature"] for r in json.loads(captured.out)} == {"x", "channel"}
    for said in ("prediction_id (an id)", "event_ts (a timestamp or date)", "customer_id (an id)", "note (an id or"):
        assert said in captured.err
    assert main([*argv, "--format", "json", "--fail-on", "drift"]) == 3  # x moved by one standard deviation
    assert "x" in capsys.readouterr().err.splitlines()[-1]
    assert main([*argv, "--features", "channel", "--fail-on", "drift"]) == 0  # the same channel mix


def test_version_prints_the_package_version(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("monitoring-pipeline 0.")
