//! The bulk path's S3 side: [`S3CsvUpload`], the Neptune crate's [`CsvUpload`] port over the
//! storage crate's [`ObjectStore`] (this crate depends on both, so neither depends on the
//! other), and [`bulk_prefix`], where a load item's CSV files go in the data bucket.

use graphetl_core::contract::{LoadChunk, LoadPhase};
use graphetl_core::layout;
use graphetl_neptune::bulk::CsvUpload;
use graphetl_storage::ObjectStore;

/// Uploads bulk-load CSV into one bucket through an [`ObjectStore`] (one PutObject per file).
#[derive(Debug)]
pub struct S3CsvUpload<'a, S> {
    store: &'a S,
    bucket: &'a str,
}

impl<'a, S: ObjectStore> S3CsvUpload<'a, S> {
    /// Uploads into `bucket` through `store`.
    pub fn new(store: &'a S, bucket: &'a str) -> S3CsvUpload<'a, S> {
        S3CsvUpload { store, bucket }
    }
}

impl<S: ObjectStore> CsvUpload for S3CsvUpload<'_, S> {
    async fn put(&self, key: &str, body: String) -> Result<String, String> {
        self.store
            .put_bytes(self.bucket, key, body.into_bytes(), Some("text/csv"))
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}

/// Where a load item's bulk CSV goes:
/// `runs/<run_id>/bulk/<query>/<chunk file stem>-<phase>/` (`vertices.csv`, `edges.csv` under
/// it). One folder per item and phase, so the loader, which reads every object under its
/// `source`, sees only that item's files; a retried item overwrites its own.
pub fn bulk_prefix(item: &LoadChunk) -> String {
    let file = item.key.rsplit('/').next().unwrap_or(&item.key);
    let stem = file.split('.').next().filter(|s| !s.is_empty()).unwrap_or("chunk");
    let phase = match item.phase {
        LoadPhase::All => "all",
        LoadPhase::Vertices => "vertices",
        LoadPhase::Edges => "edges",
    };
    format!("{}bulk/{}/{stem}-{phase}/", layout::run_prefix(&item.run_id), item.query)
}
