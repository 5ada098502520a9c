//! Tests of `http`: response parsing, error classification, backoff, credentials caching and
//! endpoint URLs; then the client against the mock server on tokio's paused clock (signing,
//! retries by Neptune's error code, timeouts, redirects, credentials), where retry pauses and
//! latency cost no real time and assertions are on order and counts, never on wall time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use graphetl_core::ErrorName;
use serde_json::json;

use super::mock::{MockNeptune, REGION, Reply, client, config, expect, iam};
use super::*;
use crate::http::{
    Auth, Backoff, CachedCredentials, ClientConfig, CredentialsSource, Jitter, NeptuneClient,
    NeptuneError, RetryClass, RetryPolicy, classify, error_from_response, parse_response,
};
use crate::writers::load_batch;
use graphetl_graph::gremlin::{Batcher, Budget, UpsertForm, build_query};

#[test]
fn typed_and_untyped_responses_parse_to_the_same_values() {
    let typed = br#"{"requestId":"r-1","status":{"message":"","code":200,"attributes":{"@type":"g:Map","@value":[]}},"result":{"data":{"@type":"g:List","@value":["svc:a",{"@type":"g:Int64","@value":5}]},"meta":{"@type":"g:Map","@value":[]}}}"#;
    let untyped = br#"{"requestId":"r-1","status":{"message":"","code":200,"attributes":{}},"result":{"data":["svc:a",5],"meta":{}}}"#;
    for body in [&typed[..], &untyped[..]] {
        let response = parse_response(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.request_id.as_deref(), Some("r-1"));
        assert_eq!(response.values, vec![json!("svc:a"), json!(5)]);
        assert_eq!(response.ids(), vec!["svc:a".to_owned(), "5".to_owned()]);
    }
    let empty = br#"{"result":{"data":{"@type":"g:List","@value":[]}}}"#;
    assert!(parse_response(empty).map(|r| r.values.is_empty()).unwrap_or(false));
    let null = br#"{"requestId":"x","result":{"data":null}}"#;
    assert!(parse_response(null).map(|r| r.values.is_empty()).unwrap_or(false));
    let scalar = br#"{"result":{"data":{"@type":"g:Int64","@value":7}}}"#;
    assert_eq!(parse_response(scalar).map(|r| r.values).ok(), Some(vec![json!(7)]));
    assert!(parse_response(b"<html>bad gateway</html>").is_err());
    assert!(parse_response(b"[1,2]").is_err());
}

#[test]
fn error_bodies_carry_code_message_and_request_id() {
    let body = br#"{"requestId":"req-9","code":"MalformedQueryException","detailedMessage":"Failed to interpret Gremlin query: no viable alternative"}"#;
    let error = error_from_response(400, body);
    assert_eq!(error.code(), Some("MalformedQueryException"));
    assert_eq!(
        error.to_string(),
        "Neptune MalformedQueryException (HTTP 400, request req-9) after 1 attempt(s): \
             Failed to interpret Gremlin query: no viable alternative"
    );
    // Newer engines also send `message`; older ones only `detailedMessage`.
    let newer = br#"{"requestId":"r","code":"AccessDeniedException","message":"Missing Authentication Token"}"#;
    assert!(error_from_response(403, newer).to_string().ends_with("Missing Authentication Token"));
    let html = error_from_response(502, b"<html>Bad Gateway</html>");
    assert_eq!(html.code(), None);
    assert_eq!(
        html.to_string(),
        "HTTP 502 from Neptune without an error code after 1 attempt(s): <html>Bad Gateway</html>"
    );
    assert_eq!(html.retry_class(), RetryClass::Throttled);
}

