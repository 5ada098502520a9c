//! The property graph without the network: from aggregate query rows to vertices, edges and
//! Gremlin text, and a local graph with Neptune's upsert semantics.
//!
//! - `model`: vertices, edges and typed property values, and [`model::graph_from_rows`], which
//!   applies a dataset spec's `[graph]` mapping to query result rows.
//! - `prepare`: [`prepare::prepare_results`], every named result through the mapping into one
//!   batch, vertices before edges, duplicates merged as sequential upserts would merge them.
//! - `gremlin`: the one string escaper, id-based `mergeV`/`mergeE` chains (and the older
//!   `fold()`/`coalesce()` form) chosen by engine version, and the [`gremlin::Batcher`] that packs
//!   elements into requests under a records/steps/bytes budget, vertices before edges.
//! - `sink`: the [`sink::GraphSink`] port (and its async twin [`sink::AsyncGraphSink`]), what an
//!   upsert wrote and why it failed; the local graph here and the Neptune writers in
//!   `graphetl-neptune` build on it.
//! - `local`: [`local::LocalGraph`], which applies the same upsert semantics in memory and
//!   writes Neptune bulk-load CSV, GraphML and Graphviz DOT.
//! - `gremlin_check` (tests and the `fuzzing` feature only): the escaping property as code,
//!   shared by the property tests and the cargo-fuzz target in `fuzz/`.
//!
//! This crate has no async runtime, HTTP or AWS dependency: the network side (the Neptune
//! client, parallel writers, bulk loader, streams) is `graphetl-neptune`.
//!
//! Architecture invariant: Gremlin text is written only by `gremlin`'s query writer, whose
//! structure is static text and whose strings all pass through [`gremlin::push_string_literal`].

pub mod gremlin;
#[cfg(any(test, feature = "fuzzing"))]
pub mod gremlin_check;
pub mod local;
pub mod model;
pub mod prepare;
pub mod sink;

pub use gremlin::{Batcher, Budget, EngineVersion, Request, UpsertForm};
pub use local::LocalGraph;
pub use model::{Edge, GraphBatch, GraphDate, PropertyValue, ResultValue, Row, Vertex};
pub use sink::{AsyncGraphSink, GraphSink, SinkError, UpsertStats};

#[cfg(test)]
mod tests;
