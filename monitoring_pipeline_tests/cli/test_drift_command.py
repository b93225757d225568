"""`monitoring-pipeline drift` on Parquet files and Delta tables, as a user runs it."""

import json
import subprocess
import sys
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
