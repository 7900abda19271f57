"""devices/ stays usable on its own: importing all of it pulls in no kiosk, textual, httpx."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = """
import importlib, pkgutil, sys
import devices
names = [m.name for m in pkgutil.walk_packages(devices.__path__, "devices.")]
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("kiosk", "textual", "httpx", "evdev"))
print(f"{len(names)}|{','.join(leaked)}")
"""


def test_devices_imports_no_kiosk_textual_httpx_or_evdev():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    count, leaked = result.stdout.strip().split("|")
    assert int(count) >= 10
    assert leaked == ""
