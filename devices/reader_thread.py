"""``ReaderThread``: the thread plumbing every scanner kind shares.

A scanner subclasses it, sets ``name`` and ``stats``, and implements ``_run`` (the reader
loop, which must return soon after ``self._stop`` is set). ``_send`` records an event in
the stats and hands it to the emit callback; a failing callback never kills the reader.
"""

from __future__ import annotations

import threading

from devices.events import DeviceEvent, Emit, ScannerStats


class ReaderThread:
    name: str
    stats: ScannerStats

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._emit: Emit = lambda event: None

    def start(self, emit: Emit) -> None:
        self._emit = emit
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"scanner-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        raise NotImplementedError

    def _send_all(self, events: list[DeviceEvent]) -> None:
        for event in events:
            self._send(event)

    def _send(self, event: DeviceEvent) -> None:
        self.stats.record(event)
        try:
            self._emit(event)
        except Exception as exc:  # noqa: BLE001 - a failing callback must never kill the reader
            self.stats.last_error = f"emit failed: {exc!r}"
