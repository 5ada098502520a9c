#!/usr/bin/env python3
"""Transform benchmark: graphetl vs DuckDB, Polars and the pandas + pyarrow baseline on a messy
service-calls CSV, side by side in one run.

    pip install duckdb polars pandas pyarrow
    cargo build --release -p graphetl-cli
    python3 bench/transform_bench.py                      # 1,000,000 rows, every tool
    python3 bench/transform_bench.py --gb 1               # + a ~1 GiB input (not pandas: it holds
                                                          #   the whole file in memory)
    python3 bench/transform_bench.py --peers duckdb       # graphetl and the named peers only

    cargo build --release -p graphetl-transform --example partitions_bench
    python3 bench/transform_bench.py --partitions         # many partitions, the engine only

The peers (bench/duckdb_transform.py, bench/polars_transform.py, bench/pandas_transform.py) do
the conversions of bench/service-calls-csv.toml and agree exactly with graphetl on rows written
and rejected; the script warns when any two tools disagree.

A benchmark, not a timed test: it prints a Markdown table (rows in/written/rejected, seconds,
rows/s, CPU seconds, peak RSS) and PASS/FAIL against the targets, and exits non-zero only when a
tool crashes (or cannot be started), never because a target was missed.

Targets (from the issues):
  * graphetl rows/s >= 1.5x the fastest peer's, at <= 0.5x that peer's peak RSS (1M rows, GB)
  * graphetl rows/s >= 10x pandas rows/s, peak RSS <= 0.25x pandas peak RSS
  * a ~1 GB input transformed by graphetl with peak RSS <= 512 MiB (--gb)

Each tool runs as a child process; wall time is measured around the child, peak RSS is the
child's ru_maxrss from os.wait4 (KiB on Linux), CPU seconds are its user + system time. Input
files are generated once per (rows, seed, generator version) under --work and reused.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
import gen_service_calls as gen  # noqa: E402

SPEED_TARGET = 10.0        # graphetl rows/s / pandas rows/s >=
RSS_TARGET = 0.25          # graphetl RSS / pandas RSS <=
PEER_SPEED_TARGET = 1.5    # graphetl rows/s / fastest peer's rows/s >=
PEER_RSS_TARGET = 0.5      # graphetl RSS / that peer's RSS <=
# The peers: name in the table, script, Python module it needs, runs on the GB input.
PEERS = {
    "duckdb": ("duckdb", "duckdb_transform.py", "duckdb", True),
    "polars": ("polars", "polars_transform.py", "polars", True),
    "pandas": ("pandas+pyarrow", "pandas_transform.py", "pandas", False),
}
GB_RSS_TARGET_MIB = 512.0  # graphetl peak RSS on the GB input <=
KEYS = ("rows_in", "rows_written", "rows_rejected")


def ensure_input(path: Path, rows: int, seed: int, target_bytes: int | None) -> dict:
    meta_path = Path(str(path) + ".meta.json")
    if path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if (meta.get("generator_version") == gen.GENERATOR_VERSION
                and meta.get("seed") == seed
                and meta.get("distinct_rows") == rows
                and meta.get("target_bytes") == target_bytes
                and meta.get("bytes") == path.stat().st_size):
            print(f"reusing {rel(path)} ({meta['rows']:,} rows, {meta['bytes'] / 2**20:,.0f} MiB)",
                  flush=True)
            return meta
    what = f"~{target_bytes / 2**30:g} GiB" if target_bytes else f"{rows:,} rows"
    print(f"generating {rel(path)} ({what}, seed {seed}) ...", flush=True)
    meta = gen.generate(str(path), rows, seed, target_bytes, quiet=True)
    print(f"  {meta['rows']:,} rows, {meta['bytes'] / 2**20:,.0f} MiB, {meta['bad_rows']:,} bad rows, "
          f"{meta['seconds']:.1f} s ({meta['distinct_rows'] / meta['seconds']:,.0f} rows/s)",
          flush=True)
    return meta


def rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def find_counts(obj):
    """Breadth-first search for a dict holding rows_in/rows_written/rows_rejected."""
    queue = [obj]
    while queue:
        o = queue.pop(0)
        if isinstance(o, dict):
            if all(k in o for k in KEYS):
                return {k: o[k] for k in KEYS}
            queue.extend(o.values())
        elif isinstance(o, list):
            queue.extend(o)
    return None


def parse_result(stdout: str):
    """The last stdout line that is a JSON object with the counts (or the whole stdout as JSON)."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        try:
            counts = find_counts(json.loads(line))
        except ValueError:
            continue
        if counts:
            return counts
    try:
        return find_counts(json.loads(stdout))
    except ValueError:
        return None


