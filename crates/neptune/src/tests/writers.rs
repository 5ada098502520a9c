//! Tests of `writers` against the mock server on tokio's paused clock: vertices strictly before
//! edges with N writers, the first failure stopping new requests, and a round trip against a
//! real cluster when `NEPTUNE_ENDPOINT` is set.

use std::sync::Arc;
use std::time::Duration;

use graphetl_core::ErrorName;

use super::mock::{MockNeptune, Reply, client, config, expect, iam};
use super::*;
use crate::http::{Auth, CachedCredentials, ClientConfig};
use crate::writers::{LoadError, load_batch, load_requests};
use graphetl_graph::gremlin::{Batcher, Budget, RequestKind, UpsertForm};

#[tokio::test(start_paused = true)]
async fn vertices_strictly_before_edges_with_four_writers() {
    let mock = MockNeptune::start(Some(expect(None)), Duration::from_millis(10)).await;
    // Uneven latencies shuffle completion order; one conflict adds a retry in the vertex
    // phase, so the slowest vertex request finishes last.
    let mut script = Vec::new();
    for i in 0..40u64 {
        if i == 5 {
            script.push(Reply::error(500, "ConcurrentModificationException"));
        }
        script.push(Reply::Ok(Some(Duration::from_millis(5 + (i * 37) % 50))));
    }
    mock.script(script);
    let client = client(config(&mock, iam(None)));
    let batcher =
        Batcher::new(UpsertForm::MergeSingleMap, Budget { max_records: 15, ..Budget::default() });
    let batch = ring(48);
    let requests = batcher.requests(&batch).unwrap_or_else(|e| panic!("{e}"));
    let vertex_requests = requests.iter().filter(|r| r.kind == RequestKind::Vertices).count();
    let edge_requests = requests.iter().filter(|r| r.kind == RequestKind::Edges).count();
    assert!(vertex_requests >= 8 && edge_requests >= 8, "{vertex_requests} {edge_requests}");
    let report = load_requests(&client, &requests, 4).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.requests, requests.len());
    assert_eq!(report.retries, 1);
    assert_eq!((report.vertices, report.edges), (48, 48));
    let seen = mock.requests();
    assert_eq!(seen.len(), requests.len() + 1);
    let last_vertex_answer = seen
        .iter()
        .filter(|r| !r.is_edge_request())
        .filter_map(|r| r.answered)
        .max()
        .unwrap_or_else(|| panic!("no vertex request answered"));
    let first_edge_arrival = seen
        .iter()
        .filter(|r| r.is_edge_request())
        .map(|r| r.arrived)
        .min()
        .unwrap_or_else(|| panic!("no edge request"));
    assert!(
        last_vertex_answer < first_edge_arrival,
        "an edge request arrived ({first_edge_arrival}) before the last vertex answer ({last_vertex_answer})"
    );
    assert_eq!(mock.max_in_flight(), 4, "four writers, one request each");
    mock.assert_all_authenticated();
}

#[tokio::test(start_paused = true)]
async fn the_first_failure_stops_new_requests_and_reports_what_succeeded() {
    let mock = MockNeptune::start(None, Duration::from_millis(10)).await;
    mock.script([
        Reply::Ok(None),
        Reply::Error { status: 400, code: "MalformedQueryException", message: "bad" },
    ]);
    let client = client(config(&mock, Auth::None));
    let batcher =
        Batcher::new(UpsertForm::MergeSingleMap, Budget { max_records: 10, ..Budget::default() });
    let error = match load_batch(&client, &batcher, &ring(40), 2).await {
        Err(error) => error,
        Ok(report) => panic!("loaded despite a permanent error: {report:?}"),
    };
    let seen = mock.requests();
    // Two writers: the failure comes with the second request; the first writer's next
    // request may already be in flight, nothing after that starts, and no edge is sent.
    assert!(seen.len() <= 3, "{} requests sent", seen.len());
    assert!(seen.iter().all(|r| !r.is_edge_request()));
    assert_eq!(error.error_name(), ErrorName::Internal);
    let partial = error.partial_report();
    assert_eq!(partial.requests, seen.len() - 1);
    assert_eq!(partial.edges, 0);
    assert!(matches!(error, LoadError::Neptune { .. }));
    assert!(error.to_string().contains("MalformedQueryException"), "{error}");
}

/// Runs against a real cluster only when `NEPTUNE_ENDPOINT` is set; otherwise says why and
/// returns. Writes two `graphetl-selftest:` vertices and the edge between them (idempotent).
#[tokio::test]
async fn real_cluster_round_trip_when_configured() {
    let Ok(endpoint) = std::env::var("NEPTUNE_ENDPOINT") else {
        println!(
            "skipped: NEPTUNE_ENDPOINT is not set (set it to https://<cluster>:8182, with AWS \
                 credentials and NEPTUNE_REGION or AWS_REGION, or NEPTUNE_NO_IAM=1 for a cluster \
                 without IAM auth, to run this test against a real cluster)"
        );
        return;
    };
    let auth = if std::env::var_os("NEPTUNE_NO_IAM").is_some() {
        Auth::None
    } else {
        let region = match std::env::var("NEPTUNE_REGION") {
            Ok(region) => region,
            Err(_) => crate::http::default_region()
                .await
                .unwrap_or_else(|| panic!("NEPTUNE_ENDPOINT is set but no region is")),
        };
        Auth::Iam { region, credentials: Arc::new(CachedCredentials::default_chain().await) }
    };
    let engine = std::env::var("NEPTUNE_ENGINE_VERSION").unwrap_or_else(|_| "1.2.1.0".into());
    let version: graphetl_graph::gremlin::EngineVersion =
        engine.parse().unwrap_or_else(|e| panic!("{e}"));
    let client = Arc::new(client(ClientConfig::new(endpoint, auth)));
    let batcher = Batcher::new(UpsertForm::for_engine(&version), Budget::default());
    let batch = GraphBatch {
        vertices: vec![
            Vertex::new("graphetl-selftest:a", "SelfTest").with("n", PropertyValue::Long(1)),
            Vertex::new("graphetl-selftest:b", "SelfTest").with("n", PropertyValue::Long(2)),
        ],
        edges: vec![
            Edge::new(
                "graphetl-selftest:a->b",
                "SELF_TEST",
                "graphetl-selftest:a",
                "graphetl-selftest:b",
            )
            .with("at", PropertyValue::Date(date("2025-06-01T00:00:00Z"))),
        ],
    };
    let report = load_batch(&client, &batcher, &batch, 2).await.unwrap_or_else(|e| panic!("{e}"));
    println!("real cluster: {report:?}");
    assert_eq!((report.requests, report.vertices, report.edges), (2, 2, 1));
    assert_eq!(report.ids_returned, 2);
}
