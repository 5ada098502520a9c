//! Tests of the storage crate: pure classification rules, then (with `local-server`) every port
//! method against the real embedded s3s-fs server on 127.0.0.1, and failure paths through a
//! loopback fault proxy that answers chosen requests with S3 errors or never answers at all.

use crate::error::classify;
use crate::{MIN_PART_SIZE, StoreErrorKind, TransferSettings};

#[test]
fn codes_win_over_statuses_except_for_throttling_statuses() {
    let cases = [
        (Some("NoSuchKey"), Some(404), StoreErrorKind::NotFound),
        (Some("NotFound"), Some(404), StoreErrorKind::NotFound),
        (None, Some(404), StoreErrorKind::NotFound),
        (Some("SlowDown"), Some(503), StoreErrorKind::Throttled),
        (Some("ServiceUnavailable"), Some(503), StoreErrorKind::Throttled),
        (None, Some(503), StoreErrorKind::Throttled),
        (Some("TooManyRequests"), Some(400), StoreErrorKind::Throttled),
        (None, Some(429), StoreErrorKind::Throttled),
        (Some("InternalError"), Some(500), StoreErrorKind::Unavailable),
        (None, Some(502), StoreErrorKind::Unavailable),
        (Some("RequestTimeout"), Some(400), StoreErrorKind::Unavailable),
        (Some("AccessDenied"), Some(403), StoreErrorKind::AccessDenied),
        (Some("SignatureDoesNotMatch"), Some(403), StoreErrorKind::AccessDenied),
        (None, Some(403), StoreErrorKind::AccessDenied),
        (Some("InvalidArgument"), Some(400), StoreErrorKind::InvalidRequest),
        (None, Some(409), StoreErrorKind::InvalidRequest),
        (Some("Weird"), None, StoreErrorKind::Other),
        (None, None, StoreErrorKind::Other),
    ];
    for (code, status, expected) in cases {
        assert_eq!(classify(code, status), expected, "code {code:?}, status {status:?}");
    }
}

#[test]
fn only_throttled_and_unavailable_are_transient() {
    let transient: Vec<StoreErrorKind> = [
        StoreErrorKind::NotFound,
        StoreErrorKind::Throttled,
        StoreErrorKind::Unavailable,
        StoreErrorKind::AccessDenied,
        StoreErrorKind::InvalidRequest,
        StoreErrorKind::Io,
        StoreErrorKind::Other,
    ]
    .into_iter()
    .filter(|kind| kind.is_transient())
    .collect();
    assert_eq!(transient, [StoreErrorKind::Throttled, StoreErrorKind::Unavailable]);
}

#[test]
fn part_size_respects_the_s3_minimum_and_the_part_count_limit() {
    let tiny = TransferSettings { part_size: 1024, ..TransferSettings::default() };
    assert_eq!(tiny.part_size_for(12 * 1024 * 1024), MIN_PART_SIZE);
    let default = TransferSettings::default();
    assert_eq!(default.part_size_for(1024), 8 * 1024 * 1024);
    // 100 GiB in 8 MiB parts would be 12 800 parts: the part size grows to stay at 10 000.
    let huge_file = 100 * 1024 * 1024 * 1024;
    let part_size = default.part_size_for(huge_file);
    assert!(huge_file.div_ceil(part_size) <= 10_000);
    assert!(part_size > 8 * 1024 * 1024);
}

#[cfg(feature = "local-server")]
mod with_local_server {
    use std::path::PathBuf;
    use std::time::Duration;

    use futures::{StreamExt, TryStreamExt};

    use crate::{
        Fault, FaultProxy, LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY, LocalS3, ObjectStore,
        RetrySettings, S3Store, StoreErrorKind, TransferSettings,
    };

    type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

    const BUCKET: &str = "graphetl-test";
    const MIB: usize = 1024 * 1024;

    /// A fresh server over a temporary directory, with the test bucket created.
    struct Fixture {
        dir: tempfile::TempDir,
        server: LocalS3,
        store: S3Store,
    }

    impl Fixture {
        async fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
            let dir = tempfile::tempdir()?;
            let server = LocalS3::start(&dir.path().join("s3")).await?;
            let store = server.store_with(fast_retries(3));
            store.ensure_bucket(BUCKET).await?;
            Ok(Fixture { dir, server, store })
        }