#[test]
fn codes_map_to_retry_classes_and_error_names() {
    let cases: &[(u16, Option<&str>, RetryClass, ErrorName)] = &[
        (
            500,
            Some("ConcurrentModificationException"),
            RetryClass::Conflict,
            ErrorName::NeptuneTransient,
        ),
        (500, Some("ThrottlingException"), RetryClass::Throttled, ErrorName::NeptuneThrottled),
        (
            500,
            Some("QueryLimitExceededException"),
            RetryClass::Throttled,
            ErrorName::NeptuneThrottled,
        ),
        (429, Some("TooManyRequestsException"), RetryClass::Throttled, ErrorName::NeptuneThrottled),
        (500, Some("InternalFailureException"), RetryClass::Throttled, ErrorName::NeptuneThrottled),
        (500, Some("MemoryLimitExceededException"), RetryClass::Heavy, ErrorName::NeptuneTransient),
        (500, Some("TimeLimitExceededException"), RetryClass::Heavy, ErrorName::NeptuneTransient),
        (
            400,
            Some("ReadOnlyViolationException"),
            RetryClass::Reconnect,
            ErrorName::NeptuneTransient,
        ),
        (500, Some("ServerShutdownException"), RetryClass::Reconnect, ErrorName::NeptuneTransient),
        (
            500,
            Some("CancelledByMaintenanceException"),
            RetryClass::Reconnect,
            ErrorName::NeptuneTransient,
        ),
        (400, Some("MalformedQueryException"), RetryClass::Permanent, ErrorName::Internal),
        (403, Some("AccessDeniedException"), RetryClass::Permanent, ErrorName::Internal),
        (400, Some("IllegalArgumentException"), RetryClass::Permanent, ErrorName::BadInput),
        (400, Some("ConstraintViolationException"), RetryClass::Permanent, ErrorName::BadInput),
        // The code decides, not the status.
        (500, Some("SomeFutureException"), RetryClass::Permanent, ErrorName::Internal),
        (429, None, RetryClass::Throttled, ErrorName::NeptuneThrottled),
        (503, None, RetryClass::Throttled, ErrorName::NeptuneThrottled),
        (404, None, RetryClass::Permanent, ErrorName::Internal),
    ];
    for &(status, code, class, name) in cases {
        assert_eq!(classify(status, code), class, "{status} {code:?}");
        let error = NeptuneError::Server {
            status,
            code: code.map(str::to_owned),
            message: "m".into(),
            request_id: None,
            attempts: 1,
        };
        assert_eq!(error.error_name(), name, "{status} {code:?}");
    }
    let timeout = NeptuneError::Transport {
        message: "timed out".into(),
        timeout: true,
        connect: false,
        attempts: 3,
    };
    assert_eq!(timeout.retry_class(), RetryClass::Connection);
    assert_eq!(timeout.error_name(), ErrorName::NeptuneTransient);
    assert_eq!(NeptuneError::Config("x".into()).error_name(), ErrorName::Internal);
}

#[test]
fn backoff_grows_caps_jitters_and_stops() {
    let mut rng = fastrand::Rng::with_seed(1);
    let plain = Backoff {
        first: Duration::from_millis(100),
        multiplier: 2,
        max: Duration::from_millis(2_000),
        retries: 7,
        jitter: Jitter::None,
    };
    let delays: Vec<u64> =
        (1..=8).filter_map(|n| plain.delay(n, &mut rng)).map(|d| d.as_millis() as u64).collect();
    assert_eq!(delays, vec![100, 200, 400, 800, 1_600, 2_000, 2_000]);
    assert_eq!(plain.delay(0, &mut rng), None);
    let huge = Backoff { retries: u32::MAX, max: Duration::from_secs(60), ..plain };
    assert_eq!(huge.delay(1_000, &mut rng), Some(Duration::from_secs(60)));
    for n in 1..=7 {
        let base = plain.delay(n, &mut rng).unwrap_or_default();
        for _ in 0..200 {
            let full = Backoff { jitter: Jitter::Full, ..plain }.delay(n, &mut rng);
            assert!(full.is_some_and(|d| d <= base));
            let equal = Backoff { jitter: Jitter::Equal, ..plain }.delay(n, &mut rng);
            assert!(equal.is_some_and(|d| d <= base && d >= base / 2));
        }
    }
    let policy = RetryPolicy::default();
    assert_eq!(policy.delay(RetryClass::Permanent, 1, &mut rng), None);
    // Heavy queries wait 5–10 s, at most twice; conflicts start near 100 ms.
    for _ in 0..100 {
        let heavy = policy.delay(RetryClass::Heavy, 1, &mut rng).unwrap_or_default();
        assert!(heavy >= Duration::from_secs(5) && heavy <= Duration::from_secs(10));
        let conflict = policy.delay(RetryClass::Conflict, 1, &mut rng).unwrap_or_default();
        assert!(conflict <= Duration::from_millis(100));
    }
    assert_eq!(policy.delay(RetryClass::Heavy, 3, &mut rng), None);
    assert_eq!(RetryPolicy::never().delay(RetryClass::Conflict, 1, &mut rng), None);
}

