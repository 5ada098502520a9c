//! From aggregate query results to a graph sink: the library side of `graphetl load` and of the
//! load Lambda.
//!
//! [`load_results`] applies the spec's `[graph]` mapping to every named result
//! ([`graph_from_rows`]), merges the elements into one batch — vertices of every result before
//! any edge, so an edge may join vertices another query produced — and upserts it through any
//! [`AsyncGraphSink`] (Neptune or the local graph). Elements that appear more than once (the
//! same id from two rows or two queries) are merged in input order before sending, exactly as
//! sequential upserts would apply them: the first occurrence's label (and endpoints) and, per
//! property, the last value. Without that, two parallel requests could write one id and the last
//! to commit would win by chance.
//!
//! [`load_results_routed`] adds the bulk path: given a [`BulkRoute`], a merged batch of at least
//! [`BulkConfig::min_records`] records is staged in a [`LocalGraph`] (same upsert semantics),
//! written as Neptune bulk-load CSV through the route's [`CsvUpload`] and loaded with a
//! `/loader` job ([`bulk_load`]); smaller batches go to the sink as before. The report says which
//! path was taken ([`ResultsReport::bulk`]).

use std::collections::BTreeMap;
use std::time::Duration;

use graphetl_core::{DatasetSpec, ErrorName};

use crate::bulk::{BulkConfig, BulkError, BulkReport, CsvUpload, bulk_load};
use crate::http::NeptuneClient;
use crate::local::LocalGraph;
use crate::model::{
    Edge, GraphBatch, ModelStats, PropertyValue, RejectedRow, Row, Vertex, graph_from_rows,
};
use crate::sink::{AsyncGraphSink, SinkError, UpsertStats};

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
    #[error("result \"{name}\" is not a query of dataset {dataset} (its queries: {known})")]
    UnknownQuery {
        /// The name given.
        name: String,
        /// The dataset.
        dataset: String,
        /// The spec's query names.
        known: String,
    },
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
            LoadResultsError::UnknownQuery { .. } => ErrorName::BadEvent,
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
    let (mut report, batch) = prepare_results(spec, results)?;
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

/// The batch [`load_results`] would write: every result through the spec's mapping, vertices
/// before edges, duplicates merged; and the report's model counts. Nothing is written.
pub fn prepare_results(
    spec: &DatasetSpec,
    results: &[(String, Vec<Row>)],
) -> Result<(ResultsReport, GraphBatch), LoadResultsError> {
    let mut report = ResultsReport { results: results.len(), ..ResultsReport::default() };
    let mut batch = GraphBatch::default();
    for (name, rows) in results {
        if !spec.queries.iter().any(|q| &q.name == name) {
            return Err(LoadResultsError::UnknownQuery {
                name: name.clone(),
                dataset: spec.name.clone(),
                known: spec.queries.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", "),
            });
        }
        let built = graph_from_rows(&spec.graph, name, rows);
        add_stats(&mut report.model, &built.stats);
        report.rejected.extend(built.rejected.into_iter().map(|r| (name.clone(), r)));
        batch.vertices.extend(built.batch.vertices);
        batch.edges.extend(built.batch.edges);
    }
    let (batch, merged) = merge_duplicates(batch);
    report.duplicates_merged = merged;
    Ok((report, batch))
}

/// The upload of a route that is never given (`load_results` has no bulk path).
enum NoUpload {}

impl CsvUpload for NoUpload {
    async fn put(&self, _key: &str, _body: String) -> Result<String, String> {
        match *self {}
    }
}

fn add_stats(total: &mut ModelStats, more: &ModelStats) {
    total.rows_in += more.rows_in;
    total.rows_rejected += more.rows_rejected;
    total.non_finite_omitted += more.non_finite_omitted;
    total.nulls_omitted += more.nulls_omitted;
    total.dates_floored += more.dates_floored;
}

/// Merges elements with the same id as sequential upserts would: first label (and endpoints),
/// last value per property. Keeps first-occurrence order. Returns the batch and how many
/// elements were merged away.
pub fn merge_duplicates(batch: GraphBatch) -> (GraphBatch, usize) {
    let mut merged = 0;
    let mut vertex_at: BTreeMap<String, usize> = BTreeMap::new();
    let mut vertices: Vec<Vertex> = Vec::with_capacity(batch.vertices.len());
    for vertex in batch.vertices {
        match vertex_at.get(&vertex.id).and_then(|&i| vertices.get_mut(i)) {
            Some(first) => {
                merge_properties(&mut first.properties, vertex.properties);
                merged += 1;
            }
            None => {
                vertex_at.insert(vertex.id.clone(), vertices.len());
                vertices.push(vertex);
            }
        }
    }
    let mut edge_at: BTreeMap<String, usize> = BTreeMap::new();
    let mut edges: Vec<Edge> = Vec::with_capacity(batch.edges.len());
    for edge in batch.edges {
        match edge_at.get(&edge.id).and_then(|&i| edges.get_mut(i)) {
            Some(first) => {
                merge_properties(&mut first.properties, edge.properties);
                merged += 1;
            }
            None => {
                edge_at.insert(edge.id.clone(), edges.len());
                edges.push(edge);
            }
        }
    }
    (GraphBatch { vertices, edges }, merged)
}

/// Later values win, except that a value that cannot be written (NaN, ±infinity) does not
/// replace one that can: a sequential upsert would omit it and keep the stored value.
fn merge_properties(
    into: &mut BTreeMap<String, PropertyValue>,
    from: BTreeMap<String, PropertyValue>,
) {
    for (key, value) in from {
        if value.is_writable() || !into.contains_key(&key) {
            into.insert(key, value);
        }
    }
}
