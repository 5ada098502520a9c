//! The aggregate handler on the real local S3 endpoint: planning days from a run, chunk files
//! that a re-run replaces, stable error names, and the local engine over curated Parquet the
//! transform handler wrote from the sample.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::num::NonZeroUsize;
use std::sync::Mutex;

use graphetl_athena::chunks::parse_csv_chunk;
use graphetl_athena::engine::{QueryEngine, QueryError, QueryResult, QuerySpecResolved};
use graphetl_athena::local::LocalEngine;
use graphetl_core::contract::{
    AggregatePlanRequest, AggregateQueryRequest, PlannedQuery, TransformItem,
};
use graphetl_core::{DatasetSpec, ErrorName};
use graphetl_graph::model::{ResultValue, Row};
use graphetl_storage::{LocalS3, ObjectStore, S3Store};
use graphetl_transform::TransformOptions;
use serde_json::{Value, json};

use crate::handlers::aggregate::{ALL_DAYS, AggregateHandler, days_of_run};
use crate::handlers::transform::TransformHandler;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "graphetl-test";
const SPEC: &str = include_str!("../../../../datasets/service-calls.toml");
const EDGES_SQL: &str = include_str!("../../../../datasets/service-calls/edges.sql");
const SERVICES_SQL: &str = include_str!("../../../../datasets/service-calls/services.sql");

struct Env {
    root: tempfile::TempDir,
    server: LocalS3,
}

impl Env {
    async fn start() -> Result<Env, Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let server = LocalS3::start(root.path()).await?;
        let store = server.store();
        store.ensure_bucket(BUCKET).await?;
        for (key, text) in [
            ("datasets/service-calls.toml", SPEC),
            ("datasets/service-calls/edges.sql", EDGES_SQL),
            ("datasets/service-calls/services.sql", SERVICES_SQL),
        ] {
            store.put_bytes(BUCKET, key, text.as_bytes().to_vec(), None).await?;
        }
        Ok(Env { root, server })
    }

    fn handler(&self, rows_per_chunk: usize) -> AggregateHandler<S3Store> {
        let n = NonZeroUsize::new(rows_per_chunk).unwrap_or(NonZeroUsize::MIN);
        AggregateHandler::new(self.server.store(), n)
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let mut keys: Vec<String> =
            self.server.store().list(BUCKET, prefix).await?.into_iter().map(|o| o.key).collect();
        keys.sort();
        Ok(keys)
    }
}

fn query_request(name: &str, dt_from: &str, dt_to: &str) -> AggregateQueryRequest {
    AggregateQueryRequest {
        query: PlannedQuery { name: name.into(), dt_from: dt_from.into(), dt_to: dt_to.into() },
        dataset: "service-calls".into(),
        bucket: BUCKET.into(),
        run_id: "run-1".into(),
    }
}

/// An engine that returns `rows` numbered rows (or an error) and records the SQL it got.
struct Scripted {
    rows: usize,
    error: Option<QueryError>,
    seen: Mutex<Vec<String>>,
}

impl QueryEngine for Scripted {
    async fn run(&self, query: &QuerySpecResolved) -> Result<QueryResult, QueryError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(query.sql.clone());
        }
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let rows = (0..self.rows)
            .map(|i| {
                Row::from([
                    ("caller".to_owned(), ResultValue::String(format!("s{i}"))),
                    ("requests".to_owned(), ResultValue::Int(i as i64)),
                ])
            })
            .collect();
        Ok(QueryResult { columns: vec!["caller".into(), "requests".into()], rows })
    }
}

fn scripted(rows: usize, error: Option<QueryError>) -> Scripted {
    Scripted { rows, error, seen: Mutex::new(Vec::new()) }
}

