"""The benchmarks' report: the machine, one table row per figure, and every target met or missed.

``rows(results)`` turns the benchmark dicts into the figures table (benchmark, figure,
baseline, ratio/overhead, target, met); ``targets(results)`` gives one row per target with
its figure, the baseline measured in the same run and met/MISSED (a target whose benchmark
did not run says so); ``table(rows)`` prints either. ``machine()`` describes where it ran
(the machine is shared and noisy: load averages are part of the record).
"""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]
Data = dict[str, Any]


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


def _rows_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


def row(bench: str, figure: str, baseline: str = "—", compare: str = "—", target: str = "—",
        met: bool | None = None) -> Row:
    return {"benchmark": bench, "figure": figure, "baseline": baseline, "ratio_overhead": compare,
            "target": target, "met": _met(met)}


# --- the figures table ------------------------------------------------------------------


BASELINE_NAMES = {"sync_httpx": "httpx.Client", "sync_stdlib": "http.client", "async_httpx": "httpx.AsyncClient"}


def latency_rows(name: str, data: Data) -> list[Row]:
    if "skipped" in data or "error" in data:
        return [row(name, f"not run: {data.get('skipped') or data.get('error')}")]
    bases = data.get("baselines", {})
    names = " / ".join(BASELINE_NAMES.get(key, key) for key in bases)
    out = []
    for p in ("p50", "p95", "p99"):
        out.append(row(f"{name} {p}", _ms(data["kiosk_ms"][p]),
                       " / ".join(f"{base['ms'][p]:.2f}" for base in bases.values()) + f" ms ({names})",
                       " / ".join(f"+{base['overhead_ms'][p]:.2f}" for base in bases.values()) + " ms"))
    return out


def client_rows(data: Data) -> list[Row]:
    out = []
    for name, d in data["clients"].items():
        out.append(row(f"client {name}", f"p50 {_ms(d['ms']['p50'])} / p99 {_ms(d['ms']['p99'])}",
                       f"{_ms(d['ms']['p50'] - d['over_sync_httpx_ms']['p50'])} (httpx.Client p50)",
                       f"{d['over_sync_httpx_ms']['p50']:+.2f} ms; {d['loop_iterations']:.0f} loop its/req"))
    sniff = data["sniffio"]
    out.append(row("client: httpcore current_async_library()",
                   f"{sniff['current_async_library_us']:.1f} us/call x {sniff['calls_per_request']:.0f}/request",
                   f"sniffio installed: {sniff['sniffio_installed']}"))
    for layer, ms in data["breakdown"]["layers_ms"].items():
        out.append(row(f"client breakdown: {layer}", _ms(ms),
                       f"{_ms(data['breakdown']['mean_raw_asyncio_ms'])} (raw asyncio, whole request)"))
    return out


def burst_rows(data: Data) -> list[Row]:
    out = []
    for key, label, target in (("healthy", "burst", True), ("first_half_503", "burst, 1st half 503", False)):
        b = data[key]
        out.append(row(f"{label} ({b['scans']} scans)", f"{b['scans_per_s']:.0f} scans/s",
                       f"{b['baseline_scans_per_s']:.0f} scans/s (bare httpx)", f"x{b['ratio']:.2f}",
                       f">= {data['target_scans_per_s']:g} scans/s" if target else "—",
                       b["scans_per_s"] >= data["target_scans_per_s"] if target else None))
        out.append(row(f"{label}: integrity", f"lost {b['lost']}, dup {b['duplicates']}, "
                       f"{b['simulator_requests']} requests, {b['replay_lines']} replays",
                       target="none lost, all in order", met=burst_sound(b)))
    return out


def burst_sound(b: Data) -> bool:
    return bool(b["lost"] == 0 and b["duplicates"] == 0 and b["live_in_order"] and b["replays_in_order"]
                and b["simulator_complete_in_order"])


def startup_rows(data: Data) -> list[Row]:
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
        out.append(row(f"peak RSS {key} at start", f"{d['rss_mb']:.1f} MB",
                       f"{base['rss_mb']:.1f} MB (import textual)", f"x{d['rss_mb'] / base['rss_mb']:.2f}"))
    return out


