//! The load step: one result chunk in, vertices and edges upserted into a graph sink.
//!
//! The chunk is a typed-header CSV written by the aggregate step
//! ([`graphetl_athena::chunks`]); its rows go through the spec's `[graph]` mapping for the
//! chunk's query and into any [`AsyncGraphSink`] — Neptune in the Lambda, the local graph in
//! tests and local runs. Loading is idempotent (every element is upserted by its id), so a
//! retried item writes the same graph. Rows the mapping rejects are logged with their reasons
//! and counted in the response, not loaded.
//!
//! With a bulk path configured ([`LoadHandler::with_bulk`]), a chunk whose rows map to at least
//! [`BulkConfig::min_records`] records skips the sink: its graph is written as Neptune
//! bulk-load CSV under [`bulk_prefix`] in the chunk's bucket and loaded with a `/loader` job;
//! the response's `path` says which way it went. A failed job fails the item with the loader's
//! stable name (`BadInput` for rejected records, see [`graphetl_neptune::bulk::BulkError`]).
//!
//! An edge needs both its vertices: a chunk of edges whose endpoints no earlier load created
//! fails with `GraphEtl.BadInput` (Neptune's `mergeE` fails the same way), so the workflow loads
//! vertex queries before edge queries.

use graphetl_athena::chunks::parse_csv_chunk;
use graphetl_core::ErrorName;
use graphetl_core::contract::LoadPhase;
use std::sync::Arc;

use graphetl_core::contract::{LoadChunk, LoadPath, LoadResult};
use graphetl_core::errors::StepError;
use graphetl_graph::sink::AsyncGraphSink;
use graphetl_neptune::NeptuneClient;
use graphetl_neptune::bulk::BulkConfig;
use graphetl_neptune::load::{BulkRoute, load_results_routed};
use graphetl_storage::ObjectStore;

use super::{load_spec, store_error};
use crate::bulk::{S3CsvUpload, bulk_prefix};

/// Rejected rows logged one by one per chunk; the rest are only counted.
const REJECTED_LOGGED: usize = 20;

/// The load handler: a store to read specs and chunks from. The sink is given per call, so one
/// handler serves every invocation while each invocation gets its own sink (and counts).
pub struct LoadHandler<S> {
    store: S,
    bulk: Option<(Arc<NeptuneClient>, BulkConfig)>,
}

impl<S: ObjectStore> LoadHandler<S> {
    /// Builds a handler reading from `store`.
    pub fn new(store: S) -> LoadHandler<S> {
        LoadHandler { store, bulk: None }
    }

    /// Turns the bulk path on: chunks of at least `config.min_records` records are loaded by a
    /// `/loader` job through `client` (`config.prefix` is replaced by each item's
    /// [`bulk_prefix`]).
    pub fn with_bulk(mut self, client: Arc<NeptuneClient>, config: BulkConfig) -> LoadHandler<S> {
        self.bulk = Some((client, config));
        self
    }

    /// The store this handler reads.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Loads one chunk into `sink`.
    pub async fn handle<K: AsyncGraphSink + Send>(
        &self,
        item: LoadChunk,
        sink: &mut K,
    ) -> Result<LoadResult, StepError> {
        if item.bucket.is_empty() || item.key.is_empty() || item.key.ends_with('/') {
            return Err(StepError::new(
                ErrorName::BadEvent,
                format!("bucket and an object key are required, got {item:?}"),
            ));
        }
        if item.query.is_empty() {
            return Err(StepError::new(ErrorName::BadEvent, "the query (result name) is empty"));
        }
        let mut spec = load_spec(&self.store, &item.bucket, &item.dataset).await?;
        match item.phase {
            LoadPhase::All => {}
            LoadPhase::Vertices => spec.graph.edges.clear(),
            LoadPhase::Edges => spec.graph.vertices.clear(),
        }
        let source = format!("s3://{}/{}", item.bucket, item.key);
        let bytes =
            self.store.get_bytes(&item.bucket, &item.key).await.map_err(|e| store_error(&e))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| StepError::new(ErrorName::BadInput, format!("{source} is not UTF-8")))?;
        let chunk = parse_csv_chunk(&text)
            .map_err(|e| StepError::new(ErrorName::BadInput, format!("{source}: {e}")))?;
        let results = vec![(item.query.clone(), chunk.rows)];
        let upload = S3CsvUpload::new(&self.store, &item.bucket);
        let bulk_config = self.bulk.as_ref().map(|(client, config)| {
            (client, BulkConfig { prefix: bulk_prefix(&item), ..config.clone() })
        });
        let route = bulk_config.as_ref().map(|(client, config)| BulkRoute {
            client: client.as_ref(),
            upload: &upload,
            config,
        });
        let report = load_results_routed(&spec, &results, sink, route)
            .await
            .map_err(|e| StepError::new(e.error_name(), format!("{source}: {e}")))?;
        for (query, rejected) in report.rejected.iter().take(REJECTED_LOGGED) {
            tracing::warn!(
                key = %item.key,
                query = %query,
                row = rejected.row_index,
                mapping = %rejected.mapping,
                reason = %rejected.reason,
                "row rejected by the graph mapping"
            );
        }
        let result = LoadResult {
            query: item.query,
            key: item.key,
            vertices: report.upsert.vertices as u64,
            edges: report.upsert.edges as u64,
            records: report.upsert.records as u64,
            requests: report.upsert.requests as u64,
            retries: report.upsert.retries as u64,
            rejected_rows: report.rejected.len() as u64,
            path: if report.bulk.is_some() { LoadPath::Bulk } else { LoadPath::Upsert },
            bulk_load_id: report.bulk.as_ref().map(|b| b.load_id.clone()),
        };
        tracing::info!(
            key = %result.key,
            run_id = %item.run_id,
            query = %result.query,
            vertices = result.vertices,
            edges = result.edges,
            records = result.records,
            requests = result.requests,
            retries = result.retries,
            rejected_rows = result.rejected_rows,
            path = report.path(),
            bulk_load_id = result.bulk_load_id.as_deref().unwrap_or(""),
            elapsed_ms = report.elapsed.as_millis() as u64,
            "loaded"
        );
        Ok(result)
    }
}
