//! From aggregate query results to a graph sink: the library side of `graphetl load` and of the
//! load Lambda.
//!
//! [`load_results`] prepares the results into one batch with graphetl-graph's
//! [`prepare_results`] (the spec's `[graph]` mapping, vertices before edges, duplicates merged as
//! sequential upserts would merge them) and upserts it through any [`AsyncGraphSink`] (Neptune
//! or the local graph).
//!
//! [`load_results_routed`] adds the bulk path: given a [`BulkRoute`], a merged batch of at least
//! [`BulkConfig::min_records`] records is staged in a [`LocalGraph`] (same upsert semantics),
//! written as Neptune bulk-load CSV through the route's [`CsvUpload`] and loaded with a
//! `/loader` job ([`bulk_load`]); smaller batches go to the sink as before. The report says which
//! path was taken ([`ResultsReport::bulk`]).

use std::time::Duration;

use graphetl_core::{DatasetSpec, ErrorName};
use graphetl_graph::local::LocalGraph;
use graphetl_graph::model::{ModelStats, RejectedRow, Row};
use graphetl_graph::prepare::{Prepared, UnknownQuery, prepare_results};
use graphetl_graph::sink::{AsyncGraphSink, SinkError, UpsertStats};

use crate::bulk::{BulkConfig, BulkError, BulkReport, CsvUpload, bulk_load};
use crate::http::NeptuneClient;

/// What [`load_results`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultsReport {
    /// Results given.
    pub results: usize,
    /// Model counts summed over the results.
    pub model: ModelStats,
    /// Rows a mapping rejected, with the result they came from.
    pub rejected: Vec<(String, RejectedRow)>,
    /// Elements merged into an earlier element with the same id.
    pub duplicates_merged: usize,
    /// What the sink wrote.
    pub upsert: UpsertStats,
    /// Time spent in the sink or the bulk load (tokio's clock).
    pub elapsed: Duration,
    /// The bulk load, when the batch took the bulk path (`None`: upserts through the sink).
    pub bulk: Option<BulkReport>,
}

impl ResultsReport {
    /// The path the batch took: `"bulk"` (a `/loader` job) or `"upsert"` (the sink).
    pub fn path(&self) -> &'static str {
        if self.bulk.is_some() { "bulk" } else { "upsert" }
    }
}

/// The bulk path of [`load_results_routed`]: the cluster's client, where the CSV goes, and the
/// loader settings (including the record threshold).
#[derive(Debug)]
pub struct BulkRoute<'a, U> {
    /// The Neptune client that starts and polls the loader job.
    pub client: &'a NeptuneClient,
    /// Where the CSV files are uploaded.
    pub upload: &'a U,
    /// Loader settings, key prefix and threshold.
    pub config: &'a BulkConfig,
}

/// Why results could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadResultsError {
    /// A result name that is not one of the spec's queries.
    #[error(transparent)]
    UnknownQuery(#[from] UnknownQuery),
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The bulk load failed.
    #[error(transparent)]
    Bulk(#[from] BulkError),
}

impl LoadResultsError {
    /// The stable error name: an unknown result is `BadEvent`; sink errors keep theirs.
    pub fn error_name(&self) -> ErrorName {
        match self {
            LoadResultsError::UnknownQuery(error) => error.error_name(),
            LoadResultsError::Sink(error) => error.error_name(),
            LoadResultsError::Bulk(error) => error.error_name(),
        }
    }
}

/// Builds the graph of `results` (query name → rows) with `spec`'s mapping and upserts it into
/// `sink` as one batch, vertices first. Rejected rows are reported, not loaded.
pub async fn load_results<S: AsyncGraphSink>(
    spec: &DatasetSpec,
    results: &[(String, Vec<Row>)],
    sink: &mut S,
) -> Result<ResultsReport, LoadResultsError> {
    load_results_routed(spec, results, sink, Option::<BulkRoute<'_, NoUpload>>::None).await
}

/// Like [`load_results`], but a batch of at least `bulk.config.min_records` records (after
/// merging duplicates) takes the bulk path instead of the sink.
pub async fn load_results_routed<S: AsyncGraphSink, U: CsvUpload + Sync>(
    spec: &DatasetSpec,
    results: &[(String, Vec<Row>)],
    sink: &mut S,
    bulk: Option<BulkRoute<'_, U>>,
) -> Result<ResultsReport, LoadResultsError> {
    let (prepared, batch) = prepare_results(spec, results)?;
    let Prepared { results, model, rejected, duplicates_merged } = prepared;
    let mut report =
        ResultsReport { results, model, rejected, duplicates_merged, ..ResultsReport::default() };
    let started = tokio::time::Instant::now();
    match bulk {
        _ if batch.is_empty() => {}
        Some(route) if route.config.use_bulk(batch.records()) => {
            let mut graph = LocalGraph::new();
            let staged = graph.stage(&batch);
            let loaded = bulk_load(route.client, route.upload, &graph, route.config).await?;
            // One start and the status polls (the client's own retries are not counted here).
            report.upsert =
                UpsertStats { requests: 1 + loaded.polls as usize, retries: 0, ..staged };
            report.bulk = Some(loaded);
        }
        _ => report.upsert = sink.upsert(&batch).await?,
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The upload of a route that is never given (`load_results` has no bulk path).
enum NoUpload {}

impl CsvUpload for NoUpload {
    async fn put(&self, _key: &str, _body: String) -> Result<String, String> {
        match *self {}
    }
}
