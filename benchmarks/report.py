"""The benchmarks' report: the machine, one table row per figure, targets met or missed.

``rows(results)`` turns the benchmark dicts into rows (benchmark, figure, baseline,
ratio/overhead, target, met); ``table(rows)`` prints them; ``machine()`` describes where it
ran (the machine is shared and noisy: load averages are part of the record).
"""

from __future__ import annotations

import math
import os
import platform
import sys
from typing import Any

Row = dict[str, Any]


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {"cpu": model, "cores": os.cpu_count(), "usable_cores": usable,
            "python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "os": platform.platform(), "loadavg": list(os.getloadavg())}


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "MISSED")


def row(bench: str, figure: str, baseline: str = "—", compare: str = "—", target: str = "—",
        met: bool | None = None) -> Row:
    return {"benchmark": bench, "figure": figure, "baseline": baseline, "ratio_overhead": compare,
            "target": target, "met": _met(met)}


def latency_rows(name: str, data: dict[str, Any], target_ms: float) -> list[Row]:
    if "skipped" in data or "error" in data:
        return [row(name, f"not run: {data.get('skipped') or data.get('error')}")]
    out = []
    for p in ("p50", "p95", "p99"):
        over, ratio = data["overhead_ms"][p], data["ratio"][p]
        is_target = p == "p99"
        out.append(row(f"{name} {p}", _ms(data["kiosk_ms"][p]), _ms(data["baseline_ms"][p]),
                       f"+{over:.2f} ms (x{ratio:.2f})", f"overhead <= {target_ms:g} ms" if is_target else "—",
                       over <= target_ms if is_target else None))
    return out


def burst_rows(data: dict[str, Any]) -> list[Row]:
    out = []
    for key, label, target in (("healthy", "burst", True), ("first_half_503", "burst, 1st half 503", False)):
        b = data[key]
        sound = (b["lost"] == 0 and b["duplicates"] == 0 and b["live_in_order"] and b["replays_in_order"]
                 and b["simulator_complete_in_order"])
        out.append(row(f"{label} ({b['scans']} scans)", f"{b['scans_per_s']:.0f} scans/s",
                       f"{b['baseline_scans_per_s']:.0f} scans/s (bare httpx)", f"x{b['ratio']:.2f}",
                       f">= {data['target_scans_per_s']:g} scans/s" if target else "—",
                       b["scans_per_s"] >= data["target_scans_per_s"] if target else None))
        out.append(row(f"{label}: integrity", f"lost {b['lost']}, dup {b['duplicates']}, "
                       f"{b['simulator_requests']} requests, {b['replay_lines']} replays",
                       target="none lost, all in order", met=sound))
    return out


def startup_rows(data: dict[str, Any]) -> list[Row]:
    base, targets = data["baseline_import_textual"], data["targets"]
    out = []
    for key, label, limit in (("headless", "start-up headless", targets["headless_s"]),
                              ("tui", "start-up TUI", targets["tui_s"])):
        d = data[key]
        if "skipped" in d:
            out.append(row(label, f"not run: {d['skipped']}"))
            continue
        out.append(row(label, f"{d['seconds']:.3f} s", f"{base['seconds']:.3f} s (import textual)",
                       f"x{d['seconds'] / base['seconds']:.2f}", f"< {limit:g} s", d["seconds"] < limit))
        out.append(row(f"peak RSS {key}", f"{d['rss_mb']:.1f} MB", f"{base['rss_mb']:.1f} MB (import textual)",
                       f"x{d['rss_mb'] / base['rss_mb']:.2f}", f"< {targets['rss_mb']:g} MB",
                       d["rss_mb"] < targets["rss_mb"]))
    return out


def journal_rows(data: dict[str, Any]) -> list[Row]:
    return [row("journal (add+update)", f"{data['full_scans_per_s']:.0f} scans/s (FULL)",
                f"{data['off_scans_per_s']:.0f} scans/s (OFF)", f"x{data['ratio']:.2f}")]


def drain_rows(data: dict[str, Any]) -> list[Row]:
    label = f"drain {data['scans']} @ {data['max_requests_per_minute']:g}/min*"
    return [
        row(label, f"{data['measured_s']:.2f} s", f"{data['theoretical_min_s']:.2f} s (theoretical min)",
            f"x{data['ratio']:.2f}", "all sent, in order", data["ok"] == data["scans"] and data["in_order"]),
        row(f"{label}: busiest 60 s", f"{data['busiest_60s_window']} requests",
            target=f"<= {data['max_requests_per_minute']:g} (no 429 from us)", met=data["within_budget"]),
    ]


def prodsmart_rows(data: dict[str, Any]) -> list[Row]:
    out = []
    for key in ("at_limit", "unlimited"):
        b = data[key]
        per_minute = "no limit" if key == "unlimited" else f"{b['per_minute']:g}/min"
        label = f"prodsmart counter {b['scans']} @ {per_minute}"
        out.append(row(label, f"{b['scans_per_s']:.0f} scans/s",
                       f"{data['baseline_requests_per_s']:.0f} counts/s (bare httpx)", f"x{b['ratio']:.2f}"))
        sound = b["final_count"] == b["scans"] and b["strictly_increasing"] and b["not_accepted"] == 0
        out.append(row(f"{label}: integrity", f"count {b['final_count']}, {b['counter_requests']} counter + "
                       f"{b['token_requests']} token requests, {b['not_accepted']} not accepted",
                       target="count = scans, increasing, no 429", met=sound))
    return out


_ROWS = {
    "latency": lambda d: (latency_rows("latency headless", d["headless"], d["target_p99_overhead_ms"])
                          + latency_rows("latency TUI", d["tui"], d["target_p99_overhead_ms"])),
    "burst": burst_rows,
    "startup": startup_rows,
    "journal": journal_rows,
    "drain": drain_rows,
    "prodsmart": prodsmart_rows,
}


def rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    out: list[Row] = []
    for name, data in results.items():
        if "error" in data:
            out.append(row(name, f"FAILED: {data['error']}", met=False))
            continue
        out.extend(_ROWS[name](data))
    return out


COLUMNS = (("benchmark", "benchmark"), ("figure", "figure"), ("baseline", "baseline"),
           ("ratio_overhead", "ratio/overhead"), ("target", "target"), ("met", "met?"))


def table(table_rows: list[Row]) -> str:
    widths = [max(len(title), *(len(str(r[key])) for r in table_rows)) for key, title in COLUMNS]
    line = "  ".join(title.ljust(w) for (_, title), w in zip(COLUMNS, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(r[key]).ljust(w) for (key, _), w in zip(COLUMNS, widths, strict=True)) for r in table_rows]
    return "\n".join(out)


def describe_machine(info: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.2f}" for x in info["loadavg"])
    return (f"machine: {info['cpu']}; {info['cores']} cores ({info['usable_cores']} usable); "
            f"{info['implementation']} {info['python']}; {info['os']}; load average {load}")


def finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
