#!/usr/bin/env python3
"""DuckDB peer of the transform benchmark: the service-calls CSV -> typed, partitioned Parquet, with
the conversions of bench/pandas_transform.py expressed in DuckDB SQL (no Python per row).

    python3 bench/duckdb_transform.py --input calls.csv --output-dir out/duckdb

Same command line, output layout and JSON line as pandas_transform.py (read its docstring first):
good rows as zstd Parquet in DIR/dt=YYYY-MM-DD/hour=HH/<stem>.parquet (dt/hour of ts in UTC, not
stored as columns), rejected rows in DIR/quarantine/<stem>.jsonl as one {file, row, column, value,
reason} record for the first failing column in spec column order (row = 1-based data record,
value = the raw field, "" for an empty one), and on stdout
{"rows_in", "rows_written", "rows_rejected", "partitions"}.

Engine: written for and checked with duckdb 2.0.1 (Python package `duckdb`); needs the `lambda x:`
lambda syntax (DuckDB >= 1.3), regexp_extract with a list of group names (returns a STRUCT),
epoch_ms, try_strptime and COPY ... PARTITION_BY with FILENAME_PATTERN. `SET threads` is set to
os.cpu_count() (DuckDB's default anyway), `SET TimeZone = 'UTC'`, preserve_insertion_order stays on.

How it runs (one CSV scan):
  1. `read_csv(FILE, all_varchar = true, header = true, delim = ',', quote = '"', escape = '"')`:
     every field a VARCHAR, no type sniffing (only the header names are read). The data record
     number is `row_number() OVER ()`, which follows the file order because insertion order is
     preserved (checked against pandas' row numbers on 200k and 1M rows).
  2. One SELECT does every conversion and the first-failure bookkeeping; its result is
     materialised once in a TEMP table (DuckDB spills it to disk if memory runs short).
  3. `COPY (good rows) TO DIR (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (dt, hour),
     FILENAME_PATTERN '<stem>.duckdb-part-{i}', OVERWRITE_OR_IGNORE)`, then each partition's single
     file is renamed to <stem>.parquet (DuckDB always appends the `{i}` number to the pattern).
  4. The rejected rows (few) are fetched ordered by row number and written as JSON lines with
     Python's json.dumps, so the quarantine file is byte-identical to pandas'.

The rules, as SQL (the "raw" field is the CSV string, `v` the field after null-token handling):
  * null tokens: `CASE WHEN raw IN ('', 'NULL', 'null', 'NA', 'N/A', '-') THEN NULL ELSE raw END`,
    compared on the raw field, no trimming (an empty CSV field is already NULL in DuckDB).
  * ts, tried in pandas' order, first success wins:
    1. ISO-8601 as pandas' `format="ISO8601"` parser accepts it: one regexp_extract over
       `YYYY-M-D | YYYYMMDD` + optional (`T` or space) time `H:M[:S[.f*]]` or `HH[MM[SS[.f*]]]`
       + optional (whitespace) offset `Z | ±H[H][[:]MM]`, or a bare `YYYY` / `YYYY-M`; leading
       whitespace allowed, trailing whitespace only after a time (pandas rejects "2026-11-20 ").
       The parts are zero-padded into `YYYY-MM-DD HH:MM:SS.ffffff` (the
       fraction truncated to microseconds, as pandas does) and validated with
       `try_strptime(..., '%Y-%m-%d %H:%M:%S.%f')` (invalid dates/times -> NULL), hour <= 23,
       offset hour <= 23 and minute <= 59; the offset is subtracted, giving UTC.
    2. "%Y-%m-%d %H:%M:%S.%f" (naive = UTC): a regexp of Python strptime's field patterns
       (whitespace run between date and time, seconds up to 61 rolling over into the next minute
       as pandas does, 1-9 fraction digits), validated the same way.
    3. epoch millis: `regexp_full_match(v, '-?\\d{1,18}')` -> `epoch_ms(v::BIGINT)`.
    Results outside pandas' datetime64[ns] range (1677-09-21 .. 2262-04-11) are failures, as in
    pandas (which yields NaT there; for epoch millis out of that range pandas itself raises).
  * int: a plain integer string `\\s*[+-]?\\d+\\s*` -> `TRY_CAST(v AS BIGINT)`; any other number
    that pd.to_numeric accepts (`[+-]?(d+.?d*|.d+)([eE][+-]?d+)?`, whitespace around) is cast to
    DOUBLE and accepted only if finite and integral (`d = trunc(d)`), so `1.5` fails and `1e3` is
    1000, as in pandas. (DuckDB's own VARCHAR -> BIGINT cast rounds `1.5`, hence the regexps.)
  * float: the same number regexp -> `TRY_CAST(v AS DOUBLE)` (overflow -> +-inf), plus
    `[+-]inf|infinity` (any case) -> +-inf; `nan` is a failure (pandas: NaN -> "not a number").
  * bool: `lower(v) IN ('y','yes','1','true')` / `IN ('n','no','0','false')`, else a failure.
  * decimal(14,4), exactly as decimal.Decimal + quantize: strip whitespace, `(x)` -> negate and
    strip the inside, remove every `$` and `,`; then, as Decimal() does, strip whitespace again and
    delete every `_`, and match a regexp of Decimal's syntax (sign, digits, fraction, exponent);
    `inf`/`infinity`/`nan`/`snan` -> "not a finite decimal number". Exactness is decided on the digit string, never on a rounded value:
    with D = integer+fraction digits and P = len(integer digits) + exponent, the number of
    decimal places is len(rtrim(D, '0')) - P (> 4 -> "more than 4 decimal places") and the
    integer digits are P - (leading zeros of D) (> 10 -> "out of range"). The value is then
    built exactly as an integer count of 1/10000 units (significant digits x 10^k, < 10^14,
    by string padding), formatted `I.FFFF` and CAST to DECIMAL(14,4), negated for `(x)`.
    (A plain TRY_CAST of the text is not used: DuckDB returns NULL for e.g. `0e99999`.)
  * list<string>: `list_filter(list_transform(regexp_split_to_array(v, '[,|]'), lambda x: <strip
    x>), lambda x: x <> '')`; a non-null field whose items are all empty gives [] (not NULL).
  * required (ts, caller, callee, latency_ms): a NULL after null-token handling rejects the row.
  * first failure: one CASE in spec column order (required check, then the type check, per
    column) gives the failing input column, its reason (pandas' reason strings) and raw value.
No UDF is needed: every rule is plain SQL.

Known differences from pandas (none occurs in gen_service_calls.py data): "whitespace" is the
ASCII set (RE2 `\\s`, plus \\v) where Python strips Unicode whitespace too; digits are ASCII only
(Python's Decimal also takes e.g. Arabic-Indic digits); pandas' ISO-8601 parser is replicated for
the forms above, not for every exotic form it accepts; inputs on which pandas itself raises
(epoch millis beyond its range, integers beyond int64) are rejected rows here. In the Parquet files
all columns are nullable (pandas marks ts/caller/callee/latency_ms required; DuckDB's writer
did not, even for NOT NULL table columns, when tried) and rows within a file are not in file order (DuckDB's partitioned writer does not keep
it, even with ORDER BY); the values per partition are the same as pandas'.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import duckdb

from transform_rules import COLUMNS, NULL_TOKENS, REASONS  # noqa: E402

WS = r"[\s\v]"
# pandas format="ISO8601" (the forms it accepts that are replicated here), groups:
#  1-3 extended date y,m,d | 4-6 basic date | 7-10 extended time h,m,s,f | 11-14 compact time
#  15-19 offset (whole, sign, hours, minutes after ':', minutes without ':') | 20-21 bare year[-month]
#  (leading whitespace always allowed, trailing whitespace only after a time, as in pandas)
ISO_RE = (
    rf"^{WS}*(?:"
    r"(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{4})(\d{2})(\d{2}))"
    r"(?:[T ](?:(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?"
    r"|(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d*))?)?)?)"
    rf"(?:{WS}*(Z|([+-])(\d{{1,2}})(?::(\d{{1,2}})|(\d{{2}}))?))?{WS}*)?"
    r"|(\d{4})(?:-(\d{1,2}))?"
    r")$"
)
ISO_GROUPS = ["y1", "mo1", "d1", "y2", "mo2", "d2", "h1", "mi1", "s1", "f1",
              "h2", "mi2", "s2", "f2", "tz", "tzs", "tzh", "tzm1", "tzm2", "y3", "mo3"]
# "%Y-%m-%d %H:%M:%S.%f" as pandas' strptime matches it (format whitespace = a whitespace run)
STRP_RE = (r"^(\d{4})-(1[0-2]|0[1-9]|[1-9])-(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])" + WS + "+"
           r"(2[0-3]|[0-1]\d|\d):([0-5]\d|\d):(6[0-1]|[0-5]\d|\d)\.(\d{1,9})$")
STRP_GROUPS = ["y", "mo", "d", "h", "mi", "s", "f"]
NUM_RE = rf"^{WS}*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?{WS}*$"
INT_RE = rf"^{WS}*[+-]?\d+{WS}*$"
INF_RE = rf"(?i)^{WS}*[+-]?(?:inf|infinity){WS}*$"
# applied after stripping whitespace and deleting every "_", as decimal.Decimal does
DEC_RE = r"^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$"
DEC_GROUPS = ["sign", "i", "f", "e"]
DEC_NONFINITE_RE = r"(?i)^[+-]?(?:inf|infinity|s?nan\d*)$"
TS_MIN = "1677-09-21 00:12:43.145225"     # pandas datetime64[ns] range, in microseconds
TS_MAX = "2262-04-11 23:47:16.854775"


def lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def strip_sql(e: str) -> str:
    return f"regexp_replace({e}, {lit('^' + WS + '+|' + WS + '+$')}, '', 'g')"


def canon_ts(y, mo, d, h, mi, s, f) -> str:
    """SQL: zero-padded 'YYYY-MM-DD HH:MM:SS.ffffff' validated by try_strptime (NULL if invalid)."""
    return (f"CASE WHEN TRY_CAST({h} AS INTEGER) <= 23 THEN try_strptime("
            f"{y} || '-' || lpad({mo}, 2, '0') || '-' || lpad({d}, 2, '0') || ' ' || "
            f"lpad({h}, 2, '0') || ':' || lpad({mi}, 2, '0') || ':' || lpad({s}, 2, '0') || '.' || "
            f"rpad(left({f}, 6), 6, '0'), '%Y-%m-%d %H:%M:%S.%f') END")


def build_sql(path: str) -> str:
    nulls = ", ".join(lit(t) for t in NULL_TOKENS)

    def nz(*xs):   # first non-empty regexp group, else the last argument (a literal)
        return "COALESCE(" + ", ".join(f"NULLIF({x}, '')" for x in xs[:-1]) + f", {xs[-1]})"

    # -- stage 1: the raw fields and the null-token handled values
    fields = [c[1] for c in COLUMNS]
    s1 = ",\n    ".join(
        [f"{ident(f)} AS raw_{f}" for f in fields]
        + [f"CASE WHEN {ident(f)} IN ({nulls}) THEN NULL ELSE {ident(f)} END AS v_{f}" for f in fields])

    # -- stage 2: regexp parts
    s2 = ",\n    ".join([
        f"regexp_extract(v_timestamp, {lit(ISO_RE)}, {ISO_GROUPS!r}) AS iso",
        f"regexp_extract(v_timestamp, {lit(STRP_RE)}, {STRP_GROUPS!r}) AS strp",
        f"regexp_full_match(v_timestamp, '-?\\d{{1,18}}') AS ts_digits",
        f"{strip_sql('v_cost')} AS cost_s0",
    ])

    # -- stage 3: timestamp candidates, decimal normalisation
    iso_local = canon_ts(nz("iso.y1", "iso.y2", "iso.y3"), nz("iso.mo1", "iso.mo2", "iso.mo3", "'1'"),
                         nz("iso.d1", "iso.d2", "'1'"), nz("iso.h1", "iso.h2", "'0'"),
                         nz("iso.mi1", "iso.mi2", "'0'"), nz("iso.s1", "iso.s2", "'0'"),
                         "(iso.f1 || iso.f2)")
    # seconds 60/61 roll over into the next minute, as in pandas' strptime
    strp_local = (canon_ts("strp.y", "strp.mo", "trim(strp.d)", "strp.h", "strp.mi", "'0'", "strp.f")
                  + " + to_seconds(CAST(strp.s AS INTEGER))")
    s3 = ",\n    ".join([
        f"CASE WHEN nz_y IS NOT NULL THEN {iso_local} END AS iso_local",
        "COALESCE(TRY_CAST(NULLIF(iso.tzh, '') AS INTEGER), 0) AS tz_h",
        "COALESCE(TRY_CAST(NULLIF(iso.tzm1 || iso.tzm2, '') AS INTEGER), 0) AS tz_m",
        "CASE WHEN iso.tzs = '-' THEN -1 ELSE 1 END AS tz_sign",
        f"CASE WHEN strp.y <> '' THEN {strp_local} END AS strp_ts",
        "CASE WHEN ts_digits AND abs(TRY_CAST(v_timestamp AS HUGEINT)) <= 9223372036854 "
        "THEN epoch_ms(CAST(v_timestamp AS BIGINT)) END AS epoch_ts",
        "cost_s0 LIKE '(%' AND cost_s0 LIKE '%)' AS cost_neg",
    ])
    # the ISO year group is needed inside s3 -> computed in s2b
    s2b = f"{nz('iso.y1', 'iso.y2', 'iso.y3', 'NULL')} AS nz_y"

    cost_s2 = (f"replace(replace(CASE WHEN cost_neg THEN "
               f"{strip_sql('substring(cost_s0, 2, length(cost_s0) - 2)')} ELSE cost_s0 END, '$', ''), ',', '')")
    # -- stage 4: ts in UTC, decimal digit analysis, numbers
    s4 = ",\n    ".join([
        "CASE WHEN iso_local IS NOT NULL AND tz_h <= 23 AND tz_m <= 59 "
        "THEN iso_local - to_minutes(tz_sign * (tz_h * 60 + tz_m)) END AS iso_utc",
        f"replace({strip_sql(cost_s2)}, '_', '') AS cost_s",
    ])
    s5 = ",\n    ".join([
        f"regexp_extract(cost_s, {lit(DEC_RE)}, {DEC_GROUPS!r}) AS dec",
        f"regexp_full_match(cost_s, {lit(DEC_NONFINITE_RE)}) AS dec_nonfinite",
        f"regexp_full_match(cost_s, {lit(DEC_RE)}) AS dec_match",
    ])
    s6 = ",\n    ".join([
        "dec.i || dec.f AS dec_digits",
        "length(dec.i) + COALESCE(TRY_CAST(dec.e AS BIGINT), "
        "CASE WHEN dec.e <> '' THEN 999999 ELSE 0 END) AS dec_point",
    ])

    def in_range(e):
        return f"CASE WHEN {e} BETWEEN TIMESTAMP {lit(TS_MIN)} AND TIMESTAMP {lit(TS_MAX)} THEN {e} END"

    def int_expr(v):
        return (f"CASE WHEN regexp_full_match({v}, {lit(INT_RE)}) THEN TRY_CAST({v} AS BIGINT) "
                f"WHEN regexp_full_match({v}, {lit(NUM_RE)}) THEN "
                f"CASE WHEN isfinite(TRY_CAST({v} AS DOUBLE)) AND TRY_CAST({v} AS DOUBLE) = "
                f"trunc(TRY_CAST({v} AS DOUBLE)) THEN TRY_CAST(TRY_CAST({v} AS DOUBLE) AS BIGINT) END END")

    def float_expr(v):
        return (f"CASE WHEN regexp_full_match({v}, {lit(NUM_RE)}) THEN COALESCE(TRY_CAST({v} AS DOUBLE), "
                f"CASE WHEN starts_with({strip_sql(v)}, '-') THEN '-inf'::DOUBLE ELSE 'inf'::DOUBLE END) "
                f"WHEN regexp_full_match({v}, {lit(INF_RE)}) THEN "
                f"CASE WHEN starts_with({strip_sql(v)}, '-') THEN '-inf'::DOUBLE ELSE 'inf'::DOUBLE END END")

    bool_expr = ("CASE WHEN lower(v_success) IN ('y', 'yes', '1', 'true') THEN true "
                 "WHEN lower(v_success) IN ('n', 'no', '0', 'false') THEN false END")
    cost_fail = (
        "CASE WHEN v_cost IS NULL THEN NULL "
        "WHEN dec_nonfinite THEN 'dec_finite' "
        "WHEN NOT dec_match OR dec_digits = '' THEN 'dec_syntax' "
        "WHEN length(rtrim(dec_digits, '0')) - dec_point > 4 THEN 'dec_scale' "
        "WHEN ltrim(dec_digits, '0') <> '' AND "
        "dec_point - (length(dec_digits) - length(ltrim(dec_digits, '0'))) > 10 THEN 'dec_range' END")
    s7 = ",\n    ".join([
        f"COALESCE({in_range('iso_utc')}, {in_range('strp_ts')}, {in_range('epoch_ts')}) AS ts",
        f"{int_expr('v_status')} AS status",
        f"{float_expr('v_latency_ms')} AS latency_ms",
        f"{int_expr('v_bytes')} AS bytes",
        f"{bool_expr} AS ok",
        f"{cost_fail} AS cost_fail",
        "CASE WHEN v_tags IS NOT NULL THEN list_filter(list_transform(regexp_split_to_array(v_tags, '[,|]'), "
        f"lambda x: {strip_sql('x')}), lambda x: x <> '') END AS tags",
    ])
    # exact value: the significant digits of D and the power of ten of 1/10000 units they stand
    # for (units = sig * 10^k < 10^14 once validated), formatted 'I.FFFF' -> DECIMAL(14,4)
    n_d = "length(dec_digits)"
    lead = f"({n_d} - length(ltrim(dec_digits, '0')))"
    trail = f"({n_d} - length(rtrim(dec_digits, '0')))"
    s7 = s7 + ",\n    " + ",\n    ".join([
        f"substring(dec_digits, {lead} + 1, greatest({n_d} - {lead} - {trail}, 0)) AS cost_sig",
        f"dec_point - {n_d} + {trail} + 4 AS cost_k",
    ])
    units = ("CASE WHEN cost_sig = '' THEN '0' "
             "ELSE cost_sig || repeat('0', CAST(least(greatest(cost_k, 0), 18) AS INTEGER)) END")
    s8 = ",\n    ".join([
        f"CASE WHEN length({units}) < 5 THEN lpad({units}, 5, '0') ELSE {units} END AS cost_units",
    ])
    s8b = ("CASE WHEN cost_fail IS NULL AND v_cost IS NOT NULL THEN CAST("
           "CASE WHEN (dec.sign = '-') <> cost_neg THEN '-' ELSE '' END || "
           "left(cost_units, length(cost_units) - 4) || '.' || right(cost_units, 4) "
           "AS DECIMAL(14,4)) END AS cost")

    # first failure in spec column order: (condition, input field, reason key)
    checks = [
        ("v_timestamp IS NULL", "timestamp", "required"),
        ("ts IS NULL", "timestamp", "timestamp"),
        ("v_caller IS NULL", "caller", "required"),
        ("v_callee IS NULL", "callee", "required"),
        ("v_status IS NOT NULL AND status IS NULL", "status", "int"),
        ("v_latency_ms IS NULL", "latency_ms", "required"),
        ("latency_ms IS NULL", "latency_ms", "float"),
        ("v_bytes IS NOT NULL AND bytes IS NULL", "bytes", "int"),
        ("v_success IS NOT NULL AND ok IS NULL", "success", "bool"),
    ]
    fail_col = "CASE " + " ".join(f"WHEN {c} THEN {lit(f)}" for c, f, _ in checks) + \
        " WHEN cost_fail IS NOT NULL THEN 'cost' END"
    fail_reason = "CASE " + " ".join(f"WHEN {c} THEN {lit(REASONS[r])}" for c, _, r in checks) + \
        " WHEN cost_fail IS NOT NULL THEN CASE cost_fail " + \
        " ".join(f"WHEN {lit(k)} THEN {lit(REASONS[k])}" for k in
                 ("dec_syntax", "dec_finite", "dec_scale", "dec_range")) + " END END"

    src = (f"read_csv({lit(path)}, all_varchar = true, header = true, delim = ',', quote = '\"', "
           f"escape = '\"')")
    return f"""
