#!/usr/bin/env python3
"""Neptune load benchmark: graphetl load against the loopback Neptune stand-in (graphetl mock-neptune).

    cargo build --release -p graphetl-cli
    python3 bench/load_bench.py [--graphetl target/release/graphetl] [--latency-ms 20]

1. The seed-000 workload: 100 call relations among 40 services (the anchor: the original Python
   loader sent ~700 serial requests, 30+ s; its optimized version ~180 requests, 3-5 s). Reports the
   requests sent against the batching optimum ceil(records / 200) and the wall time including
   process start (targets: at most one request above the optimum, <= 0.3 s).
2. 100,000 edges among 5,000 services with 8 writers: records/s against the ideal
   writers x 200 records / round-trip time (target >= 90%).
The stand-in answers every request after a fixed latency; it does not execute Gremlin.
"""
import argparse
import csv
import math
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EDGE_HEADER = ["caller", "callee", "requests", "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms", "bytes", "first_seen", "last_seen"]
SERVICE_HEADER = ["name", "requests_in", "requests_out", "error_rate"]


def workload(folder: Path, services: int, edges: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    names = [f"svc-{i:04d}" for i in range(services)]
    pairs = set()
    while len(pairs) < edges:
        a, b = rng.choice(names), rng.choice(names)
        if a != b:
            pairs.add((a, b))
    edge_path, service_path = folder / "edges.csv", folder / "services.csv"
    inbound = {n: 0 for n in names}
    outbound = {n: 0 for n in names}
    with edge_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EDGE_HEADER)
        for a, b in sorted(pairs):
            requests = rng.randint(1, 10_000)
            errors = rng.randint(0, requests // 10)
            inbound[b] += requests
            outbound[a] += requests
            p50 = round(rng.uniform(1, 50), 3)
            w.writerow([a, b, requests, errors, f"{errors / requests:.6f}", p50, round(p50 * 3, 3), round(p50 * 5, 3),
                        rng.randint(1_000, 10_000_000), "2026-11-20T03:00:00Z", "2026-11-20T05:59:00Z"])
    with service_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(SERVICE_HEADER)
        for n in names:
            w.writerow([n, inbound[n], outbound[n], f"{rng.random() / 10:.6f}"])
    return edge_path, service_path


def run_load(graphetl: str, endpoint: str, edges: Path, services: Path, writers: int) -> tuple[float, dict]:
    command = [graphetl, "load", "--dataset", str(REPO / "datasets/service-calls.toml"), "--result", f"edges={edges}",
               "--result", f"services={services}", "--neptune-endpoint", endpoint, "--no-iam", "--writers", str(writers)]
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        print(out.stdout, out.stderr, file=sys.stderr)
        raise SystemExit(f"graphetl load failed ({out.returncode})")
    m = re.search(r"loaded (\d+) vertices and (\d+) edges: (\d+) records in (\d+) requests, (\d+) retries, ([\d.]+)s", out.stdout)
    if not m:
        raise SystemExit(f"unexpected output: {out.stdout}")
    keys = ["vertices", "edges", "records", "requests", "retries", "seconds"]
    return wall, {k: float(v) if k == "seconds" else int(v) for k, v in zip(keys, m.groups())}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--graphetl", default=str(REPO / "target/release/graphetl"))
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    mock = subprocess.Popen([args.graphetl, "mock-neptune", "--latency-ms", str(args.latency_ms)], stdout=subprocess.PIPE, text=True)
    try:
        endpoint = mock.stdout.readline().strip() if mock.stdout else ""
        if not endpoint.startswith("http://"):
            raise SystemExit("mock-neptune did not start")
        with tempfile.TemporaryDirectory() as tmp:
            small = Path(tmp) / "seed000"
            small.mkdir()
            wall, small_report = run_load(args.graphetl, endpoint, *workload(small, 40, 100, 0), args.writers)
            optimum = math.ceil(small_report["records"] / 200)
            print("## seed-000 workload: 100 call relations among 40 services\n")
            print(f"- records {small_report['records']}, requests {small_report['requests']} (optimum ceil(records/200) = {optimum}; "
                  f"target <= {optimum + 1}: {'PASS' if small_report['requests'] <= optimum + 1 else 'FAIL'})")
            print(f"- wall time including process start: {wall:.3f} s (target <= 0.3 s: {'PASS' if wall <= 0.3 else 'FAIL'}); "
                  f"the original loader: ~700 requests, 30+ s; its optimized version: ~180 requests, 3-5 s")
            # Calibrate the round trip: one writer, requests one after another. The stand-in's
            # answer takes the configured latency plus its timer's rounding and request parsing.
            calibration = Path(tmp) / "calibration"
            calibration.mkdir()
            _, one = run_load(args.graphetl, endpoint, *workload(calibration, 100, 2_000, 2), 1)
            rtt = one["seconds"] / one["requests"]
            big = Path(tmp) / "big"
            big.mkdir()
            wall, big_report = run_load(args.graphetl, endpoint, *workload(big, 5_000, 100_000, 1), args.writers)
            rate = big_report["records"] / big_report["seconds"]
            ideal = args.writers * 200 / rtt
            nominal = args.writers * 200 / (args.latency_ms / 1000)
            print(f"\n## 100,000 edges among 5,000 services, {args.writers} writers, {args.latency_ms} ms stand-in latency\n")
            print(f"- measured round trip with one writer: {rtt * 1000:.1f} ms ({one['requests']} requests)")
            print(f"- records {big_report['records']} in {big_report['requests']} requests, {big_report['seconds']:.2f} s in the sink "
                  f"({wall:.2f} s wall): {rate:,.0f} records/s")
            print(f"- ideal writers x 200 / RTT = {ideal:,.0f} records/s with the measured RTT: ratio {rate / ideal:.1%} "
                  f"(target >= 90%: {'PASS' if rate / ideal >= 0.9 else 'FAIL'}); against the nominal {args.latency_ms} ms: "
                  f"{nominal:,.0f} records/s, ratio {rate / nominal:.1%}")
    finally:
        mock.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
