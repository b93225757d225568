"""The commands README.md shows (every line of its ```bash blocks, continuation lines joined, comments dropped),
and README's UI command served for a test to query."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from monitoring_pipeline.io.config_file import PROJECT_ROOT

BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
ASSETS_QUERY = "{ assetNodes { assetKey { path } partitionStats { numMaterialized } } }"


def readme_commands(section: str | None = None) -> list[str]:
    """README's commands in order (those of the `## section` heading only, when given)."""
    text = (PROJECT_ROOT / "README.md").read_text()
    if section:
        text = text[text.index(f"## {section}\n") :]
        text = text[: text.find("\n## ", 1)]
    lines = "\n".join(BASH_BLOCK.findall(text)).replace("\\\n", " ").splitlines()
    return [
        re.sub(r"\s+#\s.*$", "", line).strip() for line in lines if line.strip() and not line.strip().startswith("#")
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_ui(command: str, clone: Path, timeout: float = 180) -> dict[str, int]:
    """Start README's UI command (`VAR=... uv run dagster dev ...`, `$PWD` being `clone`) on a free port, wait for
    its GraphQL to list assets, stop it, and return each asset's materialized partition count."""
    words = shlex.split(command.replace("$PWD", str(clone)))
    env = dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=.*", word))
    dagster = words[words.index("dagster") :]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", *dagster, "-h", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **env},
        cwd=clone,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # dagster dev starts the webserver and the daemon: stopped as one group
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        json.dumps({"query": ASSETS_QUERY}).encode(),
        {"Content-Type": "application/json"},
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    nodes = json.load(answer)["data"]["assetNodes"]
                if nodes:
                    return {
                        "/".join(n["assetKey"]["path"]): n["partitionStats"]["numMaterialized"]
                        for n in nodes
                        if n["partitionStats"]
                    }
            except (OSError, KeyError, TypeError, ValueError):
                pass
            time.sleep(1)
        raise AssertionError(f"`{command}` did not serve the UI on 127.0.0.1 within {timeout:.0f} s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
