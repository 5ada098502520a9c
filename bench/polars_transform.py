#!/usr/bin/env python3
"""Polars peer of the transform benchmark: the service-calls CSV -> typed, partitioned Parquet, with
the conversions of bench/pandas_transform.py written as Polars lazy expressions (no Python per row).

    python3 bench/polars_transform.py --input calls.csv --output-dir out/polars

Same command line, output layout and JSON line as pandas_transform.py (read its docstring first):
good rows as zstd Parquet in DIR/dt=YYYY-MM-DD/hour=HH/<stem>.parquet (dt/hour of ts in UTC, not
stored as columns), rejected rows in DIR/quarantine/<stem>.jsonl as one {file, row, column, value,
reason} record for the first failing column in spec column order (row = 1-based data record,
value = the raw field, "" for an empty one), and on stdout
{"rows_in", "rows_written", "rows_rejected", "partitions"}.

Engine: written for and checked with polars 2.1.0 (pip `polars`, runtime `polars-runtime-32`).
It uses partitioned sinking, which this version has: `LazyFrame.sink_parquet(pl.PartitionBy(DIR,
key=["dt", "hour"], include_key=False, file_path_provider=...), compression="zstd",
arrow_schema=<pandas' schema>)` (pl.PartitionBy is marked unstable by Polars; its warning is
silenced). No collect-then-write fallback is needed. The plan:
  1. `pl.scan_csv(FILE, infer_schema=False, row_index_name="row", row_index_offset=1)`: every field
     a String (empty fields are null), the row index = the 1-based data record number;
  2. one `with_columns` chain does every conversion and the first-failure bookkeeping;
  3. `pl.collect_all([good.sink_parquet(PartitionBy(...), lazy=True), bad rows, counts,
     partition count], engine="streaming")` runs the four outputs in ONE query; the converted frame
     is an explicit `LazyFrame.cache()` node that all four read, so the CSV is scanned and
     converted once (without it, projection pushdown gives each branch its own copy of the plan
     and the scan + conversions run twice: ~1.5x the CPU time on 1M rows);
  4. the rejected rows (few) are written as JSON lines with Python's json.dumps, so the
     quarantine file is byte-identical to pandas'.
The file_path_provider names each partition's file DIR/dt=.../hour=.../<stem>.parquet;
max_rows_per_file / approximate_bytes_per_file are disabled so there is one file per partition (a
second file for a partition would be an error).

The rules, as expressions (`raw` = the CSV string, `v` = after null-token handling):
  * null tokens: `pl.when(raw.is_in(NULL_TOKENS)).then(None).otherwise(raw)` on the raw field, no
    trimming (an empty CSV field is already null).
  * ts, tried in pandas' order, first success wins:
    1. ISO-8601 as pandas' `format="ISO8601"` parser accepts it: `str.extract_groups` of one regex
       over `YYYY-M-D | YYYYMMDD` + optional (`T` or space) time `H:M[:S[.f*]]` or
       `HH[MM[SS[.f*]]]` + optional (whitespace) offset `Z | ±H[H][[:]MM]`, or a bare `YYYY` /
       `YYYY-M`; leading whitespace allowed, trailing whitespace only after a time (pandas
       rejects "2026-11-20 "). The parts are zero-padded (`str.zfill`) into
       `YYYY-MM-DD HH:MM:SS.ffffff` (fraction truncated to microseconds, as pandas does) and
       validated by `str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.6f", strict=False)`
       plus hour <= 23 and second <= 59 (chrono would take a leap second 60); the offset
       (hour <= 23, minute <= 59) is subtracted with `pl.duration`, giving UTC.
    2. "%Y-%m-%d %H:%M:%S.%f" (naive = UTC): a regex of Python strptime's field patterns
       (whitespace run between date and time, seconds up to 61 rolling over into the next minute
       as pandas does, 1-9 fraction digits), validated the same way.
    3. epoch millis: `str.contains("^-?\\d{1,18}$")` -> `pl.from_epoch(..., time_unit="ms")`.
    Results outside pandas' datetime64[ns] range (1677-09-21 .. 2262-04-11) are failures.
    The result is `Datetime("us", "UTC")`; dt/hour come from `dt.strftime` on it.
  * int: a plain integer string `\\s*[+-]?\\d+\\s*` -> `str.strip_chars().cast(pl.Int64,
    strict=False)`; any other number pd.to_numeric accepts (`[+-]?(d+.?d*|.d+)([eE][+-]?d+)?`) ->
    Float64, accepted only if finite and integral (`1.5` fails, `1e3` is 1000), as in pandas.
  * float: the same number regex -> `strip_chars().cast(pl.Float64, strict=False)`, plus
    `[+-]inf|infinity` (any case) -> +-inf; `nan` is a failure (pandas: NaN -> "not a number").
  * bool: `v.str.to_lowercase()` in y/yes/1/true -> true, n/no/0/false -> false, else a failure.
  * decimal(14,4), exactly as decimal.Decimal + quantize: `strip_chars()`, `(x)` -> negate and
    strip the inside, remove every `$` and `,` (`str.replace_all(..., literal=True)`); then, as
    Decimal() does, strip whitespace again and delete every `_`, and match a regex of Decimal's
    syntax (sign, digits, fraction, exponent) via `str.extract_groups`; `inf`/`infinity`/`nan`/
    `snan` -> "not a finite decimal number". Exactness is
    decided on the digit string, never on a rounded value: with D = integer+fraction digits and
    P = len(integer digits) + exponent, the decimal places are len(rstrip(D, '0')) - P (> 4 ->
    "more than 4 decimal places"), the integer digits P - (leading zeros of D) (> 10 -> "out of
    range"). The value is then built exactly as an integer count of 1/10000 units (significant
    digits x 10^k, < 10^14), formatted `I.FFFF` and cast to `pl.Decimal(14, 4)`; negated for (x).
  * list<string>: `str.replace_all("|", ",").str.split(",")` (both separators are single
    characters, so this equals splitting on `[,|]`), then `list.eval(strip_chars)` and
    `list.eval(filter(!= ""))`; a non-null field whose items are all empty gives [] (not null).
  * required (ts, caller, callee, latency_ms): a null after null-token handling rejects the row.
  * first failure: one `pl.when(...).then(...)` chain in spec column order (required check, then
    the type check, per column) gives the failing input column, pandas' reason string and the raw
    value.
No Python UDF (map_elements) is needed: every rule is a native expression.

Known differences from pandas (none occurs in gen_service_calls.py data): the regexes' `\\s` is
Unicode whitespace (Rust regex) as is strip_chars(), close to but not exactly Python's set; digits
are ASCII only (`\\d` is rewritten to [0-9]; Python's Decimal also takes e.g. Arabic-Indic
digits); pandas' ISO-8601 parser is replicated for the forms above, not for every exotic form it
accepts; inputs on which pandas itself raises (epoch millis beyond its range, integers beyond
int64) are rejected rows here. In the Parquet files, rows are in file order (maintain_order) and
ts/caller/callee/latency_ms are required columns as in pandas; Polars stores its own Arrow schema
in the file, so pyarrow reads the strings back as large_string / large_list (the Parquet column
types are the same as pandas').
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import polars as pl
import pyarrow as pa

from transform_rules import COLUMNS, FALSE_TOKENS, NULL_TOKENS, REASONS, TRUE_TOKENS  # noqa: E402

# the pandas baseline's Parquet schema (same Parquet types and nullability). Polars embeds its own
# Arrow schema in the file and accepts only its large string/list types here, so pyarrow reads the
# strings back as large_string / large_list; the Parquet column types are the same as pandas'.
SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("caller", pa.large_string(), nullable=False),
    pa.field("callee", pa.large_string(), nullable=False),
    pa.field("protocol", pa.large_string()),
    pa.field("endpoint", pa.large_string()),
    pa.field("status", pa.int64()),
    pa.field("latency_ms", pa.float64(), nullable=False),
    pa.field("bytes", pa.int64()),
    pa.field("ok", pa.bool_()),
    pa.field("cost", pa.decimal128(14, 4)),
    pa.field("tags", pa.large_list(pa.large_string())),
])

WS = r"\s"
ISO_RE = (
    rf"^{WS}*(?:"
    r"(?:(?<y1>\d{4})-(?<mo1>\d{1,2})-(?<d1>\d{1,2})|(?<y2>\d{4})(?<mo2>\d{2})(?<d2>\d{2}))"
    r"(?:[T ](?:(?<h1>\d{1,2}):(?<mi1>\d{1,2})(?::(?<s1>\d{1,2})(?:\.(?<f1>\d*))?)?"
    r"|(?<h2>\d{2})(?:(?<mi2>\d{2})(?:(?<s2>\d{2})(?:\.(?<f2>\d*))?)?)?)"
    rf"(?:{WS}*(?<tz>Z|(?<tzs>[+-])(?<tzh>\d{{1,2}})(?::(?<tzm1>\d{{1,2}})|(?<tzm2>\d{{2}}))?))?{WS}*)?"
    r"|(?<y3>\d{4})(?:-(?<mo3>\d{1,2}))?"
    r")$"
)
# "%Y-%m-%d %H:%M:%S.%f" as pandas' strptime matches it (format whitespace = a whitespace run)
STRP_RE = (r"^(?<y>\d{4})-(?<mo>1[0-2]|0[1-9]|[1-9])-(?<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])" + WS + "+"
           r"(?<h>2[0-3]|[0-1]\d|\d):(?<mi>[0-5]\d|\d):(?<s>6[0-1]|[0-5]\d|\d)\.(?<f>\d{1,9})$")
NUM_RE = rf"^{WS}*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?{WS}*$"
INT_RE = rf"^{WS}*[+-]?\d+{WS}*$"
INF_RE = rf"(?i)^{WS}*[+-]?(?:inf|infinity){WS}*$"
# applied after stripping whitespace and deleting every "_", as decimal.Decimal does
DEC_RE = r"^(?<sign>[+-]?)(?<i>\d*)(?:\.(?<f>\d*))?(?:[eE](?<e>[+-]?\d+))?$"
DEC_NONFINITE_RE = r"(?i)^[+-]?(?:inf|infinity|s?nan\d*)$"


def ascii_digits(regex: str) -> str:
    """Rust regex's \\d is any Unicode digit; pandas' parsers (and DuckDB) take ASCII digits."""
    return regex.replace(r"\d", "[0-9]")


ISO_RE, STRP_RE, NUM_RE, INT_RE, DEC_RE, DEC_NONFINITE_RE = map(
    ascii_digits, (ISO_RE, STRP_RE, NUM_RE, INT_RE, DEC_RE, DEC_NONFINITE_RE))
EPOCH_RE = ascii_digits(r"^-?\d{1,18}$")
TS_MIN = pl.datetime(1677, 9, 21, 0, 12, 43, 145225, time_unit="us")   # pandas datetime64[ns]
TS_MAX = pl.datetime(2262, 4, 11, 23, 47, 16, 854775, time_unit="us")
C = pl.col


def file_stem(path: str) -> str:
    stem = os.path.basename(path)
    for ext in (".gz", ".csv"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    return stem


def first(*exprs: pl.Expr) -> pl.Expr:
    return pl.coalesce(*exprs)


def canon_ts(y, mo, d, h, mi, s, f) -> pl.Expr:
    """Zero-padded 'YYYY-MM-DD HH:MM:SS.ffffff' parsed by chrono (null if not a valid date/time)."""
    text = pl.concat_str([y, pl.lit("-"), mo.str.zfill(2), pl.lit("-"), d.str.zfill(2), pl.lit(" "),
                          h.str.zfill(2), pl.lit(":"), mi.str.zfill(2), pl.lit(":"), s.str.zfill(2),
                          pl.lit("."), f.str.slice(0, 6).str.pad_end(6, "0")])
    ok = (h.cast(pl.Int32, strict=False) <= 23) & (s.cast(pl.Int32, strict=False) <= 59)
    return pl.when(ok).then(text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.6f",
                                              strict=False, exact=True))


def in_range(e: pl.Expr) -> pl.Expr:
    return pl.when(e.is_between(TS_MIN, TS_MAX)).then(e)


def signed_inf(v: pl.Expr) -> pl.Expr:
    return pl.when(v.str.strip_chars().str.starts_with("-")).then(float("-inf")).otherwise(float("inf"))


def int_expr(v: pl.Expr) -> pl.Expr:
    d = v.str.strip_chars().cast(pl.Float64, strict=False)
    return (pl.when(v.str.contains(INT_RE)).then(v.str.strip_chars().cast(pl.Int64, strict=False))
            .when(v.str.contains(NUM_RE) & d.is_finite() & (d == d.floor()))
            .then(d.cast(pl.Int64, strict=False)))


def float_expr(v: pl.Expr) -> pl.Expr:
    d = v.str.strip_chars().cast(pl.Float64, strict=False)
    return (pl.when(v.str.contains(NUM_RE)).then(pl.coalesce(d, signed_inf(v)))
            .when(v.str.contains(INF_RE)).then(signed_inf(v)))


def build(path: str) -> pl.LazyFrame:
    fields = [c[1] for c in COLUMNS]
    lf = pl.scan_csv(path, infer_schema=False, row_index_name="row", row_index_offset=1,
                     quote_char='"', separator=",", has_header=True)
    # null tokens; keep the raw field for the quarantine value
    lf = lf.with_columns(
        [C(f).alias(f"raw_{f}") for f in fields]
        + [pl.when(C(f).is_in(NULL_TOKENS)).then(None).otherwise(C(f)).alias(f"v_{f}") for f in fields])
    # regex parts
    lf = lf.with_columns(
        iso=C("v_timestamp").str.extract_groups(ISO_RE),
        strp=C("v_timestamp").str.extract_groups(STRP_RE),
        cost_s0=C("v_cost").str.strip_chars(),
    )
    iso = C("iso").struct.field
    strp = C("strp").struct.field
    cost_neg = C("cost_s0").str.starts_with("(") & C("cost_s0").str.ends_with(")")
    cost_inner = pl.when(cost_neg).then(
        C("cost_s0").str.slice(1, C("cost_s0").str.len_chars() - 2).str.strip_chars()
    ).otherwise(C("cost_s0"))
    lf = lf.with_columns(
        iso_local=canon_ts(first(iso("y1"), iso("y2"), iso("y3")),
                           first(iso("mo1"), iso("mo2"), iso("mo3"), pl.lit("1")),
                           first(iso("d1"), iso("d2"), pl.lit("1")),
                           first(iso("h1"), iso("h2"), pl.lit("0")),
                           first(iso("mi1"), iso("mi2"), pl.lit("0")),
                           first(iso("s1"), iso("s2"), pl.lit("0")),
                           first(iso("f1"), iso("f2"), pl.lit(""))),
        tz_h=first(iso("tzh").cast(pl.Int64, strict=False), pl.lit(0)),
        tz_m=first(iso("tzm1"), iso("tzm2")).cast(pl.Int64, strict=False).fill_null(0),
        tz_sign=pl.when(iso("tzs") == "-").then(-1).otherwise(1),
        # seconds 60/61 roll over into the next minute, as in pandas' strptime
        strp_ts=canon_ts(strp("y"), strp("mo"), strp("d").str.strip_chars(), strp("h"), strp("mi"),
                         pl.lit("0"), strp("f"))
        + pl.duration(seconds=strp("s").cast(pl.Int64, strict=False)),
        epoch_ms=pl.when(C("v_timestamp").str.contains(EPOCH_RE))
        .then(C("v_timestamp").cast(pl.Int64, strict=False)),
        cost_neg=cost_neg,
        cost_s=cost_inner.str.replace_all("$", "", literal=True).str.replace_all(",", "", literal=True)
        .str.strip_chars().str.replace_all("_", "", literal=True),
    )
    lf = lf.with_columns(
        iso_utc=pl.when(C("iso_local").is_not_null() & (C("tz_h") <= 23) & (C("tz_m") <= 59))
        .then(C("iso_local") - pl.duration(minutes=C("tz_sign") * (C("tz_h") * 60 + C("tz_m")))),
        epoch_ts=pl.when(C("epoch_ms").abs() <= 9223372036854)
        .then(pl.from_epoch(C("epoch_ms"), time_unit="ms").cast(pl.Datetime("us"))),
        dec=C("cost_s").str.extract_groups(DEC_RE),
        dec_nonfinite=C("cost_s").str.contains(DEC_NONFINITE_RE),
    )
    dec = C("dec").struct.field
    dint = dec("i").fill_null("")
    dfrac = dec("f").fill_null("")
    dexp = dec("e")
    lf = lf.with_columns(
        dec_digits=pl.concat_str([dint, dfrac]),
        dec_point=dint.str.len_chars().cast(pl.Int64)
        + pl.when(dexp.is_null()).then(0).otherwise(
            pl.coalesce(dexp.cast(pl.Int64, strict=False), pl.lit(999999))),
        dec_matched=dec("sign").is_not_null(),
    )
    digits = C("dec_digits")
    n_digits = digits.str.len_chars().cast(pl.Int64)
    lead = n_digits - digits.str.strip_chars_start("0").str.len_chars().cast(pl.Int64)
    trail = n_digits - digits.str.strip_chars_end("0").str.len_chars().cast(pl.Int64)
    scale = digits.str.strip_chars_end("0").str.len_chars().cast(pl.Int64) - C("dec_point")
    cost_fail = (pl.when(C("v_cost").is_null()).then(None)
                 .when(C("dec_nonfinite")).then(pl.lit("dec_finite"))
                 .when(~C("dec_matched") | (digits == "")).then(pl.lit("dec_syntax"))
                 .when(scale > 4).then(pl.lit("dec_scale"))
                 .when((lead < n_digits) & (C("dec_point") - lead > 10)).then(pl.lit("dec_range")))
    lf = lf.with_columns(
        ts=first(in_range(C("iso_utc")), in_range(C("strp_ts")), in_range(C("epoch_ts"))),
        status=int_expr(C("v_status")),
        latency_ms=float_expr(C("v_latency_ms")),
        bytes=int_expr(C("v_bytes")),
        ok=pl.when(C("v_success").str.to_lowercase().is_in(TRUE_TOKENS)).then(True)
        .when(C("v_success").str.to_lowercase().is_in(FALSE_TOKENS)).then(False)
        .otherwise(None),
        cost_fail=cost_fail,
        # significant digits of the value and the power of ten of 1/10000 units they stand for
        cost_sig=digits.str.slice(lead, (n_digits - lead - trail).clip(0)),
        cost_k=C("dec_point") - n_digits + trail + 4,
        tags=C("v_tags").str.replace_all("|", ",", literal=True).str.split(",")
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != "")),
    )
    # exact value: units = sig * 10^k (< 10^14, fits Int64), formatted I.FFFF -> Decimal(14,4)
    units = (pl.when(C("cost_sig") == "").then(pl.lit(0, pl.Int64))
             .otherwise(C("cost_sig").cast(pl.Int64, strict=False)
                        * pl.lit(10, pl.Int64).pow(C("cost_k").clip(0, 18).cast(pl.UInt32))))
    ustr = units.cast(pl.String).str.zfill(5)
    sign_neg = (dec("sign") == "-") ^ C("cost_neg")
    lf = lf.with_columns(
        cost=pl.when(C("cost_fail").is_null() & C("v_cost").is_not_null()).then(
            pl.concat_str([pl.when(sign_neg).then(pl.lit("-")).otherwise(pl.lit("")),
                           ustr.str.head(-4), pl.lit("."), ustr.str.tail(4)])
            .cast(pl.Decimal(14, 4), strict=False)),
    )
    # first failure in spec column order: (condition, input field, reason key)
    checks = [
        (C("v_timestamp").is_null(), "timestamp", "required"),
        (C("ts").is_null(), "timestamp", "timestamp"),
        (C("v_caller").is_null(), "caller", "required"),
        (C("v_callee").is_null(), "callee", "required"),
        (C("v_status").is_not_null() & C("status").is_null(), "status", "int"),
        (C("v_latency_ms").is_null(), "latency_ms", "required"),
        (C("latency_ms").is_null(), "latency_ms", "float"),
        (C("v_bytes").is_not_null() & C("bytes").is_null(), "bytes", "int"),
        (C("v_success").is_not_null() & C("ok").is_null(), "success", "bool"),
    ]
    col_e, reason_e = pl, pl
    for cond, field, reason in checks:
        col_e = col_e.when(cond).then(pl.lit(field))
        reason_e = reason_e.when(cond).then(pl.lit(REASONS[reason]))
    col_e = col_e.when(C("cost_fail").is_not_null()).then(pl.lit("cost")).otherwise(None)
    reason_e = reason_e.when(C("cost_fail").is_not_null()).then(
        C("cost_fail").replace_strict({k: REASONS[k] for k in
                                       ("dec_syntax", "dec_finite", "dec_scale", "dec_range")},
                                      return_dtype=pl.String)).otherwise(None)
    lf = lf.with_columns(fail_col=col_e, fail_reason=reason_e)
    value_e = pl
    for f in fields:
        value_e = value_e.when(C("fail_col") == f).then(C(f"raw_{f}").fill_null(""))
    lf = lf.with_columns(
        fail_value=value_e.otherwise(None),
        ts=C("ts").dt.replace_time_zone("UTC"),
        caller=C("v_caller"), callee=C("v_callee"), protocol=C("v_protocol"),
        endpoint=C("v_endpoint"),
    )
    return lf.with_columns(dt=C("ts").dt.strftime("%Y-%m-%d"), hour=C("ts").dt.strftime("%H"))


def transform(path: str, out_dir: str) -> dict:
    stem = file_stem(path)
    os.makedirs(out_dir, exist_ok=True)
    # one explicit cache node: without it the optimizer pushes each branch's projection/filter
    # down into its own copy of the plan, and the CSV is scanned and converted twice
    lf = build(path).cache()
    names = [c[0] for c in COLUMNS]
    good = lf.filter(C("fail_col").is_null()).select(names + ["dt", "hour"])
    bad = (lf.filter(C("fail_col").is_not_null())
           .select("row", "fail_col", "fail_value", "fail_reason"))
    counts = lf.select(rows_in=pl.len(), rows_rejected=C("fail_col").is_not_null().sum())
    parts = good.select(partitions=pl.struct("dt", "hour").n_unique())

    def file_path(args: pl.FileProviderArgs) -> str:
        if args.index_in_partition != 0:
            raise RuntimeError("a partition was split into more than one file")
        k = args.partition_keys.row(0, named=True)
        return os.path.join(f"dt={k['dt']}", f"hour={k['hour']}", stem + ".parquet")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # pl.PartitionBy is "unstable"
        target = pl.PartitionBy(out_dir, key=["dt", "hour"], include_key=False,
                                file_path_provider=file_path, max_rows_per_file=None,
                                approximate_bytes_per_file=None)
        sink = good.sink_parquet(target, compression="zstd", arrow_schema=SCHEMA, mkdir=True,
                                 lazy=True)
        _, bad_df, counts_df, parts_df = pl.collect_all([sink, bad, counts, parts],
                                                        engine="streaming")

    rows_in = int(counts_df["rows_in"][0])
    rows_rejected = int(counts_df["rows_rejected"][0])
    partitions = int(parts_df["partitions"][0])

    qdir = os.path.join(out_dir, "quarantine")
    os.makedirs(qdir, exist_ok=True)
    with open(os.path.join(qdir, stem + ".jsonl"), "w", encoding="utf-8") as f:
        for row, col, value, reason in bad_df.sort("row").iter_rows():
            f.write(json.dumps({"file": path, "row": int(row), "column": col,
                                "value": value, "reason": reason}) + "\n")
    return {"rows_in": rows_in, "rows_written": rows_in - rows_rejected,
            "rows_rejected": rows_rejected, "partitions": partitions}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Polars peer transform (service-calls CSV)")
    p.add_argument("--input", required=True)
    p.add_argument("--output-dir", required=True)
    a = p.parse_args(argv)
    print(json.dumps(transform(a.input, a.output_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
