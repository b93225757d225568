"""One precedence for the config and the lake root, in the CLI as in the Dagster definitions: the flag, then
`MP_CONFIG` / `MP_LAKE_ROOT`, then the shipped config — so a user's CLI never writes to the shipped lake."""

from pathlib import Path

import pytest
import yaml

from monitoring_pipeline.cli import main
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG


def _config(tmp_path: Path, name: str) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(tmp_path / f"{name}-lake")
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _root_in_use(capsys: pytest.CaptureFixture, *argv: str) -> str:
    main(["audit", "verify", *argv])  # an empty lake: the message names the root it looked at
    return capsys.readouterr().out


def test_the_flag_beats_the_environment_which_beats_the_shipped_config(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, flagged = _config(tmp_path, "mine"), _config(tmp_path, "flagged")
    monkeypatch.setenv("MP_CONFIG", str(mine))
    assert str(tmp_path / "mine-lake") in _root_in_use(capsys)
    assert str(tmp_path / "flagged-lake") in _root_in_use(capsys, "--config", str(flagged))
    monkeypatch.setenv("MP_LAKE_ROOT", str(tmp_path / "elsewhere"))
    assert str(tmp_path / "elsewhere") in _root_in_use(capsys)
    assert str(tmp_path / "flag-root") in _root_in_use(capsys, "--lake-root", str(tmp_path / "flag-root"))