/// A provider that counts calls and hands out credentials living `lifetime`.
#[derive(Debug)]
struct CountingProvider {
    calls: AtomicU64,
    lifetime: Option<Duration>,
    fail: bool,
}

impl CountingProvider {
    fn new(lifetime: Option<Duration>) -> CountingProvider {
        CountingProvider { calls: AtomicU64::new(0), lifetime, fail: false }
    }
}

impl ProvideCredentials for CountingProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail {
            return future::ProvideCredentials::ready(Err(CredentialsError::provider_timed_out(
                Duration::from_secs(5),
            )));
        }
        let expiry = self.lifetime.map(|l| SystemTime::now() + l);
        future::ProvideCredentials::ready(Ok(Credentials::new(
            format!("AKID{n}"),
            "secret",
            Some(format!("token{n}")),
            expiry,
            "counting",
        )))
    }
}

async fn keys(source: &dyn CredentialsSource, n: usize) -> Vec<String> {
    let mut keys = Vec::new();
    for _ in 0..n {
        let credentials = source.credentials().await.unwrap_or_else(|e| panic!("{e}"));
        keys.push(credentials.access_key_id().to_owned());
    }
    keys
}

#[tokio::test]
async fn credentials_are_cached_and_refreshed_five_minutes_before_expiry() {
    let hour = CachedCredentials::new(CountingProvider::new(Some(Duration::from_secs(3600))));
    assert_eq!(keys(&hour, 3).await, vec!["AKID1"; 3]);
    assert_eq!(hour.fetches(), 1);
    let six_minutes = CachedCredentials::new(CountingProvider::new(Some(Duration::from_secs(360))));
    assert_eq!(keys(&six_minutes, 3).await, vec!["AKID1"; 3]);
    // Credentials with less than 5 minutes left are replaced before use.
    let four_minutes =
        CachedCredentials::new(CountingProvider::new(Some(Duration::from_secs(240))));
    assert_eq!(keys(&four_minutes, 3).await, vec!["AKID1", "AKID2", "AKID3"]);
    assert_eq!(four_minutes.fetches(), 3);
    let no_expiry = CachedCredentials::new(CountingProvider::new(None));
    assert_eq!(keys(&no_expiry, 2).await, vec!["AKID1"; 2]);
    let failing =
        CachedCredentials::new(CountingProvider { fail: true, ..CountingProvider::new(None) });
    match failing.credentials().await {
        Err(error @ NeptuneError::Credentials { transient: true, .. }) => {
            assert_eq!(error.error_name(), ErrorName::NeptuneTransient);
            assert!(error.to_string().contains("timed out"), "{error}");
        }
        other => panic!("expected a transient credentials error, got {other:?}"),
    }
}

#[test]
fn endpoints_become_gremlin_urls() {
    let url = |endpoint: &str| {
        NeptuneClient::new(ClientConfig::new(endpoint, Auth::None)).map(|c| c.url().to_owned())
    };
    let ok = |endpoint: &str| url(endpoint).unwrap_or_else(|e| panic!("{endpoint}: {e}"));
    assert_eq!(ok("https://db.example.com:8182"), "https://db.example.com:8182/gremlin");
    assert_eq!(ok("https://db.example.com:8182/"), "https://db.example.com:8182/gremlin");
    assert_eq!(ok("db.example.com:8182"), "https://db.example.com:8182/gremlin");
    assert_eq!(ok("http://127.0.0.1:8182"), "http://127.0.0.1:8182/gremlin");
    assert_eq!(ok("http://localhost:8182"), "http://localhost:8182/gremlin");
    assert_eq!(ok("http://[::1]:8182"), "http://[::1]:8182/gremlin");
    for bad in [
        "ftp://db:8182",
        "https://db:8182/?x=1",
        "https://",
        "https://db:notaport",
        // SigV4 headers and the session token in cleartext to another machine.
        "http://db.example.com:8182",
        "http://10.0.0.5:8182",
    ] {
        assert!(matches!(url(bad), Err(NeptuneError::Config(_))), "{bad} should be refused");
    }
}

// The client against the mock server.

