//! `StoreError`: one error type for every storage failure, with a kind that drives retries.
//!
//! This module owns the mapping from aws-sdk-s3's `SdkError` (error code from
//! `ProvideErrorMetadata::code()` plus the raw HTTP status) onto `StoreErrorKind`.
//! It must not decide what to do about an error; callers use `is_transient()` for that.

use std::error::Error as StdError;
use std::fmt;
use std::path::Path;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong, sized to the decisions a caller can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The bucket, key or multipart upload does not exist.
    NotFound,
    /// The service asked us to slow down (`SlowDown`, HTTP 503, 429 or a `TooManyRequests` code).
    Throttled,
    /// The service or the path to it failed: other 5xx, timeouts, connection or dispatch errors.
    Unavailable,
    /// Credentials are missing, wrong, expired or not allowed to do this.
    AccessDenied,
    /// The service rejected the request as invalid (other 4xx), or it could not be built.
    InvalidRequest,
    /// A local file could not be read or written.
    Io,
    /// Anything not classified above.
    Other,
}

impl StoreErrorKind {
    /// Whether trying the same call again later can succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, StoreErrorKind::Throttled | StoreErrorKind::Unavailable)
    }

    /// A stable lower-case name for logs and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::NotFound => "not found",
            StoreErrorKind::Throttled => "throttled",
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::AccessDenied => "access denied",
            StoreErrorKind::InvalidRequest => "invalid request",
            StoreErrorKind::Io => "local i/o",
            StoreErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed storage operation, with its kind, the object it was about and the service's message.
///
/// The details are boxed so that `Result<T, StoreError>` stays one pointer wide on the error side.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(Box<Details>);

#[derive(Debug, thiserror::Error)]
#[error("{operation} s3://{bucket}/{key} failed ({kind}): {message}")]
struct Details {
    kind: StoreErrorKind,
    operation: &'static str,
    bucket: String,
    key: String,
    code: Option<String>,
    status: Option<u16>,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl StoreError {
    /// Builds an error without an underlying cause (for fakes and for checks made by this crate).
    pub fn new(
        kind: StoreErrorKind,
        operation: &'static str,
        bucket: &str,
        key: &str,
        message: impl Into<String>,
    ) -> Self {
        StoreError(Box::new(Details {
            kind,
            operation,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            code: None,
            status: None,
            message: message.into(),
            source: None,
        }))
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.0.kind
    }

    /// Whether trying the same call again later can succeed.
    pub fn is_transient(&self) -> bool {
        self.0.kind.is_transient()
    }

    /// The operation that failed, e.g. `"GetObject"`.
    pub fn operation(&self) -> &'static str {
        self.0.operation
    }

    /// The bucket the operation was about.
    pub fn bucket(&self) -> &str {
        &self.0.bucket
    }

    /// The key (or prefix, for listing and deletion) the operation was about; empty for buckets.
    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// The service's error code (e.g. `"SlowDown"`), if the service sent one.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The HTTP status of the failing response, if there was a response.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The service's message, or a description of the local failure.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.0.source = Some(source.into());
        self
    }

    /// Maps an SDK failure, using the service's error code first and the HTTP status second.
    pub(crate) fn from_sdk<E>(
        operation: &'static str,
        bucket: &str,
        key: &str,
        err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        let status = err.raw_response().map(|response| response.status().as_u16());
        let kind = match &err {
            SdkError::ConstructionFailure(_) => StoreErrorKind::InvalidRequest,
            SdkError::TimeoutError(_) => StoreErrorKind::Unavailable,
            SdkError::DispatchFailure(failure) if failure.is_user() => {
                StoreErrorKind::InvalidRequest
            }
            SdkError::DispatchFailure(_) => StoreErrorKind::Unavailable,
            // A response arrived but could not be read (e.g. the connection dropped mid-body).
            SdkError::ResponseError(_) => match status {
                Some(status) if (200..300).contains(&status) => StoreErrorKind::Unavailable,
                _ => classify(code.as_deref(), status),
            },
            SdkError::ServiceError(_) => classify(code.as_deref(), status),
            _ => StoreErrorKind::Other,
        };
        let message = match err.message() {
            Some(message) => message.to_owned(),
            None => DisplayErrorContext(&err).to_string(),
        };
        let source: Option<BoxError> = err.into_source().ok();
        StoreError(Box::new(Details {
            kind,
            operation,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            code,
            status,
            message,
            source,
        }))
    }

    /// Maps a local file error.
    pub(crate) fn io(
        operation: &'static str,
        bucket: &str,
        key: &str,
        path: &Path,
        err: std::io::Error,
    ) -> Self {
        StoreError::new(
            StoreErrorKind::Io,
            operation,
            bucket,
            key,
            format!("local file {}: {err}", path.display()),
        )
        .with_source(err)
    }
}

/// Classifies a service error response by its error code, falling back to the HTTP status.
///
/// Any 503 counts as throttling: S3 answers 503 `SlowDown` (or `ServiceUnavailable`) when a
/// prefix gets more requests than it can take, and the right reaction is to back off.
pub(crate) fn classify(code: Option<&str>, status: Option<u16>) -> StoreErrorKind {
    if matches!(status, Some(429 | 503)) {
        return StoreErrorKind::Throttled;
    }
    let by_code = match code {
        Some("NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NotFound") => {
            Some(StoreErrorKind::NotFound)
        }
        Some(
            "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequests"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "ProvisionedThroughputExceededException",
        ) => Some(StoreErrorKind::Throttled),
        Some(
            "InternalError"
            | "ServiceUnavailable"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "PriorRequestNotComplete",
        ) => Some(StoreErrorKind::Unavailable),
        Some(
            "AccessDenied"
            | "AllAccessDisabled"
            | "AccountProblem"
            | "InvalidAccessKeyId"
            | "InvalidToken"
            | "ExpiredToken"
            | "TokenRefreshRequired"
            | "SignatureDoesNotMatch"
            | "InvalidSecurity",
        ) => Some(StoreErrorKind::AccessDenied),
        _ => None,
    };
    if let Some(kind) = by_code {
        return kind;
    }
    match status {
        Some(404) => StoreErrorKind::NotFound,
        Some(401 | 403) => StoreErrorKind::AccessDenied,
        Some(408) => StoreErrorKind::Unavailable,
        Some(500..=599) => StoreErrorKind::Unavailable,
        Some(400..=499) => StoreErrorKind::InvalidRequest,
        _ => StoreErrorKind::Other,
    }
}
