//! The extract step of graphetl: records from a dataset's source over one time window, written
//! as gzip JSON-lines raw files under deterministic keys.
//!
//! This crate owns:
//! - [`extract_http`]: the `http` source kind — a URL template over the window, cursor
//!   pagination, the records array at a dotted path, header secrets by reference, a rate limit,
//!   per-request timeouts and retries with capped, jittered backoff that honour `Retry-After`;
//! - [`extract_generator`] and [`generator`]: the `generator` kind, synthetic service-call
//!   records (power-law call graph, lognormal latencies, error bursts, the spec's messy values
//!   and a stated share of bad rows), deterministic for a seed;
//! - [`files`]: generated records as local files in the raw layout (`graphetl generate`);
//! - [`source`]: a loopback HTTP server answering the service-calls API shape, so the `http`
//!   kind runs locally (`graphetl serve-source`, tests), with optional failure injection;
//! - [`secrets`]: the `SecretResolver` port (env and literal here, SSM and Secrets Manager
//!   with the `aws` feature).
//!
//! Files go to `raw/<dataset>/dt=YYYY-MM-DD/hour=HH/` of the window's start, named after the
//! window (`graphetl_core::layout::extract_part_key`): re-extracting a window overwrites the
//! same keys and deletes its higher-numbered parts left from an earlier run, so nothing is
//! appended twice. At most one file's records are held in memory.
//!
//! Architecture invariant: no Lambda and no configuration reading here (except `env:`
//! secrets, which is what they mean); the Lambda handler and the CLI call these functions.

mod clock;
pub mod files;
pub mod generator;
mod http;
pub mod secrets;
pub mod source;
mod writer;

#[cfg(test)]
mod tests;

use graphetl_core::ErrorName;
use graphetl_core::contract::ExtractResult;
use graphetl_storage::{ObjectStore, StoreError, StoreErrorKind};

pub use clock::{Clock, TokioClock, VirtualClock};
pub use generator::{GeneratorConfig, generate};
pub use http::{DEFAULT_MAX_PAGE_BYTES, HttpOptions, SourceHosts, extract_http, extract_http_with};
pub use secrets::{LocalSecrets, Secret, SecretError, SecretErrorKind, SecretRef, SecretResolver};
pub use writer::{PartWriter, WrittenParts};

/// Why an extract failed; [`ExtractError::error_name`] gives the stable name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// Every attempt at a page was answered with 429.
    #[error("{url}: the source answered 429 Too Many Requests on all {attempts} attempts")]
    Throttled {
        /// The page's URL.
        url: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Every attempt at a page failed transiently (5xx, timeout, connection error).
    #[error("{url}: {reason} (after {attempts} attempts)")]
    Unavailable {
        /// The page's URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The source refused the request (4xx other than 429); retrying cannot help.
    #[error("{url}: the source answered HTTP {status}{body}")]
    Rejected {
        /// The page's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body (`: …`), or empty.
        body: String,
    },
    /// A page is not the shape the spec says (not JSON, no records array, a stuck cursor).
    #[error("{url}: {reason}")]
    BadPage {
        /// The page's URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A header's secret could not be resolved (the message names the reference, not a value).
    #[error("source header {header}: {source}")]
    Secret {
        /// The header name.
        header: String,
        /// The lookup failure.
        #[source]
        source: SecretError,
    },
    /// The request would break the egress rules (a host not allowed, a secret over `http://`,
    /// a redirect to another origin); refused before anything is sent to that host.
    #[error("{url}: refused: {reason}")]
    Refused {
        /// The URL refused (a redirect's source page).
        url: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// A page's body is larger than [`HttpOptions::max_page_bytes`].
    #[error(
        "{url}: the page is larger than {limit} bytes (HttpOptions::max_page_bytes); ask the source for smaller pages"
    )]
    PageTooLarge {
        /// The page's URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The source settings cannot work (a URL that does not parse, a bad header name).
    #[error("source settings: {0}")]
    BadSource(String),
    /// Writing or listing raw files failed.
    #[error("raw files: {0}")]
    Store(#[from] StoreError),
}

impl ExtractError {
    /// The stable name the state machine retries or catches on.
    pub fn error_name(&self) -> ErrorName {
        match self {
            ExtractError::Throttled { .. } => ErrorName::SourceThrottled,
            ExtractError::Unavailable { .. } => ErrorName::SourceUnavailable,
            ExtractError::Rejected { .. } | ExtractError::BadPage { .. } => {
                ErrorName::SourceRejected
            }
            ExtractError::Secret { source, .. } => match source.kind() {
                SecretErrorKind::Unavailable => ErrorName::SourceUnavailable,
                SecretErrorKind::AccessDenied
                | SecretErrorKind::NotFound
                | SecretErrorKind::BadReference
                | SecretErrorKind::Refused => ErrorName::BadSpec,
            },
            ExtractError::BadSource(_) | ExtractError::Refused { .. } => ErrorName::BadSpec,
            ExtractError::PageTooLarge { .. } => ErrorName::SourceRejected,
            ExtractError::Store(e) => match e.kind() {
                StoreErrorKind::NotFound => ErrorName::NotFound,
                StoreErrorKind::Throttled => ErrorName::StorageThrottled,
                StoreErrorKind::Unavailable => ErrorName::StorageUnavailable,
                StoreErrorKind::AccessDenied => ErrorName::StorageAccessDenied,
                _ => ErrorName::Internal,
            },
        }
    }
}

/// Writes the records of the `generator` source kind for `config.window` as raw files of at
/// most `records_per_file` records (same layout and key rules as [`extract_http`]).
pub async fn extract_generator<S: ObjectStore>(
    config: &GeneratorConfig,
    records_per_file: u64,
    store: &S,
    bucket: &str,
    dataset: &str,
) -> Result<ExtractResult, ExtractError> {
    let mut parts = PartWriter::new(store, bucket, dataset, &config.window, records_per_file);
    for record in generate(config) {
        parts.push(&record).await?;
    }
    let written = parts.finish().await?;
    tracing::info!(
        dataset,
        prefix = %written.prefix,
        files = written.files,
        records = written.records,
        "generated"
    );
    Ok(ExtractResult {
        prefix: written.prefix,
        files: written.files,
        records: written.records,
        ..ExtractResult::default()
    })
}
