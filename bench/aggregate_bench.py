#!/usr/bin/env python3
"""Aggregation benchmark: `graphetl aggregate` (DataFusion, the dataset's SQL) over 1,000,000
curated service-call rows, beside DuckDB running the same SQL and the same aggregation in
pandas, in one run (each peer when its package is installed).

    pip install duckdb pandas pyarrow
    cargo build --release -p graphetl-cli
    python3 bench/aggregate_bench.py [--graphetl PATH] [--rows N] [--runs 3] [--peers duckdb,pandas]

1. Generates N clean service-call rows (default 1,000,000; seeded, every row valid) as --files
   headered CSV files matching bench/service-calls-csv.toml: 120 services with power-law
   caller/callee, timestamps on 2026-11-20 and 2026-11-21 between 00:00 and 06:00 UTC (12
   dt/hour partitions), some null status/bytes/success values, ~6% error statuses.
2. Transforms them with the release `graphetl transform` (bench/service-calls-csv.toml, the CSV
   variant of the spec) into DIR/data/curated/service-calls/ (one Parquet file per raw file and
   partition), checking that every row was written.
3. Times `graphetl aggregate --dataset datasets/service-calls.toml` (same columns and layout; its
   edges and services queries, chunk files written) --runs times and reports the median wall time, rows/s (curated rows / median
   seconds), CPU seconds and peak RSS; checks that sum(edges.requests) and
   sum(services.requests_in) equal the curated rows.
4. If `import pandas, pyarrow` works: times bench/pandas_aggregate.py (the same two queries in
   pandas, exact quantiles) the same way, compares its results with graphetl's (pairs, requests,
   errors, bytes exactly; percentiles as relative differences, since the SQL's
   approx_percentile is a t-digest) and reports the ratios.
5. If `import duckdb` works: times bench/duckdb_aggregate.py (the dataset's own edges.sql and
   services.sql, unchanged, over the same Parquet; approx_percentile as exact quantile_cont, as
   graphetl's local engine computes it) the same way and compares its edges with graphetl's:
   pairs, requests, errors and bytes exactly, percentiles as relative differences (both exact).
   Target: graphetl >= 1x DuckDB's rows/s.

A benchmark, not a timed test: it exits non-zero only when a tool fails or the results disagree
on counts. Wall time is measured around each child process (start-up included); peak RSS comes
from `/usr/bin/time -v` when present, else from the child's rusage (os.wait4). Inputs and the
curated data are kept in DIR (default bench/out/aggregate, git-ignored) and reused while the
generator settings match.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
import gen_service_calls as gen  # noqa: E402

GENERATOR_VERSION = 1
HEADER = gen.HEADER
DAYS_MS = [1795132800000, 1795132800000 + 86_400_000]   # 2026-11-20, 2026-11-21 (UTC midnight)
WINDOW_MS = 6 * 3600 * 1000                              # 00:00-06:00 each day: 12 partitions
STATUS_OK = [200] * 80 + [201] * 6 + [204] * 4 + [301, 304]
STATUS_ERR = [400, 404, 409, 429, 500, 500, 502, 503, 504]
TIME_V = Path("/usr/bin/time")


def rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def iso(ms: int) -> str:
    secs, milli = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{milli:03d}Z"


def generate(raw: Path, rows: int, files: int, seed: int) -> None:
    """`files` CSV files of clean rows, `rows` in total."""
    rng = random.Random(seed)
    names, cum = gen.services_and_weights()
    callers = rng.choices(names, cum_weights=cum, k=1 << 16)
    latencies = [f"{rng.lognormvariate(3.0, 1.0):.3f}" for _ in range(1 << 15)]
    byte_pool = [str(int(rng.paretovariate(1.2) * 200)) for _ in range(1 << 15)]
    rand = rng.random
    nc, nl, nb = len(callers), len(latencies), len(byte_pool)
    raw.mkdir(parents=True, exist_ok=True)
    per_file = [rows // files + (1 if i < rows % files else 0) for i in range(files)]
    for i, n in enumerate(per_file):
        with open(raw / f"calls-{i:02d}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            for _ in range(n):
                caller = callers[int(rand() * nc)]
                callee = callers[int(rand() * nc)]
                if callee == caller:
                    callee = names[(int(caller[4:]) + 1 + int(rand() * 7)) % gen.N_SERVICES]
                error = rand() < 0.06
                pool = STATUS_ERR if error else STATUS_OK
                status = pool[int(rand() * len(pool))]
                ts = DAYS_MS[int(rand() * 2)] + int(rand() * WINDOW_MS)
                r = rand()
                w.writerow([
                    iso(ts), caller, callee, "grpc" if r < 0.4 else "http", "/api/v1/call",
                    "" if r < 0.01 else status,                       # null status
                    latencies[int(rand() * nl)],
                    "" if 0.01 <= r < 0.03 else byte_pool[int(rand() * nb)],   # null bytes
                    "" if 0.03 <= r < 0.05 else ("false" if status >= 400 else "true"),
                    f"{rand() * 10:.4f}", "prod,eu-west",
                ])


def ensure_curated(graphetl: Path, dataset: Path, work: Path, rows: int, files: int,
                   seed: int) -> tuple[Path, int]:
    """The curated folder and its row count, generated and transformed unless already there."""
    meta_path = work / "curated.meta.json"
    curated = work / "data" / "curated" / "service-calls"
    want = {"generator_version": GENERATOR_VERSION, "rows": rows, "files": files, "seed": seed}
    if meta_path.exists() and curated.is_dir():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if {k: meta.get(k) for k in want} == want:
            print(f"reusing {rel(curated)} ({meta['rows_written']:,} rows, "
                  f"{meta['parquet_files']} Parquet files)", flush=True)
            return curated, meta["rows_written"]
    for d in (work / "raw", work / "data"):
        if d.exists():
            shutil.rmtree(d)
    print(f"generating {rows:,} rows in {files} CSV files (seed {seed}) ...", flush=True)
    t0 = time.perf_counter()
    generate(work / "raw", rows, files, seed)
    print(f"  {time.perf_counter() - t0:.1f} s", flush=True)
    written = 0
    t0 = time.perf_counter()
    for path in sorted((work / "raw").glob("*.csv")):
        out = subprocess.run([str(graphetl), "transform", "--dataset", str(dataset),
                              "--input", str(path), "--output-dir", str(work / "data")],
                             capture_output=True, text=True, cwd=REPO, check=False)
        if out.returncode != 0:
            raise SystemExit(f"graphetl transform {path} failed:\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if result["rows_rejected"]:
            raise SystemExit(f"{path}: {result['rows_rejected']} rows rejected; the generator "
                             f"writes only valid rows")
        written += result["rows_written"]
    parquet = sorted(curated.rglob("*.parquet"))
    print(f"transformed into {rel(curated)}: {written:,} rows, {len(parquet)} Parquet files in "
          f"{len({p.parent for p in parquet})} partitions, "
          f"{sum(p.stat().st_size for p in parquet) / 2**20:,.1f} MiB, "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    if written != rows:
        raise SystemExit(f"expected {rows:,} curated rows, got {written:,}")
    meta_path.write_text(json.dumps({**want, "rows_written": written,
                                     "parquet_files": len(parquet)}) + "\n")
    return curated, written


def timed(cmd: list[str], log: Path) -> dict:
    """Runs `cmd` once; wall seconds, CPU seconds, peak RSS (MiB) and its stdout."""
    with tempfile.NamedTemporaryFile(prefix="time-v-", suffix=".txt", delete=False) as tf:
        time_file = Path(tf.name)
    full = [str(TIME_V), "-v", "-o", str(time_file), *cmd] if TIME_V.exists() else cmd
    with open(log.with_suffix(".stdout.log"), "wb") as so, \
            open(log.with_suffix(".stderr.log"), "wb") as se:
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=so, stderr=se, stdin=subprocess.DEVNULL, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    rss_kib, source = usage.ru_maxrss, "rusage"
    if TIME_V.exists():
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_file.read_text())
        if m:
            rss_kib, source = int(m.group(1)), "time -v"
    time_file.unlink(missing_ok=True)
    stdout = log.with_suffix(".stdout.log").read_text(errors="replace")
    if code != 0:
        tail = log.with_suffix(".stderr.log").read_text(errors="replace").splitlines()[-20:]
        raise SystemExit(f"{' '.join(cmd)} failed (exit {code}):\n" + "\n".join(tail))
    return {"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": rss_kib / 1024.0, "rss_source": source, "stdout": stdout}


def runs(name: str, cmd: list[str], n: int, work: Path) -> dict:
    print(f"running {name} x{n}: {' '.join(cmd)}", flush=True)
    results = []
    for i in range(n):
        r = timed(cmd, work / f"{name}-{i}")
        print(f"  run {i + 1}: {r['seconds']:.2f} s, {r['cpu_s']:.2f} CPU s, "
              f"{r['peak_rss_mib']:,.0f} MiB", flush=True)
        results.append(r)
    return {"tool": name, "runs": results,
            "seconds": statistics.median(r["seconds"] for r in results),
            "cpu_s": statistics.median(r["cpu_s"] for r in results),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
            "rss_source": results[-1]["rss_source"], "stdout": results[-1]["stdout"]}


def typed(value: str, ty: str):
    if value == "":
        return None
    return {"int": int, "float": float}.get(ty, str)(value)


def read_chunks(folder: Path, stem: str) -> list[dict]:
    """The rows of graphetl's typed chunk files `<stem>-NNNNN.csv`."""
    rows = []
    for path in sorted(folder.glob(f"{stem}-*.csv")):
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = [h.rsplit(":", 1) for h in next(reader)]
            for record in reader:
                rows.append({name: typed(v, ty) for (name, ty), v in zip(header, record)})
    return rows


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


