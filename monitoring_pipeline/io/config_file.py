"""Load the project config from YAML; a relative local lake root is resolved against the config file's folder."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from monitoring_pipeline.core import proposal as propose
from monitoring_pipeline.core.config import ConfigError, ProjectConfig, parse_config
from monitoring_pipeline.core.proposal import Proposal

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "monitoring.yaml"


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (a model defined twice keeps only one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(f"{key_node.start_mark.name}, line {line}: the key {key!r} is given twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path = DEFAULT_CONFIG, lake_root: str | None = None) -> ProjectConfig:
    """Read and validate the config; `lake_root` (e.g. a test's temp dir) replaces the configured root. A text read
    before is parsed once (every step of a run loads it)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    return _parsed(str(path), lake_root, text)


@lru_cache(maxsize=8)
def _parsed(path: str, lake_root: str | None, text: str) -> ProjectConfig:
    stream = io.StringIO(text)
    stream.name = path  # names the file in a duplicate key's message
    try:
        raw = yaml.load(stream, Loader=_UniqueKeys)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    lake = dict(raw.get("lake") or {})
    root = lake_root or str(lake.get("root", ""))
    if root and "://" not in root and not Path(root).is_absolute():
        root = str((Path(path).parent / root).resolve())
    raw["lake"] = {**lake, "root": root}
    signers = (raw.get("governance") or {}).get("allowed_signers")
    if isinstance(signers, str) and not Path(signers).expanduser().is_absolute():
        raw["governance"] = {**raw["governance"], "allowed_signers": str((Path(path).parent / signers).resolve())}
    return parse_config(raw)


def config_source(
    path: str | None = None, lake_root: str | None = None, environ: Mapping[str, str] = os.environ
) -> tuple[str, str | None]:
    """Which config and lake root to use, by one precedence everywhere (the CLI, the Dagster definitions): the
    flag, then `MP_CONFIG` / `MP_LAKE_ROOT`, then the shipped config and its configured root."""
    return path or environ.get("MP_CONFIG") or str(DEFAULT_CONFIG), lake_root or environ.get("MP_LAKE_ROOT")


def proposal_yaml(model: str, root: str, log_table: str, proposal: Proposal, source: str, today: date) -> str:
    """A proposed model (`core.proposal`) as a commented config file."""
    settings = proposal.settings

    def value(v: Any) -> str:
        return yaml.safe_dump(v, default_flow_style=True, sort_keys=False, width=10_000).strip().removesuffix("\n...")

    def line(key: str, v: Any, why: str | None, indent: int = 4) -> str:
        text = f"{' ' * indent}{key}: {value(v)}"
        return f"{text}  # {why}" if why else text

    lines = [
        f"# Proposed by `monitoring-pipeline init` from {source} on {today}: every choice says why; change what",
        '# you know better. README, "Bring your own model", explains each key.',
        "lake:",
        f"  root: {value(root)}  # report and registry tables are written here, beside the log",
        "models:",
        f"  {model}:",
        line("log_table", log_table, "relative to the lake root; holds " + ", ".join(propose.CONTRACT)),
    ]
    if "label_table" in settings:
        why = "prediction_id, label, label_ts" + (
            f"; {proposal.why['label_table']}" if "label_table" in proposal.why else ""
        )
        lines.append(line("label_table", settings["label_table"], why))
    for key in ("start_date", "baseline", "reference"):
        lines.append(line(key, settings[key], proposal.why.get(key)))
    for section in ("features", "outputs", "prompt"):
        if section in settings:
            lines.append(f"    {section}:")
            for key, v in settings[section].items():
                lines.append(line(key, v, proposal.why.get(f"{section}.{key}"), 6))
    for name, why in proposal.left_out.items():
        lines.append(f"    # left out: {name}, {why}")
    if "performance" in settings:
        lines.append(f"    performance:  # {proposal.why['performance']}")
        for key, v in settings["performance"].items():
            if v is not None:
                lines.append(line(key, v, None, 6))
    if "guards" in settings:
        lines.append(f"    guards:  # {proposal.why['guards']}")
        lines.append(line("max_blocked_share", settings["guards"]["max_blocked_share"], "over it, the day stops", 6))
        lines.append("      rules:")
        lines += [f"        - {value(rule)}" for rule in settings["guards"]["rules"]]
    lines.append("    # expectations, alerts and drift settings: README documents each; their defaults apply")
    return "\n".join(lines) + "\n"
