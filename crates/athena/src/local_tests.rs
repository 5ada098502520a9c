//! The local engine on real Parquet in the curated layout, running the repository's own
//! service-calls SQL; expectations are computed independently from the fixture records (and a
//! few by hand).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray, new_null_array,
};
use graphetl_core::contract::{ResultValue, Row};
use graphetl_core::errors::ErrorName;
use graphetl_core::spec::DatasetSpec;
use parquet::arrow::ArrowWriter;

use crate::engine::QueryParams;
use crate::local::LocalEngine;
use crate::tests::{datasets_dir, load_spec};
use crate::{QueryEngine, QueryError, QuerySpecResolved, aggregate};

/// One call record of the fixture.
#[derive(Debug, Clone)]
struct Call {
    dt: &'static str,
    hour: &'static str,
    ts_micros: i64,
    caller: &'static str,
    callee: &'static str,
    status: Option<i64>,
    latency_ms: f64,
    bytes: Option<i64>,
    ok: Option<bool>,
}

const H10: i64 = 1_748_772_000_000_000; // 2025-06-01T10:00:00Z
const DAY2: i64 = 1_748_822_400_000_000; // 2025-06-02T00:00:00Z
const DAY3: i64 = 1_748_908_800_000_000; // 2025-06-03T00:00:00Z

fn fixture() -> Vec<Call> {
    let c = |dt, hour, ts_micros, caller, callee, status, latency_ms, bytes, ok| Call {
        dt,
        hour,
        ts_micros,
        caller,
        callee,
        status,
        latency_ms,
        bytes,
        ok,
    };
    vec![
        c("2025-06-01", "10", H10, "a", "b", Some(200), 10.0, Some(100), Some(true)),
        c("2025-06-01", "10", H10 + 1_000, "a", "b", Some(500), 30.0, Some(200), Some(true)),
        c("2025-06-01", "10", H10 + 2_500, "a", "b", Some(200), 20.0, None, Some(false)),
        c("2025-06-01", "10", H10 + 3_000, "a", "c", Some(200), 5.0, None, Some(true)),
        c("2025-06-01", "10", H10 + 4_000, "c", "a", None, 8.0, Some(10), Some(true)),
        c("2025-06-01", "10", H10 + 5_000, "d", "b", Some(200), 12.0, Some(1), Some(true)),
        c("2025-06-02", "00", DAY2, "b", "c", Some(200), 7.0, Some(50), Some(true)),
        c("2025-06-02", "00", DAY2 + 7, "a", "b", Some(200), 40.0, Some(300), None),
        // Outside the window [2025-06-01, 2025-06-02]:
        c("2025-06-03", "00", DAY3, "a", "b", Some(503), 1000.0, Some(9), Some(false)),
    ]
}