def memory_rows(data: Data) -> list[Row]:
    base = data["baseline_import_textual"]
    out = []
    for key in ("headless", "tui"):
        d = data[key]
        if "skipped" in d:
            out.append(row(f"peak RSS {key}", f"not run: {d['skipped']}"))
            continue
        out.append(row(f"peak RSS {key} after {d['scans']} scans", f"{d['rss_mb']:.1f} MB "
                       f"(at start {d['rss_mb_at_start']:.1f})", f"{base['rss_mb']:.1f} MB (import textual)",
                       f"x{d['rss_mb'] / base['rss_mb']:.2f}"))
    return out


def journal_rows(data: Data) -> list[Row]:
    out = []
    for key, label in (("one_by_one", "one by one"), ("burst", f"bursts of {data.get('burst_size', '?')}")):
        d = data[key]
        check = d["full_check"]
        out.append(row(f"journal via service, {label}",
                       f"{d['full_scans_per_s']:.0f} scans/s (FULL), {d['commits_per_scan']:.1f} commits/scan, "
                       f"{d['fsync_ms_per_commit']:.2f} ms per fsync'd commit",
                       f"{d['off_scans_per_s']:.0f} scans/s (OFF)", f"x{d['ratio']:.2f}",
                       "none lost, in order", check["lost"] == 0 and check["in_order"] and check["ids_increasing"]))
    return out


def growth_rows(data: Data) -> list[Row]:
    out = []
    for size in data["by_size"].values():
        label = f"{_rows_label(size['rows'])} rows"
        cold = f", cold {size['startup_cold_s']:.3f} s" if "startup_cold_s" in size else ""
        out.append(row(f"{label}: start-up to ready", f"{size['startup_warm_s']:.3f} s warm{cold}",
                       f"built in {size['build']['seconds']:.1f} s, {size['build']['bytes'] / 1e6:.0f} MB"))
        scan = size["per_scan"]
        out.append(row(f"{label}: scan p50 / p99", f"{_ms(scan['kiosk_ms']['p50'])} / {_ms(scan['kiosk_ms']['p99'])}",
                       f"{_ms(scan['baseline_ms']['p50'])} / {_ms(scan['baseline_ms']['p99'])} (httpx.Client)",
                       f"+{scan['overhead_ms']['p50']:.2f} / +{scan['overhead_ms']['p99']:.2f} ms"))
        service = size["service"]
        out.append(row(f"{label}: service path in-process", f"{service['scans_per_s']:.0f} scans/s",
                       f"Journal.open {service['journal_open_s'] * 1000:.0f} ms"))
        for key, what in (("stats", "stats (default period)"), ("stats_year", "stats --since a year"),
                          ("export", "export (jsonl)")):
            tool = size["tools"][key]
            out.append(row(f"{label}: {what}", f"{tool['seconds']:.2f} s, {tool.get('rss_mb', 0):.0f} MB peak",
                           f"{tool['lines']} lines out"))
        beside = size["beside"]
        each = ", ".join(f"{d:+.1f}" for d in beside["sharing_delays_ms"])
        slowest = [run["slowest_scan"]["journal"] for run in beside["runs"] if run.get("slowest_scan")]
        where = "; ".join(f"{w['ms']:.0f} ms {w['after_start_s']:.2f} s into {w['command']}" for w in slowest if w)
        out.append(row(f"{label}: scans beside stats/export",
                       f"worst delay +{beside['worst_delay_ms']:.1f} ms; from sharing the journal "
                       f"{beside['sharing_delay_ms']:+.1f} ms (runs: {each})",
                       f"same on a copy +{beside['copy_worst_delay_ms']:.1f} ms; alone p50 "
                       f"{_ms(beside['alone_p50_ms'])}, worst +{beside['alone_worst_delay_ms']:.1f} ms",
                       f"slowest beside the journal: {where}" if where else "—"))
        if size.get("integrity_check_s") is not None:
            out.append(row(f"{label}: check_integrity (after ready)", f"{size['integrity_check_s']:.3f} s"))
    return out


def drain_rows(data: Data) -> list[Row]:
    label = f"drain {data['scans']} @ {data['max_requests_per_minute']:g}/min*"
    return [
        row(label, f"{data['measured_s']:.2f} s", f"{data['theoretical_min_s']:.2f} s (theoretical min)",
            f"x{data['ratio']:.2f}", "all sent, in order", data["ok"] == data["scans"] and data["in_order"]),
        row(f"{label}: busiest 60 s", f"{data['busiest_60s_window']} requests",
            target=f"<= {data['max_requests_per_minute']:g} (no 429 from us)", met=data["within_budget"]),
    ]


