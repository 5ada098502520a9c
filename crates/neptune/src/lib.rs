//! Loading a property graph into Neptune: the network side of the graph load.
//!
//! The graph itself (model, result preparation, the Gremlin writer and batcher, the sink port
//! and the local graph) is `graphetl-graph`, which has no async runtime or HTTP; this crate sends
//! what it builds.
//!
//! - `http`: [`http::NeptuneClient`], Neptune's Gremlin HTTP endpoint over reqwest (HTTP/1.1,
//!   rustls, pooled keep-alive), SigV4 for `neptune-db`, typed/untyped GraphSON, and retries
//!   by Neptune's error code.
//! - `writers`: [`writers::load_batch`] (N parallel writers, vertices before edges) and
//!   [`writers::NeptuneSink`], the Neptune implementation of graphetl-graph's `AsyncGraphSink`.
//! - `load`: [`load::load_results`], aggregate result rows → graph → any sink, and
//!   [`load::load_results_routed`], which sends large batches to the bulk loader instead.
//! - `bulk`: [`bulk::bulk_load`], Neptune bulk-load CSV to S3 through the
//!   [`bulk::CsvUpload`] port, then a `/loader` job polled until it finishes.
//! - `streams`: [`streams::StreamReader`], the `/propertygraph/stream` change log with a
//!   checkpoint file.
//!
//! Architecture invariant: only `http` talks to the network or to AWS; `writers`, `load` and
//! `bulk` reach Neptune through it. Gremlin text comes only from graphetl-graph's `gremlin`.

pub mod bulk;
pub mod http;
pub mod load;
pub mod streams;
pub mod writers;

pub use http::{Auth, ClientConfig, NeptuneClient, NeptuneError, RetryPolicy};
pub use load::{ResultsReport, load_results};
pub use writers::{LoadError, LoadReport, NeptuneSink, default_writers, load_batch};

#[cfg(test)]
mod tests;
