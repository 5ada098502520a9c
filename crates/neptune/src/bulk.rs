//! The bulk path: write a graph as Neptune bulk-load CSV to S3, start a `/loader` job and poll it
//! until it finishes.
//!
//! Above [`BulkConfig::min_records`] records the loader beats Gremlin upserts (reference §4.5).
//! The CSV is the one [`LocalGraph`] renders (`vertices.csv`, `edges.csv` with typed headers and
//! single cardinality), so a bulk load and an upsert load write the same graph. Uploading goes
//! through the small [`CsvUpload`] port, so this crate does not depend on the storage crate.
//!
//! The job is started with `failOnError: "FALSE"`, `parallelism: "MEDIUM"`,
//! `updateSingleCardinalityProperties: "TRUE"` (re-running a load replaces values, as upserts
//! do) and `queueRequest: "TRUE"` (Neptune runs one load at a time; parallel load items queue
//! instead of failing with "Max concurrent load limit breached"), and polled at `GET /loader/{loadId}?details=true&errors=true` every
//! [`BulkConfig::poll_interval`]: `LOAD_NOT_STARTED`, `LOAD_IN_QUEUE` and `LOAD_IN_PROGRESS` keep
//! waiting, `LOAD_COMPLETED` is success, and every other status is a failure that carries the
//! loader's counts and error logs. Requests are signed and retried like Gremlin requests.

use std::future::Future;
use std::time::Duration;

use graphetl_core::ErrorName;
use serde_json::{Value, json};

use crate::http::{NeptuneClient, NeptuneError};
use graphetl_graph::local::LocalGraph;
use graphetl_graph::sink::SinkError;

/// Where bulk-load CSV goes: uploads one object and returns its `s3://bucket/key` URL.
pub trait CsvUpload {
    /// Uploads `body` as `key` and returns the object's `s3://` URL, or why it failed.
    fn put(&self, key: &str, body: String) -> impl Future<Output = Result<String, String>> + Send;
}

/// How a bulk load runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkConfig {
    /// The IAM role the cluster assumes to read the bucket (attached to the cluster).
    pub iam_role_arn: String,
    /// The bucket's region (the cluster's).
    pub region: String,
    /// Key prefix of the CSV files (`<prefix>/vertices.csv`, `<prefix>/edges.csv`).
    pub prefix: String,
    /// Batches of at least this many records take the bulk path (see [`BulkConfig::use_bulk`]).
    pub min_records: usize,
    /// Pause between status polls.
    pub poll_interval: Duration,
    /// Give up polling after this long (the job keeps running on the cluster).
    pub max_wait: Duration,
}

impl BulkConfig {
    /// Defaults: 100,000 records, a poll every 5 s, at most one hour of waiting.
    pub fn new(
        iam_role_arn: impl Into<String>,
        region: impl Into<String>,
        prefix: impl Into<String>,
    ) -> BulkConfig {
        BulkConfig {
            iam_role_arn: iam_role_arn.into(),
            region: region.into(),
            prefix: prefix.into(),
            min_records: 100_000,
            poll_interval: Duration::from_secs(5),
            max_wait: Duration::from_secs(3_600),
        }
    }

    /// Whether a batch of `records` records should take the bulk path.
    pub fn use_bulk(&self, records: usize) -> bool {
        records >= self.min_records
    }
}

/// The loader's counts for a job (its `overallStatus`) and the first error logs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoaderStatus {
    /// `LOAD_COMPLETED`, `LOAD_IN_PROGRESS`, `LOAD_FAILED`, …
    pub status: String,
    /// Records loaded.
    pub total_records: u64,
    /// Duplicate records.
    pub total_duplicates: u64,
    /// Lines that did not parse.
    pub parsing_errors: u64,
    /// Values of the wrong type.
    pub datatype_mismatch_errors: u64,
    /// Records that could not be inserted.
    pub insert_errors: u64,
    /// The loader's `errors.errorLogs`, as JSON text each.
    pub error_logs: Vec<String>,
}

/// Whether the loader is still working on a job with this status.
pub fn in_progress(status: &str) -> bool {
    matches!(status, "LOAD_NOT_STARTED" | "LOAD_IN_QUEUE" | "LOAD_IN_PROGRESS")
}

