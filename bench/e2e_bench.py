#!/usr/bin/env python3
"""End-to-end benchmark: `graphetl run --local` over N generated service-call records.

    cargo build --release -p graphetl-cli
    python3 bench/e2e_bench.py [--graphetl target/release/graphetl] [--records 1000000[,10000000]] [--runs 1]
                               [--baseline OLD_BUILD/graphetl]

Everything runs in one process on this machine, through the real state machine: the local copy
of the http source serves N generated records over the sample window (2026-11-20 03:00-06:00,
40 services), made page by page as extract asks for them; extract pages through it (1,000
records a page) and writes gzip JSON-lines parts of 50,000 records, the Distributed Map
transforms them into Parquet, DataFusion runs the two aggregate queries, and the load step
upserts the graph locally. Prints, for each N, the wall time, the time per step from graphetl's
own summary, and that run's peak RSS; with several N, how time and memory grow with N
(goal of issue #14: <= 7 s and <= 400 MB for 1,000,000 records on 2 cores). With --baseline,
another build (say, the last release) runs each N too, alternating with this one, and the
ratios are printed.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def one_run(graphetl: str, records: int) -> tuple[float, int, str]:
    """One run: wall seconds, the process's own peak RSS in KiB, its stdout."""
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryFile("w+") as out, \
            tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            [graphetl, "run", "--local", "--records", str(records), "--data-dir", data_dir],
            cwd=REPO,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or "status      SUCCEEDED" not in stdout:
        sys.exit(f"graphetl run failed ({code}):\n{stdout}\n{stderr}")
    return wall, usage.ru_maxrss, stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphetl", default=str(REPO / "target/release/graphetl"))
    parser.add_argument("--records", default="1000000", help="N, or several N separated by commas")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", help="another graphetl binary to run side by side (ratios printed)")
    args = parser.parse_args()
    sizes = [int(n.replace("_", "")) for n in args.records.split(",") if n.strip()]
    builds = [("graphetl", args.graphetl)] + ([("baseline", args.baseline)] if args.baseline else [])
    table = []
    for records in sizes:
        results = {}
        for i in range(args.runs):
            for label, binary in builds:
                wall, peak_kib, stdout = one_run(binary, records)
                results.setdefault(label, []).append((wall, peak_kib))
                lines = {m.group(1): m.group(2) for m in re.finditer(r"^  (\w+(?: \w+)?)\s{2,}(.*)$", stdout, re.M)}
                print(f"{label}: {records:,} records, run {i + 1}: {wall:.2f} s wall ({records / wall:,.0f} records/s), "
                      f"peak RSS {peak_kib / 1024:.0f} MiB")
                for key in ("rows", "queries", "graph", "steps", "history"):
                    if key in lines:
                        print(f"  {key:8} {lines[key]}")
        summary = {}
        for label, runs in results.items():
            wall, peak = statistics.median(w for w, _ in runs), max(p for _, p in runs)
            summary[label] = (wall, peak)
            print(f"{label}: {records:,} records: median {wall:.2f} s over {len(runs)} run(s); peak RSS {peak / 1024:.0f} MiB")
        if "baseline" in summary:
            (wall, peak), (base_wall, base_peak) = summary["graphetl"], summary["baseline"]
            print(f"  against the baseline: {base_wall / wall:.2f}x the speed (wall {wall / base_wall:.3f}x), "
                  f"peak RSS {peak / base_peak:.3f}x")
        wall, peak = summary["graphetl"]
        table.append((records, wall, peak))
    if len(table) > 1:
        base_n, base_wall, base_peak = table[0]
        print(f"\ngrowth against {base_n:,} records:")
        print(f"  {'records':>12} {'wall s':>8} {'records/s':>11} {'peak MiB':>9} {'N ratio':>8} {'time ratio':>10} {'RSS ratio':>9}")
        for n, wall, peak in table:
            print(f"  {n:>12,} {wall:>8.2f} {n / wall:>11,.0f} {peak / 1024:>9.0f} {n / base_n:>8.1f} "
                  f"{wall / base_wall:>10.2f} {peak / base_peak:>9.2f}")


if __name__ == "__main__":
    main()