def run_tool(name: str, cmd: list[str], out_dir: Path, fallback_rows: int) -> dict:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    log_out = out_dir.parent / f"{out_dir.name}.stdout.log"
    log_err = out_dir.parent / f"{out_dir.name}.stderr.log"
    print(f"running {name}: {' '.join(cmd)}", flush=True)
    with open(log_out, "wb") as so, open(log_err, "wb") as se:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=so, stderr=se, stdin=subprocess.DEVNULL, cwd=REPO)
        except OSError as e:
            print(f"ERROR: cannot start {name}: {e}", file=sys.stderr)
            return {"tool": name, "crashed": True, "exit": None}
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code               # already reaped by wait4
    stdout = log_out.read_text(errors="replace")
    res = {
        "tool": name,
        "exit": code,
        "crashed": code != 0,
        "seconds": seconds,
        "peak_rss_mib": usage.ru_maxrss / 1024.0,          # ru_maxrss is KiB on Linux
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "stdout_log": str(log_out),
        "stderr_log": str(log_err),
    }
    counts = parse_result(stdout)
    if counts is None:
        print(f"WARNING: {name} printed no JSON object with {', '.join(KEYS)} on stdout "
              f"(see {rel(log_out)}); using the generator's row count for rows/s", file=sys.stderr)
        counts = {"rows_in": None, "rows_written": None, "rows_rejected": None}
    res.update(counts)
    rows = counts["rows_in"] if isinstance(counts["rows_in"], int) else fallback_rows
    res["rows_per_s"] = rows / seconds if seconds > 0 else float("inf")
    if res["crashed"]:
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        print(f"ERROR: {name} failed ({how}); last stderr lines:", file=sys.stderr)
        tail = log_err.read_text(errors="replace").splitlines()[-20:]
        for line in tail:
            print(f"  | {line}", file=sys.stderr)
    return res


def fmt_int(v) -> str:
    return f"{v:,}" if isinstance(v, int) else "?"


