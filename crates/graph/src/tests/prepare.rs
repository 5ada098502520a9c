//! Tests of `prepare`: results through the spec's mapping into one batch, vertices of every
//! result before any edge, duplicates merged as sequential upserts would, unknown results refused.

use graphetl_core::{DatasetSpec, ErrorName};

use super::*;
use crate::model::{ResultValue, Row};
use crate::prepare::{merge_duplicates, prepare_results};

fn spec() -> DatasetSpec {
    let text = include_str!("../../../../datasets/service-calls.toml");
    DatasetSpec::from_toml_str(text, "service-calls.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn service(name: &str, requests: i64, error_rate: f64) -> Row {
    [
        ("name", ResultValue::String(name.to_owned())),
        ("requests_in", ResultValue::Int(requests)),
        ("requests_out", ResultValue::Int(requests)),
        ("error_rate", ResultValue::Float(error_rate)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[test]
fn every_vertex_comes_before_any_edge_and_duplicates_merge_in_input_order() {
    let mut call: Row = ["errors", "error_rate", "p50_ms", "p95_ms", "p99_ms", "bytes"]
        .into_iter()
        .chain(["first_seen", "last_seen"])
        .map(|k| (k.to_owned(), ResultValue::Null))
        .collect();
    call.insert("caller".into(), ResultValue::String("checkout".into()));
    call.insert("callee".into(), ResultValue::String("payments".into()));
    call.insert("requests".into(), ResultValue::Int(10));
    let results = vec![
        ("edges".to_owned(), vec![call]),
        (
            "services".to_owned(),
            vec![
                service("checkout", 1, 0.5),
                service("payments", 2, 0.1),
                service("checkout", 4, f64::NAN),
            ],
        ),
    ];
    let (prepared, batch) = prepare_results(&spec(), &results).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(prepared.results, 2);
    assert_eq!(prepared.duplicates_merged, 1);
    assert!(prepared.rejected.is_empty(), "{:?}", prepared.rejected);
    let ids: Vec<&str> = batch.vertices.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(batch.edges.len(), 1);
    let checkout = batch.vertices.iter().find(|v| v.id.ends_with("checkout"));
    let checkout = checkout.unwrap_or_else(|| panic!("no checkout vertex in {ids:?}"));
    assert_eq!(checkout.properties.get("requests_in"), Some(&PropertyValue::Long(4)), "last wins");
    assert_eq!(
        checkout.properties.get("error_rate"),
        Some(&PropertyValue::Double(0.5)),
        "a NaN does not replace a value an upsert would keep"
    );
}

#[test]
fn a_result_the_spec_does_not_query_is_refused_as_a_bad_event() {
    let results = vec![("nope".to_owned(), vec![service("checkout", 1, 0.5)])];
    let error = prepare_results(&spec(), &results).err();
    let error = error.unwrap_or_else(|| panic!("an unknown result was prepared"));
    assert_eq!(error.name, "nope");
    assert_eq!(error.error_name(), ErrorName::BadEvent);
    assert!(error.to_string().contains("services"), "{error}");
}

#[test]
fn merging_keeps_first_occurrence_order_and_label() {
    let batch = GraphBatch {
        vertices: vec![
            Vertex::new("a", "First").with("x", s("1")),
            Vertex::new("b", "Other"),
            Vertex::new("a", "Second").with("x", s("2")).with("y", s("3")),
        ],
        edges: vec![],
    };
    let (merged, count) = merge_duplicates(batch);
    assert_eq!(count, 1);
    let ids: Vec<&str> = merged.vertices.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(merged.vertices[0].label, "First");
    assert_eq!(merged.vertices[0].properties.get("x"), Some(&s("2")));
    assert_eq!(merged.vertices[0].properties.get("y"), Some(&s("3")));
}
