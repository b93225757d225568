"""Every command's --help explains each option and ends with an example."""

import argparse
import subprocess
import sys
from collections.abc import Iterator

from monitoring_pipeline.cli import build_parser


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield " ".join(path), parser
    for group in groups:
        for name, child in group.choices.items():
            yield from _commands(child, (*path, name))


def test_every_command_documents_its_options_and_shows_an_example() -> None:
    commands = dict(_commands(build_parser()))
    assert {"demo", "report", "drift", "trace", "changes", "tickets list", "models register"} <= set(commands)
    for name, parser in commands.items():
        assert parser.epilog and "monitoring-pipeline " in parser.epilog and "example" in parser.epilog, name
        undocumented = [a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._HelpAction)]
        assert undocumented == [], f"{name}: {undocumented}"
        assert parser.epilog in parser.format_help(), name


def test_the_package_runs_as_a_module_as_the_benchmarks_call_it() -> None:
    done = subprocess.run([sys.executable, "-m", "monitoring_pipeline.cli", "trace", "--help"], capture_output=True)
    assert done.returncode == 0 and b"example: monitoring-pipeline trace" in done.stdout


DATA_COMMANDS = {  # every command that prints data, and whether it is one table (then csv too)
    "drift": True,
    "guard": True,
    "changes": True,
    "tickets list": True,
    "features list": True,
    "features history": True,
    "prompts list": True,
    "prompts history": True,
    "models history": False,
    "tickets show": False,
    "trace": False,
}


def test_every_command_that_prints_data_speaks_one_format_grammar() -> None:
    formats = {
        name: next(a.choices for a in parser._actions if a.dest == "format")
        for name, parser in _commands(build_parser())
        if any(a.dest == "format" for a in parser._actions)
    }
    assert formats == {
        name: ["table", "json", "csv"] if tabular else ["table", "json"] for name, tabular in DATA_COMMANDS.items()
    }