def prodsmart_rows(data: Data) -> list[Row]:
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


_ROWS: dict[str, Callable[[Data], list[Row]]] = {
    "latency": lambda d: latency_rows("latency headless", d["headless"]) + latency_rows("latency TUI", d["tui"]),
    "client": client_rows,
    "burst": burst_rows,
    "startup": startup_rows,
    "memory": memory_rows,
    "journal": journal_rows,
    "growth": growth_rows,
    "drain": drain_rows,
    "prodsmart": prodsmart_rows,
}


def rows(results: dict[str, Data]) -> list[Row]:
    out: list[Row] = []
    for name, data in results.items():
        if "error" in data:
            out.append(row(name, f"FAILED: {data['error']}", met=False))
            continue
        if "skipped" in data:
            out.append(row(name, f"not run: {data['skipped']}"))
            continue
        out.extend(_ROWS[name](data))
    return out


# --- the targets ------------------------------------------------------------------------


def target(name: str, figure: str, baseline: str, met: bool | None) -> Row:
    return {"target": name, "figure": figure, "baseline": baseline, "met": _met(met)}


def _latency_targets(data: Data) -> list[Row]:
    out = []
    headless, limits = data["headless"], data["targets"]["headless_overhead_ms"]
    for p in ("p50", "p99"):
        name = f"headless overhead over a bare sync POST, {p} <= {limits[p]:g} ms"
        if "overhead_ms" not in headless:
            out.append(target(name, "not run", "—", None))
            continue
        over = headless["overhead_ms"][p]
        out.append(target(name, f"+{over:.2f} ms (kiosk {_ms(headless['kiosk_ms'][p])})",
                          f"{_ms(headless['baseline_ms'][p])} (httpx.Client)", over <= limits[p]))
    tui, limit = data["tui"], data["targets"]["tui_p99_ms"]
    name = f"scan to rendered result p99 <= {limit:.1f} ms ({data['targets']['tui_rule']})"
    if "kiosk_ms" not in tui:
        out.append(target(name, f"not run: {tui.get('skipped') or tui.get('error')}", "—", None))
    else:
        out.append(target(name, _ms(tui["kiosk_ms"]["p99"]), f"{_ms(tui['baseline_ms']['p99'])} (httpx.Client p99)",
                          tui["kiosk_ms"]["p99"] <= limit))
    return out


def _growth_targets(data: Data) -> list[Row]:
    ratio, delay, limits = data["startup_ratio"], data["worst_delay"], data["targets"]
    small, large = data["by_size"][str(ratio["small"])], data["by_size"][str(ratio["large"])]
    scale = f"{_rows_label(ratio['large'])} vs {_rows_label(ratio['small'])} rows"
    worst = data["by_size"][str(delay["rows"])]["beside"]
    runs = len(worst["sharing_delays_ms"])
    return [
        target(f"start-up to ready, {scale} (warm) <= {limits['startup_ratio']:g}x",
               f"x{ratio['ratio']:.2f} ({large['startup_warm_s']:.3f} s)", f"{small['startup_warm_s']:.3f} s",
               ratio["ratio"] <= limits["startup_ratio"] if ratio["large"] > ratio["small"] else None),
        target(f"no scan delayed > {limits['delay_ms']:g} ms by stats/export (sharing the journal)",
               f"{delay['ms']:+.1f} ms (at {_rows_label(delay['rows'])} rows; worse of {runs}; "
               f"raw worst +{worst['worst_delay_ms']:.1f} ms)",
               f"same commands on a copy: worst +{worst['copy_worst_delay_ms']:.1f} ms; "
               f"alone p50 {_ms(worst['alone_p50_ms'])}",
               delay["ms"] <= limits["delay_ms"]),
    ]


def _journal_targets(data: Data) -> list[Row]:
    d = data["one_by_one"]
    return [target(f"journal >= {data['target_scans_per_s']:,.0f} durable scans/s through the service",
                   f"{d['full_scans_per_s']:,.0f} scans/s ({d['commits_per_scan']:.1f} commits/scan)",
                   f"{d['off_scans_per_s']:,.0f} scans/s (synchronous=OFF)",
                   d["full_scans_per_s"] >= data["target_scans_per_s"])]


