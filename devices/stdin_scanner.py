"""A scanner that reads standard input (or any binary stream): one scan per line.

Used by headless mode and for piping codes in (``printf 'A1\\n' | kiosk ...``). Lines end at
LF; a CR before it is dropped (the framer's CRLF mode, see ``devices.framing``). A last
line without LF still counts. At end of input a ``StateEvent("ended")`` is emitted.
Streams with a file descriptor are read with ``select`` so ``stop()`` returns promptly.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import BinaryIO

from devices.events import ScannerStats, StateEvent
from devices.framing import Framer, FramingSpec
from devices.reader_thread import ReaderThread

_POLL_S = 0.05


class StdinScanner(ReaderThread):
    def __init__(
        self,
        name: str = "stdin",
        stream: BinaryIO | None = None,
        spec: FramingSpec | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.name = name
        self.stats = ScannerStats()
        self._stream = stream
        spec = spec or FramingSpec()
        self._framer = Framer(name, replace(spec, terminator="\r\n", partial_timeout_s=None))
        self._clock = clock

    # -- reader thread ----------------------------------------------------------------

    def _run(self) -> None:
        stream = self._stream if self._stream is not None else sys.stdin.buffer
        self._send(StateEvent(self.name, "connected"))
        try:
            for chunk in self._chunks(stream):
                self._send_all(self._framer.feed(chunk, self._clock()))
        except (OSError, ValueError) as exc:
            self._send(StateEvent(self.name, "ended", message=f"read failed: {exc}"))
            return
        if self._stop.is_set():
            return
        self._send_all(self._framer.flush(self._clock()))
        self._send(StateEvent(self.name, "ended", message="end of input"))

    def _chunks(self, stream: BinaryIO):
        """Yield data until EOF or stop(); empty results mean EOF."""
        fd = _fileno(stream)
        while not self._stop.is_set():
            if fd is None:
                data = stream.readline()
            else:
                ready, _, _ = select.select([fd], [], [], _POLL_S)
                if not ready:
                    continue
                data = os.read(fd, 4096)
            if not data:
                return
            yield data



def _fileno(stream: BinaryIO) -> int | None:
    try:
        return stream.fileno()
    except (OSError, AttributeError, ValueError):
        return None