WITH src AS (SELECT row_number() OVER () AS "row", * FROM {src}),
s1 AS (SELECT "row",
    {s1}
  FROM src),
s2 AS (SELECT *,
    {s2}
  FROM s1),
s2b AS (SELECT *, {s2b} FROM s2),
s3 AS (SELECT *,
    {s3}
  FROM s2b),
s4 AS (SELECT *,
    {s4}
  FROM s3),
s5 AS (SELECT *,
    {s5}
  FROM s4),
s6 AS (SELECT *,
    {s6}
  FROM s5),
s7 AS (SELECT *,
    {s7}
  FROM s6),
s8 AS (SELECT *, {s8} FROM s7),
s8b AS (SELECT *, {s8b} FROM s8),
s9 AS (SELECT *, {fail_col} AS fail_col, {fail_reason} AS fail_reason FROM s8b)
SELECT "row", fail_col, fail_reason,
    CASE fail_col {" ".join(f"WHEN {lit(f)} THEN COALESCE(raw_{f}, '')" for f in fields)} END AS fail_value,
    ts::TIMESTAMPTZ AS ts, v_caller AS caller, v_callee AS callee, v_protocol AS protocol,
    v_endpoint AS endpoint, status, latency_ms, bytes, ok, cost, tags,
    strftime(ts, '%Y-%m-%d') AS dt, strftime(ts, '%H') AS hour
