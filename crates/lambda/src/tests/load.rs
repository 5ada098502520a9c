//! Tests of `handlers::load`: result chunks from the real local S3 endpoint into the local graph,
//! phases, stable error names, and the bulk path against a loopback loader stand-in.

use std::num::NonZeroUsize;

use graphetl_athena::{QueryResult, render_csv_chunks};
use graphetl_core::contract::{LoadChunk, LoadPhase};
use graphetl_graph::LocalGraph;
use graphetl_graph::model::{PropertyValue, ResultValue, Row};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use graphetl_core::contract::LoadPath;
use graphetl_graph::{Batcher, Budget, UpsertForm};
use graphetl_neptune::bulk::BulkConfig;
use graphetl_neptune::http::{Auth, ClientConfig};
use graphetl_neptune::{NeptuneClient, NeptuneSink};
use serde_json::json;

use super::*;
use crate::handlers::load::LoadHandler;

fn text(value: &str) -> ResultValue {
    ResultValue::String(value.to_owned())
}

fn result(columns: &[&str], rows: Vec<Vec<ResultValue>>) -> QueryResult {
    let columns: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
    let rows =
        rows.into_iter().map(|cells| columns.iter().cloned().zip(cells).collect::<Row>()).collect();
    QueryResult { columns, rows }
}

fn services() -> QueryResult {
    result(
        &["name", "requests_in", "requests_out", "error_rate"],
        vec![
            vec![
                text("checkout"),
                ResultValue::Int(5),
                ResultValue::Int(7),
                ResultValue::Float(0.2),
            ],
            vec![text("payments"), ResultValue::Int(7), ResultValue::Int(0), ResultValue::Null],
            vec![ResultValue::Null, ResultValue::Int(1), ResultValue::Int(1), ResultValue::Null],
        ],
    )
}

fn edges() -> QueryResult {
    result(
        &[
            "caller",
            "callee",
            "requests",
            "errors",
            "error_rate",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "bytes",
            "first_seen",
            "last_seen",
        ],
        vec![vec![
            text("checkout"),
            text("payments"),
            ResultValue::Int(10),
            ResultValue::Int(1),
            ResultValue::Float(0.1),
            ResultValue::Float(12.5),
            ResultValue::Float(f64::INFINITY),
            ResultValue::Float(f64::NAN),
            ResultValue::Null,
            ResultValue::Timestamp("2026-11-20 03:00:00.000".into()),
            ResultValue::Timestamp("2026-11-20 03:59:00.000".into()),
        ]],
    )
}

async fn put_chunk(
    env: &Env,
    key: &str,
    result: &QueryResult,
) -> Result<(), Box<dyn std::error::Error>> {
    let chunks = render_csv_chunks(result, NonZeroUsize::MIN.saturating_add(999))?;
    let chunk = chunks.into_iter().next().ok_or("no chunk")?;
    env.server.store().put_bytes(BUCKET, key, chunk.into_bytes(), Some("text/csv")).await?;
    Ok(())
}

fn chunk(key: &str, query: &str) -> LoadChunk {
    LoadChunk {
        bucket: BUCKET.into(),
        key: key.into(),
        query: query.into(),
        dataset: "service-calls".into(),
        run_id: "test-run".into(),
        phase: LoadPhase::All,
    }
}

const SERVICES: &str = "results/service-calls/test-run/services/chunk-00000.csv";
const EDGES: &str = "results/service-calls/test-run/edges/chunk-00000.csv";

