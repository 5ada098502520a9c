#!/usr/bin/env python3
"""Baseline for the transform benchmark: the service-calls CSV -> typed, partitioned Parquet, written
the way the original Python Lambda did it (pandas + pyarrow, whole file in memory).

    python3 bench/pandas_transform.py --input calls.csv --output-dir out/pandas

Does the conversions of bench/service-calls-csv.toml (hard-coded here, as the Lambda had them):
  * `pd.read_csv(path, dtype=str, keep_default_na=False)`: the whole file as strings;
  * null tokens ("", NULL, null, NA, N/A, -) -> missing, compared on the raw field (no trimming);
  * ts: `pd.to_datetime(..., utc=True, errors="coerce", format=...)` tried in order
    ISO-8601 -> "%Y-%m-%d %H:%M:%S.%f" (naive = UTC) -> epoch millis (all-digit strings);
  * int/float: `pd.to_numeric(errors="coerce")` (an int column rejects fractional values);
  * bool: `.str.lower().map({...})` over y/n, 1/0, true/false, yes/no;
  * decimal(14,4): `.apply` with `decimal.Decimal` after stripping `$`/`,` and turning `(x)` into -x;
    exact: more than 4 decimal places or more than 10 integer digits is a failure, never rounded;
  * list<string>: `.str.split(r"[,|]")`, items stripped, empty items dropped (an all-empty list
    stays an empty list, not null);
  * required columns (ts, caller, callee, latency_ms) that are missing reject the row.
A row with any failure is rejected as a whole and written to DIR/quarantine/<stem>.jsonl as ONE
record {file, row, column, value, reason} for its first failing column in spec column order
(row = 1-based data record number, header excluded; value = the raw field). The good rows are
written as Parquet (zstd, explicit schema) with one file per partition:
DIR/dt=YYYY-MM-DD/hour=HH/<stem>.parquet (dt/hour of ts in UTC; not stored as columns).

Prints one JSON line: {"rows_in", "rows_written", "rows_rejected", "partitions"}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal, InvalidOperation

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from transform_rules import COLUMNS, NULL_TOKENS  # noqa: E402
BOOL_MAP = {"y": True, "yes": True, "1": True, "true": True,
            "n": False, "no": False, "0": False, "false": False}
SCALE = Decimal("0.0001")          # decimal(14,4)
MAX_ABS = Decimal(10) ** 10        # 14 - 4 integer digits

SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("caller", pa.string(), nullable=False),
    pa.field("callee", pa.string(), nullable=False),
    pa.field("protocol", pa.string()),
    pa.field("endpoint", pa.string()),
    pa.field("status", pa.int64()),
    pa.field("latency_ms", pa.float64(), nullable=False),
    pa.field("bytes", pa.int64()),
    pa.field("ok", pa.bool_()),
    pa.field("cost", pa.decimal128(14, 4)),
    pa.field("tags", pa.list_(pa.string())),
])


class Fail:
    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def parse_money(v):
    """'$1,234.50' -> Decimal('1234.5000'), '(3.50)' -> Decimal('-3.5000'); Fail on bad input."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    s = v.strip()
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg = True
        s = s[1:-1].strip()
    s = s.replace("$", "").replace(",", "")
    try:
        d = Decimal(s)
    except InvalidOperation:
        return Fail("not a decimal number")
    if not d.is_finite():
        return Fail("not a finite decimal number")
    if neg:
        d = -d
    q = d.quantize(SCALE)
    if q != d:
        return Fail("more than 4 decimal places for decimal(14,4)")
    if abs(q) >= MAX_ABS:
        return Fail("out of range for decimal(14,4)")
    return q


def split_tags(xs):
    if not isinstance(xs, list):
        return None
    return [x.strip() for x in xs if x.strip()]


def parse_timestamps(raw: pd.Series) -> pd.Series:
    ts = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601")
    todo = ts.isna() & raw.notna()
    if todo.any():
        ts[todo] = pd.to_datetime(raw[todo], utc=True, errors="coerce",
                                  format="%Y-%m-%d %H:%M:%S.%f")
    todo = ts.isna() & raw.notna()
    if todo.any():
        digits = todo & raw.str.fullmatch(r"-?\d{1,18}").fillna(False).astype(bool)
        if digits.any():
            ts[digits] = pd.to_datetime(raw[digits].astype("int64"), unit="ms", utc=True)
    return ts.astype("datetime64[us, UTC]")