fn one_request() -> graphetl_graph::gremlin::Request {
    build_query(UpsertForm::MergeSingleMap, &golden_batch().vertices, &[])
}

#[tokio::test(start_paused = true)]
async fn success_path_counts_and_signs_every_request() {
    let mock =
        MockNeptune::start(Some(expect(Some("session-token/+="))), Duration::from_millis(20)).await;
    let client = client(config(&mock, iam(Some("session-token/+="))));
    let batcher =
        Batcher::new(UpsertForm::MergeSingleMap, Budget { max_records: 20, ..Budget::default() });
    let batch = ring(30);
    let requests = batcher.requests(&batch).unwrap_or_else(|e| panic!("{e}"));
    let report = load_batch(&client, &batcher, &batch, 3).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.requests, requests.len());
    assert_eq!(report.vertices, 30);
    assert_eq!(report.edges, 30);
    assert_eq!(report.records, batch.records());
    assert_eq!(report.retries, 0);
    assert_eq!(report.ids_returned, requests.len(), "one id per request (`.id()` at the end)");
    let seen = mock.requests();
    assert_eq!(seen.len(), requests.len());
    mock.assert_all_authenticated();
    for request in &seen {
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("host"), Some(mock.host().as_str()));
        assert!(request.body.starts_with(r#"{"gremlin":"g."#));
    }
    // The bodies are exactly the batcher's, for the batch with edges grouped by tail vertex.
    let mut grouped = batch.clone();
    grouped.edges.sort_by(|a, b| a.out_v.cmp(&b.out_v));
    let mut built: Vec<String> = batcher
        .requests(&grouped)
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|r| r.body())
        .collect();
    let mut sent: Vec<String> = seen.iter().map(|r| r.body.clone()).collect();
    built.sort_unstable();
    sent.sort_unstable();
    assert_eq!(sent, built);
    assert!(mock.max_in_flight() <= 3);
}

