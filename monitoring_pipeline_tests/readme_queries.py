"""Run the example queries of README.md (the code blocks after a `<!-- readme-query: NAME -->` marker), and read
its example guard rules (the YAML block after `<!-- readme-guards: NAME -->`)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from monitoring_pipeline.core.config import GuardSettings, parse_guards
from monitoring_pipeline.io.config_file import PROJECT_ROOT

QUERY_BLOCK = re.compile(r"<!-- readme-query: (\w+) -->\s*```python\n(.*?)```", re.DOTALL)
GUARDS_BLOCK = r"<!-- readme-guards: {} -->\s*```yaml\n(.*?)```"


def readme_guards(name: str, columns: set[str]) -> GuardSettings:
    """The guard rules of README's `name` example, parsed as monitoring.yaml's are."""
    block = re.search(GUARDS_BLOCK.format(name), (PROJECT_ROOT / "README.md").read_text(), re.DOTALL)
    assert block, f"README has no readme-guards block {name!r}"
    return parse_guards(yaml.safe_load(block.group(1))["guards"], columns, f"README {name}.guards")


def readme_queries() -> dict[str, str]:
    return dict(QUERY_BLOCK.findall((PROJECT_ROOT / "README.md").read_text()))


def run_readme_queries(lake_root: Path) -> dict[str, object]:
    """Execute each query with LAKE pointing at `lake_root`; returns the variable each query names."""
    results = {}
    for name, code in readme_queries().items():
        namespace: dict[str, object] = {}
        exec(code.replace('LAKE = "data/lake"', f'LAKE = "{lake_root}"'), namespace)
        results[name] = namespace[name]
    return results
