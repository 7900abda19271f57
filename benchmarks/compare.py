"""``python -m benchmarks.compare --old REV [--rounds N] [benchmark options]``: old vs this tree.

Runs the whole benchmark set (this tree's ``benchmarks/``, so both sides are measured the
same way) on the kiosk code of git revision ``REV`` and on this tree, one after the other
on the same machine, ``--rounds`` times, swapping which goes first each round. ``REV`` is
unpacked with ``git archive`` into a folder beside the system's temporary files (nothing in
the repository changes; no worktree is added) and gets its own virtual environment there
(``pip install -e '.[test]'``, once): with this tree's editable install, imports of modules
the old code does not have would quietly come from this tree. Prints every target's figure
and met/MISSED, the runs side by side, then the load average of each run, and keeps each
run's JSON and output in ``--out`` (default: a folder named after the revisions).

Options after ``--`` go to ``python -m benchmarks`` on both sides, e.g.
``python -m benchmarks.compare --old c34a746 --rounds 2 -- --only latency journal``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    args = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, passthrough = args[:cut], args[cut + 1:]
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, metavar="REV", help="git revision of the old code, e.g. c34a746")
    p.add_argument("--rounds", type=int, default=1, help="old and new runs each (alternating), default 1")
    p.add_argument("--out", type=Path, help="folder for each run's JSON and output")
    return p.parse_args(args), passthrough


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout.strip()


def old_tree(rev: str) -> Path:
    """The code of ``rev`` in its own folder, with this tree's benchmarks in place of its own."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    tree = Path(tempfile.gettempdir()) / f"kiosk-bench-old-{sha[:12]}"
    if not (tree / "kiosk").is_dir():
        staging = Path(tempfile.mkdtemp(prefix="kiosk-bench-old-"))
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(staging)], input=archive, check=True)
        shutil.rmtree(tree, ignore_errors=True)
        staging.rename(tree)
    shutil.rmtree(tree / "benchmarks", ignore_errors=True)
    shutil.copytree(REPO / "benchmarks", tree / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    python = tree / ".venv" / "bin" / "python"
    if not python.exists():
        print(f"making a virtual environment for {rev} in {tree} ...", file=sys.stderr, flush=True)
        subprocess.run([getattr(sys, "_base_executable", "python3"), "-m", "venv", str(tree / ".venv")], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", f"{tree}[test]"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return tree


def interpreter(tree: Path) -> str:
    own = tree / ".venv" / "bin" / "python"
    return str(own) if tree != REPO and own.exists() else sys.executable


def run_side(label: str, tree: Path, out: Path, options: list[str]) -> dict[str, Any]:
    result = out / f"{label}.json"
    log = out / f"{label}.txt"
    env = dict(os.environ, PYTHONPATH=str(tree))
    print(f"{time.strftime('%H:%M:%S')} {label}: python -m benchmarks {' '.join(options)} in {tree} "
          f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    with log.open("w", encoding="utf-8") as output:
        code = subprocess.run([interpreter(tree), "-m", "benchmarks", "--json", str(result), *options], cwd=tree,
                              env=env, stdout=output, stderr=subprocess.STDOUT, check=False).returncode
    if not result.exists():
        return {"error": f"no report (exit {code}); see {log}", "targets": [], "machine": {}}
    document: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    document["exit"] = code
    return document


def side_by_side(runs: list[tuple[str, dict[str, Any]]]) -> str:
    names: list[str] = []
    for _, document in runs:
        names += [t["target"] for t in document.get("targets", []) if t["target"] not in names]
    width = max([len("target"), *(len(n) for n in names)])
    cells: dict[str, list[str]] = {name: [] for name in names}
    for _, document in runs:
        by_name = {t["target"]: f"{t['figure']} [{t['met']}]" for t in document.get("targets", [])}
        for name in names:
            cells[name].append(by_name.get(name, "—"))
    widths = [max(len(label), *(len(cells[n][i]) for n in names)) if names else len(label)
              for i, (label, _) in enumerate(runs)]
    lines = ["  ".join(["target".ljust(width), *(label.ljust(w) for (label, _), w in zip(runs, widths, strict=True))]),
             "  ".join(["-" * width, *("-" * w for w in widths)])]
    for name in names:
        padded = (c.ljust(w) for c, w in zip(cells[name], widths, strict=True))
        lines.append("  ".join([name.ljust(width), *padded]).rstrip())
    loads = []
    for label, document in runs:
        machine = document.get("machine", {})
        start = ", ".join(f"{x:.2f}" for x in machine.get("loadavg", []))
        end = ", ".join(f"{x:.2f}" for x in machine.get("loadavg_end", []))
        loads.append(f"{label}: load average {start} at start, {end} at end; exit {document.get('exit')}"
                     + (f"; {document['error']}" if "error" in document else ""))
    return "\n".join(lines + [""] + loads)


def main(argv: list[str] | None = None) -> int:
    args, options = parse_args(argv)
    old_rev = git("rev-parse", "--short", args.old)
    new_rev = git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain") else "")
    out = args.out or Path(tempfile.gettempdir()) / f"kiosk-bench-compare-{old_rev}-vs-{new_rev}"
    out.mkdir(parents=True, exist_ok=True)
    tree = old_tree(args.old)
    runs: list[tuple[str, dict[str, Any]]] = []
    for r in range(1, args.rounds + 1):
        sides = [(f"old {old_rev} #{r}", tree), (f"new {new_rev} #{r}", REPO)]
        if r % 2 == 0:
            sides.reverse()
        for label, where in sides:
            runs.append((label, run_side(label.replace(" ", "-").replace("#", "r"), where, out, options)))
    ordered = sorted(runs, key=lambda run: (int(run[0].split("#")[1]), not run[0].startswith("old")))
    print(side_by_side(ordered))
    print(f"\nreports and output: {out}")
    return 0 if all("error" not in document and document.get("exit") == 0 for _, document in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
