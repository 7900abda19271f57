"""The benchmarks' shared machinery: simulator process, pty scanner, headless process, files.

Everything here is bounded in time and cleaned up by the ``Workspace`` exit stack, failure
included: child processes are terminated (then killed) and waited for, their peak RSS
(VmHWM) read just before, ptys closed, the temporary folder removed.

Times are ``time.monotonic()`` everywhere: on Linux that is CLOCK_MONOTONIC, shared by all
processes, so a child's ``t_last`` and the parent's clock can be compared.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

PYTHON = sys.executable
REPO = Path(__file__).resolve().parent.parent
STATION = "LP"
STATION_DESC = "Benchmark Station"
BACKEND = "sim"
SIM_START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
JOURNAL_NAME = "journal.sqlite3"
PROBE = "CMD:PROBE"
"""Probe scans are unknown commands: the station journals and answers them, nothing is sent."""


class BenchError(RuntimeError):
    """A benchmark could not run (a process died, a line never came); ``str()`` says why."""


# --- small helpers ----------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment for child processes: the repo importable, no bytecode surprises."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONDEVMODE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def order_code(i: int) -> str:
    """The i-th order number of the benchmark data (every one is an active order at LP)."""
    return f"B{i:06d}"


def percentiles(values: list[float]) -> dict[str, float]:
    """n, mean, p50, p95, p99, max of a sample (nearest-rank percentiles)."""
    if not values:
        return {"n": 0, "mean": float("nan"), "p50": float("nan"), "p95": float("nan"),
                "p99": float("nan"), "max": float("nan")}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]

    return {"n": len(ordered), "mean": statistics.fmean(ordered), "p50": rank(50), "p95": rank(95),
            "p99": rank(99), "max": ordered[-1]}


def serial_scanner_available() -> bool:
    """True when the colleague's serial scanner driver and its kiosk wiring are importable."""
    try:
        return (importlib.util.find_spec("devices.serial_scanner") is not None
                and importlib.util.find_spec("kiosk.scanners") is not None)
    except ImportError:
        return False


def tui_available() -> bool:
    try:
        return importlib.util.find_spec("kiosk.tui.app") is not None
    except ImportError:
        return False


def pipe_fd(stream: Any) -> int:
    """The file descriptor of a child's pipe (which ``subprocess`` types as optional)."""
    if stream is None:
        raise BenchError("the child process has no such pipe")
    return int(stream.fileno())


# --- files ------------------------------------------------------------------------------


