//! Tests of `bulk` against the mock: CSV through the upload port, `POST /loader`, status polls,
//! and routed loads (bulk at the threshold, upserts below).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use graphetl_core::ErrorName;
use serde_json::{Value, json};

use super::mock::{Expect, MockNeptune, Reply};
use super::*;
use crate::bulk::{BulkConfig, BulkError, CsvUpload, bulk_load, loader_request, parse_start};
use crate::http::{Auth, ClientConfig, NeptuneClient, StaticCredentials};
use graphetl_graph::local::LocalGraph;
use graphetl_graph::model::{ResultValue, Row};
use graphetl_graph::sink::GraphSink;

const REGION: &str = "us-east-2";
const ROLE: &str = "arn:aws:iam::123456789012:role/NeptuneLoadFromS3";

#[derive(Default)]
struct Uploads(Mutex<Vec<(String, String)>>, bool);

impl CsvUpload for Uploads {
    async fn put(&self, key: &str, body: String) -> Result<String, String> {
        if self.1 {
            return Err("AccessDenied".into());
        }
        if let Ok(mut files) = self.0.lock() {
            files.push((key.to_owned(), body));
        }
        Ok(format!("s3://graphetl-data/{key}"))
    }
}

fn client(mock: &MockNeptune) -> NeptuneClient {
    let auth = Auth::Iam {
        region: REGION.into(),
        credentials: Arc::new(StaticCredentials::new("AKIDBULK", "bulk/secret", None)),
    };
    let mut config = ClientConfig::new(mock.endpoint(), auth);
    config.connect_timeout = None;
    config.request_timeout = None;
    config.pool_idle_timeout = None;
    config.jitter_seed = Some(3);
    NeptuneClient::new(config).unwrap_or_else(|e| panic!("{e}"))
}

fn expect() -> Expect {
    Expect {
        access_key: "AKIDBULK".into(),
        secret: "bulk/secret".into(),
        region: REGION.into(),
        token: None,
    }
}

fn graph() -> LocalGraph {
    let batch = GraphBatch {
        vertices: vec![
            Vertex::new("checkout", "Service").with("name", s("checkout")),
            Vertex::new("payments", "Service").with("name", s("payments")),
        ],
        edges: vec![
            Edge::new("checkout->payments", "CALLS", "checkout", "payments")
                .with("requests", PropertyValue::Long(10)),
        ],
    };
    let mut graph = LocalGraph::new();
    GraphSink::upsert(&mut graph, &batch).unwrap_or_else(|e| panic!("{e}"));
    graph
}

fn config() -> BulkConfig {
    let mut config = BulkConfig::new(ROLE, REGION, "bulk/service-calls/run-1/");
    config.poll_interval = Duration::from_secs(5);
    config.max_wait = Duration::from_secs(60);
    config
}

fn started(id: &str) -> Reply {
    Reply::Body {
        status: 200,
        body: json!({"status": "200 OK", "payload": {"loadId": id}}).to_string(),
    }
}

