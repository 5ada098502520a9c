#!/usr/bin/env python3
"""The DuckDB peer of the aggregation benchmark: the dataset's own SQL
(datasets/service-calls/{edges,services}.sql, unchanged) run by DuckDB over the same curated
Parquet.

    python3 bench/duckdb_aggregate.py --curated DIR --out DIR [--sql-dir datasets/service-calls]

DIR is the curated folder (`…/curated/service-calls/`, with `dt=…/hour=…/` below it), read as
one hive-partitioned `read_parquet` view (partition values kept as strings, as graphetl's
listing table has them). The SQL is rendered the way graphetl renders it: `{table}` is that view,
`{dt_from}`/`{dt_to}` cover every day. The one Trino function the SQL uses, `approx_percentile`,
is a macro over DuckDB's exact `quantile_cont` — the same choice graphetl's local engine makes
(exact, so results repeat), so percentiles can be compared exactly. Writes `edges.csv` and
`services.csv` to --out and prints one JSON line with the row counts. Uses every core (DuckDB's
default threads).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--curated", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sql-dir", default=str(REPO / "datasets" / "service-calls"))
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    con = duckdb.connect()
    pattern = str(Path(a.curated) / "**" / "*.parquet").replace("'", "''")
    con.execute(f"CREATE VIEW calls AS SELECT * FROM read_parquet('{pattern}', "
                "hive_partitioning = true, hive_types_autocast = false)")
    con.execute("CREATE MACRO approx_percentile(x, q) AS quantile_cont(x, q)")
    counts = {}
    for name in ("edges", "services"):
        sql = (Path(a.sql_dir) / f"{name}.sql").read_text()
        sql = sql.replace("{table}", "calls").replace("{dt_from}", "0000-01-01").replace("{dt_to}", "9999-12-31")
        target = str(out / f"{name}.csv").replace("'", "''")
        con.execute(f"COPY ({sql}) TO '{target}' (HEADER, DELIMITER ',')")
        counts[name] = con.execute(f"SELECT count(*) FROM read_csv('{target}')").fetchone()[0]
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
