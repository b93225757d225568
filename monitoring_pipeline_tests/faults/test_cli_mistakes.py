"""Every user mistake on the command line is one `error:` line naming the thing and what to do, with the exit
status README documents — never a traceback: a missing or unwritable file, a bad exported head, an unknown model,
a bad window, a blank reason. A check that finds a problem exits 3, apart from errors (1) and usage (2)."""

import re
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.cli import main
from monitoring_pipeline_tests.faults.lake import JUDGED
from monitoring_pipeline_tests.faults.test_report_forgeries import _config_file, _lake

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("cli")
    return _config_file(_lake(folder / "lake"), folder)


def _error(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    code = stopped.value.code
    return (1, code) if isinstance(code, str) else (code, capsys.readouterr().err.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (
            ["report", "--model", "credit_risk", "--date", str(JUDGED), "--out", "/nonexistent/r.html"],
            1,
            r"^error: No such file or directory: /nonexistent/r.html; check the path",
        ),
        (
            ["report", "--model", "credit_risk", "--date", str(JUDGED), "--days", "0", "--out", "r.html"],
            2,
            r"argument --days: expected a whole number of at least 1, got '0'",
        ),
        (
            ["report", "--model", "nosuch", "--date", str(JUDGED), "--out", "r.html"],
            1,
            r"^error: unknown model 'nosuch'; configured: \['credit_risk'\]",
        ),
        (["audit", "verify", "--head", "/nonexistent.json"], 1, r"^error: No such file or directory: /nonexistent"),
        (["audit", "verify", "--head", __file__], 1, r"^error: --head .* is not an exported head \(from `audit head`"),
        (["changes", "--since", "2026-09-05", "--until", "2026-09-01"], 1, r"^error: --since 2026-09-05 is after"),
        (["changes", "--since", "2026-09-32", "--until", "2026-09-01"], 2, r"argument --since: invalid"),
        (["models", "history", "nosuch"], 1, r"^error: unknown model 'nosuch'"),
        (
            ["models", "approve", "credit_risk", "1.0", "--reason", "  "],
            2,
            r"argument --reason: a reason cannot be blank",
        ),
        (["quarantine", "release", "x", "--model", "credit_risk", "--reason", ""], 2, r"a reason cannot be blank"),
        (["drift", "--reference", "/nonexistent", "--current", "/nonexistent"], 1, r"^error: /nonexistent is neither"),
    ],
)
def test_a_mistake_is_one_error_line_with_its_documented_status(
    config_file: str, argv: list[str], status: int, message: str, capsys
) -> None:
    code, line = _error([*argv, "--config", config_file] if argv[0] != "drift" else argv, capsys)
    assert code == status
    assert re.search(message, line), line
    assert "Traceback" not in line and "\n" not in line


def test_a_check_that_finds_a_problem_exits_3(config_file: str, tmp_path: Path) -> None:
    assert main(["audit", "verify", "--config", config_file]) == 0
    empty = tmp_path / "empty.yaml"
    empty.write_text(Path(config_file).read_text().replace("root: ", f"root: {tmp_path}/nolake #"))
    assert main(["audit", "verify", "--config", str(empty)]) == 3


def test_releasing_a_released_prediction_says_so_and_records_nothing(config_file: str, capsys) -> None:
    from monitoring_pipeline.io.config_file import load_config
    from monitoring_pipeline.registry.audit_log import read_audit, verify_audit

    config = load_config(Path(config_file))
    (prediction,) = pl.scan_delta(f"{config.lake.root}/quarantine/credit_risk").collect()["prediction_id"]
    argv = ["quarantine", "release", prediction, "--model", "credit_risk", "--reason", "a false positive"]
    assert main([*argv, "--config", config_file]) == 0
    entries = len(read_audit(config))
    assert main([*argv, "--config", config_file]) == 0
    assert "was released already; nothing new recorded" in capsys.readouterr().out
    assert len(read_audit(config)) == entries and verify_audit(config).ok
