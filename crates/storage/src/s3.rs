//! `S3Store`: the `ObjectStore` adapter over `aws_sdk_s3::Client`.
//!
//! This module owns how each port method becomes S3 calls: streaming GetObject into a file,
//! PutObject below the multipart threshold and CreateMultipartUpload / UploadPart /
//! CompleteMultipartUpload above it (with AbortMultipartUpload on any failure), paginated
//! ListObjectsV2 and batched DeleteObjects.
//! Retries and timeouts are the SDK's standard retry strategy, configured through `RetrySettings`;
//! this module never loops on errors itself.

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryPartition;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart,
    CreateBucketConfiguration, Delete, ObjectIdentifier,
};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

use crate::{ObjectMeta, ObjectStore, PutOutcome, StoreError, StoreErrorKind};

/// Smallest part S3 accepts in a multipart upload (except for the last part): 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// Most parts S3 accepts in one multipart upload.
const MAX_PARTS: u64 = 10_000;

/// Most keys one DeleteObjects call accepts.
const DELETE_BATCH: usize = 1000;

/// Most keys one ListObjectsV2 page returns.
const MAX_LIST_PAGE: u32 = 1000;

const DEFAULT_CHUNK: u64 = 8 * 1024 * 1024;

/// How uploads are split and how listings are paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferSettings {
    /// Files larger than this many bytes go up as a multipart upload; others as one PutObject.
    pub multipart_threshold: u64,
    /// Size of each multipart part; raised to `MIN_PART_SIZE`, and further if a file would need more than 10 000 parts.
    pub part_size: u64,
    /// How many parts of one file are uploaded at the same time (at least 1).
    pub part_concurrency: usize,
    /// Keys requested per ListObjectsV2 page, between 1 and 1000.
    pub list_page_size: u32,
}

impl Default for TransferSettings {
    fn default() -> Self {
        TransferSettings {
            multipart_threshold: DEFAULT_CHUNK,
            part_size: DEFAULT_CHUNK,
            part_concurrency: 4,
            list_page_size: MAX_LIST_PAGE,
        }
    }
}

impl TransferSettings {
    /// The part size actually used for a file of `file_size` bytes.
    pub fn part_size_for(&self, file_size: u64) -> u64 {
        self.part_size.max(MIN_PART_SIZE).max(file_size.div_ceil(MAX_PARTS))
    }

    fn list_page_size(&self) -> i32 {
        let clamped = self.list_page_size.clamp(1, MAX_LIST_PAGE);
        i32::try_from(clamped).unwrap_or(1000)
    }
}

/// Retry and timeout policy, mapped onto the SDK's standard retry strategy and timeout config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts per request, the first one included (at least 1).
    pub max_attempts: u32,
    /// Base of the exponential backoff with full jitter (retry n waits up to base × 2^(n-1)).
    pub initial_backoff: Duration,
    /// Upper bound of one backoff delay.
    pub max_backoff: Duration,
    /// Limit on establishing a TCP/TLS connection.
    pub connect_timeout: Option<Duration>,
    /// Limit on one attempt, from sending the request to having parsed the response head.
    pub attempt_timeout: Option<Duration>,
    /// Limit on a whole operation, all attempts and backoffs included.
    pub operation_timeout: Option<Duration>,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            connect_timeout: Some(Duration::from_millis(3100)),
            attempt_timeout: None,
            operation_timeout: None,
        }
    }
}

impl RetrySettings {
    fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    fn timeout_config(&self) -> TimeoutConfig {
        let mut builder = TimeoutConfig::builder();
        builder
            .set_connect_timeout(self.connect_timeout)
            .set_operation_attempt_timeout(self.attempt_timeout)
            .set_operation_timeout(self.operation_timeout);
        builder.build()
    }
}

/// The `ObjectStore` adapter for Amazon S3 and S3-compatible endpoints.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    transfer: TransferSettings,
}

impl S3Store {
    /// Wraps an already configured client, with default `TransferSettings`.
    pub fn new(client: Client) -> Self {
        S3Store { client, transfer: TransferSettings::default() }
    }

