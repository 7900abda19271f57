"""The kiosk's benchmark suite: ``python -m benchmarks [--quick] [--json FILE]``.

Every benchmark runs the real pieces (the job-track simulator in its own process over
loopback HTTP, a pseudo-terminal as the serial scanner, the journal on disk, headless mode
as a subprocess) and reports its figures next to a baseline measured in the same run, as a
ratio or an overhead. The machine is shared and noisy: figures are for reading, never for
asserting; the smoke test (tests/test_benchmarks_smoke.py) checks only their structure.

Modules: ``harness`` (processes, ports, files, statistics), one module per benchmark
(``latency``, ``burst``, ``startup``, ``journal_rate``, ``drain``, ``prodsmart``), each exposing
``run(quick: bool) -> dict``, and ``report`` (table, machine, JSON).
"""

BENCHMARKS = ("latency", "burst", "startup", "journal", "drain", "prodsmart")
"""Keys of the JSON report, in the order they run."""
