//! Tests of `model`: the graph a dataset spec's `[graph]` mapping builds from query rows,
//! row rejections with reasons, dates, and property values through JSON.

use graphetl_core::DatasetSpec;

use super::*;
use crate::model::{ResultValue, Row, graph_from_rows};

fn spec() -> DatasetSpec {
    let text = include_str!("../../../../datasets/service-calls.toml");
    DatasetSpec::from_toml_str(text, "service-calls.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn row(cells: &[(&str, ResultValue)]) -> Row {
    cells.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn text(value: &str) -> ResultValue {
    ResultValue::String(value.to_owned())
}

fn edge_row(caller: ResultValue, callee: ResultValue) -> Row {
    row(&[
        ("caller", caller),
        ("callee", callee),
        ("requests", ResultValue::Int(10)),
        ("errors", ResultValue::Int(1)),
        ("error_rate", ResultValue::Float(0.1)),
        ("p50_ms", ResultValue::Float(12.5)),
        ("p95_ms", ResultValue::Float(f64::INFINITY)),
        ("p99_ms", ResultValue::Float(f64::NAN)),
        ("bytes", ResultValue::Null),
        ("first_seen", ResultValue::Timestamp("2025-06-01 00:00:00.000".into())),
        ("last_seen", ResultValue::Timestamp("2025-06-01T01:02:03.456789Z".into())),
    ])
}

#[test]
fn vertices_come_from_the_services_query() {
    let spec = spec();
    let rows = vec![
        row(&[
            ("name", text("checkout")),
            ("requests_in", ResultValue::Int(5)),
            ("requests_out", ResultValue::Int(7)),
            ("error_rate", ResultValue::Float(0.2)),
        ]),
        row(&[
            ("name", text("payments")),
            ("requests_in", ResultValue::Int(7)),
            ("requests_out", ResultValue::Int(0)),
            ("error_rate", ResultValue::Null),
        ]),
        row(&[
            ("name", ResultValue::Null),
            ("requests_in", ResultValue::Int(1)),
            ("requests_out", ResultValue::Int(1)),
            ("error_rate", ResultValue::Null),
        ]),
    ];
    let built = graph_from_rows(&spec.graph, "services", &rows);
    assert!(built.batch.edges.is_empty());
    assert_eq!(
        built.batch.vertices,
        vec![
            Vertex::new("checkout", "Service")
                .with("name", s("checkout"))
                .with("requests_in", PropertyValue::Long(5))
                .with("requests_out", PropertyValue::Long(7))
                .with("error_rate", PropertyValue::Double(0.2)),
            Vertex::new("payments", "Service")
                .with("name", s("payments"))
                .with("requests_in", PropertyValue::Long(7))
                .with("requests_out", PropertyValue::Long(0)),
        ]
    );
    assert_eq!(built.rejected.len(), 1);
    assert_eq!(built.rejected[0].row_index, 2);
    assert_eq!(built.rejected[0].mapping, "vertex Service");
    assert_eq!(built.rejected[0].reason, "id template \"{name}\": column name is null");
    assert_eq!(built.rejected[0].row, rows[2]);
    assert_eq!(built.stats.rows_in, 3);
    assert_eq!(built.stats.rows_rejected, 1);
    // payments' error_rate; the rejected row's null is not reached (its id fails first).
    assert_eq!(built.stats.nulls_omitted, 1);
    assert_eq!(built.batch.records(), 5 + 4);
}

#[test]
fn edges_come_from_the_edges_query_with_typed_properties() {
    let spec = spec();
    let rows = vec![edge_row(text("checkout"), text("payments"))];
    let built = graph_from_rows(&spec.graph, "edges", &rows);
    assert!(built.rejected.is_empty(), "{:?}", built.rejected);
    assert!(built.batch.vertices.is_empty());
    let expected = Edge::new("checkout->payments", "CALLS", "checkout", "payments")
        .with("requests", PropertyValue::Long(10))
        .with("errors", PropertyValue::Long(1))
        .with("error_rate", PropertyValue::Double(0.1))
        .with("p50_ms", PropertyValue::Double(12.5))
        .with("first_seen", PropertyValue::Date(date("2025-06-01T00:00:00Z")))
        .with("last_seen", PropertyValue::Date(date("2025-06-01T01:02:03.456Z")));
    assert_eq!(built.batch.edges, vec![expected]);
    assert_eq!(built.stats.non_finite_omitted, 2, "p95 infinite, p99 NaN");
    assert_eq!(built.stats.nulls_omitted, 1, "bytes");
    assert_eq!(built.stats.dates_floored, 1, "last_seen had microseconds");
    assert_eq!(built.batch.records(), 1 + 6);
}

#[test]
fn bad_rows_are_rejected_with_reasons_not_panics() {
    let spec = spec();
    let mut missing_column = edge_row(text("a"), text("b"));
    missing_column.remove("bytes");
    let mut bad_time = edge_row(text("a"), text("b"));
    bad_time.insert("last_seen".into(), ResultValue::Timestamp("yesterday".into()));
    let rows = vec![
        edge_row(text("a"), ResultValue::Null),
        edge_row(ResultValue::Float(f64::NAN), text("b")),
        missing_column,
        bad_time,
        edge_row(text(""), text("")),
        edge_row(ResultValue::Int(7), ResultValue::Bool(true)),
    ];
    let built = graph_from_rows(&spec.graph, "edges", &rows);
    let reasons: Vec<(usize, &str)> =
        built.rejected.iter().map(|r| (r.row_index, r.reason.as_str())).collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert_eq!(reasons[0], (0, "id template \"{caller}->{callee}\": column callee is null"));
    assert!(reasons[1].1.contains("column caller is NaN"), "{reasons:?}");
    assert_eq!(reasons[2], (2, "property bytes: column bytes is not in the result row"));
    assert!(reasons[3].1.starts_with("property last_seen: column last_seen: \"yesterday\""));
    // An empty caller and callee still render the non-empty id "->", but empty endpoint ids
    // are refused.
    assert_eq!(reasons[4], (4, "out_v id template \"{caller}\" renders an empty id"));
    let ids: Vec<&str> = built.batch.edges.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["7->true"]);
    assert_eq!(built.stats.rows_rejected, 5);
    assert!(built.rejected.iter().all(|r| r.mapping == "edge CALLS"));
}

#[test]
fn empty_endpoint_ids_are_rejected() {
    let spec = spec();
    let built = graph_from_rows(&spec.graph, "edges", &[edge_row(text(""), text("x"))]);
    assert_eq!(built.rejected.len(), 1);
    assert_eq!(built.rejected[0].reason, "out_v id template \"{caller}\" renders an empty id");
}

#[test]
fn unknown_query_yields_nothing() {
    let built = graph_from_rows(&spec().graph, "nope", &[edge_row(text("a"), text("b"))]);
    assert!(built.batch.is_empty());
    assert!(built.rejected.is_empty());
    assert_eq!(built.stats.rows_in, 1);
}

#[test]
fn dates_parse_format_and_floor() {
    let (d, floored) =
        GraphDate::parse_iso("2025-06-01 00:00:00.000").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((d.epoch_millis(), floored), (1_748_736_000_000, false));
    assert_eq!(d.to_iso(), "2025-06-01T00:00:00Z");
    let (d, floored) =
        GraphDate::parse_iso("1969-12-31T23:59:59.9995Z").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((d.epoch_millis(), floored), (-1, true));
    assert_eq!(d.to_iso(), "1969-12-31T23:59:59.999Z");
    assert_eq!(date("2025-06-01T02:00:00.5+02:00").to_iso(), "2025-06-01T00:00:00.500Z");
    assert!(GraphDate::from_epoch_millis(GraphDate::MAX_MILLIS + 1).is_none());
    assert!(GraphDate::from_epoch_millis(GraphDate::MIN_MILLIS - 1).is_none());
    let max = GraphDate::from_epoch_millis(GraphDate::MAX_MILLIS).map(GraphDate::to_iso);
    assert_eq!(max.as_deref(), Some("9999-12-31T23:59:59.999Z"));
    let min = GraphDate::from_epoch_millis(GraphDate::MIN_MILLIS).map(GraphDate::to_iso);
    assert_eq!(min.as_deref(), Some("0001-01-01T00:00:00Z"));
    assert!(GraphDate::parse_iso("2025-13-01").is_err());
}

#[test]
fn property_values_round_trip_through_json() -> Result<(), serde_json::Error> {
    let value = PropertyValue::Date(date("2025-06-01T00:00:00Z"));
    let json = serde_json::to_string(&value)?;
    assert_eq!(json, r#"{"Date":1748736000000}"#);
    assert_eq!(serde_json::from_str::<PropertyValue>(&json)?, value);
    assert!(serde_json::from_str::<PropertyValue>(r#"{"Date":9223372036854775807}"#).is_err());
    Ok(())
}
