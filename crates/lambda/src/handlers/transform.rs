//! The transform step: one raw object in, curated Parquet and quarantine objects out.
//!
//! The object is downloaded to a private temporary directory, transformed there by
//! graphetl-transform, and the outputs are uploaded only when the whole file succeeded: a broken
//! file publishes nothing. Output keys derive from the raw key, so a retry or a reprocess
//! overwrites the same objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use graphetl_core::contract::{FileResult, MAX_LISTED_OUTPUTS, OutputFile, TransformItem};
use graphetl_core::errors::StepError;
use graphetl_core::{DatasetSpec, ErrorName, layout};
use graphetl_storage::ObjectStore;
use graphetl_transform::{TransformOptions, TransformOutput, transform_file};

use super::store_error;

const PARQUET: &str = "application/vnd.apache.parquet";
const JSON_LINES: &str = "application/x-ndjson";

/// The transform handler: a store, engine options and a place for temporary files.
pub struct TransformHandler<S> {
    store: S,
    options: TransformOptions,
    work_dir: PathBuf,
}

fn bad_event(message: impl Into<String>) -> StepError {
    StepError::new(ErrorName::BadEvent, message)
}

impl<S: ObjectStore> TransformHandler<S> {
    /// Builds a handler; temporary files go under `work_dir`.
    pub fn new(store: S, options: TransformOptions, work_dir: PathBuf) -> TransformHandler<S> {
        TransformHandler { store, options, work_dir }
    }

    /// The store this handler reads and writes.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Reads and validates the dataset's spec from `datasets/<dataset>.toml` in the bucket
    /// (see [`super::load_spec`]).
    pub async fn load_spec(&self, bucket: &str, dataset: &str) -> Result<DatasetSpec, StepError> {
        super::load_spec(&self.store, bucket, dataset).await
    }

    /// Transforms one Map item.
    pub async fn handle(&self, item: TransformItem) -> Result<FileResult, StepError> {
        if item.bucket.is_empty() || item.key.is_empty() || item.key.ends_with('/') {
            return Err(bad_event(format!("bucket and an object key are required, got {item:?}")));
        }
        let spec = Arc::new(self.load_spec(&item.bucket, &item.dataset).await?);
        let scratch = tempfile::Builder::new()
            .prefix("graphetl-transform-")
            .tempdir_in(&self.work_dir)
            .map_err(|e| {
                StepError::new(ErrorName::Internal, format!("cannot create a work directory: {e}"))
            })?;
        let base = item.key.rsplit('/').next().unwrap_or("input");
        let input = scratch.path().join(format!("input-{base}"));
        self.store
            .get_to_file(&item.bucket, &item.key, &input)
            .await
            .map_err(|e| store_error(&e))?;
        let source = format!("s3://{}/{}", item.bucket, item.key);
        let output = run_engine(
            spec.clone(),
            input,
            source.clone(),
            scratch.path().join("out"),
            self.options.clone(),
        )
        .await?;
        tracing::info!(
            key = %item.key,
            run_id = %item.run_id,
            rows_in = output.rows_in,
            rows_written = output.rows_written,
            rows_rejected = output.rows_rejected,
            "transformed"
        );
        publish(&self.store, &item.bucket, &spec.name, &item.key, &output).await
    }
}

/// Runs the CPU-bound engine off the async runtime.
async fn run_engine(
    spec: Arc<DatasetSpec>,
    input: PathBuf,
    source: String,
    out_dir: PathBuf,
    options: TransformOptions,
) -> Result<TransformOutput, StepError> {
    let joined = tokio::task::spawn_blocking(move || {
        transform_file(&spec, &input, &source, &out_dir, &options)
            .map_err(|e| StepError::new(e.error_name(), format!("{source}: {e}")))
    })
    .await;
    joined
        .map_err(|e| StepError::new(ErrorName::Internal, format!("transform task failed: {e}")))?
}