#[tokio::test(flavor = "multi_thread")]
async fn chunks_load_into_the_local_graph_idempotently() -> TestResult {
    let env = Env::start().await?;
    put_chunk(&env, SERVICES, &services()).await?;
    put_chunk(&env, EDGES, &edges()).await?;
    let handler = LoadHandler::new(env.server.store());
    let mut graph = LocalGraph::new();
    let loaded = handler.handle(chunk(SERVICES, "services"), &mut graph).await?;
    assert_eq!(
        (loaded.query.as_str(), loaded.key.as_str(), loaded.vertices, loaded.edges),
        ("services", SERVICES, 2, 0)
    );
    assert_eq!((loaded.records, loaded.requests, loaded.rejected_rows), (5 + 4, 0, 1));
    let loaded = handler.handle(chunk(EDGES, "edges"), &mut graph).await?;
    assert_eq!(
        (loaded.vertices, loaded.edges, loaded.records, loaded.rejected_rows),
        (0, 1, 1 + 6, 0)
    );
    let ids: Vec<&str> = graph.vertices().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["checkout", "payments"]);
    let edge = graph.edge("checkout->payments").ok_or("the edge is missing")?;
    assert_eq!(
        (edge.label.as_str(), edge.out_v.as_str(), edge.in_v.as_str()),
        ("CALLS", "checkout", "payments")
    );
    assert_eq!(edge.properties.get("requests"), Some(&PropertyValue::Long(10)));
    // Idempotent: loading the same chunks again gives the same graph.
    let before = graph.clone();
    handler.handle(chunk(SERVICES, "services"), &mut graph).await?;
    handler.handle(chunk(EDGES, "edges"), &mut graph).await?;
    assert_eq!(graph, before);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn phases_load_vertices_then_edges() -> TestResult {
    let env = Env::start().await?;
    put_chunk(&env, SERVICES, &services()).await?;
    put_chunk(&env, EDGES, &edges()).await?;
    let handler = LoadHandler::new(env.server.store());
    let mut graph = LocalGraph::new();
    let phase = |key: &str, query: &str, phase: LoadPhase| LoadChunk { phase, ..chunk(key, query) };
    // The edges phase of a chunk writes no vertex, the vertices phase no edge.
    let edges_first =
        handler.handle(phase(EDGES, "edges", LoadPhase::Vertices), &mut graph).await?;
    assert_eq!((edges_first.vertices, edges_first.edges), (0, 0));
    let vertices =
        handler.handle(phase(SERVICES, "services", LoadPhase::Vertices), &mut graph).await?;
    assert_eq!((vertices.vertices, vertices.edges), (2, 0));
    let no_vertices =
        handler.handle(phase(SERVICES, "services", LoadPhase::Edges), &mut graph).await?;
    assert_eq!((no_vertices.vertices, no_vertices.edges), (0, 0));
    let edges = handler.handle(phase(EDGES, "edges", LoadPhase::Edges), &mut graph).await?;
    assert_eq!((edges.vertices, edges.edges), (0, 1));
    assert!(graph.edge("checkout->payments").is_some());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_query_missing_chunk_and_bad_chunks_have_stable_names() -> TestResult {
    let env = Env::start().await?;
    put_chunk(&env, EDGES, &edges()).await?;
    let handler = LoadHandler::new(env.server.store());
    let mut graph = LocalGraph::new();
    let unknown = handler.handle(chunk(EDGES, "callers"), &mut graph).await.err();
    let unknown = unknown.ok_or("an unknown query must fail")?;
    assert_eq!(unknown.name, ErrorName::BadEvent);
    assert!(unknown.cause.contains("\"callers\" is not a query"), "{}", unknown.cause);
    let missing = handler.handle(chunk("results/nope.csv", "edges"), &mut graph).await.err();
    assert_eq!(missing.map(|e| e.name), Some(ErrorName::NotFound));
    let folder = handler.handle(chunk("results/", "edges"), &mut graph).await.err();
    assert_eq!(folder.map(|e| e.name), Some(ErrorName::BadEvent));
    let mut other = chunk(EDGES, "edges");
    other.dataset = "products".into();
    let no_spec = handler.handle(other, &mut graph).await.err();
    assert_eq!(no_spec.map(|e| e.name), Some(ErrorName::BadSpec));
    // Edges whose vertices were never loaded: the local graph refuses them as Neptune would.
    let orphan = handler.handle(chunk(EDGES, "edges"), &mut graph).await.err();
    assert_eq!(orphan.map(|e| e.name), Some(ErrorName::BadInput));
    // A chunk this pipeline did not write.
    let bad = "results/service-calls/test-run/edges/bad.csv";
    env.server.store().put_bytes(BUCKET, bad, b"caller,callee\na,b\n".to_vec(), None).await?;
    let malformed = handler.handle(chunk(bad, "edges"), &mut graph).await.err();
    let malformed = malformed.ok_or("a malformed chunk must fail")?;
    assert_eq!(malformed.name, ErrorName::BadInput);
    assert!(malformed.cause.starts_with(&format!("s3://{BUCKET}/{bad}: ")), "{}", malformed.cause);
    assert_eq!(graph, LocalGraph::new(), "nothing was written");
    Ok(())
}

/// A loopback stand-in for Neptune's loader and Gremlin endpoints: `POST /loader` answers
/// `load-<n>`, `GET /loader/<id>` answers the scripted statuses in order (the last one
/// repeats), `POST /gremlin` an empty result. Every request line and body is recorded.
struct LoaderStandIn {
    endpoint: String,
    log: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LoaderStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const GREMLIN_OK: &str = r#"{"requestId":"x","status":{"message":"","code":200,"attributes":{"@type":"g:Map","@value":[]}},"result":{"data":{"@type":"g:List","@value":[]},"meta":{"@type":"g:Map","@value":[]}}}"#;

impl LoaderStandIn {
    async fn start(statuses: Vec<serde_json::Value>) -> std::io::Result<LoaderStandIn> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let log: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let state = Arc::new((log.clone(), statuses, AtomicUsize::new(0)));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &state.0, &state.1, &state.2).await;
                });
            }
        });
        Ok(LoaderStandIn { endpoint, log, task })
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn client(&self) -> Arc<NeptuneClient> {
        let client = NeptuneClient::new(ClientConfig::new(self.endpoint.clone(), Auth::None));
        Arc::new(client.unwrap_or_else(|e| panic!("{e}")))
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    log: &Mutex<Vec<(String, String)>>,
    statuses: &[serde_json::Value],
    polls: &AtomicUsize,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            if line.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let target: String = request_line.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let starts = log
            .lock()
            .map(|mut l| {
                l.push((target.clone(), String::from_utf8_lossy(&body).into_owned()));
                l.iter().filter(|(t, _)| t == "POST /loader").count()
            })
            .unwrap_or(0);
        let answer = if target == "POST /loader" {
            serde_json::json!({"status": "200 OK", "payload": {"loadId": format!("load-{starts}")}})
                .to_string()
        } else if target.starts_with("GET /loader/") {
            let n = polls.fetch_add(1, Ordering::SeqCst).min(statuses.len().saturating_sub(1));
            let status = statuses.get(n).cloned().unwrap_or_default();
            serde_json::json!({"status": "200 OK", "payload": status}).to_string()
        } else {
            GREMLIN_OK.to_owned()
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        write.write_all(response.as_bytes()).await?;
    }
}

