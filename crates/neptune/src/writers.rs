//! Parallel writers: send a batch's requests to Neptune with N requests in flight, every vertex
//! request finished before the first edge request starts, and the [`NeptuneSink`] built on them.
//!
//! Neptune runs about 2 × vCPUs queries at once on the writer, so the default is that many
//! writers ([`default_writers`]), each waiting for its answer before sending the next request.
//! Loading is idempotent: every element is upserted by its own id, so a retried request or a
//! re-run chunk writes the same graph. Edges are grouped by their tail vertex before batching,
//! so parallel edge requests mostly touch disjoint vertices (fewer
//! `ConcurrentModificationException`s, as AWS recommends).
//!
//! After the first failure no new request starts; requests already in flight finish (they are
//! idempotent upserts, so cutting them off would gain nothing) and the error carries the partial
//! report.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use graphetl_core::ErrorName;

use crate::http::{NeptuneClient, NeptuneError};
use graphetl_graph::gremlin::{BatchError, Batcher, Request, RequestKind};
use graphetl_graph::model::GraphBatch;
use graphetl_graph::sink::{AsyncGraphSink, SinkError, UpsertStats};

/// What a load sent and what Neptune confirmed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Requests that succeeded.
    pub requests: usize,
    /// Records (a label or a property each) in those requests.
    pub records: usize,
    /// Retries made (attempts beyond the first), failed requests included.
    pub retries: usize,
    /// Vertices upserted.
    pub vertices: usize,
    /// Edges upserted.
    pub edges: usize,
    /// Values Neptune returned (each request ends with `.id()`: one id per request).
    pub ids_returned: usize,
    /// Properties left out because they were NaN or infinite.
    pub non_finite_omitted: usize,
    /// Wall time of the load (tokio's clock, so virtual in paused tests).
    pub elapsed: Duration,
}

impl LoadReport {
    fn add(&mut self, request: &Request, attempts: u32, ids: usize) {
        self.requests += 1;
        self.records += request.records;
        self.vertices += request.vertices;
        self.edges += request.edges;
        self.non_finite_omitted += request.non_finite_omitted;
        self.retries += attempts.saturating_sub(1) as usize;
        self.ids_returned += ids;
    }

    /// Adds another report's counts and time.
    pub fn merge(&mut self, other: &LoadReport) {
        self.requests += other.requests;
        self.records += other.records;
        self.retries += other.retries;
        self.vertices += other.vertices;
        self.edges += other.edges;
        self.ids_returned += other.ids_returned;
        self.non_finite_omitted += other.non_finite_omitted;
        self.elapsed += other.elapsed;
    }
}

/// Why a load stopped.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The batch could not be split into requests (an element over the budget).
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A request failed for good.
    #[error("{source} ({} of {total} requests succeeded before the load stopped)", report.requests)]
    Neptune {
        /// The first failure.
        #[source]
        source: NeptuneError,
        /// What succeeded before the load stopped.
        report: Box<LoadReport>,
        /// Requests the load had.
        total: usize,
    },
}

impl LoadError {
    /// The stable error name: the Neptune error's, or `BadInput` for an element over budget.
    pub fn error_name(&self) -> ErrorName {
        match self {
            LoadError::Batch(_) => ErrorName::BadInput,
            LoadError::Neptune { source, .. } => source.error_name(),
        }
    }

    /// What succeeded before the load stopped.
    pub fn partial_report(&self) -> LoadReport {
        match self {
            LoadError::Batch(_) => LoadReport::default(),
            LoadError::Neptune { report, .. } => **report,
        }
    }
}

/// The default writer count for a writer instance with `vcpus` vCPUs: 2 × vCPUs (Neptune's
/// worker threads), at least 1.
pub fn default_writers(vcpus: usize) -> usize {
    vcpus.saturating_mul(2).max(1)
}