def write_sim_data(path: Path, orders: int) -> Path:
    """Simulator data: station LP (no job-flow rules) and ``orders`` active orders B000000..."""
    lines = ["[[stations]]", f'code = "{STATION}"', f'desc = "{STATION_DESC}"', ""]
    for i in range(orders):
        lines += ["[[orders]]", f'order_number = "{order_code(i)}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_config(path: Path, base_url: str, scanner_port: str | None, *,
                 max_requests_per_minute: float | None = None, journal: str = JOURNAL_NAME,
                 retention_days: float | None = None) -> Path:
    """A kiosk config: one backend, one profile (duplicate_window_s = 0), the pty scanner.

    ``journal`` is relative to the config's folder; ``retention_days`` keeps a pre-filled
    journal's year of rows from being pruned at start."""
    lines = ["[kiosk]", f'profile = "{STATION}"', f'journal = "{journal}"', "bell = false"]
    if retention_days is not None:
        lines.append(f"journal_retention_days = {retention_days}")
    lines += [
        "", f"[backends.{BACKEND}]", 'vendor = "jobtrack"', f'base_url = "{base_url}"', "timeout_s = 5.0",
    ]
    if max_requests_per_minute is not None:
        lines.append(f"max_requests_per_minute = {max_requests_per_minute}")
    lines += ["", "[[profiles]]", f'name = "{STATION}"', f'backend = "{BACKEND}"', f'station = "{STATION}"',
              f'description = "{STATION_DESC}"', "duplicate_window_s = 0"]
    if scanner_port is not None:
        lines += ["", "[[scanners]]", 'name = "bench"', 'kind = "serial"', f'port = "{scanner_port}"',
                  "baudrate = 115200", 'terminator = "\\r"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- processes --------------------------------------------------------------------------


@dataclass
class Finished:
    returncode: int
    peak_rss_kb: int
    """VmHWM of the child's own memory (0 if never seen)."""


def peak_rss_kb(pid: int) -> int:
    """The process's VmHWM (KiB) from /proc, 0 when gone.

    Not ``ru_maxrss``: Linux carries the pre-exec high-water mark over exec, and
    subprocess forks with vfork, so a child's ru_maxrss starts at the parent's size."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def reap(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT_S, *, terminate: bool = True,
         pump: Callable[[], None] | None = None) -> Finished:
    """Stop ``proc`` (SIGTERM, then SIGKILL after ``timeout``) and wait for it.

    ``pump`` is called while waiting (to keep reading the child's output so it never blocks
    on a full pipe). Returns its exit code and its peak RSS, read just before it ends."""
    if proc.returncode is not None:
        return Finished(proc.returncode, 0)
    peak = peak_rss_kb(proc.pid)
    if terminate:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        peak = max(peak, peak_rss_kb(proc.pid))
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return Finished(proc.returncode, peak)
        if time.monotonic() > deadline and not killed:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            killed, deadline = True, time.monotonic() + timeout
        elif time.monotonic() > deadline:
            raise BenchError(f"process {proc.pid} did not end even after SIGKILL")
        if pump is not None:
            pump()
        time.sleep(0.005)


class LineReader:
    """Lines from a raw file descriptor, each with the monotonic time it was read."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""
        self._lines: list[tuple[float, bytes]] = []
        self.eof = False

    def read_line(self, timeout: float) -> tuple[float, bytes] | None:
        """The next line (without LF) and when it arrived; None on timeout or end of file."""
        deadline = time.monotonic() + timeout
        while not self._lines:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self._fill()
        return self._lines.pop(0)

    def pump(self) -> None:
        """Take in whatever output is ready now, without waiting."""
        while not self.eof and select.select([self.fd], [], [], 0)[0]:
            self._fill()

    def _fill(self) -> None:
        try:
            chunk = os.read(self.fd, 1 << 16)
        except OSError:  # a pty master reads EIO once the other side is gone
            chunk = b""
        now = time.monotonic()
        if not chunk:
            self.eof = True
            return
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        self._lines.extend((now, line) for line in complete)


class Workspace(contextlib.ExitStack):
    """A temporary folder plus everything to clean up when the benchmark ends."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.path = Path(".")

    def __enter__(self) -> Self:
        super().__enter__()
        self.path = Path(self.enter_context(tempfile.TemporaryDirectory(prefix=f"kiosk-bench-{self.name}-")))
        return self


class Simulator:
    """``python -m kiosk simulate jobtrack --port 0 --data FILE`` in its own process."""

    def __init__(self, ws: Workspace, orders: int) -> None:
        data = write_sim_data(ws.path / "sim-data.toml", orders)
        self.log = ws.path / "sim.stderr"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen([PYTHON, "-m", "kiosk", "simulate", "jobtrack", "--port", "0",
                                          "--data", str(data)], stdout=subprocess.PIPE, stderr=err,
                                         env=child_env(), cwd=ws.path)
        ws.callback(self.stop)
        first = LineReader(pipe_fd(self.proc.stdout)).read_line(SIM_START_TIMEOUT_S)
        text = first[1].decode(errors="replace").strip() if first else ""
        if not text.startswith("listening on "):
            raise BenchError(f"simulator did not start: {text!r} {self.log.read_text(errors='replace')[-500:]}")
        self.url = text.removeprefix("listening on ")
        self.control = httpx.Client(base_url=self.url, timeout=10.0)
        ws.callback(self.control.close)

    def set_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        return self.control.post("/__sim__/faults", json=faults).raise_for_status().json()

    def events(self) -> list[dict[str, Any]]:
        return self.control.get("/__sim__/events").raise_for_status().json()

    def requests(self) -> list[dict[str, Any]]:
        return self.control.get("/__sim__/requests").raise_for_status().json()

    def clear(self) -> None:
        self.control.delete("/__sim__/events").raise_for_status()
        self.control.delete("/__sim__/requests").raise_for_status()

    def stop(self) -> None:
        reap(self.proc, 5.0)
        if self.proc.stdout:
            self.proc.stdout.close()


class PtyPort:
    """A pseudo-terminal standing in for a serial scanner: the kiosk opens ``path``."""

    kind = "serial (pty)"

    def __init__(self, ws: Workspace) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing, even before the kiosk opens it
        self.path = os.ttyname(self.slave)
        ws.callback(self.close)

    def write(self, data: bytes) -> float:
        """Write all of ``data``; return the monotonic time the last byte was handed over."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]
        return time.monotonic()

    def frame(self, code: str) -> bytes:
        return code.encode() + b"\r"

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class StdinPort:
    """Fallback while the serial driver is missing: scans as lines on headless's stdin."""

    kind = "stdin (fallback: serial scanner not available)"
    path = None

    def __init__(self) -> None:
        self.fd: int | None = None

    def attach(self, proc: subprocess.Popen) -> None:
        self.fd = pipe_fd(proc.stdin)

    def write(self, data: bytes) -> float:
        assert self.fd is not None, "attach() the headless process first"
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        return time.monotonic()

    def frame(self, code: str) -> bytes:
        return code.encode() + b"\n"


def scanner_port(ws: Workspace) -> PtyPort | StdinPort:
    return PtyPort(ws) if serial_scanner_available() else StdinPort()


@dataclass
class Result:
    t: float
    data: dict[str, Any]


@dataclass
class Headless:
    """``python -m kiosk run --headless`` as a child; its JSON result lines with arrival times."""

    ws: Workspace
    config: Path
    port: PtyPort | StdinPort
    drain_s: float = 0.0
    t_spawn: float = 0.0
    finished: Finished | None = None
    proc: subprocess.Popen = field(init=False)
    lines: LineReader = field(init=False)

    def __post_init__(self) -> None:
        self.err_path = self.ws.path / f"headless-{time.monotonic_ns()}.stderr"
        stdin = subprocess.PIPE if isinstance(self.port, StdinPort) else subprocess.DEVNULL
        with self.err_path.open("wb") as err:
            self.t_spawn = time.monotonic()
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "kiosk", "run", "--headless", "--config", str(self.config),
                 "--drain", str(self.drain_s)],
                stdin=stdin, stdout=subprocess.PIPE, stderr=err, env=child_env(), cwd=self.ws.path)
        if isinstance(self.port, StdinPort):
            self.port.attach(self.proc)
        self.lines = LineReader(pipe_fd(self.proc.stdout))
        self.ws.callback(self.stop)

    def next_result(self, timeout: float) -> Result | None:
        got = self.lines.read_line(timeout)
        if got is None:
            return None
        t, raw = got
        try:
            return Result(t, json.loads(raw))
        except ValueError:
            raise BenchError(f"headless printed a line that is not JSON: {raw[:200]!r}") from None

    def expect_result(self, timeout: float, what: str) -> Result:
        result = self.next_result(timeout)
        if result is None:
            raise BenchError(f"no result line for {what} within {timeout:g} s; {self.describe()}")
        return result

    def describe(self) -> str:
        code = self.proc.poll()
        state = "running" if code is None else f"exited with {code}"
        return f"headless {state}; stderr: {self.stderr_tail()!r}"

    def stderr_tail(self, chars: int = 600) -> str:
        with contextlib.suppress(OSError):
            return self.err_path.read_text(errors="replace")[-chars:]
        return ""

    def close_input(self) -> None:
        """End of input for the stdin fallback (headless then finishes and drains by itself)."""
        if isinstance(self.port, StdinPort) and self.proc.stdin:
            self.proc.stdin.close()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> Finished:
        """SIGTERM (headless finishes the scans it read, drains if asked) and wait."""
        if self.finished is None:
            self.close_input()
            self.finished = reap(self.proc, timeout, pump=self.lines.pump)
            self.lines.pump()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream:
                    with contextlib.suppress(OSError):
                        stream.close()
        return self.finished

    def rest(self) -> list[Result]:
        """The result lines read but not yet taken (call after ``stop()``)."""
        out: list[Result] = []
        self.lines.eof = True
        while (result := self.next_result(0)) is not None:
            out.append(result)
        return out


