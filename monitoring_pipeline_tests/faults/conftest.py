"""A small disk for the storage faults: a tmpfs that can fill up or be remounted read-only."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh 8 MB tmpfs (root and mount rights needed; as root, chmod would not stop a write)."""
    point = tmp_path / "disk"
    point.mkdir()
    mounted = mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(point))
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=True)