#[test]
fn days_come_from_the_window_the_prefix_or_cover_everything() {
    let days = |run: Value| days_of_run(&run).map_err(|e| e.to_string());
    let own = |a: &str, b: &str| Ok((a.to_owned(), b.to_owned()));
    // The end is exclusive: a window ending at midnight does not include that day.
    assert_eq!(
        days(json!({"window": {"start": "2026-11-20T00:00:00Z", "end": "2026-11-22T00:00:00Z"}})),
        own("2026-11-20", "2026-11-21")
    );
    // The schedule's shape: end and a duration (ISO-8601 or seconds).
    assert_eq!(
        days(json!({"window": {"end": "2026-11-20T01:00:00Z", "duration": "PT2H"}})),
        own("2026-11-19", "2026-11-20")
    );
    assert_eq!(
        days(json!({"window": {"end": "2026-11-20T05:00:00+01:00", "duration": 3600}})),
        own("2026-11-20", "2026-11-20")
    );
    assert_eq!(
        days(json!({"prefix": "raw/service-calls/dt=2026-11-20/hour=03/"})),
        own("2026-11-20", "2026-11-20")
    );
    let everything = own(ALL_DAYS.0, ALL_DAYS.1);
    assert_eq!(days(json!({"prefix": "raw/service-calls/"})), everything);
    assert_eq!(days(json!({"items_manifest": "runs/x/manifest.json"})), everything);
    for bad in [
        json!({"window": {"start": "2026-11-20T00:00:00Z", "end": "2026-11-20T00:00:00Z"}}),
        json!({"window": {"end": "2026-11-20T00:00:00Z"}}),
        json!({"window": {"end": "yesterday", "duration": "PT1H"}}),
        json!({"window": {"end": "2026-11-20T00:00:00Z", "duration": "1 hour"}}),
        json!({"window": {"end": "2026-11-20T00:00:00Z", "duration": "PT"}}),
        json!({"window": {"end": "2026-11-20T00:00:00Z", "duration": -5}}),
        json!({"prefix": "raw/service-calls/dt=2026-13-01/"}),
    ] {
        let error = days_of_run(&bad).err().unwrap_or_else(|| panic!("accepted {bad}"));
        assert_eq!(error.name, ErrorName::BadEvent, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_lists_every_query_of_the_spec_over_the_run_days() -> TestResult {
    let env = Env::start().await?;
    let plan = env
        .handler(10)
        .plan(AggregatePlanRequest {
            run: json!({"dataset": "service-calls", "prefix": "raw/service-calls/dt=2026-11-20/"}),
            bucket: BUCKET.into(),
            run_id: "r".into(),
        })
        .await?;
    let names: Vec<_> = plan.queries.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["edges", "services"]);
    assert!(plan.queries.iter().all(|q| q.dt_from == "2026-11-20" && q.dt_to == "2026-11-20"));

    let no_dataset =
        AggregatePlanRequest { run: json!({}), bucket: BUCKET.into(), run_id: "r".into() };
    let error = env.handler(10).plan(no_dataset).await.err().map(|e| e.name);
    assert_eq!(error, Some(ErrorName::BadEvent));
    let unknown = AggregatePlanRequest {
        run: json!({"dataset": "nope"}),
        bucket: BUCKET.into(),
        run_id: "r".into(),
    };
    assert_eq!(env.handler(10).plan(unknown).await.err().map(|e| e.name), Some(ErrorName::BadSpec));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn chunks_are_written_and_a_rerun_replaces_them() -> TestResult {
    let env = Env::start().await?;
    let engine = scripted(5, None);
    let out =
        env.handler(2).query(query_request("edges", "2026-11-20", "2026-11-21"), &engine).await?;
    let prefix = "aggregates/service-calls/edges/dt_from=2026-11-20/dt_to=2026-11-21/";
    assert_eq!((out.rows, out.chunks.len(), out.replaced), (5, 3, 0));
    assert_eq!(
        env.keys(prefix).await?,
        out.chunks.iter().map(|c| c.key.clone()).collect::<Vec<_>>()
    );
    assert!(out.chunks.iter().all(|c| c.query == "edges" && c.key.starts_with(prefix)));
    // The SQL was rendered with the table and the days.
    let sql = engine.seen.lock().map(|s| s[0].clone()).unwrap_or_default();
    assert!(
        sql.contains("FROM service_calls") && sql.contains("'2026-11-20' AND '2026-11-21'"),
        "{sql}"
    );
    // Every row comes back from the chunks, once.
    let mut callers = Vec::new();
    for chunk in &out.chunks {
        let text = String::from_utf8(env.server.store().get_bytes(BUCKET, &chunk.key).await?)?;
        for row in parse_csv_chunk(&text)?.rows {
            callers.push(row["caller"].clone());
        }
    }
    assert_eq!(callers.len(), 5);

    // Same days again with fewer rows: the stale chunks go, nothing is appended.
    let again = env
        .handler(2)
        .query(query_request("edges", "2026-11-20", "2026-11-21"), &scripted(1, None))
        .await?;
    assert_eq!((again.rows, again.chunks.len(), again.replaced), (1, 1, 2));
    assert_eq!(env.keys(prefix).await?, vec![again.chunks[0].key.clone()]);
    // An empty result leaves no chunk behind.
    let empty = env
        .handler(2)
        .query(query_request("edges", "2026-11-20", "2026-11-21"), &scripted(0, None))
        .await?;
    assert_eq!((empty.rows, empty.chunks.len(), empty.replaced), (0, 0, 1));
    assert!(env.keys(prefix).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_keep_stable_names() -> TestResult {
    let env = Env::start().await?;
    let handler = env.handler(10);
    let throttled = QueryError::Throttled { query: "edges".into(), message: "slow down".into() };
    let transient = QueryError::Transient { query: "edges".into(), message: "retry".into() };
    let invalid = QueryError::Invalid { query: "edges".into(), message: "bad column".into() };
    for (error, name) in [
        (throttled, ErrorName::AthenaThrottled),
        (transient, ErrorName::AthenaTransient),
        (invalid, ErrorName::BadSpec),
    ] {
        let got = handler
            .query(query_request("edges", "2026-11-20", "2026-11-20"), &scripted(0, Some(error)))
            .await;
        assert_eq!(got.err().map(|e| e.name), Some(name));
    }
    let unknown =
        handler.query(query_request("nope", "2026-11-20", "2026-11-20"), &scripted(1, None)).await;
    assert_eq!(unknown.err().map(|e| e.name), Some(ErrorName::BadEvent));
    let bad_day =
        handler.query(query_request("edges", "2026-11-20", "tomorrow"), &scripted(1, None)).await;
    assert_eq!(bad_day.err().map(|e| e.name), Some(ErrorName::BadEvent));
    env.server.store().delete_prefix(BUCKET, "datasets/service-calls/edges.sql").await?;
    let no_sql =
        handler.query(query_request("edges", "2026-11-20", "2026-11-20"), &scripted(1, None)).await;
    let no_sql = no_sql.err().unwrap_or_else(|| panic!("ran without its SQL file"));
    assert_eq!(no_sql.name, ErrorName::BadSpec);
    assert!(no_sql.cause.contains("datasets/service-calls/edges.sql"), "{}", no_sql.cause);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_engine_aggregates_what_the_transform_wrote() -> TestResult {
    let env = Env::start().await?;
    let store = env.server.store();
    let work = tempfile::tempdir()?;
    let transform = TransformHandler::new(
        store.clone(),
        TransformOptions::default(),
        work.path().to_path_buf(),
    );
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/service-calls/sample");
    let mut written = 0;
    for hour in ["03", "04", "05"] {
        let key = format!("raw/service-calls/dt=2026-11-20/hour={hour}/part-00000.json.gz");
        store
            .put_file(
                BUCKET,
                &key,
                &sample.join(format!("dt=2026-11-20/hour={hour}/part-00000.json.gz")),
                None,
            )
            .await?;
        let item = TransformItem {
            bucket: BUCKET.into(),
            key,
            dataset: "service-calls".into(),
            run_id: "r".into(),
        };
        written += transform.handle(item).await?.rows_written;
    }
    let spec = DatasetSpec::from_toml_str(SPEC, "service-calls.toml")?;
    let curated = env.root.path().join(BUCKET).join("curated/service-calls");
    let engine = LocalEngine::over_dir(&spec, "service_calls", &curated).await?;
    let handler = env.handler(1_000);
    let edges = handler.query(query_request("edges", "2026-11-20", "2026-11-20"), &engine).await?;
    let mut requests = 0;
    for chunk in &edges.chunks {
        let text = String::from_utf8(store.get_bytes(BUCKET, &chunk.key).await?)?;
        for row in parse_csv_chunk(&text)?.rows {
            match row.get("requests") {
                Some(ResultValue::Int(n)) => requests += n,
                other => panic!("requests: {other:?}"),
            }
        }
    }
    // Every curated row is one call of exactly one (caller, callee) edge.
    assert!(written > 0);
    assert_eq!(requests, written as i64);
    // Another day has no data: no rows, no chunks.
    let other_day =
        handler.query(query_request("edges", "2026-11-21", "2026-11-21"), &engine).await?;
    assert_eq!((other_day.rows, other_day.chunks.len()), (0, 0));
    Ok(())
}

#[test]
fn settings_and_deadline() {
    use crate::kit::{AggregateSettings, deadline_instant};
    let rows = |v: Option<&str>| {
        AggregateSettings::from_lookup(|name| match name {
            "GRAPHETL_CHUNK_ROWS" => v.map(str::to_owned),
            "GRAPHETL_ATHENA_DATABASE" => Some("graphetl".to_owned()),
            _ => None,
        })
        .map(|s| s.rows_per_chunk.get())
    };
    assert_eq!(rows(None), Ok(crate::handlers::aggregate::DEFAULT_ROWS_PER_CHUNK));
    assert_eq!(rows(Some(" 250 ")), Ok(250));
    for bad in ["0", "-1", "many"] {
        let e = rows(Some(bad)).err().unwrap_or_default();
        assert!(e.contains("GRAPHETL_CHUNK_ROWS"), "{bad}: {e}");
    }
    // Athena's settings are read by the kit too: the database is required.
    let athena = AggregateSettings::from_lookup(|name| {
        (name == "GRAPHETL_ATHENA_WORKGROUP").then(|| "wg".to_owned())
    });
    assert!(athena.is_err_and(|e| e.contains("GRAPHETL_ATHENA_DATABASE")));
    let settings = AggregateSettings::from_lookup(|name| match name {
        "GRAPHETL_GLUE_DATABASE" => Some("glue_db".to_owned()),
        "GRAPHETL_ATHENA_WORKGROUP" => Some("wg".to_owned()),
        _ => None,
    });
    let athena = settings.map(|s| s.athena).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((athena.database.as_str(), athena.workgroup.as_str()), ("glue_db", "wg"));
    // 2026-11-20T04:00:00Z, in epoch milliseconds.
    let now_ms: u64 = 1_795_665_600_000;
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(now_ms);
    let before = std::time::Instant::now();
    let in_a_minute = deadline_instant(now_ms + 60_000, now);
    assert!(in_a_minute >= before + std::time::Duration::from_secs(60));
    assert!(in_a_minute <= std::time::Instant::now() + std::time::Duration::from_secs(60));
    assert!(deadline_instant(now_ms - 1_000, now) <= std::time::Instant::now());
    // cargo lambda watch sends a duration (600000) where Lambda sends an epoch time.
    let emulated = deadline_instant(600_000, now);
    assert!(emulated >= before + std::time::Duration::from_secs(599));
}
