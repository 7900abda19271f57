"""The kiosk's benchmark suite: ``python -m benchmarks [--quick] [--json FILE]``.

Every benchmark runs the real pieces (the job-track simulator in its own process over
loopback HTTP, a pseudo-terminal as the serial scanner, the journal on disk, headless mode
and the full screen as subprocesses) and reports its figures next to a baseline measured in
the same run, as a ratio or an overhead. The machine is shared and noisy: figures are for
reading, never for asserting; the smoke test (tests/test_benchmarks_smoke.py) checks only
their structure and that no scan was lost or reordered.

Modules: ``harness`` (processes, ports, files, statistics), ``inprocess`` (the service and
journal in the benchmark's process with an instant connector), ``prefill`` (a journal with
a year of rows), one module per benchmark (``latency``, ``client``, ``burst``, ``startup``,
``memory``, ``journal_rate``, ``growth``, ``drain``, ``prodsmart``), each exposing ``run(quick: bool) ->
dict``, ``report`` (figures, targets, machine, JSON) and ``compare`` (the whole set on an
older commit and on this tree, one after the other).
"""

BENCHMARKS = ("latency", "client", "burst", "startup", "memory", "journal", "growth", "drain", "prodsmart")
"""Keys of the JSON report, in the order they run."""
