"""One kiosk per journal (issue 11): an exclusive lock held for the process's life, named by
PID to the next opener, released by the OS when the holder is SIGKILLed; read-only readers
take no lock; the journal, -wal, -shm and lock files are created 0600. Real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.journal import Journal, JournalError, JournalLocked, lock_holder, lock_path

REPO = Path(__file__).resolve().parents[1]

HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from kiosk.journal import Journal
journal = Journal.open(Path(sys.argv[1]))
def scan(n):
    journal.add_scan(scanner="s", source="scanner", profile="p", station="st", backend="b", operator=None,
                     kind="job", text=f"HELD{n}", raw=None, symbology=None, status="pending")
scan(0)
print("ready", flush=True)
n = 1
while True:  # goes on writing, as a kiosk does, until it is killed
    scan(n)
    n += 1
    time.sleep(0.005)
"""

OPENER = """
import sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from kiosk.journal import Journal, JournalLocked
try:
    journal = Journal.open(Path(sys.argv[1]))
except JournalLocked as exc:
    print(exc.pid, flush=True)
    print(exc, flush=True)
    sys.exit(7)
print("opened", len(journal.outbox()), flush=True)
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@contextlib.contextmanager
def holder(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A second process that opens the journal as a kiosk does and keeps writing to it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(REPO)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def open_in_another_process(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", OPENER, str(path), str(REPO)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_second_process_is_refused_naming_the_holder_until_it_is_killed(path: Path) -> None:
    with holder(path) as first:
        second = open_in_another_process(path)
        assert second.returncode == 7, second.stderr
        pid, message = second.stdout.splitlines()
        assert int(pid) == first.pid
        assert f"another kiosk (PID {first.pid}) is using this journal; stop it first" in message
        assert str(path) in message
        assert lock_holder(path) == first.pid
        with pytest.raises(JournalLocked, match=f"PID {first.pid}"):
            Journal.open(path)  # this process too

        first.send_signal(signal.SIGKILL)
        first.wait()
        assert first.returncode == -signal.SIGKILL
        assert lock_holder(path) is None  # the kernel let go of it with the process
        after = open_in_another_process(path)
        assert after.returncode == 0 and after.stdout.startswith("opened "), after.stdout + after.stderr
        assert int(after.stdout.split()[1]) >= 1  # the holder's scans are there
    with Journal.open(path) as j:
        assert j.outbox()[0].text == "HELD0"


def test_read_only_readers_take_no_lock_and_read_while_a_kiosk_writes(path: Path) -> None:
    with holder(path) as first:
        with Journal.open_readonly(path) as reader:
            seen = reader.count_scans()
            assert seen >= 1 and reader.outbox()[0].text == "HELD0"
            assert lock_holder(path) == first.pid
            with pytest.raises(JournalError, match="opened read-only"):
                reader.set_setting("profile", "x")
            for _ in range(5000):  # the holder is writing meanwhile: new scans show up
                if reader.count_scans() > seen:
                    break
                time.sleep(0.002)
            else:
                pytest.fail("the reader never saw the scans the holder went on writing")
        assert first.poll() is None  # still running and holding the journal
        assert lock_holder(path) == first.pid


def test_the_lock_is_released_at_close_and_holds_the_pid(path: Path) -> None:
    assert lock_holder(path) is None
    journal = Journal.open(path)
    assert lock_holder(path) == os.getpid()
    assert lock_path(path).read_text() == f"{os.getpid()}\n"
    journal.close()
    assert lock_holder(path) is None
    Journal.open(path).close()  # open again at once


def test_a_failed_open_does_not_keep_the_lock(path: Path) -> None:
    path.write_bytes(b"not a database at all" * 500)
    with pytest.raises(JournalError, match="not a kiosk journal"):
        Journal.open(path)
    assert lock_holder(path) is None


def test_files_are_created_private_whatever_the_umask(path: Path) -> None:
    old = os.umask(0)
    try:
        with Journal.open(path) as j:
            j.add_scan(scanner="s", source="scanner", profile="p", station="st", backend="b", operator=None,
                       kind="lead", text="LEAD-BADGE", raw=None, symbology=None, status="done")
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), lock_path(path)]
            modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
    finally:
        os.umask(old)
    assert modes == {f.name: "0o600" for f in files}
