"""Test helper: make a file or folder unwritable, even for root (where chmod does not stop writes)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def unwritable(target: Path):
    """chmod for ordinary users; ``chattr +i`` as root; skip only when neither can be done."""
    if os.geteuid() != 0:
        mode = target.stat().st_mode
        target.chmod(0o555 if target.is_dir() else 0o444)
        try:
            yield
        finally:
            target.chmod(mode)
        return
    made = subprocess.run(["chattr", "+i", str(target)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip("running as root, where chmod does not stop writes, and chattr +i is not available "
                    f"here ({made.stderr.strip() or made.returncode})")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=True)
