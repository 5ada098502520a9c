//! Unit tests of the graph crate, one module per source module: [`model`], [`gremlin`] (the
//! query writer and the batcher), [`gremlin_check`] (the escaping property), [`local`] and
//! [`prepare`]. The fixtures below (a golden batch, `date`, `s`) are shared by them.

use std::collections::BTreeMap;

use crate::model::{Edge, GraphBatch, GraphDate, PropertyValue, Vertex};

mod gremlin;
mod gremlin_check;
mod local;
mod model;
mod prepare;

fn date(text: &str) -> GraphDate {
    GraphDate::parse_iso(text).map(|(d, _)| d).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn s(text: &str) -> PropertyValue {
    PropertyValue::String(text.to_owned())
}

/// Two services and one call between them: the golden batch.
fn golden_batch() -> GraphBatch {
    GraphBatch {
        vertices: vec![
            Vertex::new("checkout", "Service")
                .with("name", s("checkout"))
                .with("requests_in", PropertyValue::Long(1200)),
            Vertex::new("payments", "Service")
                .with("name", s("payments"))
                .with("error_rate", PropertyValue::Double(0.0125)),
        ],
        edges: vec![
            Edge::new("checkout->payments", "CALLS", "checkout", "payments")
                .with("requests", PropertyValue::Long(1200))
                .with("p99_ms", PropertyValue::Double(210.0))
                .with("last_seen", PropertyValue::Date(date("2025-06-01T00:00:00Z"))),
        ],
    }
}