    /// Loads the SDK's default configuration chain (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials, retries).
    pub async fn from_env() -> Self {
        let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&sdk_config)
    }

    /// Builds a client from a shared SDK configuration; path-style addressing when it sets an endpoint URL.
    pub fn from_sdk_config(sdk_config: &SdkConfig) -> Self {
        let mut builder = aws_sdk_s3::config::Builder::from(sdk_config);
        // Custom endpoints (s3s-fs, MinIO, moto) rarely resolve virtual-hosted bucket names.
        if sdk_config.endpoint_url().is_some() {
            builder = builder.force_path_style(true);
        }
        Self::new(Client::from_conf(builder.build()))
    }

    /// Builds a client for an S3-compatible endpoint with static credentials and path-style addressing.
    pub fn for_endpoint(
        endpoint_url: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
        retry: RetrySettings,
    ) -> Self {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint_url)
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new(
                access_key,
                secret_key,
                None,
                None,
                "graphetl-static",
            ))
            .force_path_style(true)
            .retry_config(retry.retry_config())
            .timeout_config(retry.timeout_config())
            // The retry token bucket is process-wide per partition: keep a local endpoint's
            // failures from draining the budget of clients that talk to AWS (and vice versa).
            .retry_partition(RetryPartition::new(format!("graphetl-s3-{endpoint_url}")))
            .build();
        Self::new(Client::from_conf(config))
    }

    /// Replaces the transfer settings (thresholds, part size, page size).
    pub fn with_transfer_settings(mut self, transfer: TransferSettings) -> Self {
        self.transfer = transfer;
        self
    }

    /// Rebuilds the client with another retry and timeout policy.
    pub fn with_retry_settings(mut self, retry: RetrySettings) -> Self {
        let config = self
            .client
            .config()
            .to_builder()
            .retry_config(retry.retry_config())
            .timeout_config(retry.timeout_config())
            .build();
        self.client = Client::from_conf(config);
        self
    }

    /// The transfer settings in use.
    pub fn transfer_settings(&self) -> &TransferSettings {
        &self.transfer
    }

    /// The underlying SDK client, for operations the port does not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn put_single(
        &self,
        bucket: &str,
        key: &str,
        src: &Path,
        size: u64,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, StoreError> {
        const OPERATION: &str = "PutObject";
        let body = file_body(OPERATION, bucket, key, src, 0, size).await?;
        let output = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_length(to_i64(OPERATION, bucket, key, size)?)
            .set_content_type(content_type.map(str::to_owned))
            .body(body)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk(OPERATION, bucket, key, err))?;
        Ok(PutOutcome { size, parts: 1, etag: output.e_tag().map(str::to_owned) })
    }

    async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        src: &Path,
        size: u64,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, StoreError> {
        const OPERATION: &str = "CreateMultipartUpload";
        let part_size = self.transfer.part_size_for(size);
        let n_parts = size.div_ceil(part_size);
        // CRC32 is declared up front so that S3 accepts the per-part checksums the SDK sends by
        // default, and CompleteMultipartUpload repeats them per part.
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .set_content_type(content_type.map(str::to_owned))
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk(OPERATION, bucket, key, err))?;
        let Some(upload_id) = created.upload_id() else {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                OPERATION,
                bucket,
                key,
                "the response carries no upload id",
            ));
        };
        tracing::debug!(
            bucket,
            key,
            upload_id,
            size,
            part_size,
            n_parts,
            "multipart upload started"
        );
        let mut guard = AbortOnDrop::new(&self.client, bucket, key, upload_id);

        match self.upload_parts_and_complete(bucket, key, src, upload_id, size, part_size).await {
            Ok(etag) => {
                guard.disarm();
                let parts = u32::try_from(n_parts).unwrap_or(u32::MAX);
                Ok(PutOutcome { size, parts, etag })
            }
            Err(err) => {
                tracing::warn!(bucket, key, upload_id, error = %err, "multipart upload failed, aborting it");
                guard.abort().await;
                Err(err)
            }
        }
    }

    async fn upload_parts_and_complete(
        &self,
        bucket: &str,
        key: &str,
        src: &Path,
        upload_id: &str,
        size: u64,
        part_size: u64,
    ) -> Result<Option<String>, StoreError> {
        const OPERATION: &str = "CompleteMultipartUpload";
        let n_parts = size.div_ceil(part_size);
        // `buffered` keeps the parts in order; on the first error the in-flight parts are dropped.
        let parts: Vec<CompletedPart> = futures::stream::iter(1..=n_parts)
            .map(|part_number| {
                let offset = (part_number - 1) * part_size;
                let length = part_size.min(size - offset);
                self.upload_part(bucket, key, src, upload_id, part_number, offset, length)
            })
            .buffered(self.transfer.part_concurrency.max(1))
            .try_collect()
            .await?;
        let output = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|err| StoreError::from_sdk(OPERATION, bucket, key, err))?;
        Ok(output.e_tag().map(str::to_owned))
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        src: &Path,
        upload_id: &str,
        part_number: u64,
        offset: u64,
        length: u64,
    ) -> Result<CompletedPart, StoreError> {
        const OPERATION: &str = "UploadPart";
        let part_number = i32::try_from(part_number).map_err(|_| {
            StoreError::new(
                StoreErrorKind::InvalidRequest,
                OPERATION,
                bucket,
                key,
                format!("part number {part_number} is out of range"),
            )
        })?;
        let body = file_body(OPERATION, bucket, key, src, offset, length).await?;
        let output = self
            .client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .content_length(to_i64(OPERATION, bucket, key, length)?)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(body)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk(OPERATION, bucket, key, err))?;
        let Some(etag) = output.e_tag() else {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                OPERATION,
                bucket,
                key,
                format!("part {part_number}: the response carries no ETag"),
            ));
        };
        Ok(CompletedPart::builder()
            .part_number(part_number)
            .e_tag(etag)
            .set_checksum_crc32(output.checksum_crc32().map(str::to_owned))
            .build())
    }

    async fn delete_batch(
        &self,
        bucket: &str,
        prefix: &str,
        batch: &[ObjectMeta],
    ) -> Result<u64, StoreError> {
        const OPERATION: &str = "DeleteObjects";
        let invalid = |err: aws_sdk_s3::error::BuildError| {
            StoreError::new(
                StoreErrorKind::InvalidRequest,
                OPERATION,
                bucket,
                prefix,
                err.to_string(),
            )
            .with_source(err)
        };
        let identifiers = batch
            .iter()
            .map(|meta| ObjectIdentifier::builder().key(&meta.key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let delete = Delete::builder().set_objects(Some(identifiers)).build().map_err(invalid)?;
        let output = self
            .client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk(OPERATION, bucket, prefix, err))?;
        if let Some(first) = output.errors().first() {
            let kind = crate::error::classify(first.code(), None);
            let kind =
                if kind == StoreErrorKind::Other { StoreErrorKind::InvalidRequest } else { kind };
            return Err(StoreError::new(
                kind,
                OPERATION,
                bucket,
                prefix,
                format!(
                    "{} of {} keys not deleted; first: {}: {}: {}",
                    output.errors().len(),
                    batch.len(),
                    first.key().unwrap_or("?"),
                    first.code().unwrap_or("?"),
                    first.message().unwrap_or(""),
                ),
            ));
        }
        Ok(output.deleted().len() as u64)
    }
}

