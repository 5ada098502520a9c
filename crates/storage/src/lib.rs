//! Object storage for graphetl: the `ObjectStore` port, its S3 adapter and the local endpoint.
//!
//! This crate owns every byte that goes to or comes from S3: streaming downloads to files,
//! single and multipart uploads (aborted on failure), paginated listing, prefix deletion, and the
//! mapping of SDK failures onto a small `StoreErrorKind` that says whether a retry can help.
//! With the `local-server` feature it also owns `LocalS3`, an in-process S3-compatible server
//! (s3s-fs) that `graphetl run --local` and the tests talk to over real HTTP, and `FaultProxy`,
//! a loopback proxy in front of it that injects S3 faults (tests, `graphetl chaos`).
//!
//! Architecture invariant: no `aws_sdk_s3` type crosses the `ObjectStore` trait. Callers see plain
//! Rust values (`ObjectMeta`, `PutOutcome`, `StoreError`) and stay testable with any fake.
//! This crate never reads settings from the environment itself, except through the SDK's own
//! configuration chain in `S3Store::from_env`.

mod error;
#[cfg(feature = "local-server")]
mod fault_proxy;
#[cfg(feature = "local-server")]
mod local;
mod s3;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::Path;
use std::time::SystemTime;

pub use error::{StoreError, StoreErrorKind};
#[cfg(feature = "local-server")]
pub use fault_proxy::{Fault, FaultProxy};
#[cfg(feature = "local-server")]
pub use local::{LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY, LocalS3, LocalS3Error};
pub use s3::{MIN_PART_SIZE, RetrySettings, S3Store, TransferSettings};

/// Metadata of one stored object, as returned by `list` and `head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Full key of the object inside its bucket.
    pub key: String,
    /// Size of the object in bytes.
    pub size: u64,
    /// Entity tag as the service reports it (quotes included), if it reports one.
    pub etag: Option<String>,
    /// Last modification time, if the service reports one.
    pub last_modified: Option<SystemTime>,
}

/// What an upload did: how many bytes, in how many parts, and the resulting entity tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// Number of bytes uploaded.
    pub size: u64,
    /// Number of parts: 1 for a single PutObject, N for a multipart upload.
    pub parts: u32,
    /// Entity tag of the new object, if the service returned one.
    pub etag: Option<String>,
}

/// The object storage port: everything graphetl needs from S3, in plain Rust types.
///
/// Methods return `Send` futures so that callers can be generic over `S: ObjectStore` and still
/// spawn their work; the trait is not meant to be used as `dyn ObjectStore`.
pub trait ObjectStore: Send + Sync {
    /// Streams the object to `dest` (created or truncated) and returns the number of bytes written.
    fn get_to_file(
        &self,
        bucket: &str,
        key: &str,
        dest: &Path,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Reads a small object (a spec, a manifest) fully into memory.
    fn get_bytes(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Uploads a local file, as multipart above the configured threshold; never leaves a partial object.
    fn put_file(
        &self,
        bucket: &str,
        key: &str,
        src: &Path,
        content_type: Option<&str>,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Uploads an in-memory buffer with a single PutObject.
    fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Lists every object under `prefix`, following continuation tokens until the end.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObjectMeta>, StoreError>> + Send;

    /// Deletes every object under `prefix` and returns how many were deleted.
    fn delete_prefix(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Returns the object's metadata, or `None` if there is no such object.
    fn head(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectMeta>, StoreError>> + Send;

    /// Creates the bucket if it does not exist yet; an existing bucket is fine.
    fn ensure_bucket(&self, bucket: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
