#!/usr/bin/env python3
"""The pandas baseline of the aggregation benchmark: datasets/service-calls/{edges,services}.sql
computed with pandas + pyarrow over the same curated Parquet.

    python3 bench/pandas_aggregate.py --curated DIR --out DIR

DIR is the curated folder (`…/curated/service-calls/`, with `dt=…/hour=…/` below it). Writes
`edges.csv` and `services.csv` to --out and prints one JSON line with the row counts.

What it computes, as the SQL does:
  * edges, per (caller, callee): requests = rows, errors = rows with ok = false or status >= 500
    (a null ok or status counts as "not an error", like SQL's CASE over NULL), error_rate,
    p50/p95/p99 of latency_ms (exact, linear interpolation: the SQL's approx_percentile is a
    t-digest), bytes = sum (null when every value is null), first_seen/last_seen = min/max ts;
  * services, per name seen as caller or callee: requests_in, requests_out, error_rate of the
    incoming calls (null without incoming calls).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

COLUMNS = ["ts", "caller", "callee", "ok", "status", "latency_ms", "bytes"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--curated", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)

    table = ds.dataset(a.curated, format="parquet", partitioning="hive").to_table(columns=COLUMNS)
    df = table.to_pandas()
    is_error = ((df["ok"] == False) | (df["status"] >= 500)).fillna(False).astype("int64")  # noqa: E712
    df = df.assign(is_error=is_error)

    g = df.groupby(["caller", "callee"], sort=False, observed=True)
    quantiles = g["latency_ms"].quantile([0.5, 0.95, 0.99]).unstack()
    edges = pd.DataFrame({
        "requests": g.size(),
        "errors": g["is_error"].sum(),
    })
    edges["error_rate"] = edges["errors"] / edges["requests"]
    edges["p50_ms"] = quantiles[0.5]
    edges["p95_ms"] = quantiles[0.95]
    edges["p99_ms"] = quantiles[0.99]
    edges["bytes"] = g["bytes"].sum(min_count=1)
    edges["first_seen"] = g["ts"].min()
    edges["last_seen"] = g["ts"].max()
    edges = edges.reset_index()

    outgoing = df.groupby("caller", sort=False, observed=True).size().rename("requests_out")
    incoming = df.groupby("callee", sort=False, observed=True).agg(
        requests_in=("is_error", "size"), errors_in=("is_error", "sum"))
    services = incoming.join(outgoing, how="outer")
    services.index.name = "name"
    services["requests_in"] = services["requests_in"].fillna(0).astype("int64")
    services["requests_out"] = services["requests_out"].fillna(0).astype("int64")
    services["error_rate"] = (services["errors_in"] / services["requests_in"]).where(
        services["requests_in"] > 0)
    services = services.drop(columns="errors_in").reset_index()

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    edges.to_csv(out / "edges.csv", index=False)
    services.to_csv(out / "services.csv", index=False)
    print(json.dumps({"rows": len(df), "edges": len(edges), "services": len(services)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
