//! The graph sink port: where the load step writes elements, and why a write fails.
//!
//! [`GraphSink`] is the port the load step writes through, and [`AsyncGraphSink`] its async
//! twin: the Neptune HTTP sink (`writers::NeptuneSink`) implements the async one, and every
//! `GraphSink` (so `local::LocalGraph`) is an `AsyncGraphSink` too, so load code is written
//! once. This module depends on neither side: `local` and `writers` both build on it.

use std::future::Future;
use std::path::PathBuf;

use graphetl_core::ErrorName;

use crate::model::GraphBatch;

/// What one upsert wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertStats {
    /// Vertices upserted (created or matched).
    pub vertices: usize,
    /// Edges upserted (created or matched).
    pub edges: usize,
    /// Records written (a label or a property each).
    pub records: usize,
    /// Requests sent to a server (0 for sinks that send none).
    pub requests: usize,
    /// Retries of those requests (attempts beyond the first).
    pub retries: usize,
    /// Properties left out because they were NaN or infinite.
    pub non_finite_omitted: usize,
}

/// Why a sink could not write.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// An edge to create names a vertex that does not exist.
    #[error(
        "edge \"{edge}\" cannot be created: its {end} vertex \"{vertex}\" does not exist (Neptune's mergeE fails the same way); nothing from this batch was written"
    )]
    MissingEndpoint {
        /// The edge id.
        edge: String,
        /// `out` or `in`.
        end: &'static str,
        /// The missing vertex id.
        vertex: String,
    },
    /// A property has values of different types, which one typed column cannot hold.
    #[error(
        "{format}: {kind} property \"{key}\" is {first} on some elements and {second} on others; a column holds one type"
    )]
    MixedTypes {
        /// The output format.
        format: &'static str,
        /// `vertex` or `edge`.
        kind: &'static str,
        /// The property name.
        key: String,
        /// The first type seen.
        first: &'static str,
        /// A different type seen later.
        second: &'static str,
    },
    /// A name or value the output format cannot represent.
    #[error("{format} cannot hold {what}")]
    Unrepresentable {
        /// The output format.
        format: &'static str,
        /// What was refused, and why.
        what: String,
    },
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Graphviz ran and failed.
    #[error("rendering {path} with dot: {reason}")]
    Render {
        /// The DOT file.
        path: PathBuf,
        /// Exit status and stderr, or the spawn error.
        reason: String,
    },
    /// Loading into Neptune failed: the load error and its stable name (the sink port does not
    /// depend on the network side, which builds this from its own `LoadError`).
    #[error("loading into Neptune: {source}")]
    Neptune {
        /// The stable name of the failure (throttled, transient, bad input, internal).
        name: ErrorName,
        /// The load error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl SinkError {
    /// The stable error name: data the sink cannot take is `BadInput`, local I/O is `Internal`,
    /// and Neptune failures keep their own name (throttled, transient, bad input, internal).
    pub fn error_name(&self) -> ErrorName {
        match self {
            SinkError::MissingEndpoint { .. }
            | SinkError::MixedTypes { .. }
            | SinkError::Unrepresentable { .. } => ErrorName::BadInput,
            SinkError::Io { .. } | SinkError::Render { .. } => ErrorName::Internal,
            SinkError::Neptune { name, .. } => *name,
        }
    }
}

/// Where elements go: Neptune over HTTP, or a local graph. Kept to one method so the HTTP sink
/// can make it async without reshaping callers.
pub trait GraphSink {
    /// Upserts every vertex, then every edge, with the semantics described in this module.
    fn upsert(&mut self, batch: &GraphBatch) -> Result<UpsertStats, SinkError>;
}

/// The async form of [`GraphSink`], for sinks that do network I/O. Every `GraphSink` is one.
pub trait AsyncGraphSink {
    /// Upserts every vertex, then every edge (all vertex writes finish before any edge write).
    fn upsert(
        &mut self,
        batch: &GraphBatch,
    ) -> impl Future<Output = Result<UpsertStats, SinkError>> + Send;
}

impl<S: GraphSink + Send> AsyncGraphSink for S {
    async fn upsert(&mut self, batch: &GraphBatch) -> Result<UpsertStats, SinkError> {
        GraphSink::upsert(self, batch)
    }
}