/// Writes the fixture as curated Parquet: one file per (dt, hour), the spec's schema.
fn write_curated(spec: &DatasetSpec, root: &Path, calls: &[Call]) {
    let schema = graphetl_transform::output_schema(spec);
    let mut groups: BTreeMap<(&str, &str), Vec<&Call>> = BTreeMap::new();
    for call in calls {
        groups.entry((call.dt, call.hour)).or_default().push(call);
    }
    for ((dt, hour), calls) in groups {
        let dir = root.join(format!("dt={dt}/hour={hour}"));
        std::fs::create_dir_all(&dir).unwrap();
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|field| -> ArrayRef {
                match field.name().as_str() {
                    "ts" => Arc::new(
                        TimestampMicrosecondArray::from(
                            calls.iter().map(|c| c.ts_micros).collect::<Vec<_>>(),
                        )
                        .with_timezone("UTC"),
                    ),
                    "caller" => Arc::new(StringArray::from(
                        calls.iter().map(|c| c.caller).collect::<Vec<_>>(),
                    )),
                    "callee" => Arc::new(StringArray::from(
                        calls.iter().map(|c| c.callee).collect::<Vec<_>>(),
                    )),
                    "status" => Arc::new(Int64Array::from(
                        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
                    )),
                    "latency_ms" => Arc::new(Float64Array::from(
                        calls.iter().map(|c| c.latency_ms).collect::<Vec<_>>(),
                    )),
                    "bytes" => Arc::new(Int64Array::from(
                        calls.iter().map(|c| c.bytes).collect::<Vec<_>>(),
                    )),
                    "ok" => {
                        Arc::new(BooleanArray::from(calls.iter().map(|c| c.ok).collect::<Vec<_>>()))
                    }
                    _ => new_null_array(field.data_type(), calls.len()),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let file = std::fs::File::create(dir.join("part-0.parquet")).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
}

fn params(dt_from: &str, dt_to: &str) -> QueryParams {
    QueryParams {
        table: "service_calls".into(),
        dt_from: dt_from.into(),
        dt_to: dt_to.into(),
        run_id: "run-1".into(),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn run_dataset(
    spec: &DatasetSpec,
    dir: &Path,
    params: &QueryParams,
) -> BTreeMap<String, Vec<Row>> {
    let engine = LocalEngine::over_dir(spec, &params.table, dir).await.unwrap();
    let results = aggregate(&engine, spec, &datasets_dir(), params).await.unwrap();
    results.into_iter().map(|(name, r)| (name, r.rows)).collect()
}

fn key(row: &Row, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| match row.get(*c) {
            Some(ResultValue::String(s)) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn by_key(rows: &[Row], columns: &[&str]) -> BTreeMap<String, Row> {
    rows.iter().map(|r| (key(r, columns), r.clone())).collect()
}

fn int(row: &Row, column: &str) -> Option<i64> {
    match row.get(column) {
        Some(ResultValue::Int(n)) => Some(*n),
        Some(ResultValue::Null) => None,
        other => panic!("{column}: expected an int, got {other:?}"),
    }
}

fn float(row: &Row, column: &str) -> Option<f64> {
    match row.get(column) {
        Some(ResultValue::Float(x)) => Some(*x),
        Some(ResultValue::Null) => None,
        other => panic!("{column}: expected a float, got {other:?}"),
    }
}

fn is_error(c: &Call) -> bool {
    c.ok == Some(false) || c.status.is_some_and(|s| s >= 500)
}

/// The edges query computed directly from the records: (requests, errors, bytes, first, last,
/// sorted latencies).
type EdgeFacts = (i64, i64, Option<i64>, i64, i64, Vec<f64>);

fn expected_edges(calls: &[Call], from: &str, to: &str) -> BTreeMap<String, EdgeFacts> {
    let mut out: BTreeMap<String, EdgeFacts> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.dt >= from && c.dt <= to) {
        let e = out.entry(format!("{}|{}", c.caller, c.callee)).or_insert((
            0,
            0,
            None,
            i64::MAX,
            i64::MIN,
            Vec::new(),
        ));
        e.0 += 1;
        e.1 += i64::from(is_error(c));
        if let Some(b) = c.bytes {
            e.2 = Some(e.2.unwrap_or(0) + b);
        }
        e.3 = e.3.min(c.ts_micros);
        e.4 = e.4.max(c.ts_micros);
        e.5.push(c.latency_ms);
    }
    for e in out.values_mut() {
        e.5.sort_by(f64::total_cmp);
    }
    out
}

fn iso(micros: i64) -> String {
    let t = chrono::DateTime::from_timestamp_micros(micros).unwrap();
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[test]
fn edges_match_an_independent_computation() {
    let spec = load_spec("service-calls");
    let dir = tempfile::tempdir().unwrap();
    let calls = fixture();
    write_curated(&spec, dir.path(), &calls);
    let results =
        rt().block_on(run_dataset(&spec, dir.path(), &params("2025-06-01", "2025-06-02")));

    let edges = by_key(&results["edges"], &["caller", "callee"]);
    let expected = expected_edges(&calls, "2025-06-01", "2025-06-02");
    assert_eq!(edges.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (pair, (requests, errors, bytes, first, last, latencies)) in &expected {
        let row = &edges[pair];
        assert_eq!(int(row, "requests"), Some(*requests), "{pair} requests");
        assert_eq!(int(row, "errors"), Some(*errors), "{pair} errors");
        assert_eq!(float(row, "error_rate"), Some(*errors as f64 / *requests as f64), "{pair}");
        assert_eq!(int(row, "bytes"), *bytes, "{pair} bytes (NULL when every value is NULL)");
        assert_eq!(row.get("first_seen"), Some(&ResultValue::Timestamp(iso(*first))), "{pair}");
        assert_eq!(row.get("last_seen"), Some(&ResultValue::Timestamp(iso(*last))), "{pair}");
        // approx_percentile: a value between the two data points around the exact rank.
        for (column, p) in [("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
            let got = float(row, column).unwrap_or_else(|| panic!("{pair} {column} is NULL"));
            let rank = p * (latencies.len() - 1) as f64;
            let lo = latencies[rank.floor() as usize];
            let hi = latencies[rank.ceil() as usize];
            assert!(lo <= got && got <= hi, "{pair} {column} = {got}, expected in [{lo}, {hi}]");
        }
    }
    // By hand, for the busiest pair: 4 calls in the window (the 2025-06-03 one is outside), two
    // of them errors (a 500 and an ok = false), 100 + 200 + 300 bytes (one NULL skipped).
    let ab = &edges["a|b"];
    assert_eq!(
        (int(ab, "requests"), int(ab, "errors"), int(ab, "bytes")),
        (Some(4), Some(2), Some(600))
    );
    assert_eq!(float(ab, "error_rate"), Some(0.5));
    assert_eq!(
        ab.get("first_seen"),
        Some(&ResultValue::Timestamp("2025-06-01T10:00:00.000Z".into()))
    );
    assert_eq!(
        ab.get("last_seen"),
        Some(&ResultValue::Timestamp("2025-06-02T00:00:00.000Z".into()))
    );
    assert_eq!(int(&edges["a|c"], "bytes"), None);
}

#[test]
fn services_have_null_error_rate_when_nothing_came_in() {
    let spec = load_spec("service-calls");
    let dir = tempfile::tempdir().unwrap();
    write_curated(&spec, dir.path(), &fixture());
    let results =
        rt().block_on(run_dataset(&spec, dir.path(), &params("2025-06-01", "2025-06-02")));
    let services = by_key(&results["services"], &["name"]);
    // (requests_in, requests_out, error_rate), by hand from the fixture's window.
    let expected: [(&str, i64, i64, Option<f64>); 4] = [
        ("a", 1, 5, Some(0.0)),
        ("b", 5, 1, Some(2.0 / 5.0)),
        ("c", 2, 1, Some(0.0)),
        ("d", 0, 1, None),
    ];
    assert_eq!(services.len(), expected.len(), "{services:?}");
    for (name, requests_in, requests_out, error_rate) in expected {
        let row = &services[name];
        assert_eq!(int(row, "requests_in"), Some(requests_in), "{name}");
        assert_eq!(int(row, "requests_out"), Some(requests_out), "{name}");
        assert_eq!(float(row, "error_rate"), error_rate, "{name}");
    }
}

#[test]
fn an_empty_window_or_missing_folder_gives_empty_results() {
    let spec = load_spec("service-calls");
    let dir = tempfile::tempdir().unwrap();
    write_curated(&spec, dir.path(), &fixture());
    let rt = rt();
    let empty = rt.block_on(run_dataset(&spec, dir.path(), &params("2025-07-01", "2025-07-02")));
    assert_eq!(empty["edges"].len(), 0);
    assert_eq!(empty["services"].len(), 0);
    let missing = dir.path().join("no-such-dataset");
    let none = rt.block_on(run_dataset(&spec, &missing, &params("2025-06-01", "2025-06-02")));
    assert_eq!((none["edges"].len(), none["services"].len()), (0, 0));
}

#[test]
fn products_sql_runs_on_its_schema() {
    // The products queries use window functions over the DMS-style columns; an empty table is
    // enough to show every name and function resolves.
    let spec = load_spec("products");
    let dir = tempfile::tempdir().unwrap();
    let table = crate::table_name(&spec.name);
    let p = QueryParams { table, ..params("2025-06-01", "2025-06-02") };
    let results = rt().block_on(run_dataset(&spec, &dir.path().join("absent"), &p));
    assert_eq!(results.len(), spec.queries.len());
}

#[test]
fn trino_functions_are_registered_and_bad_sql_is_invalid() {
    let spec = load_spec("service-calls");
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let engine = rt.block_on(LocalEngine::over_dir(&spec, "service_calls", dir.path())).unwrap();
    let run = |sql: &str| {
        let q = QuerySpecResolved {
            name: "q".into(),
            sql: sql.into(),
            params: params("2025-06-01", "2025-06-01"),
        };
        rt.block_on(engine.run(&q))
    };
    let parsed = run("SELECT date_parse('2025-06-01 10:11:12', '%Y-%m-%d %H:%i:%s') AS t, \
         date_parse('6/1/2025', '%c/%e/%Y') AS d, date_parse('junk', '%Y') AS bad")
    .unwrap();
    let row = &parsed.rows[0];
    assert_eq!(row["t"], ResultValue::Timestamp("2025-06-01T10:11:12.000Z".into()));
    assert_eq!(row["d"], ResultValue::Timestamp("2025-06-01T00:00:00.000Z".into()));
    assert_eq!(row["bad"], ResultValue::Null);

    // Trino: approx_percentile over 1..=5 at 0.5 is 3; approx_distinct counts distinct values.
    let approx =
        run("SELECT approx_percentile(x, 0.5) AS p50, approx_distinct(CAST(x AS BIGINT)) AS n \
         FROM (VALUES (1.0), (2.0), (3.0), (4.0), (5.0), (5.0)) AS t(x)")
        .unwrap();
    assert_eq!(approx.rows[0]["n"], ResultValue::Int(5));
    match approx.rows[0]["p50"] {
        ResultValue::Float(x) => assert!((3.0..=4.0).contains(&x), "p50 = {x}"),
        ref other => panic!("p50: {other:?}"),
    }

    let err = run("SELEC nope").unwrap_err();
    assert!(matches!(err, QueryError::Invalid { .. }), "{err:?}");
    assert_eq!(err.error_name(), ErrorName::BadSpec);
    let err = run("SELECT no_such_column FROM service_calls").unwrap_err();
    assert!(matches!(err, QueryError::Invalid { .. }), "{err:?}");

    // Column types map like the Athena adapter's: decimals are floats, NULL stays NULL.
    let typed = run(
        "SELECT CAST(1.25 AS DECIMAL(10, 2)) AS d, CAST(NULL AS BIGINT) AS n, 'x' AS s, true AS b",
    )
    .unwrap();
    let row = &typed.rows[0];
    assert_eq!(row["d"], ResultValue::Float(1.25));
    assert_eq!(row["n"], ResultValue::Null);
    assert_eq!(row["s"], ResultValue::String("x".into()));
    assert_eq!(row["b"], ResultValue::Bool(true));
    assert_eq!(typed.columns, vec!["d", "n", "s", "b"]);
}