impl ObjectStore for S3Store {
    async fn get_to_file(&self, bucket: &str, key: &str, dest: &Path) -> Result<u64, StoreError> {
        const OPERATION: &str = "GetObject";
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk(OPERATION, bucket, key, err))?;
        let expected = output.content_length().and_then(|n| u64::try_from(n).ok());
        let mut body = output.body;
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|err| StoreError::io(OPERATION, bucket, key, dest, err))?;

        let copied = async {
            let mut written: u64 = 0;
            while let Some(chunk) = body.try_next().await.map_err(|err| {
                StoreError::new(
                    StoreErrorKind::Unavailable,
                    OPERATION,
                    bucket,
                    key,
                    format!("reading the body after {written} bytes: {err}"),
                )
                .with_source(err)
            })? {
                file.write_all(&chunk)
                    .await
                    .map_err(|err| StoreError::io(OPERATION, bucket, key, dest, err))?;
                written += chunk.len() as u64;
            }
            file.flush().await.map_err(|err| StoreError::io(OPERATION, bucket, key, dest, err))?;
            if let Some(expected) = expected
                && expected != written
            {
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    OPERATION,
                    bucket,
                    key,
                    format!("the body ended after {written} of {expected} bytes"),
                ));
            }
            Ok(written)
        }
        .await;

        drop(file);
        if copied.is_err() {
            // Never leave a truncated file behind that a later step could mistake for the object.
            if let Err(err) = tokio::fs::remove_file(dest).await {
                tracing::warn!(path = %dest.display(), error = %err, "cannot remove partial download");
            }
        }
        copied
    }

    async fn get_bytes(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StoreError> {
        const OPERATION: &str = "GetObject";
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk(OPERATION, bucket, key, err))?;
        let aggregated = output.body.collect().await.map_err(|err| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                OPERATION,
                bucket,
                key,
                format!("reading the body: {err}"),
            )
            .with_source(err)
        })?;
        Ok(aggregated.to_vec())
    }

    async fn put_file(
        &self,
        bucket: &str,
        key: &str,
        src: &Path,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, StoreError> {
        let size = tokio::fs::metadata(src)
            .await
            .map_err(|err| StoreError::io("PutObject", bucket, key, src, err))?
            .len();
        if size > self.transfer.multipart_threshold {
            self.put_multipart(bucket, key, src, size, content_type).await
        } else {
            self.put_single(bucket, key, src, size, content_type).await
        }
    }

    async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, StoreError> {
        const OPERATION: &str = "PutObject";
        let size = bytes.len() as u64;
        let output = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .set_content_type(content_type.map(str::to_owned))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| StoreError::from_sdk(OPERATION, bucket, key, err))?;
        Ok(PutOutcome { size, parts: 1, etag: output.e_tag().map(str::to_owned) })
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        const OPERATION: &str = "ListObjectsV2";
        let mut objects = Vec::new();
        let mut continuation_token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                .max_keys(self.transfer.list_page_size())
                .set_continuation_token(continuation_token.clone())
                .send()
                .await
                .map_err(|err| StoreError::from_sdk(OPERATION, bucket, prefix, err))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                objects.push(ObjectMeta {
                    key: key.to_owned(),
                    size: object.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    etag: object.e_tag().map(str::to_owned),
                    last_modified: object.last_modified().and_then(to_system_time),
                });
            }
            if page.is_truncated() != Some(true) {
                return Ok(objects);
            }
            match page.next_continuation_token() {
                Some(next) if continuation_token.as_deref() != Some(next) => {
                    continuation_token = Some(next.to_owned());
                }
                // A truncated page without a new token would loop forever: refuse it.
                next => {
                    return Err(StoreError::new(
                        StoreErrorKind::Other,
                        OPERATION,
                        bucket,
                        prefix,
                        format!("truncated page with continuation token {next:?}"),
                    ));
                }
            }
        }
    }

    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<u64, StoreError> {
        // List everything first: deleting while paging would rely on how a given server builds
        // its continuation tokens.
        let objects = self.list(bucket, prefix).await?;
        let mut n_deleted = 0;
        for batch in objects.chunks(DELETE_BATCH) {
            n_deleted += self.delete_batch(bucket, prefix, batch).await?;
        }
        Ok(n_deleted)
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        const OPERATION: &str = "HeadObject";
        // HEAD responses have no body: a missing bucket is also a bare 404 and reads as `None`.
        match self.client.head_object().bucket(bucket).key(key).send().await {
            Ok(output) => Ok(Some(ObjectMeta {
                key: key.to_owned(),
                size: output.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                etag: output.e_tag().map(str::to_owned),
                last_modified: output.last_modified().and_then(to_system_time),
            })),
            Err(err) => {
                let err = StoreError::from_sdk(OPERATION, bucket, key, err);
                if err.kind() == StoreErrorKind::NotFound { Ok(None) } else { Err(err) }
            }
        }
    }

    async fn ensure_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        if self.bucket_exists(bucket).await? {
            return Ok(());
        }
        let mut request = self.client.create_bucket().bucket(bucket);
        // Outside us-east-1, S3 wants the region repeated as a location constraint.
        if let Some(region) = self.client.config().region()
            && region.as_ref() != "us-east-1"
        {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_ref()))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // Someone created it in the meantime; if it is ours, HeadBucket now succeeds.
            Err(err)
                if matches!(
                    err.code(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) =>
            {
                if self.bucket_exists(bucket).await? {
                    Ok(())
                } else {
                    Err(StoreError::from_sdk("CreateBucket", bucket, "", err))
                }
            }
            Err(err) => Err(StoreError::from_sdk("CreateBucket", bucket, "", err)),
        }
    }
}

