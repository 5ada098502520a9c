//! Stable error names: the `errorType` a Lambda reports and the ASL's `ErrorEquals` matches.
//!
//! A name never changes once shipped: state machines in the field retry or catch on it.
//! Transient names are safe to retry; permanent ones mean the input itself is wrong, so a retry
//! would fail the same way and only waste time and history events.

use std::fmt;

/// Whether retrying the same input can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A retry can succeed (throttling, a 5xx, a timeout).
    Transient,
    /// A retry fails the same way (bad input, bad spec, missing object).
    Permanent,
}

/// Every error name graphetl reports to Step Functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorName {
    /// The input file cannot be read as the spec says (truncated gzip, wrong delimiter, bad UTF-8…).
    BadInput,
    /// The dataset spec is invalid or missing.
    BadSpec,
    /// The event sent to a Lambda does not match its contract.
    BadEvent,
    /// The input object does not exist.
    NotFound,
    /// The object store asked us to slow down (S3 SlowDown / 503).
    StorageThrottled,
    /// The object store failed transiently (5xx, timeout, connection reset).
    StorageUnavailable,
    /// The object store refused access (permissions, bucket policy).
    StorageAccessDenied,
    /// A bug or an unclassified failure; not retried.
    Internal,
    /// Some files of a process-files batch failed; the cause lists each file, error and cause.
    FilesFailed,
    /// Athena refused to start or poll a query for now (TooManyRequests, throttling).
    AthenaThrottled,
    /// An Athena query failed in a way Athena marks retryable.
    AthenaTransient,
    /// Neptune asked us to slow down (throttling, query limit).
    NeptuneThrottled,
    /// Neptune failed transiently (ConcurrentModification, internal failure, read-only replica).
    NeptuneTransient,
    /// The extract's source kept answering 429 until the attempts per page ran out.
    SourceThrottled,
    /// The extract's source kept failing (5xx, timeout, connection error) until the attempts ran out.
    SourceUnavailable,
    /// The extract's source refused the request (4xx other than 429) or sent a page that is
    /// not the shape the spec says; a retry would get the same answer.
    SourceRejected,
}

impl ErrorName {
    /// Every name, for documentation and for checking the ASL's `ErrorEquals` lists.
    pub const ALL: &'static [ErrorName] = &[
        ErrorName::BadInput,
        ErrorName::BadSpec,
        ErrorName::BadEvent,
        ErrorName::NotFound,
        ErrorName::StorageThrottled,
        ErrorName::StorageUnavailable,
        ErrorName::StorageAccessDenied,
        ErrorName::Internal,
        ErrorName::FilesFailed,
        ErrorName::AthenaThrottled,
        ErrorName::AthenaTransient,
        ErrorName::NeptuneThrottled,
        ErrorName::NeptuneTransient,
        ErrorName::SourceThrottled,
        ErrorName::SourceUnavailable,
        ErrorName::SourceRejected,
    ];

    /// The stable string, e.g. `GraphEtl.BadInput`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::BadInput => "GraphEtl.BadInput",
            ErrorName::BadSpec => "GraphEtl.BadSpec",
            ErrorName::BadEvent => "GraphEtl.BadEvent",
            ErrorName::NotFound => "GraphEtl.NotFound",
            ErrorName::StorageThrottled => "GraphEtl.StorageThrottled",
            ErrorName::StorageUnavailable => "GraphEtl.StorageUnavailable",
            ErrorName::StorageAccessDenied => "GraphEtl.StorageAccessDenied",
            ErrorName::Internal => "GraphEtl.Internal",
            ErrorName::FilesFailed => "GraphEtl.FilesFailed",
            ErrorName::AthenaThrottled => "GraphEtl.AthenaThrottled",
            ErrorName::AthenaTransient => "GraphEtl.AthenaTransient",
            ErrorName::NeptuneThrottled => "GraphEtl.NeptuneThrottled",
            ErrorName::NeptuneTransient => "GraphEtl.NeptuneTransient",
            ErrorName::SourceThrottled => "GraphEtl.SourceThrottled",
            ErrorName::SourceUnavailable => "GraphEtl.SourceUnavailable",
            ErrorName::SourceRejected => "GraphEtl.SourceRejected",
        }
    }

    /// Whether the state machine may retry an item that failed with this name.
    pub fn retry(self) -> Retry {
        match self {
            ErrorName::StorageThrottled
            | ErrorName::StorageUnavailable
            | ErrorName::AthenaThrottled
            | ErrorName::AthenaTransient
            | ErrorName::NeptuneThrottled
            | ErrorName::NeptuneTransient
            | ErrorName::SourceThrottled
            | ErrorName::SourceUnavailable => Retry::Transient,
            ErrorName::BadInput
            | ErrorName::BadSpec
            | ErrorName::BadEvent
            | ErrorName::NotFound
            | ErrorName::StorageAccessDenied
            | ErrorName::Internal
            | ErrorName::FilesFailed
            | ErrorName::SourceRejected => Retry::Permanent,
        }
    }

    /// Looks a name up by its stable string.
    pub fn from_name(name: &str) -> Option<ErrorName> {
        ErrorName::ALL.iter().copied().find(|n| n.as_str() == name)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed step as Step Functions sees it: a stable name and a cause an operator can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {cause}")]
pub struct StepError {
    /// The stable error name (`errorType`).
    pub name: ErrorName,
    /// What happened, for a human (`errorMessage` / `Cause`).
    pub cause: String,
}

impl StepError {
    /// Builds a step error from a name and a cause.
    pub fn new(name: ErrorName, cause: impl Into<String>) -> StepError {
        StepError { name, cause: cause.into() }
    }
}
