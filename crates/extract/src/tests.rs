//! Unit tests of the extract crate: the HTTP extract against the local source and the real
//! embedded S3 endpoint, retries on a virtual clock, secrets, and the generator.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graphetl_core::ErrorName;
use graphetl_core::contract::{ExtractRequest, Window};
use graphetl_core::spec::HttpSource;
use graphetl_storage::{LocalS3, ObjectStore, S3Store};
use serde_json::{Value, json};

use crate::generator::{
    GeneratorConfig, bad_rows, generate, generate_timed, has_planted_defect, is_bad_row,
    service_name,
};
use crate::source::{InjectedFailure, LocalSource, ServeOptions, serve_generated};
use crate::{
    ExtractError, HttpOptions, LocalSecrets, VirtualClock, extract_generator, extract_http_with,
};

mod egress;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "graphetl-test";
const DATASET: &str = "service-calls";

fn window() -> Window {
    Window::parse_interval("2026-11-20T03:00:00Z/2026-11-20T04:00:00Z")
        .unwrap_or_else(|e| panic!("{e}"))
}

struct Env {
    _root: tempfile::TempDir,
    _server: LocalS3,
    store: S3Store,
}

async fn env() -> Result<Env, Box<dyn std::error::Error>> {
    let root = tempfile::tempdir()?;
    let server = LocalS3::start(root.path()).await?;
    let store = server.store();
    store.ensure_bucket(BUCKET).await?;
    Ok(Env { _root: root, _server: server, store })
}

fn config(records: u64) -> GeneratorConfig {
    GeneratorConfig::new(12, records, window())
}

async fn serve(records: u64, options: ServeOptions) -> std::io::Result<LocalSource> {
    serve_generated(&config(records), options, ([127, 0, 0, 1], 0).into()).await
}

fn http_source(url: String, records_per_file: u64) -> HttpSource {
    HttpSource {
        url,
        records_path: "data".into(),
        cursor_path: Some("next_cursor".into()),
        records_per_file,
        headers: BTreeMap::new(),
        url_secrets: BTreeMap::new(),
        rate_limit_per_second: 0.0,
        timeout_seconds: 10,
        max_attempts: 5,
    }
}

fn options(clock: &VirtualClock) -> HttpOptions {
    HttpOptions { clock: Arc::new(clock.clone()), ..HttpOptions::default() }
}