impl S3Store {
    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StoreError> {
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(true),
            Err(err) => {
                let err = StoreError::from_sdk("HeadBucket", bucket, "", err);
                if err.kind() == StoreErrorKind::NotFound { Ok(false) } else { Err(err) }
            }
        }
    }
}

/// Aborts a multipart upload unless disarmed, so that no upload is left dangling.
///
/// On the error path `abort()` is awaited; if the whole `put_file` future is dropped instead
/// (cancellation), `Drop` spawns the abort on the current tokio runtime, if there is one.
struct AbortOnDrop {
    armed: Option<(Client, String, String, String)>,
}

impl AbortOnDrop {
    fn new(client: &Client, bucket: &str, key: &str, upload_id: &str) -> Self {
        AbortOnDrop {
            armed: Some((client.clone(), bucket.to_owned(), key.to_owned(), upload_id.to_owned())),
        }
    }

    fn disarm(&mut self) {
        self.armed = None;
    }

    async fn abort(&mut self) {
        if let Some((client, bucket, key, upload_id)) = self.armed.take() {
            abort_upload(client, bucket, key, upload_id).await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some((client, bucket, key, upload_id)) = self.armed.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(abort_upload(client, bucket, key, upload_id));
                }
                Err(_) => {
                    tracing::warn!(
                        bucket,
                        key,
                        upload_id,
                        "multipart upload dropped outside a runtime; not aborted"
                    );
                }
            }
        }
    }
}