/// Where each output of a finished transform goes: curated files and the quarantine file, with
/// the keys the layout gives for `raw_key`. Both the Lambda and `graphetl transform` publish this.
pub struct OutputPlan {
    /// Local file and the object it becomes, per partition.
    pub curated: Vec<(PathBuf, OutputFile)>,
    /// The quarantine file and its object, when any row was rejected.
    pub quarantine: Option<(PathBuf, OutputFile)>,
    /// The quarantine key (to remove a stale one when nothing was rejected).
    pub quarantine_key: String,
}

/// Plans the outputs of `output` for `raw_key`.
pub fn plan_outputs(dataset: &str, raw_key: &str, output: &TransformOutput) -> OutputPlan {
    let mut curated: Vec<(PathBuf, OutputFile)> = output
        .files
        .iter()
        .map(|file| {
            let key = layout::curated_key(dataset, &file.partition, raw_key);
            let meta = OutputFile {
                key,
                partition: file.partition.clone(),
                rows: file.rows,
                bytes: file.bytes,
            };
            (file.path.clone(), meta)
        })
        .collect();
    curated.sort_by(|a, b| a.1.key.cmp(&b.1.key));
    let quarantine_key = layout::quarantine_key(dataset, raw_key);
    let quarantine = output.quarantine.as_ref().map(|q| {
        let partition = layout::raw_relative_dir(dataset, raw_key).trim_end_matches('/').to_owned();
        (
            q.path.clone(),
            OutputFile { key: quarantine_key.clone(), partition, rows: q.rows, bytes: q.bytes },
        )
    });
    OutputPlan { curated, quarantine, quarantine_key }
}

impl OutputPlan {
    /// The step's response once every planned object is in place.
    pub fn file_result(
        &self,
        bucket: &str,
        dataset: &str,
        raw_key: &str,
        output: &TransformOutput,
    ) -> FileResult {
        FileResult {
            bucket: bucket.to_owned(),
            key: raw_key.to_owned(),
            dataset: dataset.to_owned(),
            rows_in: output.rows_in,
            rows_written: output.rows_written,
            rows_rejected: output.rows_rejected,
            bytes_in: output.bytes_in,
            outputs: self
                .curated
                .iter()
                .take(MAX_LISTED_OUTPUTS)
                .map(|(_, meta)| meta.clone())
                .collect(),
            output_files: self.curated.len() as u64,
            quarantine: self.quarantine.as_ref().map(|(_, meta)| meta.clone()),
            missing_fields: output.missing_fields.clone(),
        }
    }
}

/// Curated objects uploaded at once by [`publish`].
pub const PARALLEL_UPLOADS: usize = 16;

/// Uploads a finished transform's outputs under the keys the layout gives for `raw_key`.
pub async fn publish<S: ObjectStore>(
    store: &S,
    bucket: &str,
    dataset: &str,
    raw_key: &str,
    output: &TransformOutput,
) -> Result<FileResult, StepError> {
    let plan = plan_outputs(dataset, raw_key, output);
    // A file spanning many partitions has as many objects: upload them a few at a time.
    // (Owned keys and paths: a stream over borrowed items would not be `Send` in the Lambda.)
    let uploads: Vec<(PathBuf, String)> =
        plan.curated.iter().map(|(path, meta)| (path.clone(), meta.key.clone())).collect();
    futures::stream::iter(uploads)
        .map(|(path, key)| async move { upload(store, bucket, &key, &path, PARQUET).await })
        .buffer_unordered(PARALLEL_UPLOADS)
        .try_collect::<()>()
        .await?;
    match &plan.quarantine {
        Some((path, meta)) => upload(store, bucket, &meta.key, path, JSON_LINES).await?,
        // A clean re-run must not leave the quarantine of an earlier run behind.
        None => {
            store.delete_prefix(bucket, &plan.quarantine_key).await.map_err(|e| store_error(&e))?;
        }
    }
    Ok(plan.file_result(bucket, dataset, raw_key, output))
}

async fn upload<S: ObjectStore>(
    store: &S,
    bucket: &str,
    key: &str,
    path: &Path,
    content_type: &str,
) -> Result<(), StepError> {
    store.put_file(bucket, key, path, Some(content_type)).await.map_err(|e| store_error(&e))?;
    Ok(())
}