def wait_ready(kiosk: Headless, port: PtyPort | StdinPort, timeout: float, interval: float = 0.005,
               code: str = PROBE) -> tuple[float, Result]:
    """Write probe scans every ``interval`` s until one gets a result line.

    The serial driver flushes its input at open, so probes written earlier are lost; the
    first probe with a result was written after the port was ready. Returns that probe's
    write time and its result (the other probes' lines are left to the caller to skip)."""
    deadline = time.monotonic() + timeout
    written: dict[str, float] = {}
    n = 0
    while time.monotonic() < deadline:
        text = f"{code}{n:05d}"
        written[text] = port.write(port.frame(text))
        n += 1
        result = kiosk.next_result(interval)
        if result is not None:
            scan = result.data.get("scan", "")
            if scan not in written:
                raise BenchError(f"first result is for an unknown scan {scan!r}")
            return written[scan], result
        if kiosk.proc.poll() is not None:
            break
    raise BenchError(f"headless never became ready within {timeout:g} s; {kiosk.describe()}")


def skip_probes(kiosk: Headless, code: str = PROBE, quiet_s: float = 0.5) -> int:
    """Read and drop the result lines of leftover probes until none comes for ``quiet_s``."""
    dropped = 0
    while (result := kiosk.next_result(quiet_s)) is not None:
        if not str(result.data.get("scan", "")).startswith(code):
            raise BenchError(f"unexpected result while skipping probes: {result.data}")
        dropped += 1
    return dropped


