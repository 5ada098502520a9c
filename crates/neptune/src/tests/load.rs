//! Tests of `load::load_results` against the mock server: results → graph → the Neptune sink
//! with the local graph's semantics, unknown results refused, failures named.

use std::sync::Arc;
use std::time::Duration;

use graphetl_core::{DatasetSpec, ErrorName};

use super::mock::{MockNeptune, Reply, client, config, expect, iam};
use super::*;
use crate::load::load_results;
use crate::writers::{NeptuneSink, default_writers};
use graphetl_graph::gremlin::{Batcher, Budget, UpsertForm};
use graphetl_graph::local::LocalGraph;
use graphetl_graph::model::{ResultValue, Row};
use graphetl_graph::sink::{AsyncGraphSink, SinkError};

#[tokio::test(start_paused = true)]
async fn neptune_sink_and_load_results_share_the_local_sinks_semantics() {
    let text = include_str!("../../../../datasets/service-calls.toml");
    let spec =
        DatasetSpec::from_toml_str(text, "service-calls.toml").unwrap_or_else(|e| panic!("{e}"));
    let row = |cells: &[(&str, ResultValue)]| -> Row {
        cells.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    };
    let str = |v: &str| ResultValue::String(v.to_owned());
    let service = |name: &str, n: i64| {
        row(&[
            ("name", str(name)),
            ("requests_in", ResultValue::Int(n)),
            ("requests_out", ResultValue::Int(n)),
            ("error_rate", ResultValue::Float(0.5)),
        ])
    };
    let call = |caller: &str, callee: &str| {
        row(&[
            ("caller", str(caller)),
            ("callee", str(callee)),
            ("requests", ResultValue::Int(10)),
            ("errors", ResultValue::Int(1)),
            ("error_rate", ResultValue::Float(0.1)),
            ("p50_ms", ResultValue::Float(12.5)),
            ("p95_ms", ResultValue::Float(20.0)),
            ("p99_ms", ResultValue::Float(f64::NAN)),
            ("bytes", ResultValue::Null),
            ("first_seen", ResultValue::Timestamp("2025-06-01 00:00:00.000".into())),
            ("last_seen", ResultValue::Timestamp("2025-06-01T01:00:00Z".into())),
        ])
    };
    // Edges first in the input: load_results still sends every vertex before any edge.
    // `checkout` appears twice: merged, later values win.
    let results = vec![
        ("edges".to_owned(), vec![call("checkout", "payments"), call("payments", "ledger")]),
        (
            "services".to_owned(),
            vec![
                service("checkout", 1),
                service("payments", 2),
                service("ledger", 3),
                service("checkout", 4),
            ],
        ),
    ];
    let mock = MockNeptune::start(Some(expect(None)), Duration::from_millis(20)).await;
    let client = Arc::new(client(config(&mock, iam(None))));
    let batcher = Batcher::new(UpsertForm::MergeSingleMap, Budget::default());
    let mut sink = NeptuneSink::new(client, batcher, default_writers(1));
    let report = load_results(&spec, &results, &mut sink).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.results, 2);
    assert_eq!(report.duplicates_merged, 1);
    assert_eq!(report.model.non_finite_omitted, 2);
    assert_eq!((report.upsert.vertices, report.upsert.edges), (3, 2));
    assert_eq!(report.upsert.requests, 2, "one vertex request, one edge request");
    assert_eq!(sink.report().requests, 2);
    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    assert!(!seen[0].is_edge_request() && seen[1].is_edge_request());
    assert!(seen[0].gremlin.contains("'requests_in':single(4L)"), "{}", seen[0].gremlin);
    assert!(!seen[0].gremlin.contains("'requests_in':single(1L)"));
    mock.assert_all_authenticated();

    // The same results into the local graph through the same generic function.
    let mut local = LocalGraph::new();
    let local_report =
        load_results(&spec, &results, &mut local).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local_report.upsert.records, report.upsert.records);
    assert_eq!(
        local.vertex("checkout").and_then(|v| v.properties.get("requests_in")),
        Some(&PropertyValue::Long(4))
    );

    // A result the spec does not know is refused before anything is sent.
    let unknown = vec![("edgez".to_owned(), vec![])];
    match load_results(&spec, &unknown, &mut sink).await {
        Err(error) => {
            assert_eq!(error.error_name(), ErrorName::BadEvent);
            assert!(error.to_string().contains("edgez"), "{error}");
        }
        Ok(_) => panic!("an unknown result was accepted"),
    }
    assert_eq!(mock.requests().len(), 2);

    // A failing load surfaces through the sink with Neptune's name.
    mock.script(std::iter::repeat_n(Reply::error(500, "ThrottlingException"), 20));
    match AsyncGraphSink::upsert(&mut sink, &golden_batch()).await {
        Err(error @ SinkError::Neptune { .. }) => {
            assert_eq!(error.error_name(), ErrorName::NeptuneThrottled);
        }
        other => panic!("expected a Neptune sink error, got {other:?}"),
    }
}
