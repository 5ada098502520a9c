//! Loading a property graph: from aggregate query rows to Neptune upserts or local files.
//!
//! - `model`: vertices, edges and typed property values, and [`model::graph_from_rows`], which
//!   applies a dataset spec's `[graph]` mapping to query result rows.
//! - `gremlin`: the one string escaper, id-based `mergeV`/`mergeE` chains (and the older
//!   `fold()`/`coalesce()` form) chosen by engine version, and the [`gremlin::Batcher`] that packs
//!   elements into requests under a records/steps/bytes budget, vertices before edges.
//! - `sink`: the [`sink::GraphSink`] port (and its async twin [`sink::AsyncGraphSink`]), what an
//!   upsert wrote and why it failed; both the local graph and the Neptune writers build on it.
//! - `local`: [`local::LocalGraph`], which applies the same upsert semantics in memory and
//!   writes Neptune bulk-load CSV, GraphML and Graphviz DOT.
//! - `http`: [`http::NeptuneClient`], Neptune's Gremlin HTTP endpoint over reqwest (HTTP/1.1,
//!   rustls, pooled keep-alive), SigV4 for `neptune-db`, typed/untyped GraphSON, and retries
//!   by Neptune's error code.
//! - `writers`: [`writers::load_batch`] (N parallel writers, vertices before edges) and
//!   [`writers::NeptuneSink`].
//! - `load`: [`load::load_results`], aggregate result rows → graph → any sink.
//! - `bulk`: [`bulk::bulk_load`], Neptune bulk-load CSV to S3 through the
//!   [`bulk::CsvUpload`] port, then a `/loader` job polled until it finishes.
//! - `gremlin_check` (tests and the `fuzzing` feature only): the escaping property as code,
//!   shared by the property tests and the cargo-fuzz target in `fuzz/`.
//! - `streams`: [`streams::StreamReader`], the `/propertygraph/stream` change log with a
//!   checkpoint file.
//!
//! Architecture invariant: Gremlin text is written only by `gremlin`'s query writer, whose
//! structure is static text and whose strings all pass through [`gremlin::push_string_literal`].
//! Only `http` talks to the network or to AWS; `writers` and `load` reach Neptune through it.

pub mod bulk;
pub mod gremlin;
#[cfg(any(test, feature = "fuzzing"))]
pub mod gremlin_check;
pub mod http;
pub mod load;
pub mod local;
pub mod model;
pub mod sink;
pub mod streams;
pub mod writers;

pub use gremlin::{Batcher, Budget, EngineVersion, Request, UpsertForm};
pub use http::{Auth, ClientConfig, NeptuneClient, NeptuneError, RetryPolicy};
pub use load::{ResultsReport, load_results};
pub use local::LocalGraph;
pub use model::{Edge, GraphBatch, GraphDate, PropertyValue, ResultValue, Row, Vertex};
pub use sink::{AsyncGraphSink, GraphSink, SinkError, UpsertStats};
pub use writers::{LoadError, LoadReport, NeptuneSink, default_writers, load_batch};

#[cfg(test)]
mod tests;