BIG_GROUP = 1000   # percentile differences are also reported for pairs with this many requests


def compare(g_edges: list[dict], p_edges: list[dict]) -> dict:
    """Exact agreement on pairs, requests, errors, bytes; percentile differences (relative to
    pandas' exact value) as the median over all pairs and the largest over pairs with at least
    BIG_GROUP requests (on a few values a t-digest and linear interpolation can pick different
    neighbours, so small groups differ most)."""
    by = {(r["caller"], r["callee"]): r for r in p_edges}
    keys = ("p50_ms", "p95_ms", "p99_ms")
    mismatched, diffs, big = 0, {k: [] for k in keys}, {k: 0.0 for k in keys}
    for r in g_edges:
        p = by.get((r["caller"], r["callee"]))
        if p is None or r["requests"] != int(p["requests"]) or r["errors"] != int(p["errors"]) \
                or r["bytes"] != (int(float(p["bytes"])) if p["bytes"] else None):
            mismatched += 1
            continue
        for k in keys:
            exact = float(p[k])
            if exact:
                d = abs(r[k] - exact) / exact
                diffs[k].append(d)
                if r["requests"] >= BIG_GROUP:
                    big[k] = max(big[k], d)
    return {"pairs": (len(g_edges), len(p_edges)), "mismatched": mismatched,
            "big_pairs": sum(1 for r in g_edges if r["requests"] >= BIG_GROUP),
            "median_rel_diff": {k: statistics.median(v) if v else 0.0 for k, v in diffs.items()},
            "max_rel_diff_big": big}