        fn scratch(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        /// A store that talks to the server through `proxy`.
        fn store_via(&self, proxy: &FaultProxy, retry: RetrySettings) -> S3Store {
            S3Store::for_endpoint(
                proxy.url(),
                LOCAL_REGION,
                LOCAL_ACCESS_KEY,
                LOCAL_SECRET_KEY,
                retry,
            )
            .with_transfer_settings(*self.store.transfer_settings())
        }

        /// Files s3s-fs keeps for multipart uploads that are neither completed nor aborted.
        fn pending_upload_files(&self) -> std::io::Result<Vec<String>> {
            let mut names = Vec::new();
            for entry in std::fs::read_dir(self.server.root())? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if name.contains(".upload") {
                    names.push(name);
                }
            }
            Ok(names)
        }
    }

    fn fast_retries(max_attempts: u32) -> RetrySettings {
        RetrySettings {
            max_attempts,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            connect_timeout: Some(Duration::from_secs(2)),
            attempt_timeout: Some(Duration::from_secs(2)),
            operation_timeout: None,
        }
    }

    fn multipart_5mib() -> TransferSettings {
        TransferSettings {
            multipart_threshold: 5 * MIB as u64,
            part_size: 5 * MIB as u64,
            part_concurrency: 1,
            ..TransferSettings::default()
        }
    }

    /// Deterministic bytes that do not repeat with any short period.
    fn sample_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn put_bytes_then_get_bytes_round_trip_and_land_as_plain_files() -> TestResult {
        let fx = Fixture::start().await?;
        let body = b"{\"dataset\":\"people\"}".to_vec();
        let outcome = fx
            .store
            .put_bytes(BUCKET, "specs/people.json", body.clone(), Some("application/json"))
            .await?;
        assert_eq!((outcome.size, outcome.parts), (body.len() as u64, 1));

        assert_eq!(fx.store.get_bytes(BUCKET, "specs/people.json").await?, body);
        let on_disk = std::fs::read(fx.server.root().join(BUCKET).join("specs/people.json"))?;
        assert_eq!(on_disk, body);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_overwritten_object_reads_back_with_its_new_bytes() -> TestResult {
        let fx = Fixture::start().await?;
        let src = fx.scratch("first.bin");
        std::fs::write(&src, sample_bytes(5_000, 3))?;
        fx.store.put_file(BUCKET, "raw/x.gz", &src, None).await?;
        let smaller = sample_bytes(551, 4);
        fx.store.put_bytes(BUCKET, "raw/x.gz", smaller.clone(), None).await?;
        assert_eq!(fx.store.get_bytes(BUCKET, "raw/x.gz").await?, smaller);
        let dest = fx.scratch("back.bin");
        fx.store.get_to_file(BUCKET, "raw/x.gz", &dest).await?;
        assert_eq!(std::fs::read(&dest)?, smaller);
        // A new endpoint over the same folder (a later local run) reads the same.
        let again = crate::LocalS3::start(fx.server.root()).await?;
        let dest2 = fx.scratch("back2.bin");
        again.store().get_to_file(BUCKET, "raw/x.gz", &dest2).await?;
        assert_eq!(std::fs::read(&dest2)?, smaller);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn head_reports_size_and_etag_and_none_for_a_missing_key() -> TestResult {
        let fx = Fixture::start().await?;
        fx.store.put_bytes(BUCKET, "a/b.txt", b"hello".to_vec(), Some("text/plain")).await?;

        let meta = fx.store.head(BUCKET, "a/b.txt").await?.ok_or("head found nothing")?;
        assert_eq!((meta.key.as_str(), meta.size), ("a/b.txt", 5));
        assert!(meta.etag.is_some());
        assert!(meta.last_modified.is_some());
        assert_eq!(fx.store.head(BUCKET, "a/missing.txt").await?, None);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn get_to_file_streams_the_body_to_disk() -> TestResult {
        let fx = Fixture::start().await?;
        let body = sample_bytes(3 * MIB + 17, 1);
        fx.store.put_bytes(BUCKET, "raw/big.bin", body.clone(), None).await?;

        let dest = fx.scratch("big.bin");
        let written = fx.store.get_to_file(BUCKET, "raw/big.bin", &dest).await?;
        assert_eq!(written, body.len() as u64);
        assert!(std::fs::read(&dest)? == body, "downloaded bytes differ");
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_objects_are_not_found_and_leave_no_file() -> TestResult {
        let fx = Fixture::start().await?;

        let err = fx.store.get_bytes(BUCKET, "nope.json").await.err().ok_or("expected an error")?;
        assert_eq!(err.kind(), StoreErrorKind::NotFound);
        assert!(!err.is_transient());
        assert_eq!((err.bucket(), err.key(), err.code()), (BUCKET, "nope.json", Some("NoSuchKey")));
        assert!(err.to_string().contains("s3://graphetl-test/nope.json"), "{err}");

        let dest = fx.scratch("nope.json");
        let err = fx.store.get_to_file(BUCKET, "nope.json", &dest).await.err().ok_or("no error")?;
        assert_eq!(err.kind(), StoreErrorKind::NotFound);
        assert!(!dest.exists());

        let err = fx.store.get_bytes("no-such-bucket", "x").await.err().ok_or("no error")?;
        assert_eq!(err.kind(), StoreErrorKind::NotFound);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ensure_bucket_is_idempotent() -> TestResult {
        let fx = Fixture::start().await?;
        fx.store.ensure_bucket(BUCKET).await?;
        fx.store.ensure_bucket("second-bucket").await?;
        fx.store.ensure_bucket("second-bucket").await?;
        assert!(fx.server.root().join("second-bucket").is_dir());
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn put_file_below_the_threshold_is_a_single_put() -> TestResult {
        let fx = Fixture::start().await?;
        let src = fx.scratch("small.csv");
        let body = sample_bytes(100 * 1024, 2);
        std::fs::write(&src, &body)?;

        let outcome = fx.store.put_file(BUCKET, "raw/small.csv", &src, Some("text/csv")).await?;
        assert_eq!((outcome.size, outcome.parts), (body.len() as u64, 1));
        assert!(fx.store.get_bytes(BUCKET, "raw/small.csv").await? == body);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn put_file_above_the_threshold_is_a_multipart_upload() -> TestResult {
        let mut fx = Fixture::start().await?;
        fx.store = fx
            .store
            .clone()
            .with_transfer_settings(TransferSettings { part_concurrency: 2, ..multipart_5mib() });
        let src = fx.scratch("big.parquet");
        let body = sample_bytes(12 * MIB + 123, 3);
        std::fs::write(&src, &body)?;

        let outcome = fx.store.put_file(BUCKET, "out/big.parquet", &src, None).await?;
        assert_eq!((outcome.size, outcome.parts), (body.len() as u64, 3));
        let etag = outcome.etag.ok_or("no etag")?;
        assert!(etag.trim_matches('"').ends_with("-3"), "multipart etag {etag}");

        let meta = fx.store.head(BUCKET, "out/big.parquet").await?.ok_or("no object")?;
        assert_eq!(meta.size, body.len() as u64);
        let dest = fx.scratch("big.back");
        fx.store.get_to_file(BUCKET, "out/big.parquet", &dest).await?;
        assert!(std::fs::read(&dest)? == body, "round-tripped bytes differ");
        assert_eq!(fx.pending_upload_files()?, Vec::<String>::new());
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn list_and_delete_prefix_cross_page_and_batch_boundaries() -> TestResult {
        let fx = Fixture::start().await?;
        // Pages hold 1000 keys (the default page size, and S3's cap), so 1005 keys take 2 pages.
        let n_objects = 1005;
        let store = &fx.store;
        futures::stream::iter(0..n_objects)
            .map(|i| async move {
                store
                    .put_bytes(BUCKET, &format!("many/part-{i:05}.json"), vec![b'x'; i % 7], None)
                    .await
            })
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await?;
        for name in ["a", "b", "c"] {
            store.put_bytes(BUCKET, &format!("other/{name}"), b"1".to_vec(), None).await?;
        }

        let proxy = FaultProxy::start(fx.server.endpoint_url(), |_, _| None).await?;
        let via_proxy = fx.store_via(&proxy, fast_retries(3));
        let listed = via_proxy.list(BUCKET, "many/").await?;
        assert_eq!(listed.len(), n_objects);
        let expected_keys: Vec<String> =
            (0..n_objects).map(|i| format!("many/part-{i:05}.json")).collect();
        let listed_keys: Vec<String> = listed.iter().map(|meta| meta.key.clone()).collect();
        assert_eq!(listed_keys, expected_keys);
        assert_eq!(listed[12].size, 5);
        assert_eq!(proxy.count(|line| line.contains("list-type=2")), 2, "{:#?}", proxy.requests());

        let small_pages = via_proxy.clone().with_transfer_settings(TransferSettings {
            list_page_size: 100,
            ..TransferSettings::default()
        });
        assert_eq!(small_pages.list(BUCKET, "many/").await?.len(), n_objects);
        assert_eq!(proxy.count(|line| line.contains("list-type=2")), 2 + 11);

        let deleted = via_proxy.delete_prefix(BUCKET, "many/").await?;
        assert_eq!(deleted, n_objects as u64);
        assert_eq!(proxy.count(|line| line.starts_with("POST ") && line.contains("delete")), 2);
        assert_eq!(via_proxy.list(BUCKET, "many/").await?, Vec::new());
        assert_eq!(via_proxy.list(BUCKET, "other/").await?.len(), 3);
        assert_eq!(via_proxy.list(BUCKET, "").await?.len(), 3);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_down_is_retried_by_the_sdk_until_it_succeeds() -> TestResult {
        let fx = Fixture::start().await?;
        fx.store.put_bytes(BUCKET, "spec.toml", b"name = 'x'".to_vec(), None).await?;
        let proxy = FaultProxy::start(fx.server.endpoint_url(), |index, _| {
            (index < 2).then_some(Fault::SlowDown)
        })
        .await?;

        let store = fx.store_via(&proxy, fast_retries(3));
        assert_eq!(store.get_bytes(BUCKET, "spec.toml").await?, b"name = 'x'");
        // Two answered with 503 SlowDown, the third forwarded: the retries are visible here.
        let requests = proxy.requests();
        assert_eq!(requests.len(), 3, "{requests:#?}");
        assert!(requests.iter().all(|line| line.starts_with("GET /graphetl-test/spec.toml")));
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn persistent_slow_down_ends_as_a_transient_throttled_error() -> TestResult {
        let fx = Fixture::start().await?;
        fx.store.put_bytes(BUCKET, "spec.toml", b"x".to_vec(), None).await?;
        let proxy = FaultProxy::start(fx.server.endpoint_url(), |index, _| {
            (index < 5).then_some(Fault::SlowDown)
        })
        .await?;

        let store = fx.store_via(&proxy, fast_retries(2));
        let err = store.get_bytes(BUCKET, "spec.toml").await.err().ok_or("expected an error")?;
        assert_eq!(err.kind(), StoreErrorKind::Throttled);
        assert!(err.is_transient());
        assert_eq!((err.code(), err.status()), (Some("SlowDown"), Some(503)));
        assert_eq!(err.message(), "Please reduce your request rate.");
        assert_eq!(proxy.requests().len(), 2);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_retry_settings_rebuilds_the_client_policy() -> TestResult {
        let fx = Fixture::start().await?;
        let proxy =
            FaultProxy::start(fx.server.endpoint_url(), |_, _| Some(Fault::SlowDown)).await?;
        let store = fx.store_via(&proxy, fast_retries(3)).with_retry_settings(fast_retries(1));
        let err = store.get_bytes(BUCKET, "k").await.err().ok_or("expected an error")?;
        assert_eq!(err.kind(), StoreErrorKind::Throttled);
        assert_eq!(proxy.requests().len(), 1);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn internal_errors_are_retried_then_reported_as_unavailable() -> TestResult {
        let fx = Fixture::start().await?;
        fx.store.put_bytes(BUCKET, "k", b"v".to_vec(), None).await?;

        let once = FaultProxy::start(fx.server.endpoint_url(), |index, _| {
            (index == 0).then_some(Fault::InternalError)
        })
        .await?;
        assert_eq!(fx.store_via(&once, fast_retries(3)).get_bytes(BUCKET, "k").await?, b"v");
        assert_eq!(once.requests().len(), 2);

        let always =
            FaultProxy::start(fx.server.endpoint_url(), |_, _| Some(Fault::InternalError)).await?;
        let err = fx.store_via(&always, fast_retries(3)).get_bytes(BUCKET, "k").await.err();
        let err = err.ok_or("expected an error")?;
        assert_eq!(err.kind(), StoreErrorKind::Unavailable);
        assert!(err.is_transient());
        assert_eq!((err.code(), err.status()), (Some("InternalError"), Some(500)));
        assert_eq!(always.requests().len(), 3);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_server_ends_as_an_unavailable_timeout() -> TestResult {
        let fx = Fixture::start().await?;
        let proxy = FaultProxy::start(fx.server.endpoint_url(), |_, _| Some(Fault::Stall)).await?;
        let retry =
            RetrySettings { attempt_timeout: Some(Duration::from_millis(300)), ..fast_retries(2) };

        let err = fx.store_via(&proxy, retry).get_bytes(BUCKET, "k").await.err();
        let err = err.ok_or("expected an error")?;
        assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
        assert!(err.is_transient());
        assert_eq!(err.status(), None);
        assert_eq!(proxy.requests().len(), 2);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_part_aborts_the_multipart_upload() -> TestResult {
        let mut fx = Fixture::start().await?;
        fx.store = fx.store.clone().with_transfer_settings(multipart_5mib());
        let src = fx.scratch("big.bin");
        std::fs::write(&src, sample_bytes(12 * MIB, 4))?;
        let proxy = FaultProxy::start(fx.server.endpoint_url(), |_, line| {
            (line.starts_with("PUT ") && has_query_param(line, "partNumber=2"))
                .then_some(Fault::InternalError)
        })
        .await?;

        let store = fx.store_via(&proxy, fast_retries(2));
        let err = store.put_file(BUCKET, "out/big.bin", &src, None).await.err();
        let err = err.ok_or("expected an error")?;
        assert_eq!((err.kind(), err.operation()), (StoreErrorKind::Unavailable, "UploadPart"));
        assert_eq!(err.code(), Some("InternalError"));
        // Both attempts of part 2 were answered with 500 before the upload was given up.
        let part_2 = proxy.count(|line| has_query_param(line, "partNumber=2"));
        assert_eq!(part_2, 2, "{:#?}", proxy.requests());

        let aborts = proxy.count(|line| line.starts_with("DELETE ") && line.contains("uploadId="));
        assert_eq!(aborts, 1, "{:#?}", proxy.requests());
        assert_eq!(fx.store.head(BUCKET, "out/big.bin").await?, None);
        // s3s-fs 0.14.1 does not implement ListMultipartUploads; it keeps each open upload as
        // `.upload-<id>.json` plus `.upload_id-<id>.part-<n>` files at its root, so look there.
        assert_eq!(fx.pending_upload_files()?, Vec::<String>::new());
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_completion_aborts_the_multipart_upload() -> TestResult {
        let mut fx = Fixture::start().await?;
        fx.store = fx.store.clone().with_transfer_settings(multipart_5mib());
        let src = fx.scratch("big.bin");
        std::fs::write(&src, sample_bytes(11 * MIB, 5))?;
        let proxy = FaultProxy::start(fx.server.endpoint_url(), |_, line| {
            (line.starts_with("POST ") && line.contains("uploadId=")).then_some(Fault::BadRequest)
        })
        .await?;

        let store = fx.store_via(&proxy, fast_retries(3));
        let err = store.put_file(BUCKET, "out/big.bin", &src, None).await.err();
        let err = err.ok_or("expected an error")?;
        assert_eq!(err.kind(), StoreErrorKind::InvalidRequest);
        assert_eq!((err.operation(), err.status()), ("CompleteMultipartUpload", Some(400)));
        assert!(!err.is_transient());

        let aborts = proxy.count(|line| line.starts_with("DELETE ") && line.contains("uploadId="));
        assert_eq!(aborts, 1, "{:#?}", proxy.requests());
        assert_eq!(fx.store.head(BUCKET, "out/big.bin").await?, None);
        assert_eq!(fx.pending_upload_files()?, Vec::<String>::new());
        Ok(())
    }

    fn has_query_param(request_line: &str, param: &str) -> bool {
        let target = request_line.split(' ').nth(1).unwrap_or("");
        target.split_once('?').is_some_and(|(_, query)| query.split('&').any(|p| p == param))
    }

    #[test]
    fn query_params_match_exactly() {
        let line = "PUT /b/k?x-id=UploadPart&partNumber=2&uploadId=u HTTP/1.1";
        assert!(has_query_param(line, "partNumber=2"));
        assert!(!has_query_param("PUT /b/k?partNumber=12 HTTP/1.1", "partNumber=2"));
    }
}
