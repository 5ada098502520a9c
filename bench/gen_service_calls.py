#!/usr/bin/env python3
"""Deterministic generator of a messy service-calls CSV for the transform benchmark.

    python3 bench/gen_service_calls.py --rows 1000000 --out bench/out/calls.csv [--seed 42]
    python3 bench/gen_service_calls.py --target-bytes 1073741824 --out bench/out/calls-1g.csv

Header: timestamp,caller,callee,protocol,endpoint,status,latency_ms,bytes,success,cost,tags
(the input field names of bench/service-calls-csv.toml).

What is in it (same seed -> byte-identical file):
  * 120 services `svc-000`..`svc-119`; caller and callee drawn from a power law (Zipf, s=1.1),
    callee != caller.
  * timestamps on 2026-11-20 between 00:00 and 06:00 UTC, written as
      ISO-8601 with `+00:00` (most), with `Z` (some without fractional seconds),
      with `+09:00` and `-05:00` (local wall time; the -05:00 ones show 2026-11-19 19:00-00:59,
      so partitioning must convert to UTC), naive `2026-11-20 03:04:05.123` (UTC),
      and epoch milliseconds `1795143845123`.
  * success as Y/N/y/n/1/0/true/false/yes/no; cost as `$1,234.50`, `12.5`, `(3.50)`, `-0.0012`, `$12`
    (never more than 4 decimals, so it fits decimal(14,4) exactly);
    tags as `prod,eu-west|canary`, with spaces around items and empty items (never all-empty);
    status ints, latency floats (`12.345`, `7`, `0.5`), bytes ints; endpoints sometimes contain
    commas or double quotes (CSV quoting).
  * null tokens ``, `NULL`, `NA`, `-` in the optional columns only
    (protocol, endpoint, status, bytes, success, cost, tags).
  * ~0.5% bad rows, each with exactly ONE defect, so every tool must reject exactly those rows:
    unparseable timestamp, latency_ms `fast`, success `maybe`, cost `12.345.6`, missing caller.

A sidecar `<out>.meta.json` records rows, bad rows (= the expected rejection count), seed, bytes and
the generator version; transform_bench.py uses it to decide whether a file can be reused.

--target-bytes B: generate `--rows` fresh rows (default 1,000,000) in chunks, then repeat those
chunks cyclically until the file holds at least B bytes (chunk granularity, ~6 MB). Used for the
"1 GB input in <= 512 MB RSS" run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sys
import time

GENERATOR_VERSION = 1
HEADER = ["timestamp", "caller", "callee", "protocol", "endpoint", "status",
          "latency_ms", "bytes", "success", "cost", "tags"]
N_SERVICES = 120
DAY_START_MS = 1795132800000          # 2026-11-20T00:00:00Z
WINDOW_MS = 6 * 3600 * 1000           # 00:00-06:00 UTC -> 6 hour partitions
CHUNK = 50_000
BAD_RATE = 0.005

NULLS = ["", "NULL", "NA", "-"]
TRUE_TOKENS = ["Y", "y", "1", "true", "yes"]
FALSE_TOKENS = ["N", "n", "0", "false", "no"]
BAD_TIMESTAMPS = ["yesterday", "2026-11-20T25:61:00Z", "2026-13-45 03:04:05.123",
                  "20/11/2026 03:04", "2026-11-20T03:04:05.123+25:00x"]
BAD_KINDS = ("timestamp", "latency", "bool", "cost", "caller")

ENDPOINTS = {
    "http": ["/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/users/{id}", "/api/v2/search",
             "/health", "/api/v1/cart/items", "/api/v1/payments", "/api/v1/inventory/{sku}",
             "/api/v2/search?q=a,b", "/api/v1/recommendations", "/login", "/api/v1/quote \"fast\""],
    "HTTP": ["/api/v1/orders", "/health"],
    "grpc": ["orders.OrderService/Get", "users.UserService/Lookup", "pay.Payments/Authorize",
             "inv.Inventory/Reserve", "search.Search/Query", "reco.Reco/Rank"],
    "kafka": ["orders.created", "payments.settled", "users.updated", "inventory.changed"],
}
PROTOCOLS = ["http"] * 50 + ["grpc"] * 32 + ["kafka"] * 12 + ["HTTP"] * 3
STATUS_OK = [200] * 80 + [201] * 6 + [204] * 4 + [301, 304]
STATUS_ERR = [400, 401, 403, 404, 404, 409, 429, 500, 500, 502, 503, 504]
TAG_ITEMS = ["prod", "eu-west", "us-east", "ap-northeast", "canary", "blue", "green",
             "batch", "internal", "retry", "v2"]


def services_and_weights():
    names = [f"svc-{i:03d}" for i in range(N_SERVICES)]
    weights = [1.0 / (i + 1) ** 1.1 for i in range(N_SERVICES)]
    cum, acc = [], 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    return names, cum


def fmt_ts(t: int, r: float) -> str:
    """Formats epoch millis `t` (within 2026-11-20 UTC) in one of the messy formats, chosen by r."""
    if r < 0.06:
        return str(t)                                            # epoch millis
    secs, ms = divmod(t - DAY_START_MS, 1000)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    if r < 0.58:
        return f"2026-11-20T{h:02d}:{m:02d}:{s:02d}.{ms:03d}+00:00"
    if r < 0.68:
        return f"2026-11-20T{h:02d}:{m:02d}:{s:02d}.{ms:03d}Z"
    if r < 0.72:
        return f"2026-11-20T{h:02d}:{m:02d}:{s:02d}Z"
    if r < 0.80:
        return f"2026-11-20T{h + 9:02d}:{m:02d}:{s:02d}.{ms:03d}+09:00"
    if r < 0.86:
        if h >= 5:
            return f"2026-11-20T{h - 5:02d}:{m:02d}:{s:02d}.{ms:03d}-05:00"
        return f"2026-11-19T{h + 19:02d}:{m:02d}:{s:02d}.{ms:03d}-05:00"
    return f"2026-11-20 {h:02d}:{m:02d}:{s:02d}.{ms:03d}"          # naive = UTC


def fmt_cost(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.30:
        cents = rng.randrange(0, 500_000)                         # $0.00 .. $4,999.99
        return "${:,}.{:02d}".format(cents // 100, cents % 100)
    if r < 0.55:
        return f"{rng.randrange(0, 100000) / 10:.1f}"             # 12.5
    if r < 0.65:
        cents = rng.randrange(1, 100_000)
        return f"({cents // 100}.{cents % 100:02d})"              # (3.50) = -3.50
    if r < 0.80:
        return f"-0.{rng.randrange(1, 10000):04d}"                # -0.0012
    if r < 0.90:
        return f"${rng.randrange(0, 100)}"                        # $12
    return f"{rng.randrange(0, 10_000_000) / 10000:.4f}"          # 123.4567


def fmt_tags(rng: random.Random) -> str:
    k = rng.randrange(1, 4)
    items = rng.sample(TAG_ITEMS, k)
    r = rng.random()
    if r < 0.5:
        return ",".join(items) if rng.random() < 0.5 else "|".join(items)
    if r < 0.75:
        # mixed separators with spaces: "prod , eu-west| canary"
        out = items[0]
        for it in items[1:]:
            out += rng.choice([",", "|", " , ", "| ", " |"]) + it
        return out
    # empty items: "prod,,canary|" / ",prod"
    out = rng.choice(["", " ", ",", "|"]) + items[0]
    for it in items[1:]:
        out += rng.choice([",,", "||", ", ,", ",|"]) + it
    return out + rng.choice(["", ",", "|", " | "])


def fmt_latency(rng: random.Random) -> str:
    lat = rng.lognormvariate(3.0, 1.0)
    r = rng.random()
    return f"{lat:.3f}" if r < 0.8 else (str(int(lat)) if r < 0.9 else f"{lat:.1f}")


class Pools:
    """Value pools drawn once from the seeded RNG; rows index them with rng.random() (fast)."""

    def __init__(self, rng: random.Random):
        self.names, cum = services_and_weights()
        self.callers = rng.choices(self.names, cum_weights=cum, k=1 << 16)
        self.costs = [fmt_cost(rng) for _ in range(1 << 15)]
        self.tags = [fmt_tags(rng) for _ in range(1 << 12)]
        self.latencies = [fmt_latency(rng) for _ in range(1 << 15)]
        self.bytes = [str(int(rng.paretovariate(1.2) * 200)) for _ in range(1 << 15)]
        self.endpoints = {k: v for k, v in ENDPOINTS.items()}


def gen_chunk(rng: random.Random, n: int, pools: Pools) -> tuple[list[list[str]], int]:
    """Returns (rows, number of bad rows)."""
    rand = rng.random
    names = pools.names
    callers, costs, tags_pool = pools.callers, pools.costs, pools.tags
    lats, byts, eps = pools.latencies, pools.bytes, pools.endpoints
    nc, nco, nt, nl, nb = len(callers), len(costs), len(tags_pool), len(lats), len(byts)
    n_protocols, n_ok, n_err = len(PROTOCOLS), len(STATUS_OK), len(STATUS_ERR)
    rows = []
    append = rows.append
    bad = 0
    for _ in range(n):
        caller = callers[int(rand() * nc)]
        callee = callers[int(rand() * nc)]
        if callee == caller:
            callee = names[(int(caller[4:]) + 1 + int(rand() * 7)) % N_SERVICES]
        proto = PROTOCOLS[int(rand() * n_protocols)]
        ep_list = eps[proto]
        endpoint = ep_list[int(rand() * len(ep_list))]
        if rand() < 0.06:
            status_i = STATUS_ERR[int(rand() * n_err)]
        else:
            status_i = STATUS_OK[int(rand() * n_ok)]
        status = str(status_i)
        latency = lats[int(rand() * nl)]
        nbytes = byts[int(rand() * nb)]
        if status_i < 400:
            success = TRUE_TOKENS[int(rand() * 5)]
        else:
            success = FALSE_TOKENS[int(rand() * 5)]
        cost = costs[int(rand() * nco)]
        r = rand()
        tags = tags_pool[int(rand() * nt)] if r < 0.85 else NULLS[int(rand() * 4)]
        # null tokens in optional columns
        r = rand()
        if r < 0.12:
            tok = NULLS[int(rand() * 4)]
            if r < 0.02:
                proto = tok
            elif r < 0.04:
                endpoint = tok
            elif r < 0.06:
                status = tok
            elif r < 0.08:
                nbytes = tok
            elif r < 0.10:
                success = tok
            else:
                cost = tok
        ts = fmt_ts(DAY_START_MS + int(rand() * WINDOW_MS), rand())
        if rand() < BAD_RATE:
            bad += 1
            kind = BAD_KINDS[int(rand() * len(BAD_KINDS))]
            if kind == "timestamp":
                ts = BAD_TIMESTAMPS[int(rand() * len(BAD_TIMESTAMPS))]
            elif kind == "latency":
                latency = "fast"
            elif kind == "bool":
                success = "maybe"
            elif kind == "cost":
                cost = "12.345.6"
            else:
                caller = ("", "", "NULL")[int(rand() * 3)]
        append([ts, caller, callee, proto, endpoint, status, latency, nbytes,
                success, cost, tags])
    return rows, bad


def generate(out: str, rows: int, seed: int, target_bytes: int | None = None,
             quiet: bool = False) -> dict:
    t0 = time.perf_counter()
    rng = random.Random(seed)
    pools = Pools(rng)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    written_rows = 0
    bad_rows = 0
    nbytes = 0
    keep = []                    # (text, rows, bad) per chunk, only for --target-bytes
    with open(tmp, "w", newline="", encoding="utf-8", buffering=1 << 22) as f:
        head = ",".join(HEADER) + "\n"
        f.write(head)
        nbytes += len(head)
        left = rows
        while left > 0:
            n = min(CHUNK, left)
            chunk, bad = gen_chunk(rng, n, pools)
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(chunk)
            text = buf.getvalue()
            f.write(text)
            nbytes += len(text)          # ASCII only -> chars == bytes
            written_rows += n
            bad_rows += bad
            left -= n
            if target_bytes:
                keep.append((text, n, bad))
        if target_bytes:
            i = 0
            while nbytes < target_bytes and keep:
                text, n, bad = keep[i % len(keep)]
                f.write(text)
                nbytes += len(text)
                written_rows += n
                bad_rows += bad
                i += 1
    os.replace(tmp, out)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "rows": written_rows,
        "distinct_rows": rows,
        "bad_rows": bad_rows,
        "bytes": os.path.getsize(out),
        "target_bytes": target_bytes,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    with open(out + ".meta.json", "w") as f:
        json.dump(meta, f)
        f.write("\n")
    if not quiet:
        print(json.dumps(meta))
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=None,
                   help="rows to generate (default 1000000); with --target-bytes: distinct rows "
                        "generated before the chunks are repeated")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--target-bytes", type=int, default=None,
                   help="repeat the generated chunks until the file has at least this many bytes")
    a = p.parse_args(argv)
    rows = a.rows if a.rows is not None else 1_000_000
    if rows <= 0:
        p.error("--rows must be positive")
    generate(a.out, rows, a.seed, a.target_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
