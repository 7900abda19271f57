"""The full-screen Textual front end: ``KioskApp`` and ``run_tui`` (see ``kiosk.tui.app``)."""

from kiosk.tui.app import KioskApp, run_tui

__all__ = ["KioskApp", "run_tui"]