class TuiProcess:
    """``python -m kiosk run`` (the full screen) as a child on a pseudo-terminal (120x40).

    A reader thread takes everything the screen writes (a full terminal would block the
    kiosk) and notes when ``marker`` first appears: the first render of the main screen."""

    def __init__(self, ws: Workspace, config: Path, marker: bytes, rows: int = 40, cols: int = 120) -> None:
        self.marker = marker
        self.t_marker: float | None = None
        self._seen = b""
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = child_env() | {"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        try:
            self.t_spawn = time.monotonic()
            self.proc = subprocess.Popen([PYTHON, "-m", "kiosk", "run", "--config", str(config)], stdin=slave,
                                         stdout=slave, stderr=slave, env=env, cwd=ws.path, start_new_session=True)
        finally:
            os.close(slave)
        self.finished: Finished | None = None
        self._reader = threading.Thread(target=self._read, name="tui-output", daemon=True)
        self._reader.start()
        ws.callback(self.stop)

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:  # EIO once the child has gone, EBADF once closed
                return
            if not chunk:
                return
            if self.t_marker is None:
                self._seen = self._seen[-len(self.marker):] + chunk
                if self.marker in self._seen:
                    self.t_marker = time.monotonic()

    def wait_marker(self, timeout: float) -> float:
        """When the marker was first shown; ``BenchError`` if it never was."""
        deadline = time.monotonic() + timeout
        while self.t_marker is None and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.005)
        if self.t_marker is None:
            raise BenchError(f"the TUI never showed {self.marker!r} (exit {self.proc.poll()}); "
                             f"last output {self._seen[-300:]!r}")
        return self.t_marker

    def peak_rss_mb(self) -> float:
        return peak_rss_kb(self.proc.pid) / 1024

    def stop(self) -> Finished:
        if self.finished is None:
            self.finished = reap(self.proc, 5.0)
            self._reader.join(2.0)
            with contextlib.suppress(OSError):
                os.close(self.master)
        return self.finished