fn loader_status(status: &str, insert_errors: u64, logs: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "overallStatus": {"status": status, "totalRecords": 9, "insertErrors": insert_errors,
                          "parsingErrors": 0, "datatypeMismatchErrors": 0},
        "errors": {"errorLogs": logs}
    })
}

const ROLE: &str = "arn:aws:iam::123456789012:role/NeptuneLoadFromS3";

fn bulk_config(min_records: usize) -> BulkConfig {
    let mut config = BulkConfig::new(ROLE, "us-east-1", "ignored/");
    config.min_records = min_records;
    config.poll_interval = std::time::Duration::from_millis(10);
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn above_the_threshold_chunks_go_to_s3_and_the_loader() -> TestResult {
    let env = Env::start().await?;
    put_chunk(&env, SERVICES, &services()).await?;
    put_chunk(&env, EDGES, &edges()).await?;
    let neptune = LoaderStandIn::start(vec![
        loader_status("LOAD_IN_QUEUE", 0, json!([])),
        loader_status("LOAD_IN_PROGRESS", 0, json!([])),
        loader_status("LOAD_COMPLETED", 0, json!([])),
    ])
    .await?;
    // The services chunk maps to 9 records (2 vertices; a row without a name is rejected).
    let handler = LoadHandler::new(env.server.store()).with_bulk(neptune.client(), bulk_config(9));
    let mut graph = LocalGraph::new();
    let loaded = handler.handle(chunk(SERVICES, "services"), &mut graph).await?;
    assert_eq!(loaded.path, LoadPath::Bulk);
    assert_eq!(loaded.bulk_load_id.as_deref(), Some("load-1"));
    assert_eq!((loaded.vertices, loaded.edges, loaded.records), (2, 0, 9));
    assert_eq!(loaded.requests, 4, "one start and three polls");
    assert_eq!(graph, LocalGraph::new(), "the upsert sink is not used");
    let prefix = "runs/test-run/bulk/services/chunk-00000-all/";
    assert_eq!(env.keys(prefix).await?, [format!("{prefix}vertices.csv")]);
    let uploaded = env.server.store().get_bytes(BUCKET, &format!("{prefix}vertices.csv")).await?;
    let mut expected = LocalGraph::new();
    let same = LoadHandler::new(env.server.store());
    same.handle(chunk(SERVICES, "services"), &mut expected).await?;
    assert_eq!(String::from_utf8(uploaded)?, expected.vertices_csv()?);
    let requests = neptune.requests();
    let targets: Vec<&str> = requests.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(targets[0], "POST /loader");
    assert!(targets[1..].iter().all(|t| t.starts_with("GET /loader/load-1?")), "{targets:?}");
    assert_eq!(targets.len(), 4);
    let start: serde_json::Value = serde_json::from_str(&requests[0].1)?;
    assert_eq!(start["source"], format!("s3://{BUCKET}/{prefix}"));
    assert_eq!((start["iamRoleArn"].as_str(), start["format"].as_str()), (Some(ROLE), Some("csv")));
    let response = serde_json::to_value(&loaded)?;
    assert_eq!(
        (response["path"].as_str(), response["bulk_load_id"].as_str()),
        (Some("bulk"), Some("load-1"))
    );

    // The edges phase of the edges chunk uploads edges.csv alone, in its own folder.
    let edges = LoadChunk { phase: LoadPhase::Edges, ..chunk(EDGES, "edges") };
    let handler = LoadHandler::new(env.server.store()).with_bulk(neptune.client(), bulk_config(1));
    let loaded = handler.handle(edges, &mut graph).await?;
    assert_eq!(
        (loaded.path, loaded.edges, loaded.bulk_load_id.as_deref()),
        (LoadPath::Bulk, 1, Some("load-2"))
    );
    let prefix = "runs/test-run/bulk/edges/chunk-00000-edges/";
    assert_eq!(env.keys(prefix).await?, [format!("{prefix}edges.csv")]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_loader_job_fails_the_item_with_a_stable_name() -> TestResult {
    let env = Env::start().await?;
    put_chunk(&env, EDGES, &edges()).await?;
    let log = json!([{"errorCode": "FROM_OR_TO_VERTEX_ARE_MISSING",
        "errorMessage": "Either from vertex, 'checkout', or to vertex, 'payments', is not present.",
        "fileName": "s3://graphetl-test/runs/test-run/bulk/edges/chunk-00000-all/edges.csv", "recordNum": 0}]);
    let neptune = LoaderStandIn::start(vec![
        loader_status("LOAD_IN_PROGRESS", 0, json!([])),
        loader_status("LOAD_FAILED", 1, log),
    ])
    .await?;
    let handler = LoadHandler::new(env.server.store()).with_bulk(neptune.client(), bulk_config(1));
    let failed = handler.handle(chunk(EDGES, "edges"), &mut LocalGraph::new()).await.err();
    let failed = failed.ok_or("a failed job must fail the item")?;
    assert_eq!(failed.name, ErrorName::BadInput);
    for part in [EDGES, "load-1", "LOAD_FAILED", "1 insert errors", "FROM_OR_TO_VERTEX_ARE_MISSING"]
    {
        assert!(failed.cause.contains(part), "{part} not in {}", failed.cause);
    }
    assert_eq!(diagnostic(&failed).error_type, "GraphEtl.BadInput");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn below_the_threshold_chunks_are_upserted_with_gremlin() -> TestResult {
    let env = Env::start().await?;
    put_chunk(&env, SERVICES, &services()).await?;
    let neptune = LoaderStandIn::start(vec![]).await?;
    let client = neptune.client();
    let handler = LoadHandler::new(env.server.store()).with_bulk(client.clone(), bulk_config(10));
    let batcher = Batcher::new(UpsertForm::MergeSingleMap, Budget::default());
    let mut sink = NeptuneSink::new(client, batcher, 2);
    let loaded = handler.handle(chunk(SERVICES, "services"), &mut sink).await?;
    assert_eq!((loaded.path, loaded.bulk_load_id.as_deref()), (LoadPath::Upsert, None));
    assert_eq!((loaded.vertices, loaded.records, loaded.requests), (2, 9, 1));
    let targets: Vec<String> = neptune.requests().into_iter().map(|(t, _)| t).collect();
    assert_eq!(targets, ["POST /gremlin"]);
    assert!(env.keys("runs/").await?.is_empty(), "nothing uploaded");
    let response = serde_json::to_value(&loaded)?;
    assert_eq!(response["path"], "upsert");
    assert!(response.get("bulk_load_id").is_none());
    Ok(())
}
