//! The JSON contracts between states: Map items, Lambda events and their responses.
//!
//! These shapes are what the ASL passes around (`ItemSelector`, `ResultPath`), so a change here
//! is a change of the state machine's interface: keep fields stable, add rather than rename.
//! Fixture round-trip tests pin them.

use serde::{Deserialize, Serialize};

mod aggregate;
pub use aggregate::{
    AggregateEvent, AggregateOutput, AggregatePlan, AggregatePlanRequest, AggregateQueryRequest,
    ChunkRef, PlannedQuery,
};

/// One Map item of the TransformFiles step: the event of the `transform` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformItem {
    /// Bucket holding the raw file (and the curated and quarantine outputs).
    pub bucket: String,
    /// Key of the raw file.
    pub key: String,
    /// Dataset name; its spec is read from `datasets/<dataset>.toml` in the bucket.
    pub dataset: String,
    /// The run (execution name) this item belongs to; carried into logs.
    pub run_id: String,
}

/// One object written by the transform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// Object key.
    pub key: String,
    /// Hive partition path, e.g. `dt=2026-11-20/hour=03` (empty when unpartitioned).
    pub partition: String,
    /// Rows in the object.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// What the transform did with one file: the response of the `transform` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileResult {
    /// Bucket of the raw file.
    pub bucket: String,
    /// Key of the raw file.
    pub key: String,
    /// Dataset name.
    pub dataset: String,
    /// Rows read (data rows, header excluded).
    pub rows_in: u64,
    /// Rows written to curated Parquet.
    pub rows_written: u64,
    /// Rows sent to quarantine (`rows_in = rows_written + rows_rejected`).
    pub rows_rejected: u64,
    /// Size of the raw file in bytes.
    pub bytes_in: u64,
    /// Curated Parquet objects, one per partition present in the file.
    pub outputs: Vec<OutputFile>,
    /// The quarantine object, when any row was rejected.
    pub quarantine: Option<OutputFile>,
    /// Spec columns whose input field is absent from the file's header or schema (all null).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_fields: Vec<String>,
}

/// One Map item of the LoadResults step: the event of the `load` Lambda, one result chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadChunk {
    /// Bucket holding the chunk (and `datasets/<dataset>.toml`).
    pub bucket: String,
    /// Key of a result chunk written by the aggregate step (typed-header CSV).
    pub key: String,
    /// The result (aggregate query) name the chunk belongs to; picks the `[graph]` mappings.
    pub query: String,
    /// Dataset name; its spec is read from `datasets/<dataset>.toml` in the bucket.
    pub dataset: String,
    /// The run (execution name) this item belongs to; carried into logs.
    pub run_id: String,
    /// Which elements to load from the chunk: the pipeline loads every chunk's vertices before
    /// any chunk's edges, since an edge needs both of its vertices.
    #[serde(default)]
    pub phase: LoadPhase,
}

/// Which elements a load invocation writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoadPhase {
    /// Vertices, then edges (for a chunk loaded on its own).
    #[default]
    All,
    /// Only the vertices the chunk's rows map to.
    Vertices,
    /// Only the edges (their vertices must already exist).
    Edges,
}

/// What the load did with one chunk: the response of the `load` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LoadResult {
    /// The result name of the chunk.
    pub query: String,
    /// Key of the chunk.
    pub key: String,
    /// Vertices upserted (created or matched).
    pub vertices: u64,
    /// Edges upserted (created or matched).
    pub edges: u64,
    /// Records written (a label or a property each).
    pub records: u64,
    /// Requests sent to Neptune (0 for a local sink).
    pub requests: u64,
    /// Retries of those requests (attempts beyond the first).
    pub retries: u64,
    /// Rows the `[graph]` mapping rejected (logged with their reasons, not loaded).
    pub rejected_rows: u64,
    /// How the chunk was written: Gremlin upserts, or a Neptune bulk-loader job.
    #[serde(default)]
    pub path: LoadPath,
    /// The loader job id when `path` is `bulk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_load_id: Option<String>,
}

/// How a load wrote its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoadPath {
    /// Batched `mergeV`/`mergeE` requests (or the local graph).
    #[default]
    Upsert,
    /// CSV files in S3 and a `/loader` job (chunks at or above the bulk threshold).
    Bulk,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_item_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/transform-item.json");
        let item: TransformItem = serde_json::from_str(fixture)?;
        assert_eq!(item.key, "raw/service-calls/dt=2026-11-20/hour=03/part-00000.json.gz");
        let back: serde_json::Value = serde_json::to_value(&item)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }

    #[test]
    fn transform_item_rejects_unknown_and_missing_fields() {
        let unknown = r#"{"bucket":"b","key":"k","dataset":"d","run_id":"r","extra":1}"#;
        assert!(serde_json::from_str::<TransformItem>(unknown).is_err());
        let missing = r#"{"bucket":"b","key":"k","run_id":"r"}"#;
        let e = serde_json::from_str::<TransformItem>(missing).err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("dataset")));
    }

    #[test]
    fn file_result_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/file-result.json");
        let result: FileResult = serde_json::from_str(fixture)?;
        assert_eq!(result.rows_in, result.rows_written + result.rows_rejected);
        let back: serde_json::Value = serde_json::to_value(&result)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }

    #[test]
    fn load_chunk_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/load-chunk.json");
        let item: LoadChunk = serde_json::from_str(fixture)?;
        assert_eq!(item.query, "edges");
        let back: serde_json::Value = serde_json::to_value(&item)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }

    #[test]
    fn load_chunk_rejects_unknown_and_missing_fields() {
        let unknown = r#"{"bucket":"b","key":"k","query":"q","dataset":"d","run_id":"r","x":1}"#;
        assert!(serde_json::from_str::<LoadChunk>(unknown).is_err());
        let missing = r#"{"bucket":"b","key":"k","dataset":"d","run_id":"r"}"#;
        let e = serde_json::from_str::<LoadChunk>(missing).err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("query")));
    }

    #[test]
    fn load_result_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/load-result.json");
        let result: LoadResult = serde_json::from_str(fixture)?;
        assert_eq!(result.records, 7 * result.edges);
        let back: serde_json::Value = serde_json::to_value(&result)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        let unknown = fixture.replacen('{', r#"{"extra":1,"#, 1);
        assert!(serde_json::from_str::<LoadResult>(&unknown).is_err());
        Ok(())
    }
}
