//! Unit tests: placeholder rendering, CSV chunks, and running a spec's queries on a scripted engine.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use graphetl_core::contract::{ResultValue, Row};
use graphetl_core::errors::ErrorName;
use graphetl_core::spec::DatasetSpec;

use crate::chunks::chunk_file_name;
use crate::engine::QueryParams;
use crate::{
    AggregateError, ChunkError, QueryEngine, QueryError, QueryResult, QuerySpecResolved,
    RenderError, aggregate, parse_csv_chunk, render_csv_chunks, render_sql, table_name,
    write_csv_chunks,
};

pub(crate) fn datasets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

pub(crate) fn load_spec(name: &str) -> DatasetSpec {
    let path = datasets_dir().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    DatasetSpec::from_toml_str(&text, &path.display().to_string())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn params() -> QueryParams {
    QueryParams {
        table: "service_calls".into(),
        dt_from: "2025-06-01".into(),
        dt_to: "2025-06-02".into(),
        run_id: "run-1".into(),
    }
}

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or_else(|| panic!("{n} is zero"))
}

// ---- render_sql ----

#[test]
fn render_substitutes_every_placeholder() {
    let sql =
        "SELECT '{run_id}' FROM {table} WHERE dt BETWEEN '{dt_from}' AND '{dt_to}' -- {table}";
    let out = render_sql(sql, "curated.service_calls", "2025-06-01", "2025-06-30", "r:1.a_b-c")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        "SELECT 'r:1.a_b-c' FROM curated.service_calls WHERE dt BETWEEN '2025-06-01' AND '2025-06-30' -- curated.service_calls"
    );
}

#[test]
fn render_keeps_text_without_placeholders_and_lone_closing_braces() {
    let out = render_sql("SELECT 1 } x", "t", "2025-01-01", "2025-01-01", "r")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out, "SELECT 1 } x");
}

#[test]
fn render_rejects_unknown_placeholders_listing_each_once() {
    let err = render_sql(
        "SELECT {colum} FROM {table} WHERE {dt} = {colum} OR {}",
        "t",
        "2025-01-01",
        "2025-01-01",
        "r",
    );
    assert_eq!(
        err,
        Err(RenderError::UnknownPlaceholders {
            names: vec!["colum".into(), "dt".into(), String::new()]
        })
    );
}

#[test]
fn render_rejects_an_unclosed_brace_with_its_line() {
    let err = render_sql("SELECT 1\nFROM {table\n}", "t", "2025-01-01", "2025-01-01", "r");
    assert_eq!(err, Err(RenderError::UnclosedBrace { line: 2 }));
}