FROM s9
"""


def file_stem(path: str) -> str:
    stem = os.path.basename(path)
    for ext in (".gz", ".csv"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    return stem


def transform(path: str, out_dir: str, threads: int | None = None) -> dict:
    stem = file_stem(path)
    os.makedirs(out_dir, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
    con.execute("CREATE TEMP TABLE conv AS " + build_sql(path))

    rows_in, rows_rejected = con.execute(
        "SELECT count(*), count(fail_col) FROM conv").fetchone()

    # good rows -> one zstd Parquet file per (dt, hour); DuckDB names it <pattern><i>.parquet
    tmp_pat = f"{stem}.duckdb-part-{{i}}"
    names = ", ".join(ident(c[0]) for c in COLUMNS)
    con.execute(
        f"COPY (SELECT {names}, dt, hour FROM conv WHERE fail_col IS NULL) "
        f"TO {lit(out_dir)} (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (dt, hour), "
        f"FILENAME_PATTERN {lit(tmp_pat)}, OVERWRITE_OR_IGNORE true)")
    parts = con.execute("SELECT DISTINCT dt, hour FROM conv WHERE fail_col IS NULL "
                        "ORDER BY dt, hour").fetchall()
    prefix = f"{stem}.duckdb-part-"
    for dt, hour in parts:
        pdir = os.path.join(out_dir, f"dt={dt}", f"hour={hour}")
        made = sorted(f for f in os.listdir(pdir) if f.startswith(prefix) and f.endswith(".parquet"))
        if len(made) != 1:
            raise RuntimeError(f"{pdir}: expected one file from DuckDB, got {made}")
        os.replace(os.path.join(pdir, made[0]), os.path.join(pdir, stem + ".parquet"))

    # quarantine: one JSON line per rejected row, in row order
    qdir = os.path.join(out_dir, "quarantine")
    os.makedirs(qdir, exist_ok=True)
    cur = con.execute('SELECT "row", fail_col, fail_value, fail_reason FROM conv '
                      'WHERE fail_col IS NOT NULL ORDER BY "row"')
    with open(os.path.join(qdir, stem + ".jsonl"), "w", encoding="utf-8") as f:
        while True:
            batch = cur.fetchmany(10_000)
            if not batch:
                break
            for row, col, value, reason in batch:
                f.write(json.dumps({"file": path, "row": int(row), "column": col,
                                    "value": value, "reason": reason}) + "\n")
    con.close()
    return {"rows_in": int(rows_in), "rows_written": int(rows_in - rows_rejected),
            "rows_rejected": int(rows_rejected), "partitions": len(parts)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="DuckDB peer transform (service-calls CSV)")
    p.add_argument("--input", required=True)
    p.add_argument("--output-dir", required=True)
    a = p.parse_args(argv)
    print(json.dumps(transform(a.input, a.output_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