/// What a finished bulk load did.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkReport {
    /// The loader's job id.
    pub load_id: String,
    /// The `source` given to the loader.
    pub source: String,
    /// Vertices in the uploaded files.
    pub vertices: usize,
    /// Edges in the uploaded files.
    pub edges: usize,
    /// The final status.
    pub status: LoaderStatus,
    /// Status polls made.
    pub polls: u32,
}

/// Why a bulk load failed.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The graph could not be written as CSV.
    #[error("rendering bulk-load CSV: {0}")]
    Render(#[from] SinkError),
    /// Uploading a CSV file failed.
    #[error("uploading {key}: {message}")]
    Upload {
        /// The object key.
        key: String,
        /// The uploader's message.
        message: String,
    },
    /// A loader request failed.
    #[error("Neptune loader: {0}")]
    Neptune(#[from] NeptuneError),
    /// The graph has no vertex and no edge: there is nothing to load.
    #[error("nothing to bulk-load: the graph is empty")]
    Empty,
    /// A 2xx answer the loader API does not give.
    #[error("unexpected answer from the Neptune loader: {0}")]
    BadResponse(String),
    /// The job ended in a status other than `LOAD_COMPLETED`.
    #[error(
        "bulk load {load_id} ended with {}: {} records, {} parsing, {} datatype and {} insert errors{}",
        status.status, status.total_records, status.parsing_errors,
        status.datatype_mismatch_errors, status.insert_errors,
        status.error_logs.first().map(|e| format!("; first error: {e}")).unwrap_or_default()
    )]
    Failed {
        /// The job id.
        load_id: String,
        /// The final status.
        status: Box<LoaderStatus>,
    },
    /// The job did not finish within [`BulkConfig::max_wait`].
    #[error("bulk load {load_id} still {last_status} after {waited:?}")]
    TimedOut {
        /// The job id.
        load_id: String,
        /// The last status seen.
        last_status: String,
        /// How long we waited.
        waited: Duration,
    },
}

impl BulkError {
    /// The stable error name. A job that ended with rejected records (parsing, datatype or
    /// insert errors, or error logs such as `FROM_OR_TO_VERTEX_ARE_MISSING`) is `BadInput`: the
    /// same files fail the same way. `LOAD_S3_ACCESS_DENIED_ERROR` is `StorageAccessDenied` (the
    /// loader role cannot read the bucket); `LOAD_S3_READ_ERROR` and a feed changed under the
    /// job are `StorageUnavailable`; write conflicts, deadlocks and a job still running at
    /// [`BulkConfig::max_wait`] are `NeptuneTransient`; Neptune errors keep their names; the
    /// rest (a cancelled job, an invalid request, an upload failure, an unusable answer) is
    /// `Internal`.
    pub fn error_name(&self) -> ErrorName {
        match self {
            BulkError::Render(error) => error.error_name(),
            BulkError::Neptune(error) => error.error_name(),
            BulkError::Failed { status, .. } => status.error_name(),
            BulkError::TimedOut { .. } => ErrorName::NeptuneTransient,
            BulkError::Upload { .. } | BulkError::Empty | BulkError::BadResponse(_) => {
                ErrorName::Internal
            }
        }
    }
}

impl LoaderStatus {
    /// Records the loader rejected: parsing, datatype and insert errors.
    pub fn rejected_records(&self) -> u64 {
        self.parsing_errors + self.datatype_mismatch_errors + self.insert_errors
    }

    /// The stable name of a job that ended with this status (see [`BulkError::error_name`]).
    pub fn error_name(&self) -> ErrorName {
        match self.status.as_str() {
            _ if self.rejected_records() > 0 => ErrorName::BadInput,
            "LOAD_FAILED" | "LOAD_CANCELLED_DUE_TO_ERRORS" if !self.error_logs.is_empty() => {
                ErrorName::BadInput
            }
            "LOAD_S3_ACCESS_DENIED_ERROR" => ErrorName::StorageAccessDenied,
            "LOAD_S3_READ_ERROR" | "LOAD_DATA_FAILED_DUE_TO_FEED_MODIFIED_OR_DELETED" => {
                ErrorName::StorageUnavailable
            }
            "LOAD_COMMITTED_W_WRITE_CONFLICTS" | "LOAD_DATA_DEADLOCK" => {
                ErrorName::NeptuneTransient
            }
            _ => ErrorName::Internal,
        }
    }
}