#[test]
fn render_validates_values_before_substituting() {
    let sql = "SELECT 1 FROM {table}";
    for bad in ["", "a-b", "a b", "1abc", "a.", "t;DROP", "\"t\""] {
        assert_eq!(
            render_sql(sql, bad, "2025-01-01", "2025-01-01", "r"),
            Err(RenderError::BadTable(bad.into())),
            "{bad:?}"
        );
    }
    for bad in ["2025-6-01", "2025-02-30", "20250601", "2025-06-01'", "' OR 1=1 --"] {
        assert!(
            matches!(
                render_sql(sql, "t", bad, "2025-12-31", "r"),
                Err(RenderError::BadDate { which: "dt_from", .. })
            ),
            "{bad:?}"
        );
        assert!(
            matches!(
                render_sql(sql, "t", "2025-01-01", bad, "r"),
                Err(RenderError::BadDate { which: "dt_to", .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        render_sql(sql, "t", "2025-06-02", "2025-06-01", "r"),
        Err(RenderError::EmptyWindow { .. })
    ));
    let long = "r".repeat(129);
    for bad in ["", "x' OR '1'='1", "a b", long.as_str()] {
        assert_eq!(
            render_sql(sql, "t", "2025-01-01", "2025-01-01", bad),
            Err(RenderError::BadRunId(bad.into()))
        );
    }
    assert!(render_sql(sql, "t", "2025-01-01", "2025-01-01", &"r".repeat(128)).is_ok());
}

#[test]
fn every_shipped_sql_file_renders() {
    for name in ["service-calls", "products"] {
        let spec = load_spec(name);
        assert!(!spec.queries.is_empty(), "{name} has queries");
        for q in &spec.queries {
            let path = datasets_dir().join(&q.sql);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let sql =
                render_sql(&text, &table_name(&spec.name), "2025-06-01", "2025-06-01", "run-1")
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!sql.contains('{'), "{}", path.display());
            assert!(sql.contains(&table_name(&spec.name)), "{}", path.display());
        }
    }
}

#[test]
fn the_shipped_edges_query_renders_to_its_snapshot() {
    // The SQL Athena and the local engine both run for service-calls' edges, with every
    // placeholder filled (`UPDATE_EXPECT=1 cargo test` rewrites it after a deliberate change).
    let path = datasets_dir().join("service-calls/edges.sql");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let sql = render_sql(&text, "service_calls", "2025-06-01", "2025-06-30", "run-1")
        .unwrap_or_else(|e| panic!("{e}"));
    expect_test::expect![[r#"
        -- One row per (caller, callee) pair in the run's partitions: the CALLS edges.
        SELECT
          caller,
          callee,
          count(*) AS requests,
          sum(CASE WHEN ok = false OR status >= 500 THEN 1 ELSE 0 END) AS errors,
          CAST(sum(CASE WHEN ok = false OR status >= 500 THEN 1 ELSE 0 END) AS DOUBLE) / count(*) AS error_rate,
          approx_percentile(latency_ms, 0.5) AS p50_ms,
          approx_percentile(latency_ms, 0.95) AS p95_ms,
          approx_percentile(latency_ms, 0.99) AS p99_ms,
          sum(bytes) AS bytes,
          min(ts) AS first_seen,
          max(ts) AS last_seen
        FROM service_calls
        WHERE dt BETWEEN '2025-06-01' AND '2025-06-30'
        GROUP BY caller, callee
    "#]].assert_eq(&sql);
}

#[test]
fn table_names_are_identifiers() {
    assert_eq!(table_name("service-calls"), "service_calls");
    assert_eq!(table_name("products"), "products");
}

// ---- chunks ----

fn row(cells: &[(&str, ResultValue)]) -> Row {
    cells.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn sample_result() -> QueryResult {
    use ResultValue::*;
    QueryResult {
        columns: vec![
            "name".into(),
            "n".into(),
            "rate".into(),
            "ok".into(),
            "at".into(),
            "empty".into(),
        ],
        rows: vec![
            row(&[
                ("name", String("a,\"b\"\nc".into())),
                ("n", Int(-3)),
                ("rate", Float(0.1)),
                ("ok", Bool(true)),
                ("at", Timestamp("2025-06-01T00:00:00Z".into())),
                ("empty", Null),
            ]),
            row(&[
                ("name", String(std::string::String::new())),
                ("n", Null),
                ("rate", Float(f64::INFINITY)),
                ("ok", Bool(false)),
                ("at", Null),
                ("empty", Null),
            ]),
            row(&[
                ("name", Null),
                ("n", Int(i64::MAX)),
                ("rate", Float(-1e-300)),
                ("ok", Null),
                ("at", Timestamp("2025-06-01 00:00:00.000".into())),
                ("empty", Null),
            ]),
        ],
    }
}

#[test]
fn chunks_round_trip_types_nulls_and_empty_strings() {
    let result = sample_result();
    let chunks = render_csv_chunks(&result, nz(10)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(chunks.len(), 1);
    let first_line = chunks[0].lines().next().unwrap_or_default();
    assert_eq!(
        first_line,
        r#""name:string","n:int","rate:float","ok:bool","at:timestamp","empty:string""#
    );
    assert!(chunks[0].contains("\n\"\",,inf,false,,\n"), "{}", chunks[0]);
    let back = parse_csv_chunk(&chunks[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, result);
}

#[test]
fn nan_round_trips_as_nan() {
    let result = QueryResult {
        columns: vec!["x".into()],
        rows: vec![row(&[("x", ResultValue::Float(f64::NAN))])],
    };
    let chunks = render_csv_chunks(&result, nz(1)).unwrap_or_else(|e| panic!("{e}"));
    let back = parse_csv_chunk(&chunks[0]).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(back.rows[0]["x"], ResultValue::Float(f) if f.is_nan()));
}

#[test]
fn chunks_hold_at_most_n_rows_each_with_the_header() {
    let result = QueryResult {
        columns: vec!["i".into()],
        rows: (0..5).map(|i| row(&[("i", ResultValue::Int(i))])).collect(),
    };
    let chunks = render_csv_chunks(&result, nz(2)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(chunks, vec!["\"i:int\"\n0\n1\n", "\"i:int\"\n2\n3\n", "\"i:int\"\n4\n"]);
    let rows: Vec<Row> = chunks
        .iter()
        .flat_map(|c| parse_csv_chunk(c).unwrap_or_else(|e| panic!("{e}")).rows)
        .collect();
    assert_eq!(rows, result.rows);
}

#[test]
fn an_empty_result_gives_no_chunk() {
    let result = QueryResult { columns: vec!["a".into()], rows: vec![] };
    assert_eq!(
        render_csv_chunks(&result, nz(3)).unwrap_or_else(|e| panic!("{e}")),
        Vec::<String>::new()
    );
}

#[test]
fn mixed_types_and_missing_cells_are_errors() {
    let mixed = QueryResult {
        columns: vec!["a".into()],
        rows: vec![
            row(&[("a", ResultValue::Int(1))]),
            row(&[("a", ResultValue::Null)]),
            row(&[("a", ResultValue::Float(1.5))]),
        ],
    };
    assert!(matches!(
        render_csv_chunks(&mixed, nz(3)),
        Err(ChunkError::MixedTypes { first: "int", second: "float", .. })
    ));
    let missing = QueryResult {
        columns: vec!["a".into(), "b".into()],
        rows: vec![row(&[("a", ResultValue::Int(1))])],
    };
    assert!(matches!(
        render_csv_chunks(&missing, nz(3)),
        Err(ChunkError::MissingColumn { row: 0, .. })
    ));
}

#[test]
fn malformed_chunks_are_rejected() {
    for (text, why) in [
        ("", "no header"),
        ("\"a\"\n", "not name:type"),
        ("\"a:money\"\n", "unknown type"),
        ("\"a:int\"\n\"1\"\n", "quoted int"),
        ("\"a:string\"\nx\n", "plain string"),
        ("\"a:bool\"\nyes\n", "bad bool"),
        ("\"a:int\",\"b:int\"\n1\n", "field count"),
        ("\"a:string\"\n\"x\n", "unclosed quote"),
        ("\"a:string\"\n\"x\"y\n", "junk after quote"),
    ] {
        assert!(matches!(parse_csv_chunk(text), Err(ChunkError::Malformed { .. })), "{why}");
    }
}

#[test]
fn writing_chunks_again_replaces_instead_of_adding() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let other = dir.path().join("other-00000.csv");
    std::fs::write(&other, "keep").unwrap_or_else(|e| panic!("{e}"));
    let many = QueryResult {
        columns: vec!["i".into()],
        rows: (0..5).map(|i| row(&[("i", ResultValue::Int(i))])).collect(),
    };
    let files =
        write_csv_chunks(&many, dir.path(), "edges", nz(2)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        files,
        (0..3).map(|i| dir.path().join(chunk_file_name("edges", i))).collect::<Vec<_>>()
    );

    let fewer = QueryResult { columns: vec!["i".into()], rows: many.rows[..1].to_vec() };
    let files =
        write_csv_chunks(&fewer, dir.path(), "edges", nz(2)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(files, vec![dir.path().join("edges-00000.csv")]);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().and_then(|e| e.file_name().to_str().map(str::to_owned)))
        .collect();
    names.sort();
    assert_eq!(names, vec!["edges-00000.csv", "other-00000.csv"]);
    let text = std::fs::read_to_string(&files[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text, "\"i:int\"\n0\n");

    let none = QueryResult { columns: vec!["i".into()], rows: vec![] };
    assert!(
        write_csv_chunks(&none, dir.path(), "edges", nz(2))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    assert!(!dir.path().join("edges-00000.csv").exists());
    assert!(other.exists());
}

// ---- aggregate on a scripted engine ----

/// Records each query it is asked to run and answers with one row naming it, or a scripted error.
struct Scripted {
    seen: Mutex<Vec<QuerySpecResolved>>,
    fail: Option<QueryError>,
}

impl QueryEngine for Scripted {
    async fn run(&self, query: &QuerySpecResolved) -> Result<QueryResult, QueryError> {
        self.seen.lock().unwrap_or_else(|e| panic!("{e}")).push(query.clone());
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        Ok(QueryResult {
            columns: vec!["q".into()],
            rows: vec![row(&[("q", ResultValue::String(query.name.clone()))])],
        })
    }
}

#[tokio::test]
async fn aggregate_runs_every_query_in_order_with_rendered_sql() {
    let spec = load_spec("service-calls");
    let engine = Scripted { seen: Mutex::new(Vec::new()), fail: None };
    let results = aggregate(&engine, &spec, &datasets_dir(), &params())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["edges", "services"]);
    assert_eq!(results[0].1.rows[0]["q"], ResultValue::String("edges".into()));
    let seen = engine.seen.lock().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen.len(), 2);
    for q in seen.iter() {
        assert!(q.sql.contains("FROM service_calls"), "{}", q.sql);
        assert!(q.sql.contains("dt BETWEEN '2025-06-01' AND '2025-06-02'"), "{}", q.sql);
        assert_eq!(q.params, params());
    }
}

#[tokio::test]
async fn aggregate_reads_and_renders_everything_before_running_anything() {
    let mut spec = load_spec("service-calls");
    spec.queries[1].sql = "service-calls/missing.sql".into();
    let engine = Scripted { seen: Mutex::new(Vec::new()), fail: None };
    let err = aggregate(&engine, &spec, &datasets_dir(), &params()).await;
    let Err(err) = err else { panic!("a missing SQL file must fail") };
    assert!(matches!(&err, AggregateError::ReadSql { query, .. } if query == "services"), "{err}");
    assert_eq!(err.error_name(), ErrorName::BadSpec);
    assert!(engine.seen.lock().unwrap_or_else(|e| panic!("{e}")).is_empty());

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("bad.sql"), "SELECT {nope} FROM {table}")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut spec = load_spec("service-calls");
    spec.queries[0].sql = "bad.sql".into();
    spec.queries.truncate(1);
    let err = aggregate(&engine, &spec, dir.path(), &params()).await;
    assert!(matches!(
        &err,
        Err(AggregateError::Render { source: RenderError::UnknownPlaceholders { .. }, .. })
    ));
    assert!(engine.seen.lock().unwrap_or_else(|e| panic!("{e}")).is_empty());
}

#[tokio::test]
async fn engine_errors_carry_stable_names() {
    let spec = load_spec("service-calls");
    let cases = [
        (QueryError::Invalid { query: "q".into(), message: "m".into() }, ErrorName::BadSpec),
        (QueryError::Failed { query: "q".into(), message: "m".into() }, ErrorName::Internal),
        (
            QueryError::Throttled { query: "q".into(), message: "m".into() },
            ErrorName::AthenaThrottled,
        ),
        (
            QueryError::Transient { query: "q".into(), message: "m".into() },
            ErrorName::AthenaTransient,
        ),
    ];
    for (error, name) in cases {
        let engine = Scripted { seen: Mutex::new(Vec::new()), fail: Some(error.clone()) };
        let err = aggregate(&engine, &spec, &datasets_dir(), &params()).await;
        let Err(err) = err else { panic!("{error} must fail") };
        assert_eq!(err.error_name(), name);
        assert!(matches!(err, AggregateError::Query(e) if e == error));
        assert_eq!(
            engine.seen.lock().unwrap_or_else(|e| panic!("{e}")).len(),
            1,
            "stops at the first failure"
        );
    }
}