/// Every part under `prefix`, in key order, with its decompressed records.
async fn read_parts(
    store: &S3Store,
    prefix: &str,
) -> Result<Vec<(String, Vec<Value>)>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let mut objects = store.list(BUCKET, prefix).await?;
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    for object in objects {
        let bytes = store.get_bytes(BUCKET, &object.key).await?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice()).read_to_string(&mut text)?;
        let records = text.lines().map(serde_json::from_str).collect::<Result<Vec<Value>, _>>()?;
        out.push((object.key, records));
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_become_parts_of_exact_sizes_holding_the_window_in_order() -> TestResult {
    let env = env().await?;
    let source = serve(2500, ServeOptions { page_size: 300, ..ServeOptions::default() }).await?;
    let spec = http_source(source.url_template(), 1000);
    let clock = VirtualClock::new();
    let secrets = LocalSecrets::with_lookup(|_| None);
    let result = extract_http_with(
        &spec,
        &window(),
        &env.store,
        BUCKET,
        DATASET,
        &secrets,
        &options(&clock),
    )
    .await?;
    let prefix = "raw/service-calls/dt=2026-11-20/hour=03/part-20261120T030000Z-20261120T040000Z-";
    assert_eq!(result.prefix, prefix);
    assert_eq!((result.files, result.records, result.pages), (3, 2500, 9));
    assert_eq!(source.requests(), 9);
    let parts = read_parts(&env.store, prefix).await?;
    let keys: Vec<&str> = parts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            format!("{prefix}00000.jsonl.gz"),
            format!("{prefix}00001.jsonl.gz"),
            format!("{prefix}00002.jsonl.gz")
        ]
    );
    let sizes: Vec<usize> = parts.iter().map(|(_, r)| r.len()).collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    let written: Vec<Value> = parts.into_iter().flat_map(|(_, r)| r).collect();
    let expected: Vec<Value> = generate(&config(2500)).collect();
    assert_eq!(written, expected);
    assert!(clock.sleeps().is_empty(), "no retries, no rate limit: {:?}", clock.sleeps());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerunning_a_window_rewrites_its_keys_and_deletes_stale_parts_only() -> TestResult {
    let env = env().await?;
    let source = serve(2500, ServeOptions { page_size: 1000, ..ServeOptions::default() }).await?;
    let secrets = LocalSecrets::with_lookup(|_| None);
    let clock = VirtualClock::new();
    // Another window's part in the same hour folder must survive.
    let other = "raw/service-calls/dt=2026-11-20/hour=03/part-20261120T033000Z-20261120T040000Z-00009.jsonl.gz";
    env.store.put_bytes(BUCKET, other, b"{}\n".to_vec(), None).await?;

    let small = http_source(source.url_template(), 400);
    let first = extract_http_with(
        &small,
        &window(),
        &env.store,
        BUCKET,
        DATASET,
        &secrets,
        &options(&clock),
    )
    .await?;
    assert_eq!((first.files, first.records), (7, 2500));
    let first_parts = read_parts(&env.store, &first.prefix).await?;

    let large = http_source(source.url_template(), 1000);
    let second = extract_http_with(
        &large,
        &window(),
        &env.store,
        BUCKET,
        DATASET,
        &secrets,
        &options(&clock),
    )
    .await?;
    assert_eq!(second.prefix, first.prefix);
    assert_eq!((second.files, second.records), (3, 2500));
    let parts = read_parts(&env.store, &second.prefix).await?;
    assert_eq!(parts.len(), 3, "{:?}", parts.iter().map(|p| &p.0).collect::<Vec<_>>());
    assert_eq!(parts.iter().map(|(_, r)| r.len()).sum::<usize>(), 2500);
    let again: Vec<Value> = parts.into_iter().flat_map(|(_, r)| r).collect();
    let before: Vec<Value> = first_parts.into_iter().flat_map(|(_, r)| r).collect();
    assert_eq!(again, before, "the same records, none twice");
    assert!(env.store.head(BUCKET, other).await?.is_some());

    // Byte-identical on a third, identical run.
    let third_before =
        env.store.get_bytes(BUCKET, &format!("{}00000.jsonl.gz", second.prefix)).await?;
    extract_http_with(&large, &window(), &env.store, BUCKET, DATASET, &secrets, &options(&clock))
        .await?;
    let third = env.store.get_bytes(BUCKET, &format!("{}00000.jsonl.gz", second.prefix)).await?;
    assert_eq!(third, third_before);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_what_retry_after_says_then_the_page_succeeds() -> TestResult {
    let env = env().await?;
    let failure = InjectedFailure::TooManyRequests { retry_after_seconds: 7 };
    let source =
        serve(900, ServeOptions { page_size: 300, fail_every: 2, failure, ..Default::default() })
            .await?;
    let spec = http_source(source.url_template(), 1000);
    let clock = VirtualClock::new();
    let secrets = LocalSecrets::with_lookup(|_| None);
    let result = extract_http_with(
        &spec,
        &window(),
        &env.store,
        BUCKET,
        DATASET,
        &secrets,
        &options(&clock),
    )
    .await?;
    assert_eq!((result.pages, result.records, result.files), (3, 900, 1));
    // Requests: ok, 429, ok, 429, ok.
    assert_eq!(source.requests(), 5);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(7); 2]);
    // The result reports what the retries cost (the summary of `run --local` shows it).
    assert_eq!((result.retries, result.retry_wait_ms, result.rate_limit_wait_ms), (2, 14_000, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_give_source_unavailable_or_throttled() -> TestResult {
    let env = env().await?;
    let secrets = LocalSecrets::with_lookup(|_| None);
    for (failure, name) in [
        (InjectedFailure::Unavailable, ErrorName::SourceUnavailable),
        (InjectedFailure::TooManyRequests { retry_after_seconds: 1 }, ErrorName::SourceThrottled),
    ] {
        let source =
            serve(100, ServeOptions { fail_every: 1, failure, ..Default::default() }).await?;
        let mut spec = http_source(source.url_template(), 1000);
        spec.max_attempts = 3;
        let clock = VirtualClock::new();
        let error = extract_http_with(
            &spec,
            &window(),
            &env.store,
            BUCKET,
            DATASET,
            &secrets,
            &options(&clock),
        )
        .await
        .err()
        .ok_or("the extract should fail")?;
        assert_eq!(error.error_name(), name, "{error}");
        assert_eq!(source.requests(), 3);
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 2, "{sleeps:?}");
        if failure == InjectedFailure::Unavailable {
            // Backoff with equal jitter: attempt 1 waits 250..=500 ms, attempt 2 500..=1000 ms.
            assert!(
                sleeps[0] >= Duration::from_millis(250) && sleeps[0] <= Duration::from_millis(500)
            );
            assert!(sleeps[1] >= Duration::from_millis(500) && sleeps[1] <= Duration::from_secs(1));
            assert!(error.to_string().contains("503"), "{error}");
        } else {
            assert_eq!(sleeps, vec![Duration::from_secs(1); 2]);
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_permanent_and_not_retried() -> TestResult {
    let env = env().await?;
    let source = serve(100, ServeOptions::default()).await?;
    let url = source.url_template().replace("/api/calls", "/api/nope");
    let clock = VirtualClock::new();
    let secrets = LocalSecrets::with_lookup(|_| None);
    let error = extract_http_with(
        &http_source(url, 1000),
        &window(),
        &env.store,
        BUCKET,
        DATASET,
        &secrets,
        &options(&clock),
    )
    .await
    .err()
    .ok_or("the extract should fail")?;
    assert!(matches!(error, ExtractError::Rejected { status: 404, .. }), "{error}");
    assert_eq!(error.error_name(), ErrorName::SourceRejected);
    assert_eq!(source.requests(), 1);
    assert!(clock.sleeps().is_empty());
    Ok(())
}

/// Collects everything the process logs (every level) while it is alive.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut inner) = self.0.lock() {
            inner.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_secrets_come_from_the_environment_and_never_reach_logs_or_errors() -> TestResult {
    const TOKEN: &str = "Bearer s3cr3t-7f1c9a";
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber)?;

    let env = env().await?;
    let required = Some(("authorization".to_owned(), TOKEN.to_owned()));
    let source = serve(
        500,
        ServeOptions { page_size: 200, require_header: required, ..ServeOptions::default() },
    )
    .await?;
    let mut spec = http_source(source.url_template(), 1000);
    spec.headers.insert("Authorization".into(), "env:GRAPHETL_SECRET_SOURCE_TOKEN".into());
    spec.headers.insert("X-Client".into(), "literal:graphetl".into());
    let clock = VirtualClock::new();
    let options = options(&clock);

    let secrets = LocalSecrets::with_lookup(|name| {
        (name == "GRAPHETL_SECRET_SOURCE_TOKEN").then(|| TOKEN.into())
    });
    let result =
        extract_http_with(&spec, &window(), &env.store, BUCKET, DATASET, &secrets, &options)
            .await?;
    assert_eq!(result.records, 500);

    // Not set: a spec problem naming the variable.
    let unset = LocalSecrets::with_lookup(|_| None);
    let error = extract_http_with(&spec, &window(), &env.store, BUCKET, DATASET, &unset, &options)
        .await
        .err()
        .ok_or("should fail")?;
    assert_eq!(error.error_name(), ErrorName::BadSpec);
    assert!(error.to_string().contains("GRAPHETL_SECRET_SOURCE_TOKEN is not set"), "{error}");

    // A wrong value: 401, permanent; neither value appears in the error.
    let wrong = LocalSecrets::with_lookup(|_| Some("Bearer wrong-9d2e".into()));
    let error = extract_http_with(&spec, &window(), &env.store, BUCKET, DATASET, &wrong, &options)
        .await
        .err()
        .ok_or("should fail")?;
    assert!(matches!(error, ExtractError::Rejected { status: 401, .. }), "{error}");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("s3cr3t") && !shown.contains("wrong-9d2e"), "{shown}");

    let logged =
        String::from_utf8_lossy(&logs.0.lock().map(|l| l.clone()).unwrap_or_default()).into_owned();
    assert!(logged.contains("extracted"), "the capture saw the extract's logs: {logged}");
    assert!(!logged.contains("s3cr3t") && !logged.contains("wrong-9d2e"), "{logged}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_spaces_requests_on_the_clock() -> TestResult {
    let env = env().await?;
    let source = serve(1000, ServeOptions { page_size: 250, ..ServeOptions::default() }).await?;
    let mut spec = http_source(source.url_template(), 1000);
    spec.rate_limit_per_second = 4.0;
    let clock = VirtualClock::new();
    let secrets = LocalSecrets::with_lookup(|_| None);
    let result = extract_http_with(
        &spec,
        &window(),
        &env.store,
        BUCKET,
        DATASET,
        &secrets,
        &options(&clock),
    )
    .await?;
    assert_eq!(result.pages, 4);
    assert_eq!(clock.sleeps(), vec![Duration::from_millis(250); 3]);
    assert_eq!((result.retries, result.rate_limit_wait_ms), (0, 750));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_window_and_the_generator_use_the_same_layout() -> TestResult {
    let env = env().await?;
    let request: ExtractRequest = serde_json::from_value(json!({
        "dataset": DATASET,
        "window": {"end": "2026-11-20T04:00:00Z", "duration": "PT1H"},
        "bucket": BUCKET,
        "run_id": "scheduled"
    }))?;
    assert_eq!(request.window.start(), window().start());
    let config = GeneratorConfig::new(8, 1200, request.window.clone());
    let result = extract_generator(&config, 500, &env.store, BUCKET, DATASET).await?;
    assert_eq!((result.files, result.records, result.pages), (3, 1200, 0));
    let parts = read_parts(&env.store, &result.prefix).await?;
    assert_eq!(parts.iter().map(|(_, r)| r.len()).collect::<Vec<_>>(), [500, 500, 200]);
    assert!(parts[0].0.starts_with("raw/service-calls/dt=2026-11-20/hour=03/part-"));
    Ok(())
}

#[test]
fn urls_are_rendered_encoded_and_pages_read_at_dotted_paths() {
    let url = crate::http::render_url(
        "http://h/api?start={start}&end={end}&cursor={cursor}",
        &window(),
        "a b&c=d",
    );
    assert_eq!(
        url,
        "http://h/api?start=2026-11-20T03%3A00%3A00Z&end=2026-11-20T04%3A00%3A00Z&cursor=a%20b%26c%3Dd"
    );
    let read = |page: &str, records: &str, cursor: Option<&str>| {
        crate::http::read_page(page.as_bytes(), records, cursor).map(|p| {
            (p.records.iter().map(|r| r.get().to_owned()).collect::<Vec<_>>(), p.next_cursor)
        })
    };
    let page = r#"{"result": {"items": [1, 2.50]}, "meta": {"next": 17}}"#;
    assert_eq!(
        read(page, "result.items", Some("meta.next")),
        Ok((vec!["1".into(), "2.50".into()], Some("17".into())))
    );
    assert_eq!(
        read(page, "result.items", Some("meta.absent")),
        Ok((vec!["1".into(), "2.50".into()], None))
    );
    assert_eq!(
        read(page, "result.items.1", None),
        Err("records_path \"result.items.1\" is a number, expected an array of records".to_owned())
    );
    assert_eq!(read(r#"{"data": [], "c": ""}"#, "data", Some("c")), Ok((vec![], None)));
    assert_eq!(read(r#"{"data": null}"#, "data", None), Ok((vec![], None)));
    assert!(
        read(r#"{"data": [], "c": true}"#, "data", Some("c"))
            .is_err_and(|e| e.contains("is a boolean"))
    );
    assert_eq!(read(r#"[{"a": 1}]"#, "", None), Ok((vec![r#"{"a": 1}"#.into()], None)));
    assert_eq!(
        read(r#"{"pages": [{"items": [3]}]}"#, "pages.0.items", None),
        Ok((vec!["3".into()], None))
    );
    let missing = read(r#"{"x": 1}"#, "data", None);
    assert!(missing.is_err_and(|e| e.contains("has no \"data\"")));
    assert!(
        read("{\"data\": [1,", "data", None).is_err_and(|e| e.starts_with("the page is not JSON"))
    );
    let retry = reqwest::header::HeaderValue::from_static("12");
    assert_eq!(crate::http::retry_after(Some(&retry)), Some(Duration::from_secs(12)));
    let past = reqwest::header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
    assert_eq!(crate::http::retry_after(Some(&past)), Some(Duration::ZERO));
}

#[test]
fn records_are_placed_at_their_timestamps_in_every_accepted_format() {
    use crate::generator::TimedRecord;
    let at = |v: Value| TimedRecord::from_value(v, "timestamp").map(|t| t.at_millis).ok();
    let expected = Some(1_795_143_600_250);
    assert_eq!(at(json!({"timestamp": "2026-11-20T03:00:00.250+00:00"})), expected);
    assert_eq!(at(json!({"timestamp": "2026-11-20T12:00:00.250+09:00"})), expected);
    assert_eq!(at(json!({"timestamp": "2026-11-20 03:00:00.250"})), expected);
    assert_eq!(at(json!({"timestamp": 1_795_143_600_250_i64})), expected);
    assert_eq!(at(json!({"timestamp": "yesterday"})), None);
    assert_eq!(at(json!({"ts": "2026-11-20T03:00:00Z"})), None);
    // Every generated record but the planted bad timestamps is placed at its own instant.
    for timed in generate_timed(&config(2000)) {
        match TimedRecord::from_value(timed.record.clone(), "timestamp") {
            Ok(placed) => assert_eq!(placed.at_millis, timed.at_millis, "{}", timed.record),
            Err(record) => assert_eq!(record["timestamp"], "yesterday"),
        }
    }
}

#[test]
fn the_generator_is_deterministic_and_plants_a_stated_share_of_bad_rows() {
    let mut config = config(20_000);
    config.bad_row_rate = 0.01;
    let first: Vec<_> = generate_timed(&config).collect();
    let second: Vec<_> = generate_timed(&config).collect();
    assert_eq!(first, second);
    assert_eq!(first.len(), 20_000);
    let mut other = config.clone();
    other.seed = 7;
    assert_ne!(
        generate(&other).take(50).collect::<Vec<_>>(),
        generate(&config).take(50).collect::<Vec<_>>()
    );

    let bad: Vec<usize> =
        (0..first.len()).filter(|i| has_planted_defect(&first[*i].record)).collect();
    assert_eq!(bad.len() as u64, bad_rows(20_000, 0.01));
    assert_eq!(bad.len(), 200);
    assert!(bad.iter().all(|i| is_bad_row(*i as u64, 0.01)));

    let (start, end) = (window().start().timestamp_millis(), window().end().timestamp_millis());
    assert!(first.windows(2).all(|p| p[0].at_millis <= p[1].at_millis));
    assert!(first.iter().all(|r| (start..end).contains(&r.at_millis)));

    let names: std::collections::BTreeSet<String> = first
        .iter()
        .flat_map(|r| [r.record.get("caller"), r.record.get("callee")])
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let allowed: std::collections::BTreeSet<String> = (0..12).map(service_name).collect();
    assert!(names.is_subset(&allowed), "{names:?}");
    assert!(names.len() >= 6, "{names:?}");
    assert_eq!(service_name(0), "web");
    assert_eq!(service_name(20), "svc-020");

    // Calls concentrate on a few callees (power law) and some fail (5xx).
    let mut by_callee: BTreeMap<String, usize> = BTreeMap::new();
    for r in &first {
        if let Some(callee) = r.record.get("callee").and_then(Value::as_str) {
            *by_callee.entry(callee.to_owned()).or_default() += 1;
        }
    }
    let mut counts: Vec<usize> = by_callee.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    assert!(counts[0] > 4 * counts[counts.len() - 1], "{by_callee:?}");
    let failed = first
        .iter()
        .filter(|r| {
            let status = &r.record["status"];
            status
                .as_u64()
                .or_else(|| status.as_str().and_then(|s| s.parse().ok()))
                .is_some_and(|s| s >= 500)
        })
        .count();
    assert!(failed > 0 && failed < first.len() / 4, "{failed}");
}

/// The SSM and Secrets Manager resolver against a loopback stand-in for both JSON APIs.
#[cfg(feature = "aws")]
mod aws_secrets {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;

    use crate::secrets::aws::AwsSecrets;
    use crate::secrets::{SecretErrorKind, SecretRef, SecretResolver};

    async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let (status, reply) = match (target.as_str(), &body) {
            ("AmazonSSM.GetParameter", b)
                if b["Name"] == "/graphetl/token" && b["WithDecryption"] == true =>
            {
                (
                    200,
                    serde_json::json!({"Parameter": {"Name": "/graphetl/token", "Type": "SecureString", "Value": "ssm-value-1", "Version": 1}}),
                )
            }
            ("AmazonSSM.GetParameter", _) => (
                400,
                serde_json::json!({"__type": "ParameterNotFound", "message": "no such parameter"}),
            ),
            ("secretsmanager.GetSecretValue", b) if b["SecretId"] == "graphetl/api" => (
                200,
                serde_json::json!({"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:graphetl/api-AbCdEf", "Name": "graphetl/api", "SecretString": "sm-value-2", "VersionId": "v1"}),
            ),
            ("secretsmanager.GetSecretValue", _) => (
                400,
                serde_json::json!({"__type": "AccessDeniedException", "Message": "not allowed"}),
            ),
            _ => (500, serde_json::json!({"__type": "InternalServerError", "message": "?"})),
        };
        let mut response = Response::new(Full::new(Bytes::from(reply.to_string())));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
        Ok(response)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ssm_and_secrets_manager_references_resolve_through_their_apis()
    -> Result<(), Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer)),
                );
            }
        });
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        let secrets = AwsSecrets::new(&config);
        let ssm = secrets.resolve(&SecretRef::Ssm("/graphetl/token".into())).await?;
        assert_eq!(ssm.expose(), "ssm-value-1");
        let sm = secrets.resolve(&SecretRef::SecretsManager("graphetl/api".into())).await?;
        assert_eq!(sm.expose(), "sm-value-2");
        assert_eq!(format!("{sm:?} {sm}"), "Secret(<redacted>) <redacted>");
        let literal = secrets.resolve(&SecretRef::Literal("plain".into())).await?;
        assert_eq!(literal.expose(), "plain");

        let missing = secrets.resolve(&SecretRef::Ssm("/graphetl/nope".into())).await;
        let missing = missing.err().ok_or("should fail")?;
        assert_eq!(missing.kind(), SecretErrorKind::NotFound, "{missing}");
        assert!(missing.to_string().contains("ssm:/graphetl/nope"), "{missing}");
        let denied = secrets.resolve(&SecretRef::SecretsManager("other".into())).await;
        assert_eq!(denied.err().map(|e| e.kind()), Some(SecretErrorKind::AccessDenied));
        Ok(())
    }
}

#[test]
fn any_generated_record_is_made_on_its_own_and_windows_are_found_by_instant() {
    use crate::generator::GeneratedRecords;
    let config = config(5_000);
    let all: Vec<_> = generate_timed(&config).collect();
    let records = GeneratedRecords::new(&config);
    assert_eq!(records.len(), 5_000);
    // Out of order and repeated: each record is the same as the stream's.
    for i in [4_999_u64, 0, 2_500, 17, 2_500, 4_321] {
        assert_eq!(records.record(i), all[i as usize], "record {i}");
        assert_eq!(records.at_millis(i), all[i as usize].at_millis);
    }
    // The first record at or after an instant, as a linear scan finds it.
    let start = window().start().timestamp_millis();
    let end = window().end().timestamp_millis();
    let probes = [start - 1, start, all[1234].at_millis, all[1234].at_millis + 1, end - 1, end];
    for t in probes.into_iter().chain((start..end).step_by(997)) {
        let linear = all.iter().position(|r| r.at_millis >= t).unwrap_or(all.len());
        assert_eq!(records.partition_point(t), linear as u64, "instant {t}");
    }
    let none = GeneratedRecords::new(&GeneratorConfig { records: 0, ..config });
    assert!(none.is_empty());
    assert_eq!(none.partition_point(start), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_written_as_the_source_sent_them_one_per_line() -> TestResult {
    let env = env().await?;
    let window = window();
    let mut writer = crate::PartWriter::new(&env.store, BUCKET, DATASET, &window, 10);
    // Exact digits, key order and a pretty-printed record (its line breaks are whitespace; the
    // one inside the string is an escape and stays).
    let sent = r#"[{"b": 1.10, "a": 12345678901234567890123},
        {
          "text": "two\nlines",
          "n": 2
        }]"#;
    let page = crate::http::read_page(sent.as_bytes(), "", None)?;
    for record in &page.records {
        writer.push_raw(record).await?;
    }
    let written = writer.finish().await?;
    assert_eq!((written.files, written.records), (1, 2));
    let key = format!("{}00000.jsonl.gz", written.prefix);
    let bytes = env.store.get_bytes(BUCKET, &key).await?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice()).read_to_string(&mut text)?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r#"{"b": 1.10, "a": 12345678901234567890123}"#);
    let second: Value = serde_json::from_str(lines[1])?;
    assert_eq!(second, json!({"text": "two\nlines", "n": 2}));
    assert_eq!(lines.len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_made_ahead_are_only_served_for_the_request_they_were_made_for() -> TestResult {
    // reqwest is built without a bundled TLS provider (as the extract installs one).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let options = ServeOptions { page_size: 100, ..ServeOptions::default() };
    let first = serve(1000, options.clone()).await?;
    let fresh = serve(1000, options).await?;
    let url = |source: &LocalSource, start: &str, end: &str, cursor: &str| {
        format!("http://{}/api/calls?start={start}&end={end}&cursor={cursor}", source.addr())
    };
    let get = |url: String| async move { reqwest::get(url).await?.text().await };
    let (a, b) = (
        ("2026-11-20T03:00:00Z", "2026-11-20T04:00:00Z"),
        ("2026-11-20T03:30:00Z", "2026-11-20T03:45:00Z"),
    );
    // Window a's first page makes a's second ahead; b's first page (a different window, same
    // offset) must not get it, nor must a's second page get b's.
    let a0 = get(url(&first, a.0, a.1, "")).await?;
    let b0 = get(url(&first, b.0, b.1, "")).await?;
    let a1 = get(url(&first, a.0, a.1, "100")).await?;
    let a1_again = get(url(&first, a.0, a.1, "100")).await?;
    assert_eq!(a0, get(url(&fresh, a.0, a.1, "")).await?);
    assert_eq!(b0, get(url(&fresh, b.0, b.1, "")).await?);
    assert_eq!(a1, get(url(&fresh, a.0, a.1, "100")).await?);
    assert_eq!(a1, a1_again);
    assert_ne!(a0, b0);
    let page: Value = serde_json::from_str(&a1)?;
    assert_eq!(page["next_cursor"], "200");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(100));
    Ok(())
}
