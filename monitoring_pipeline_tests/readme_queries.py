"""Run the example queries of README.md (the code blocks after a `<!-- readme-query: NAME -->` marker)."""

from __future__ import annotations

import re
from pathlib import Path

from monitoring_pipeline.io.config_file import PROJECT_ROOT

QUERY_BLOCK = re.compile(r"<!-- readme-query: (\w+) -->\s*```python\n(.*?)```", re.DOTALL)


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