def table(results: list[dict]) -> str:
    lines = ["| tool | rows in | rows written | rows rejected | seconds | rows/s | CPU s | rows/CPU-s | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.get("seconds") is None:
            lines.append(f"| {r['tool']} | – | – | – | – | – | – | – | – |")
            continue
        crashed = " (CRASHED)" if r["crashed"] else ""
        cpu = r["user_s"] + r["sys_s"]
        per_cpu = f"{r['rows_in'] / cpu:,.0f}" if isinstance(r["rows_in"], int) and cpu > 0 else "?"
        lines.append(f"| {r['tool']}{crashed} | {fmt_int(r['rows_in'])} | {fmt_int(r['rows_written'])} "
                     f"| {fmt_int(r['rows_rejected'])} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} "
                     f"| {cpu:.2f} | {per_cpu} | {r['peak_rss_mib']:,.1f} |")
    return "\n".join(lines)


def check_agreement(results: list[dict], meta: dict) -> None:
    """Both tools (and the generator's count of planted bad rows) should agree; warn if not."""
    expected = {"rows_in": meta["rows"], "rows_rejected": meta["bad_rows"],
                "rows_written": meta["rows"] - meta["bad_rows"]}
    ok = [r for r in results if not r["crashed"]]
    for r in ok:
        for k in KEYS:
            if r.get(k) is not None and r[k] != expected[k]:
                print(f"WARNING: {r['tool']} reports {k} = {r[k]:,}; the generator expects "
                      f"{expected[k]:,} (it planted {meta['bad_rows']:,} bad rows in {meta['rows']:,})")
    for i, a in enumerate(ok):
        for b in ok[i + 1:]:
            for k in ("rows_written", "rows_rejected"):
                if a.get(k) is not None and b.get(k) is not None and a[k] != b[k]:
                    print(f"WARNING: tools disagree on {k}: {a['tool']} {a[k]:,} vs {b['tool']} {b[k]:,} "
                          f"(difference {a[k] - b[k]:+,}); conversion semantics differ")
    if len(ok) > 1 and all(r.get(k) == ok[0].get(k) for r in ok for k in KEYS):
        print(f"- all {len(ok)} tools agree: {ok[0]['rows_written']:,} rows written, "
              f"{ok[0]['rows_rejected']:,} rejected")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def versions() -> str:
    parts = [f"python {platform.python_version()}"]
    for pkg in ("duckdb", "polars", "pandas", "pyarrow", "numpy"):
        try:
            parts.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{pkg} missing")
    return ", ".join(parts)


PARTITION_CASES = (          # (name, rows, hourly partitions)
    ("48 hourly partitions", 1_000_000, 48),
    ("3 years hourly", 5_000_000, 3 * 8_768),
    ("10 years hourly", 5_000_000, 87_660),
)


def run_partitions(binary: Path, work: Path, seed: int) -> int:
    """The engine alone (crates/transform/examples/partitions_bench) on files over many
    partitions: rows/s of the transform and the process's peak RSS (VmHWM), one process a case."""
    if not os.access(binary, os.X_OK):
        print(f"ERROR: {binary} not found; build it with: cargo build --release "
              f"-p graphetl-transform --example partitions_bench", file=sys.stderr)
        return 2
    work.mkdir(parents=True, exist_ok=True)
    lines = ["| case | rows in | rows written | rows rejected | partitions | seconds | rows/s | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    crashed = False
    for name, rows, hours in PARTITION_CASES:
        path = work / f"partitions-{rows}-{hours}h-s{seed}.csv"
        if not path.exists():
            print(f"generating {rel(path)} ({rows:,} rows over {hours:,} hours) ...", flush=True)
            subprocess.run([str(binary), "gen", str(path), "--rows", str(rows), "--hours", str(hours),
                            "--seed", str(seed)], check=True)
        print(f"running {name} ...", flush=True)
        proc = subprocess.run([str(binary), "run", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"ERROR: {name}: {proc.stderr.strip()}", file=sys.stderr)
            crashed = True
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        lines.append(f"| {name} | {r['rows_in']:,} | {r['rows_written']:,} | {r['rows_rejected']:,} "
                     f"| {r['partitions']:,} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} "
                     f"| {r['peak_rss_mib']:,.1f} |")
        if hours > 10_000:
            ok = r["peak_rss_mib"] <= GB_RSS_TARGET_MIB
            lines.append(f"|   peak RSS ≤ {GB_RSS_TARGET_MIB:g} MiB | {verdict(ok)} | | | | | | |")
    print("\n## Partitions (engine only)\n")
    print("\n".join(lines))
    return 1 if crashed else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="graphetl vs DuckDB, Polars and pandas+pyarrow transform benchmark")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the main input (default 1000000)")
    p.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    p.add_argument("--graphetl", default=None, help="graphetl binary (default target/release/graphetl)")
    p.add_argument("--dataset", default=None, help="dataset spec (default bench/service-calls-csv.toml)")
    p.add_argument("--work", default=None, help="work dir for inputs and outputs (default bench/out)")
    p.add_argument("--peers", default="duckdb,polars,pandas",
                   help="comma-separated peers to run beside graphetl: duckdb, polars, pandas "
                        "(default all three; empty for none)")
    p.add_argument("--skip-pandas", action="store_true", help="leave pandas out of --peers")
    p.add_argument("--skip-graphetl", action="store_true",
                   help="run the peers only (to check the peers themselves)")
    p.add_argument("--gb", type=float, default=None,
                   help="also transform a ~X GiB input with graphetl, DuckDB and Polars and check "
                        "graphetl's peak RSS <= 512 MiB")
    p.add_argument("--json-out", default=None, help="also write all results as JSON to this file")
    p.add_argument("--partitions", action="store_true",
                   help="only the many-partitions cases, with the partitions_bench example binary")
    p.add_argument("--partitions-bin", default=None,
                   help="partitions_bench binary (default target/release/examples/partitions_bench)")
    a = p.parse_args(argv)

    if a.partitions:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        binary = Path(a.partitions_bin) if a.partitions_bin else target / "release" / "examples" / "partitions_bench"
        return run_partitions(binary.resolve(), Path(a.work or BENCH / "out").resolve(), a.seed)

    graphetl = Path(a.graphetl) if a.graphetl else REPO / "target" / "release" / "graphetl"
    dataset = Path(a.dataset) if a.dataset else BENCH / "service-calls-csv.toml"
    work = Path(a.work) if a.work else BENCH / "out"
    graphetl, dataset, work = graphetl.resolve(), dataset.resolve(), work.resolve()
    if a.rows <= 0:
        p.error("--rows must be positive")
    peers = [name.strip() for name in a.peers.split(",") if name.strip()]
    unknown = [name for name in peers if name not in PEERS]
    if unknown:
        p.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    if a.skip_pandas:
        peers = [name for name in peers if name != "pandas"]
    for name in list(peers):
        if importlib.util.find_spec(PEERS[name][2]) is None:
            print(f"WARNING: {PEERS[name][2]} is not installed (pip install {PEERS[name][2]}); "
                  f"{name} is left out", file=sys.stderr)
            peers.remove(name)
    if not peers and a.skip_graphetl:
        p.error("nothing to run")
    if not a.skip_graphetl and not os.access(graphetl, os.X_OK):
        print(f"ERROR: graphetl binary not found or not executable: {graphetl}\n"
              f"       build it with: cargo build --release -p graphetl-cli", file=sys.stderr)
        return 2
    work.mkdir(parents=True, exist_ok=True)

    print(f"# transform benchmark\n\n{os.cpu_count()} CPUs, {platform.platform()}; {versions()}\n",
          flush=True)
    csv_path = work / f"service-calls-{a.rows}-s{a.seed}.csv"
    meta = ensure_input(csv_path, a.rows, a.seed, None)

    def run_all(path: Path, suffix: str, rows: int, gb: bool) -> list[dict]:
        out = []
        tag = suffix.strip().replace(" ", "-").strip("()")
        if not a.skip_graphetl:
            out.append(run_tool(f"graphetl{suffix}", [str(graphetl), "transform", "--dataset", str(dataset),
                                                      "--input", str(path),
                                                      "--output-dir", str(work / f"graphetl{tag}")],
                                work / f"graphetl{tag}", rows))
        for name in peers:
            tool, script, _, on_gb = PEERS[name]
            if gb and not on_gb:
                print(f"{tool}: not run on the GB input (it reads the whole file into memory)")
                continue
            out.append(run_tool(f"{tool}{suffix}", [sys.executable, str(BENCH / script), "--input", str(path),
                                                   "--output-dir", str(work / f"{name}{tag}")],
                                work / f"{name}{tag}", rows))
        return out

    def ratios(results: list[dict], label: str) -> dict:
        g = next((r for r in results if r["tool"].startswith("graphetl")), None)
        done = [r for r in results if not r["crashed"] and r is not g]
        if g is None or g["crashed"] or not done:
            return {}
        out = {}
        cpu = g["user_s"] + g["sys_s"]
        print(f"- graphetl: {g['rows_in'] / max(cpu, 1e-9):,.0f} rows per CPU-second "
              f"({cpu:.2f} CPU s over {g['seconds']:.2f} s wall)")
        for r in done:
            speed, rss = g["rows_per_s"] / r["rows_per_s"], g["peak_rss_mib"] / r["peak_rss_mib"]
            out[r["tool"]] = {"rows_per_s": speed, "peak_rss": rss}
            print(f"- graphetl / {r['tool']}: **{speed:.2f}×** the rows/s at **{rss:.3f}×** the peak RSS")
        fastest = max(done, key=lambda r: r["rows_per_s"])
        speed, rss = out[fastest["tool"]]["rows_per_s"], out[fastest["tool"]]["peak_rss"]
        print(f"- {label}, fastest peer {fastest['tool']}: rows/s ratio {speed:.2f}× — target ≥ "
              f"{PEER_SPEED_TARGET:g}× → {verdict(speed >= PEER_SPEED_TARGET)}; peak RSS ratio {rss:.3f}× — "
              f"target ≤ {PEER_RSS_TARGET:g}× → {verdict(rss <= PEER_RSS_TARGET)}")
        pandas = next((r for r in done if r["tool"].startswith("pandas")), None)
        if pandas:
            speed, rss = out[pandas["tool"]]["rows_per_s"], out[pandas["tool"]]["peak_rss"]
            print(f"- vs pandas: rows/s {speed:.1f}× — target ≥ {SPEED_TARGET:g}× → {verdict(speed >= SPEED_TARGET)}; "
                  f"peak RSS {rss:.3f}× — target ≤ {RSS_TARGET:g}× → {verdict(rss <= RSS_TARGET)}")
        return out

    results = run_all(csv_path, "", meta["rows"], gb=False)
    print(f"\n## {meta['rows']:,}-row CSV ({meta['bytes'] / 2**20:,.0f} MiB, "
          f"{meta['bad_rows']:,} planted bad rows)\n")
    print(table(results))
    print()
    check_agreement(results, meta)
    summary = {"input": {"path": str(csv_path), **meta}, "results": results,
               "ratios": ratios(results, f"{meta['rows']:,} rows")}

    if a.gb:
        target = int(a.gb * 2**30)
        gb_path = work / f"service-calls-{a.gb:g}gib-s{a.seed}.csv"
        print()
        gmeta = ensure_input(gb_path, min(a.rows, 1_000_000), a.seed, target)
        gb_results = run_all(gb_path, " (GB input)", gmeta["rows"], gb=True)
        results.extend(gb_results)
        print(f"\n## ~{a.gb:g} GiB CSV ({gmeta['bytes'] / 2**20:,.0f} MiB, {gmeta['rows']:,} rows, "
              f"{gmeta['bad_rows']:,} planted bad rows)\n")
        print(table(gb_results))
        print()
        check_agreement(gb_results, gmeta)
        summary["gb"] = {"input": {"path": str(gb_path), **gmeta}, "results": gb_results,
                         "ratios": ratios(gb_results, f"~{a.gb:g} GiB")}
        g = next((r for r in gb_results if r["tool"].startswith("graphetl")), None)
        if g and not g["crashed"]:
            print(f"- graphetl peak RSS: **{g['peak_rss_mib']:,.1f} MiB** — target ≤ {GB_RSS_TARGET_MIB:g} MiB "
                  f"→ {verdict(g['peak_rss_mib'] <= GB_RSS_TARGET_MIB)}")

    if a.json_out:
        Path(a.json_out).write_text(json.dumps(summary, indent=2, default=str) + "\n")

    crashed = [r["tool"] for r in results if r["crashed"]]
    if crashed:
        print(f"\nERROR: crashed: {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