#[tokio::test(start_paused = true)]
async fn untyped_answers_are_counted_too_and_iam_can_be_off() {
    let mock = MockNeptune::start(None, Duration::from_millis(5)).await;
    let mut config = config(&mock, Auth::None);
    config.accept = Some("application/vnd.gremlin-v3.0+json;types=false".into());
    let client = client(config);
    let executed = client.execute(&one_request()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(executed.attempts, 1);
    assert_eq!(executed.response.ids(), vec!["payments".to_owned()]);
    assert_eq!(mock.untyped_answers(), 1);
    mock.assert_all_authenticated();
    let seen = mock.requests();
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(seen[0].header("x-amz-date"), None);
}

#[tokio::test(start_paused = true)]
async fn each_transient_code_is_retried_until_success() {
    let cases: &[(u16, &'static str, RetryClass)] = &[
        (500, "ConcurrentModificationException", RetryClass::Conflict),
        (500, "ThrottlingException", RetryClass::Throttled),
        (500, "QueryLimitExceededException", RetryClass::Throttled),
        (429, "TooManyRequestsException", RetryClass::Throttled),
        (500, "InternalFailureException", RetryClass::Throttled),
        (500, "MemoryLimitExceededException", RetryClass::Heavy),
        (500, "TimeLimitExceededException", RetryClass::Heavy),
        (400, "ReadOnlyViolationException", RetryClass::Reconnect),
    ];
    for &(status, code, class) in cases {
        let mock = MockNeptune::start(Some(expect(None)), Duration::from_millis(2)).await;
        mock.script([Reply::error(status, code), Reply::error(status, code)]);
        let client = client(config(&mock, iam(None)));
        let policy = client.config().retry;
        let started = tokio::time::Instant::now();
        let executed =
            client.execute(&one_request()).await.unwrap_or_else(|e| panic!("{code}: {e}"));
        let waited = started.elapsed();
        assert_eq!(executed.attempts, 3, "{code}");
        let seen = mock.requests();
        assert_eq!(seen.len(), 3, "{code}");
        assert_eq!(
            seen.iter().map(|r| r.status).collect::<Vec<_>>(),
            vec![Some(status), Some(status), Some(200)]
        );
        // Every attempt carries the same body and a fresh, valid signature.
        assert!(seen.iter().all(|r| r.body == seen[0].body), "{code}");
        mock.assert_all_authenticated();
        // Virtual time: the pauses follow the class's schedule (upper bound: both retries at
        // their un-jittered delay; lower bound for the slow class).
        let backoff = policy.backoff(class).copied().unwrap_or_else(|| panic!("{code}"));
        let cap = backoff.first * backoff.multiplier + backoff.first + Duration::from_millis(100);
        assert!(waited <= cap.max(Duration::from_millis(100)), "{code}: {waited:?}");
        if class == RetryClass::Heavy {
            assert!(waited >= Duration::from_secs(10), "{code}: {waited:?}");
        }
        if class == RetryClass::Conflict {
            assert!(waited < Duration::from_secs(1), "{code}: {waited:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn status_429_and_5xx_without_a_code_back_off() {
    let mock = MockNeptune::start(None, Duration::ZERO).await;
    mock.script([
        Reply::Raw { status: 502, body: "<html>Bad Gateway</html>" },
        Reply::Raw { status: 429, body: "" },
        Reply::Raw { status: 503, body: "Service Unavailable" },
    ]);
    let client = client(config(&mock, Auth::None));
    let executed = client.execute(&one_request()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(executed.attempts, 4);
}

#[tokio::test(start_paused = true)]
async fn retries_are_bounded_and_keep_the_transient_name() {
    for (code, name) in [
        ("ConcurrentModificationException", ErrorName::NeptuneTransient),
        ("ThrottlingException", ErrorName::NeptuneThrottled),
        ("MemoryLimitExceededException", ErrorName::NeptuneTransient),
    ] {
        let mock = MockNeptune::start(None, Duration::ZERO).await;
        mock.script(std::iter::repeat_n(Reply::error(500, code), 50));
        let client = client(config(&mock, Auth::None));
        let class = crate::http::classify(500, Some(code));
        let retries = client.config().retry.backoff(class).map_or(0, |b| b.retries);
        let error = match client.execute(&one_request()).await {
            Err(error) => error,
            Ok(executed) => panic!("{code}: succeeded after {} attempts", executed.attempts),
        };
        assert_eq!(error.attempts(), retries + 1, "{code}");
        assert_eq!(mock.requests().len() as u32, retries + 1, "{code}");
        assert_eq!(error.error_name(), name, "{code}");
        assert!(error.to_string().contains(code), "{error}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_surfaces_neptunes_message_without_retry() {
    let mock = MockNeptune::start(None, Duration::ZERO).await;
    mock.script([Reply::Error {
        status: 400,
        code: "MalformedQueryException",
        message: "Failed to interpret Gremlin query: Query parsing failed at line 1",
    }]);
    let client = client(config(&mock, Auth::None));
    let error = match client.execute(&one_request()).await {
        Err(error) => error,
        Ok(_) => panic!("a malformed query succeeded"),
    };
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(error.attempts(), 1);
    assert_eq!(error.code(), Some("MalformedQueryException"));
    assert_eq!(error.error_name(), ErrorName::Internal);
    assert_eq!(
        error.to_string(),
        "Neptune MalformedQueryException (HTTP 400, request mock-0) after 1 attempt(s): \
             Failed to interpret Gremlin query: Query parsing failed at line 1"
    );
    // A data problem (an edge whose vertex is missing) is BadInput.
    mock.script([Reply::Error {
        status: 400,
        code: "IllegalArgumentException",
        message: "Vertex id could not be resolved from mergeE: svc:ghost",
    }]);
    let error = client.execute(&one_request()).await.err();
    assert_eq!(error.as_ref().map(NeptuneError::error_name), Some(ErrorName::BadInput));
    assert!(error.is_some_and(|e| e.to_string().contains("svc:ghost")));
    assert_eq!(mock.requests().len(), 2);
    // A 200 that is not a Gremlin response is not retried either.
    mock.script([Reply::Raw { status: 200, body: "<html>captive portal</html>" }]);
    match client.execute(&one_request()).await {
        Err(error @ NeptuneError::BadResponse { .. }) => {
            assert_eq!(error.error_name(), ErrorName::Internal);
            assert!(error.to_string().contains("captive portal"));
        }
        other => panic!("expected BadResponse, got {other:?}"),
    }
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_redirect_is_not_followed_so_signed_headers_stay_with_neptune() {
    let elsewhere = MockNeptune::start(None, Duration::ZERO).await;
    let mock = MockNeptune::start(Some(expect(Some("session-token"))), Duration::ZERO).await;
    mock.script([Reply::Redirect { location: format!("{}/gremlin", elsewhere.endpoint()) }]);
    let client = client(config(&mock, iam(Some("session-token"))));
    let error = client.execute(&one_request()).await.err();
    assert!(
        matches!(error, Some(NeptuneError::Server { status: 307, .. })),
        "the 307 is the answer: {error:?}"
    );
    assert_eq!(mock.requests().len(), 1, "a 3xx is permanent, not retried");
    assert!(elsewhere.requests().is_empty(), "nothing reached the redirect's target");
}

#[tokio::test(start_paused = true)]
async fn read_only_violation_rebuilds_the_client_and_reconnects() {
    let mock = MockNeptune::start(Some(expect(None)), Duration::from_millis(1)).await;
    let client = client(config(&mock, iam(None)));
    for _ in 0..3 {
        client.execute(&one_request()).await.unwrap_or_else(|e| panic!("{e}"));
    }
    mock.script([Reply::Error {
            status: 400,
            code: "ReadOnlyViolationException",
            message: "The request is rejected because it violates some read-only restriction, such as a designation of a replica as read-only.",
        }]);
    let executed = client.execute(&one_request()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(executed.attempts, 2);
    assert_eq!(client.rebuilds(), 1);
    let seen = mock.requests();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[3].status, Some(400));
    // Keep-alive: the pooled connection served everything before the failover answer…
    let before: Vec<u64> = seen[..4].iter().map(|r| r.connection).collect();
    assert!(before.iter().all(|&c| c == before[0]), "one pooled connection: {before:?}");
    // …and the retry went out on a new connection (the endpoint is resolved again).
    assert!(seen[4].connection > before[0], "{:?}", seen[4].connection);
    // Later requests use the new pool.
    client.execute(&one_request()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mock.requests()[5].connection, seen[4].connection);
    mock.assert_all_authenticated();
}

#[tokio::test(start_paused = true)]
async fn a_stalled_request_times_out_and_is_retried() {
    let mock = MockNeptune::start(None, Duration::ZERO).await;
    mock.script([Reply::Ok(Some(Duration::from_secs(600)))]);
    let mut config = config(&mock, Auth::None);
    config.request_timeout = Some(Duration::from_secs(30));
    let client = client(config);
    let executed = client.execute(&one_request()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(executed.attempts, 2);
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_endpoint_is_a_transient_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    let mut config = ClientConfig::new(format!("http://{addr}"), Auth::None);
    config.connect_timeout = None;
    config.request_timeout = None;
    config.pool_idle_timeout = None;
    let client = client(config);
    match client.execute(&one_request()).await {
        Err(error @ NeptuneError::Transport { connect: true, .. }) => {
            let retries = RetryPolicy::default().connection.retries;
            assert_eq!(error.attempts(), retries + 1);
            assert_eq!(error.error_name(), ErrorName::NeptuneTransient);
            // A failed connect also drops the pool, once per generation.
            assert_eq!(client.rebuilds(), u64::from(retries));
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn temporary_credentials_are_fetched_once_and_sent_with_their_token() {
    #[derive(Debug)]
    struct Provider;
    impl aws_credential_types::provider::ProvideCredentials for Provider {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let expiry = std::time::SystemTime::now() + Duration::from_secs(3600);
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(
                aws_credential_types::Credentials::new(
                    "AKIDMOCK",
                    "mock/secret+key",
                    Some("temporary-token".into()),
                    Some(expiry),
                    "test",
                ),
            ))
        }
    }
    let mock =
        MockNeptune::start(Some(expect(Some("temporary-token"))), Duration::from_millis(3)).await;
    let credentials = Arc::new(CachedCredentials::new(Provider));
    let auth = Auth::Iam { region: REGION.into(), credentials: credentials.clone() };
    let client = client(config(&mock, auth));
    let batcher = Batcher::new(
        UpsertForm::MergePropertyStep,
        Budget { max_records: 10, ..Budget::default() },
    );
    let report =
        load_batch(&client, &batcher, &ring(12), 4).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(report.requests > 4);
    assert_eq!(credentials.fetches(), 1);
    mock.assert_all_authenticated();
    assert!(
        mock.requests().iter().all(|r| r.header("x-amz-security-token") == Some("temporary-token"))
    );
}