async fn abort_upload(client: Client, bucket: String, key: String, upload_id: String) {
    let result = client
        .abort_multipart_upload()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await;
    match result {
        Ok(_) => tracing::debug!(bucket, key, upload_id, "multipart upload aborted"),
        Err(err) => {
            let err = StoreError::from_sdk("AbortMultipartUpload", &bucket, &key, err);
            // A bucket lifecycle rule (AbortIncompleteMultipartUpload) is the backstop for this.
            tracing::error!(bucket, key, upload_id, error = %err, "cannot abort multipart upload");
        }
    }
}

async fn file_body(
    operation: &'static str,
    bucket: &str,
    key: &str,
    src: &Path,
    offset: u64,
    length: u64,
) -> Result<ByteStream, StoreError> {
    ByteStream::read_from()
        .path(src)
        .offset(offset)
        .length(Length::Exact(length))
        .build()
        .await
        .map_err(|err| {
            StoreError::new(
                StoreErrorKind::Io,
                operation,
                bucket,
                key,
                format!("local file {}: {err}", src.display()),
            )
            .with_source(err)
        })
}

fn to_i64(operation: &'static str, bucket: &str, key: &str, n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| {
        StoreError::new(
            StoreErrorKind::InvalidRequest,
            operation,
            bucket,
            key,
            format!("length {n} does not fit in a signed 64-bit integer"),
        )
    })
}

fn to_system_time(date_time: &aws_smithy_types::DateTime) -> Option<SystemTime> {
    SystemTime::try_from(*date_time).ok()
}