def transform(path: str, out_dir: str) -> dict:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows_in = len(df)
    stem = os.path.basename(path)
    for ext in (".gz", ".csv"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]

    # first failure per row, in spec column order
    fail_col = pd.Series(None, index=df.index, dtype=object)
    fail_reason = pd.Series(None, index=df.index, dtype=object)

    def record(mask: pd.Series, column: str, reason):
        m = mask & fail_col.isna()
        if m.any():
            fail_col[m] = column
            fail_reason[m] = reason if isinstance(reason, str) else reason[m]

    out = pd.DataFrame(index=df.index)
    for name, field, typ, required in COLUMNS:
        raw = df[field].where(~df[field].isin(NULL_TOKENS))     # null tokens -> missing
        if required:
            record(raw.isna(), field, "required value is missing")
        if typ == "string":
            out[name] = raw
        elif typ == "timestamp":
            ts = parse_timestamps(raw)
            record(ts.isna() & raw.notna(), field,
                   "not a timestamp in any of: iso8601, %Y-%m-%d %H:%M:%S%.f, epoch_millis")
            out[name] = ts
        elif typ in ("int", "float"):
            v = pd.to_numeric(raw, errors="coerce")
            if typ == "int":
                bad = raw.notna() & (v.isna() | (v % 1 != 0))
                record(bad, field, "not an integer")
                out[name] = v.where(~bad).astype("Int64")
            else:
                bad = raw.notna() & v.isna()
                record(bad, field, "not a number")
                out[name] = v
        elif typ == "bool":
            v = raw.str.lower().map(BOOL_MAP)
            record(raw.notna() & v.isna(), field, "not a boolean (y/n, 1/0, true/false, yes/no)")
            out[name] = v.astype(object).where(v.notna(), None)
        elif typ == "decimal":
            v = raw.astype(object).apply(parse_money)
            failed = v.map(lambda x: isinstance(x, Fail))
            record(failed, field, v.map(lambda x: x.reason if isinstance(x, Fail) else None))
            out[name] = v.where(~failed, None)
        elif typ == "list":
            out[name] = raw.str.split(r"[,|]", regex=True).apply(split_tags)
        else:
            raise ValueError(typ)

    bad_rows = fail_col.notna()
    rows_rejected = int(bad_rows.sum())
    os.makedirs(out_dir, exist_ok=True)

    # quarantine: one JSON line per rejected row
    qdir = os.path.join(out_dir, "quarantine")
    os.makedirs(qdir, exist_ok=True)
    with open(os.path.join(qdir, stem + ".jsonl"), "w", encoding="utf-8") as f:
        for idx in df.index[bad_rows]:
            col = fail_col[idx]
            f.write(json.dumps({"file": path, "row": int(idx) + 1, "column": col,
                                "value": df.at[idx, col], "reason": fail_reason[idx]}) + "\n")

    good = out[~bad_rows].copy()
    good["dt"] = good["ts"].dt.strftime("%Y-%m-%d")
    good["hour"] = good["ts"].dt.strftime("%H")
    names = [c[0] for c in COLUMNS]
    partitions = 0
    for (dt, hour), part in good.groupby(["dt", "hour"], sort=True):
        pdir = os.path.join(out_dir, f"dt={dt}", f"hour={hour}")
        os.makedirs(pdir, exist_ok=True)
        table = pa.Table.from_pandas(part[names], schema=SCHEMA, preserve_index=False)
        pq.write_table(table, os.path.join(pdir, stem + ".parquet"), compression="zstd")
        partitions += 1

    return {"rows_in": rows_in, "rows_written": int(len(good)),
            "rows_rejected": rows_rejected, "partitions": partitions}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="pandas + pyarrow baseline transform (service-calls CSV)")
    p.add_argument("--input", required=True)
    p.add_argument("--output-dir", required=True)
    a = p.parse_args(argv)
    print(json.dumps(transform(a.input, a.output_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