def versions() -> str:
    parts = [f"python {platform.python_version()}"]
    for pkg in ("duckdb", "pandas", "pyarrow"):
        try:
            parts.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{pkg} missing")
    return ", ".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="graphetl aggregate benchmark beside DuckDB and pandas")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    p.add_argument("--graphetl", default=str(target / "release" / "graphetl"),
                   help="graphetl binary (default $CARGO_TARGET_DIR or target/, release/graphetl)")
    p.add_argument("--rows", type=int, default=1_000_000, help="curated rows (default 1000000)")
    p.add_argument("--files", type=int, default=4, help="raw CSV files (default 4)")
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per tool (default 3)")
    p.add_argument("--work", default=str(BENCH / "out" / "aggregate"),
                   help="work dir (default bench/out/aggregate)")
    p.add_argument("--skip-pandas", action="store_true", help="leave pandas out")
    p.add_argument("--peers", default="duckdb,pandas",
                   help="comma-separated peers: duckdb, pandas (default both; empty for none)")
    p.add_argument("--json-out", default=None, help="also write all figures as JSON to this file")
    a = p.parse_args(argv)
    graphetl, work = Path(a.graphetl).resolve(), Path(a.work).resolve()
    transform_spec = BENCH / "service-calls-csv.toml"     # the CSV input variant (no queries)
    dataset = REPO / "datasets" / "service-calls.toml"     # same columns and layout, the SQL
    if a.rows <= 0 or a.files <= 0 or a.runs <= 0:
        p.error("--rows, --files and --runs must be positive")
    if not os.access(graphetl, os.X_OK):
        print(f"ERROR: graphetl binary not found or not executable: {graphetl}\n"
              f"       build it with: cargo build --release -p graphetl-cli", file=sys.stderr)
        return 2
    work.mkdir(parents=True, exist_ok=True)
    print(f"# aggregation benchmark\n\n{os.cpu_count()} CPUs, {platform.platform()}; {versions()}; "
          f"peak RSS from {'/usr/bin/time -v' if TIME_V.exists() else 'rusage'}\n", flush=True)

    curated, rows = ensure_curated(graphetl, transform_spec, work, a.rows, a.files, a.seed)
    g_out = work / "graphetl-out"
    if g_out.exists():
        shutil.rmtree(g_out)
    g = runs("graphetl", [str(graphetl), "aggregate", "--dataset", str(dataset),
                          "--curated", str(curated), "--out", str(g_out)], a.runs, work)
    g_edges, g_services = read_chunks(g_out, "edges"), read_chunks(g_out, "services")
    counts = (sum(r["requests"] for r in g_edges), sum(r["requests_in"] for r in g_services),
              sum(r["requests_out"] for r in g_services))
    ok = counts == (rows, rows, rows)
    print(f"  graphetl: {len(g_edges):,} edges, {len(g_services):,} services; requests over edges "
          f"{counts[0]:,}, requests_in {counts[1]:,}, requests_out {counts[2]:,} "
          f"({'= the curated rows' if ok else f'MISMATCH: the curated rows are {rows:,}'})")
    g["rows_per_s"] = rows / g["seconds"]
    results = [g]

    peers = [name.strip() for name in a.peers.split(",") if name.strip()]
    if a.skip_pandas:
        peers = [name for name in peers if name != "pandas"]
    have = lambda modules: subprocess.run([sys.executable, "-c", f"import {modules}"],  # noqa: E731
                                          capture_output=True, check=False).returncode == 0
    have_pandas = "pandas" in peers and have("pandas, pyarrow")
    summary: dict = {"rows": rows, "cpus": os.cpu_count(), "versions": versions()}

    def run_peer(name: str, script: str) -> tuple[Path, dict]:
        """Times one peer script over the curated data; its edges compared with graphetl's."""
        out = work / f"{name}-out"
        r = runs(name, [sys.executable, str(BENCH / script), "--curated", str(curated), "--out", str(out)],
                 a.runs, work)
        r["rows_per_s"] = rows / r["seconds"]
        results.append(r)
        return out, compare(g_edges, read_csv(out / "edges.csv"))

    if "duckdb" in peers and have("duckdb"):
        d_out, cmp = run_peer("duckdb", "duckdb_aggregate.py")
        services = read_csv(d_out / "services.csv")
        same_services = sorted((r["name"], int(r["requests_in"]), int(r["requests_out"])) for r in services) \
            == sorted((r["name"], r["requests_in"], r["requests_out"]) for r in g_services)
        summary["comparison_duckdb"] = {**cmp, "services_equal": same_services}
        agree = cmp["pairs"][0] == cmp["pairs"][1] and cmp["mismatched"] == 0 and same_services
        ok = ok and agree
        worst = max(max(cmp["median_rel_diff"].values()), max(cmp["max_rel_diff_big"].values()))
        print(f"  duckdb vs graphetl: {cmp['pairs'][1]:,} vs {cmp['pairs'][0]:,} edges, "
              f"{cmp['mismatched']} with different requests/errors/bytes; services "
              f"{'equal' if same_services else 'DIFFERENT'}; percentiles (both exact) differ by at most "
              f"{worst:.2e} (relative, on the pairs compared)")
    elif "duckdb" in peers:
        print("duckdb missing: no DuckDB peer (pip install duckdb)")
    if have_pandas:
        _, cmp = run_peer("pandas", "pandas_aggregate.py")
        summary["comparison"] = cmp
        agree = cmp["pairs"][0] == cmp["pairs"][1] and cmp["mismatched"] == 0
        ok = ok and agree
        median = ", ".join(f"{k} {v:.2%}" for k, v in cmp["median_rel_diff"].items())
        big = ", ".join(f"{k} {v:.2%}" for k, v in cmp["max_rel_diff_big"].items())
        print(f"  pandas vs graphetl: {cmp['pairs'][1]:,} vs {cmp['pairs'][0]:,} edges, "
              f"{cmp['mismatched']} with different requests/errors/bytes; percentiles "
              f"(both exact) differ by a median of {median}; at most {big} over the "
              f"{cmp['big_pairs']:,} pairs with >= {BIG_GROUP:,} requests")
    elif "pandas" in peers:
        print("pandas or pyarrow missing: no pandas peer (pip install pandas pyarrow)")

    print(f"\n## {rows:,} curated rows, median of {a.runs} runs\n")
    print("| tool | seconds (median) | rows/s | CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['tool']} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} | {r['cpu_s']:.2f} "
              f"| {r['peak_rss_mib']:,.0f} |")
    print()
    summary["ratios"] = {}
    for peer in results[1:]:
        speed = results[0]["rows_per_s"] / peer["rows_per_s"]
        rss = results[0]["peak_rss_mib"] / peer["peak_rss_mib"]
        summary["ratios"][peer["tool"]] = {"rows_per_s": speed, "peak_rss": rss}
        goal = f" — target ≥ 1× → {'PASS' if speed >= 1.0 else 'FAIL'}" if peer["tool"] == "duckdb" else ""
        print(f"- graphetl / {peer['tool']}: **{speed:.2f}×** the rows/s{goal}, **{rss:.2f}×** the peak RSS")
    summary["results"] = [{k: v for k, v in r.items() if k != "stdout"} for r in results]
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