/// Sends `requests` with at most `writers` in flight. Vertex-only requests go first, then mixed
/// ones, then edge-only ones; each group starts only when the previous one has finished.
pub async fn load_requests(
    client: &NeptuneClient,
    requests: &[Request],
    writers: usize,
) -> Result<LoadReport, LoadError> {
    let started = tokio::time::Instant::now();
    let writers = writers.max(1);
    let mut report = LoadReport::default();
    for kind in [RequestKind::Vertices, RequestKind::Mixed, RequestKind::Edges] {
        let phase: Vec<&Request> = requests.iter().filter(|r| r.kind == kind).collect();
        if let Err(source) = run_phase(client, &phase, writers, &mut report).await {
            report.elapsed = started.elapsed();
            return Err(LoadError::Neptune {
                source,
                report: Box::new(report),
                total: requests.len(),
            });
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Splits `batch` with `batcher` (edges grouped by tail vertex first) and loads it with
/// [`load_requests`].
pub async fn load_batch(
    client: &NeptuneClient,
    batcher: &Batcher,
    batch: &GraphBatch,
    writers: usize,
) -> Result<LoadReport, LoadError> {
    let mut grouped = batch.clone();
    // Stable: edges of one tail vertex keep their order and end up in as few requests as
    // possible, so parallel edge requests rarely lock the same vertex.
    grouped.edges.sort_by(|a, b| a.out_v.cmp(&b.out_v));
    let requests = batcher.requests(&grouped)?;
    load_requests(client, &requests, writers).await
}

/// Runs one phase: `writers` requests in flight, a new one started as each finishes, none after
/// the first failure.
async fn run_phase(
    client: &NeptuneClient,
    requests: &[&Request],
    writers: usize,
    report: &mut LoadReport,
) -> Result<(), NeptuneError> {
    let send = |request: &Request| {
        let request = request.clone();
        async move {
            let result = client.execute(&request).await;
            (request, result)
        }
    };
    let mut pending = requests.iter();
    let mut in_flight = FuturesUnordered::new();
    for request in pending.by_ref().take(writers) {
        in_flight.push(send(request));
    }
    let mut failure: Option<NeptuneError> = None;
    while let Some((request, result)) = in_flight.next().await {
        match result {
            Ok(executed) => {
                report.add(&request, executed.attempts, executed.response.values.len());
            }
            Err(error) => {
                report.retries += error.attempts().saturating_sub(1) as usize;
                failure.get_or_insert(error);
            }
        }
        if failure.is_none()
            && let Some(next) = pending.next()
        {
            in_flight.push(send(next));
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The Neptune sink: upserts batches over HTTP with parallel writers. Counts accumulate over the
/// sink's life in [`NeptuneSink::report`].
#[derive(Debug, Clone)]
pub struct NeptuneSink {
    client: Arc<NeptuneClient>,
    batcher: Batcher,
    writers: usize,
    report: LoadReport,
}

impl NeptuneSink {
    /// A sink sending `batcher`'s requests through `client` with `writers` in flight.
    pub fn new(client: Arc<NeptuneClient>, batcher: Batcher, writers: usize) -> NeptuneSink {
        NeptuneSink { client, batcher, writers: writers.max(1), report: LoadReport::default() }
    }

    /// The client.
    pub fn client(&self) -> &NeptuneClient {
        &self.client
    }

    /// Everything loaded so far (failed loads included up to their failure).
    pub fn report(&self) -> LoadReport {
        self.report
    }
}

impl AsyncGraphSink for NeptuneSink {
    async fn upsert(&mut self, batch: &GraphBatch) -> Result<UpsertStats, SinkError> {
        match load_batch(&self.client, &self.batcher, batch, self.writers).await {
            Ok(report) => {
                self.report.merge(&report);
                Ok(UpsertStats {
                    vertices: report.vertices,
                    edges: report.edges,
                    records: report.records,
                    requests: report.requests,
                    retries: report.retries,
                    non_finite_omitted: report.non_finite_omitted,
                })
            }
            Err(error) => {
                self.report.merge(&error.partial_report());
                Err(SinkError::Neptune { name: error.error_name(), source: Box::new(error) })
            }
        }
    }
}