fn status(status: &str, extra: Value) -> Reply {
    let mut overall = json!({"fullUri": "s3://graphetl-data/bulk/service-calls/run-1/",
            "runNumber": 1, "retryNumber": 0, "status": status, "totalTimeSpent": 4,
            "startTime": 1_763_600_000, "totalRecords": 9, "totalDuplicates": 0,
            "parsingErrors": 0, "datatypeMismatchErrors": 0, "insertErrors": 0});
    if let (Some(o), Some(e)) = (overall.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    let body = json!({"status": "200 OK", "payload": {
        "feedCount": [{status: 1}],
        "overallStatus": overall,
        "errors": {"startIndex": 0, "endIndex": 0, "loadId": "job-1",
                   "errorLogs": if extra.get("parsingErrors").is_some() {
                       json!([{"errorCode": "PARSING_ERROR", "errorMessage": "bad header", "fileName": "edges.csv", "recordNum": 1}])
                   } else { json!([]) }}
    }});
    Reply::Body { status: 200, body: body.to_string() }
}

#[tokio::test(start_paused = true)]
async fn uploads_csv_starts_a_job_and_polls_until_completed() -> Result<(), BulkError> {
    let mock = MockNeptune::start(Some(expect()), Duration::from_millis(5)).await;
    let uploads = Uploads::default();
    mock.script([
        started("job-1"),
        status("LOAD_IN_QUEUE", json!({})),
        Reply::error(500, "ThrottlingException"),
        status("LOAD_IN_PROGRESS", json!({})),
        status("LOAD_COMPLETED", json!({})),
    ]);
    let graph = graph();
    let report = bulk_load(&client(&mock), &uploads, &graph, &config()).await?;
    assert_eq!((report.load_id.as_str(), report.polls), ("job-1", 3));
    assert_eq!((report.vertices, report.edges, report.status.total_records), (2, 1, 9));
    assert_eq!(report.source, "s3://graphetl-data/bulk/service-calls/run-1/");
    let files = uploads.0.lock().map(|f| f.clone()).unwrap_or_default();
    let keys: Vec<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["bulk/service-calls/run-1/vertices.csv", "bulk/service-calls/run-1/edges.csv"]
    );
    assert_eq!(files[0].1, graph.vertices_csv()?);
    assert_eq!(files[1].1, graph.edges_csv()?);
    let requests = mock.requests();
    let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets[0], "POST /loader");
    assert!(targets[1..].iter().all(|t| *t == "GET /loader/job-1?details=true&errors=true"));
    assert_eq!(targets.len(), 5, "one start, three polls and one throttled retry");
    let body: Value = serde_json::from_str(&requests[0].body)
        .map_err(|e| BulkError::BadResponse(e.to_string()))?;
    assert_eq!(body, loader_request(&report.source, &config()));
    assert_eq!(body["updateSingleCardinalityProperties"], "TRUE");
    assert_eq!(body["failOnError"], "FALSE");
    assert_eq!(body["parallelism"], "MEDIUM");
    mock.assert_all_authenticated();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn failed_timed_out_and_unusable_jobs_are_errors() {
    let mock = MockNeptune::start(Some(expect()), Duration::from_millis(5)).await;
    let client = client(&mock);
    let graph = graph();
    mock.script([started("job-2"), status("LOAD_FAILED", json!({"parsingErrors": 2}))]);
    let failed = bulk_load(&client, &Uploads::default(), &graph, &config()).await.err();
    assert!(
        matches!(&failed, Some(BulkError::Failed { load_id, .. }) if load_id == "job-2"),
        "{failed:?}"
    );
    assert_eq!(failed.as_ref().map(BulkError::error_name), Some(ErrorName::BadInput));
    let message = failed.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("LOAD_FAILED") && message.contains("bad header"), "{message}");

    mock.script([started("job-3")]);
    mock.script((0..20).map(|_| status("LOAD_IN_PROGRESS", json!({}))));
    let slow = bulk_load(&client, &Uploads::default(), &graph, &config()).await.err();
    assert!(
        matches!(&slow, Some(BulkError::TimedOut { last_status, .. }) if last_status == "LOAD_IN_PROGRESS"),
        "{slow:?}"
    );
    assert_eq!(slow.map(|e| e.error_name()), Some(ErrorName::NeptuneTransient));

    let denied =
        bulk_load(&client, &Uploads(Mutex::default(), true), &graph, &config()).await.err();
    assert!(matches!(denied, Some(BulkError::Upload { .. })));
    assert!(parse_start(br#"{"payload":{"loadId":"../x?y"}}"#).is_err());
    assert!(config().use_bulk(100_000) && !config().use_bulk(99_999));
    mock.assert_all_authenticated();
}

fn spec() -> graphetl_core::DatasetSpec {
    let text = include_str!("../../../../datasets/service-calls.toml");
    graphetl_core::DatasetSpec::from_toml_str(text, "service-calls.toml")
        .unwrap_or_else(|e| panic!("{e}"))
}

fn services(names: &[&str]) -> Vec<(String, Vec<Row>)> {
    let rows = names
        .iter()
        .map(|name| {
            [
                ("name".to_owned(), ResultValue::String((*name).to_owned())),
                ("requests_in".to_owned(), ResultValue::Int(1)),
                ("requests_out".to_owned(), ResultValue::Int(2)),
                ("error_rate".to_owned(), ResultValue::Float(0.5)),
            ]
            .into_iter()
            .collect()
        })
        .collect();
    vec![("services".to_owned(), rows)]
}

#[tokio::test(start_paused = true)]
async fn routed_loads_take_the_bulk_path_at_the_threshold_and_upserts_below() {
    use crate::load::{BulkRoute, load_results_routed};
    use graphetl_graph::prepare::prepare_results;
    let mock = MockNeptune::start(Some(expect()), Duration::from_millis(5)).await;
    let client = client(&mock);
    let uploads = Uploads::default();
    let results = services(&["checkout", "payments", "ledger"]);
    let (prepared, batch) = prepare_results(&spec(), &results).unwrap_or_else(|e| panic!("{e}"));
    assert!(prepared.rejected.is_empty(), "{:?}", prepared.rejected);
    assert_eq!(batch.records(), 15, "3 vertices, a label and 4 properties each");
    let mut config = config();
    config.min_records = batch.records();

    mock.script([started("job-7"), status("LOAD_COMPLETED", json!({}))]);
    let mut local = LocalGraph::new();
    let route = BulkRoute { client: &client, upload: &uploads, config: &config };
    let report = load_results_routed(&spec(), &results, &mut local, Some(route))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.path(), "bulk");
    assert_eq!(report.bulk.as_ref().map(|b| b.load_id.as_str()), Some("job-7"));
    assert_eq!((report.upsert.vertices, report.upsert.edges), (3, 0));
    assert_eq!(report.upsert.records, batch.records());
    assert_eq!(report.upsert.requests, 2, "one start, one poll");
    assert_eq!(local.vertices().count(), 0, "the sink is not used on the bulk path");
    let keys: Vec<String> =
        uploads.0.lock().map(|f| f.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    assert_eq!(keys, ["bulk/service-calls/run-1/vertices.csv"], "no edges, no edges.csv");
    let body: Value = serde_json::from_str(&mock.requests()[0].body).unwrap_or_default();
    assert_eq!(body["queueRequest"], "TRUE");

    config.min_records = batch.records() + 1;
    let route = BulkRoute { client: &client, upload: &uploads, config: &config };
    let report = load_results_routed(&spec(), &results, &mut local, Some(route))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.path(), "upsert");
    assert_eq!(local.vertices().count(), 3);
    assert_eq!(mock.requests().len(), 2, "nothing more sent to Neptune");

    // A failed job is the load's error, with the loader's stable name.
    config.min_records = 1;
    mock.script([started("job-8"), status("LOAD_FAILED", json!({"parsingErrors": 1}))]);
    let route = BulkRoute { client: &client, upload: &uploads, config: &config };
    match load_results_routed(&spec(), &results, &mut local, Some(route)).await {
        Err(error) => {
            assert_eq!(error.error_name(), ErrorName::BadInput);
            assert!(error.to_string().contains("job-8"), "{error}");
        }
        Ok(report) => panic!("a failed job loaded: {report:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_edges_only_graph_is_staged_and_uploads_edges_alone() -> Result<(), BulkError> {
    let mock = MockNeptune::start(Some(expect()), Duration::from_millis(5)).await;
    let batch = GraphBatch {
        vertices: vec![],
        edges: vec![Edge::new("a->b", "CALLS", "a", "b").with("requests", PropertyValue::Long(1))],
    };
    let mut graph = LocalGraph::new();
    assert!(GraphSink::upsert(&mut graph.clone(), &batch).is_err(), "upsert checks endpoints");
    let staged = graph.stage(&batch);
    assert_eq!((staged.vertices, staged.edges, staged.records), (0, 1, 2));
    let uploads = Uploads::default();
    mock.script([started("job-9"), status("LOAD_COMPLETED", json!({}))]);
    let report = bulk_load(&client(&mock), &uploads, &graph, &config()).await?;
    assert_eq!(report.source, "s3://graphetl-data/bulk/service-calls/run-1/");
    let keys: Vec<String> =
        uploads.0.lock().map(|f| f.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    assert_eq!(keys, ["bulk/service-calls/run-1/edges.csv"]);
    let empty = bulk_load(&client(&mock), &uploads, &LocalGraph::new(), &config()).await.err();
    assert!(matches!(empty, Some(BulkError::Empty)), "{empty:?}");
    Ok(())
}

#[test]
fn loader_statuses_map_to_stable_names() {
    use crate::bulk::LoaderStatus;
    let named = |status: &str, insert_errors: u64, logs: &[&str]| {
        LoaderStatus {
            status: status.into(),
            insert_errors,
            error_logs: logs.iter().map(|l| (*l).to_owned()).collect(),
            ..LoaderStatus::default()
        }
        .error_name()
    };
    let missing = r#"{"errorCode":"FROM_OR_TO_VERTEX_ARE_MISSING"}"#;
    assert_eq!(named("LOAD_FAILED", 0, &[missing]), ErrorName::BadInput);
    assert_eq!(named("LOAD_FAILED", 3, &[]), ErrorName::BadInput);
    assert_eq!(named("LOAD_COMMITTED_W_WRITE_CONFLICTS", 2, &[]), ErrorName::BadInput);
    assert_eq!(named("LOAD_FAILED", 0, &[]), ErrorName::Internal);
    assert_eq!(named("LOAD_S3_ACCESS_DENIED_ERROR", 0, &[]), ErrorName::StorageAccessDenied);
    assert_eq!(named("LOAD_S3_READ_ERROR", 0, &[]), ErrorName::StorageUnavailable);
    assert_eq!(named("LOAD_DATA_DEADLOCK", 0, &[]), ErrorName::NeptuneTransient);
    assert_eq!(named("LOAD_COMMITTED_W_WRITE_CONFLICTS", 0, &[]), ErrorName::NeptuneTransient);
    assert_eq!(named("LOAD_CANCELLED_BY_USER", 0, &[]), ErrorName::Internal);
    assert_eq!(named("LOAD_FAILED_INVALID_REQUEST", 0, &[]), ErrorName::Internal);
}
