//! Unit tests of the neptune crate, one module per source module: [`sigv4`] (a reference signer
//! and `http::sign_post`), [`http`], [`writers`], [`load`], [`streams`] and [`bulk`] (the graph
//! model, Gremlin writer and local graph are tested in graphetl-graph). The fixtures below (a
//! golden batch, a ring of services) are shared; [`mock`] is the loopback Neptune the network
//! tests run against.

use graphetl_graph::model::{Edge, GraphBatch, GraphDate, PropertyValue, Vertex};

mod bulk;
mod http;
mod load;
mod mock;
mod sigv4;
mod streams;
mod writers;

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

/// `n` services and `n` calls between them (a ring), with a few properties each.
fn ring(n: usize) -> GraphBatch {
    let vertices = (0..n)
        .map(|i| {
            Vertex::new(format!("svc:{i}"), "Service")
                .with("name", s(&format!("service {i}")))
                .with("requests_in", PropertyValue::Long(i as i64))
        })
        .collect();
    let edges = (0..n)
        .map(|i| {
            let j = (i + 1) % n;
            Edge::new(format!("calls:{i}->{j}"), "CALLS", format!("svc:{i}"), format!("svc:{j}"))
                .with("requests", PropertyValue::Long(10 * i as i64))
                .with("p99_ms", PropertyValue::Double(1.5))
        })
        .collect();
    GraphBatch { vertices, edges }
}
