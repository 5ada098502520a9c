#!/usr/bin/env python3
"""End-to-end benchmark: `graphetl run --local` over N generated service-call records.

    cargo build --release -p graphetl-cli
    python3 bench/e2e_bench.py [--graphetl target/release/graphetl] [--records 1000000] [--runs 1]

Everything runs in one process on this machine, through the real state machine: the local copy
of the http source serves N generated records over the sample window (2026-11-20 03:00-06:00,
40 services), extract pages through it (1,000 records a page) and writes gzip JSON-lines parts
of 50,000 records, the Distributed Map transforms them into Parquet, DataFusion runs the two
aggregate queries, and the load step upserts the graph locally. Prints the wall time, the time
per step from graphetl's own summary, and the peak RSS (target: <= 60 s for 1,000,000 records
on 2 cores).
"""
import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def one_run(graphetl: str, records: int) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        out = subprocess.run(
            [graphetl, "run", "--local", "--records", str(records), "--data-dir", data_dir],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
    if out.returncode != 0 or "status      SUCCEEDED" not in out.stdout:
        sys.exit(f"graphetl run failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return wall, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphetl", default=str(REPO / "target/release/graphetl"))
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    walls = []
    for i in range(args.runs):
        wall, stdout = one_run(args.graphetl, args.records)
        walls.append(wall)
        lines = {m.group(1): m.group(2) for m in re.finditer(r"^  (\w+(?: \w+)?)\s{2,}(.*)$", stdout, re.M)}
        print(f"run {i + 1}: {wall:.1f} s wall for {args.records:,} records ({args.records / wall:,.0f} records/s)")
        for key in ("rows", "queries", "graph", "steps", "history"):
            if key in lines:
                print(f"  {key:8} {lines[key]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"median {statistics.median(walls):.1f} s over {len(walls)} run(s); peak RSS {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