/// The JSON body of `POST /loader` for `source`.
pub fn loader_request(source: &str, config: &BulkConfig) -> Value {
    json!({
        "source": source,
        "format": "csv",
        "iamRoleArn": config.iam_role_arn,
        "region": config.region,
        "failOnError": "FALSE",
        "parallelism": "MEDIUM",
        "updateSingleCardinalityProperties": "TRUE",
        "queueRequest": "TRUE",
    })
}

/// The `loadId` of a `POST /loader` answer (`{"status": "200 OK", "payload": {"loadId": …}}`).
pub fn parse_start(body: &[u8]) -> Result<String, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    value["payload"]["loadId"]
        .as_str()
        // The id goes into a URL path: accept only what the loader's UUIDs are made of.
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .ok_or_else(|| format!("no usable payload.loadId in {value}"))
}

/// The status of a `GET /loader/{loadId}` answer.
pub fn parse_status(body: &[u8]) -> Result<LoaderStatus, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let overall = &value["payload"]["overallStatus"];
    let status = overall["status"]
        .as_str()
        .ok_or_else(|| format!("no payload.overallStatus.status in {value}"))?
        .to_owned();
    let count = |name: &str| overall[name].as_u64().unwrap_or(0);
    let error_logs = value["payload"]["errors"]["errorLogs"]
        .as_array()
        .map(|logs| logs.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    Ok(LoaderStatus {
        total_records: count("totalRecords"),
        total_duplicates: count("totalDuplicates"),
        parsing_errors: count("parsingErrors"),
        datatype_mismatch_errors: count("datatypeMismatchErrors"),
        insert_errors: count("insertErrors"),
        status,
        error_logs,
    })
}

/// Writes `graph` as bulk-load CSV through `upload`, starts a loader job over it and polls the
/// job until it finishes.
pub async fn bulk_load<U: CsvUpload>(
    client: &NeptuneClient,
    upload: &U,
    graph: &LocalGraph,
    config: &BulkConfig,
) -> Result<BulkReport, BulkError> {
    let prefix = config.prefix.trim_end_matches('/');
    let vertices = graph.vertices().count();
    let edges = graph.edges().count();
    // Only non-empty files: an edges-only chunk uploads edges.csv alone.
    let mut files = Vec::new();
    if vertices > 0 {
        files.push((format!("{prefix}/vertices.csv"), graph.vertices_csv()?));
    }
    if edges > 0 {
        files.push((format!("{prefix}/edges.csv"), graph.edges_csv()?));
    }
    let mut first_url = None;
    for (key, body) in files {
        let url = upload
            .put(&key, body)
            .await
            .map_err(|message| BulkError::Upload { key: key.clone(), message })?;
        first_url.get_or_insert(url);
    }
    let Some(first_url) = first_url else {
        return Err(BulkError::Empty);
    };
    // The folder holding the files: the loader reads every object under it.
    let source = match first_url.rsplit_once('/') {
        Some((folder, _)) => format!("{folder}/"),
        None => first_url.clone(),
    };
    let started = client.post_json("/loader", loader_request(&source, config).to_string()).await?;
    let load_id = parse_start(&started.body).map_err(BulkError::BadResponse)?;
    let waited_since = tokio::time::Instant::now();
    let mut polls = 0;
    loop {
        let path = format!("/loader/{load_id}?details=true&errors=true");
        let answer = client.get(&path).await?;
        polls += 1;
        let status = parse_status(&answer.body).map_err(BulkError::BadResponse)?;
        if status.status == "LOAD_COMPLETED" {
            return Ok(BulkReport { load_id, source, vertices, edges, status, polls });
        }
        if !in_progress(&status.status) {
            return Err(BulkError::Failed { load_id, status: Box::new(status) });
        }
        let waited = waited_since.elapsed();
        if waited >= config.max_wait {
            return Err(BulkError::TimedOut { load_id, last_status: status.status, waited });
        }
        tokio::time::sleep(config.poll_interval).await;
    }
}