def _memory_targets(data: Data) -> list[Row]:
    base = f"{data['baseline_import_textual']['rss_mb']:.1f} MB (import textual)"
    out = []
    for key, limit in (("headless", data["targets"]["headless_mb"]), ("tui", data["targets"]["tui_mb"])):
        d = data[key]
        name = f"peak RSS after {data['scans']:,} scans, {key} <= {limit:g} MB"
        if "rss_mb" not in d:
            out.append(target(name, f"not run: {d.get('skipped')}", base, None))
        else:
            out.append(target(name, f"{d['rss_mb']:.1f} MB", base, d["rss_mb"] <= limit))
    return out


def _burst_targets(data: Data) -> list[Row]:
    b = data["healthy"]
    return [target(f"burst >= {data['target_scans_per_s']:g} scans/s", f"{b['scans_per_s']:.0f} scans/s",
                   f"{b['baseline_scans_per_s']:.0f} scans/s (bare httpx)",
                   b["scans_per_s"] >= data["target_scans_per_s"]),
            target("bursts: no scan lost, all in order (healthy and 503 first half)",
                   f"lost {b['lost'] + data['first_half_503']['lost']}", "—",
                   burst_sound(b) and burst_sound(data["first_half_503"]))]


def _startup_targets(data: Data) -> list[Row]:
    base = f"{data['baseline_import_textual']['seconds']:.3f} s (import textual)"
    out = []
    for key, limit in (("headless", data["targets"]["headless_s"]), ("tui", data["targets"]["tui_s"])):
        d = data[key]
        name = f"start-up {key} < {limit:g} s"
        out.append(target(name, f"{d['seconds']:.3f} s", base, d["seconds"] < limit) if "seconds" in d
                   else target(name, f"not run: {d.get('skipped')}", base, None))
    return out


def _prodsmart_targets(data: Data) -> list[Row]:
    sound = all(b["final_count"] == b["scans"] and b["strictly_increasing"] and b["not_accepted"] == 0
                for b in (data["at_limit"], data["unlimited"]))
    return [target("prodsmart counter: count = scans, increasing, no 429 (at the limit and without)",
                   f"{data['at_limit']['counter_requests']} requests for {data['scans']} scans at the limit",
                   f"{data['baseline_requests_per_s']:.0f} counts/s (bare httpx)", sound)]


def _drain_targets(data: Data) -> list[Row]:
    return [target(f"drain: no 429 caused by us (busiest 60 s <= {data['max_requests_per_minute']:g})",
                   f"{data['busiest_60s_window']} requests", f"{data['theoretical_min_s']:.1f} s theoretical min",
                   data["within_budget"] and data["in_order"])]


_TARGETS: dict[str, Callable[[Data], list[Row]]] = {
    "latency": _latency_targets, "journal": _journal_targets, "growth": _growth_targets,
    "memory": _memory_targets, "burst": _burst_targets, "startup": _startup_targets, "drain": _drain_targets,
    "prodsmart": _prodsmart_targets,
}


def targets(results: dict[str, Data]) -> list[Row]:
    out: list[Row] = []
    for name, make in _TARGETS.items():
        if name not in results:
            continue
        if "error" in results[name]:
            out.append(target(f"{name}: every target", f"benchmark FAILED: {results[name]['error']}", "—", False))
            continue
        if "skipped" in results[name]:
            out.append(target(f"{name}: every target", f"not run: {results[name]['skipped']}", "—", None))
            continue
        out.extend(make(results[name]))
    return out


# --- printing ---------------------------------------------------------------------------


COLUMNS = (("benchmark", "benchmark"), ("figure", "figure"), ("baseline", "baseline"),
           ("ratio_overhead", "ratio/overhead"), ("target", "target"), ("met", "met?"))
TARGET_COLUMNS = (("target", "target (issue 12 and earlier)"), ("figure", "figure"),
                  ("baseline", "baseline (same run)"), ("met", "met?"))


def table(table_rows: list[Row], columns: tuple[tuple[str, str], ...] = COLUMNS) -> str:
    widths = [max(len(title), *(len(str(r[key])) for r in table_rows)) for key, title in columns]
    line = "  ".join(title.ljust(w) for (_, title), w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in table_rows:
        out.append("  ".join(str(r[key]).ljust(w) for (key, _), w in zip(columns, widths, strict=True)).rstrip())
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
