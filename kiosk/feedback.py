"""Sound feedback for scan outcomes: the profile's sound command, else the terminal bell.

``Feedback(config, bell=...).play(outcome, profile)`` runs the profile's ``sounds.<event>``
command without a shell (split like a shell would), detached from the kiosk's terminal, and
never waits for it. A command that cannot start is logged once per command and then left
alone: feedback must never stop a scan. Which event announces an outcome, and whether it
rings ``bell`` (the front end's terminal bell, when ``kiosk.bell`` is on and no command is
set), comes from ``kiosk.outcomes.STYLES``.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from typing import Callable

from kiosk.config import Config, ProfileConfig
from kiosk.outcomes import style

log = logging.getLogger(__name__)

class Feedback:
    def __init__(self, config: Config, bell: Callable[[], None] | None = None) -> None:
        self.config = config
        self.bell = bell
        self._failed: set[str] = set()
        self._running: list[subprocess.Popen[bytes]] = []

    def play(self, outcome: str, profile: ProfileConfig) -> str | None:
        """Announce ``outcome``; return what was done ("command", "bell") or None."""
        announce = style(outcome)
        if announce.sound is None:
            return None
        command = getattr(profile.sounds, announce.sound)
        if command:
            return "command" if self._run(command) else None
        if announce.bell and self.config.kiosk.bell and self.bell is not None:
            self.bell()
            return "bell"
        return None

    def _run(self, command: str) -> bool:
        self._reap()
        if command in self._failed:
            return False
        try:
            argv = shlex.split(command)
            if not argv:
                raise ValueError("empty command")
            self._running.append(subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        except (OSError, ValueError) as exc:
            self._failed.add(command)
            log.warning("sound command %r cannot run (%s); not trying it again", command, exc)
            return False
        return True

    def _reap(self) -> None:
        """Collect finished sound commands so they leave no zombies behind."""
        self._running = [p for p in self._running if p.poll() is None]
