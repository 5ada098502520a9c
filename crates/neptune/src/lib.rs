//! Loading a property graph: from aggregate query rows to Neptune upserts or local files.
//!
//! - `model`: vertices, edges and typed property values, and [`model::graph_from_rows`], which
//!   applies a dataset spec's `[graph]` mapping to query result rows.
//! - `gremlin`: the one string escaper, id-based `mergeV`/`mergeE` chains (and the older
//!   `fold()`/`coalesce()` form) chosen by engine version, and the [`gremlin::Batcher`] that packs
//!   elements into requests under a records/steps/bytes budget, vertices before edges.
//! - `local`: the [`local::GraphSink`] port and [`local::LocalGraph`], which applies the same
//!   upsert semantics in memory and writes Neptune bulk-load CSV, GraphML and Graphviz DOT.
//!
//! Architecture invariant: Gremlin text is written only by `gremlin`'s query writer, whose
//! structure is static text and whose strings all pass through [`gremlin::push_string_literal`].
//! This part of the crate does no network I/O and knows nothing of AWS.

pub mod gremlin;
pub mod local;
pub mod model;

pub use gremlin::{Batcher, Budget, EngineVersion, Request, UpsertForm};
pub use local::{GraphSink, LocalGraph, SinkError, UpsertStats};
pub use model::{Edge, GraphBatch, GraphDate, PropertyValue, ResultValue, Row, Vertex};

#[cfg(test)]
mod tests;
