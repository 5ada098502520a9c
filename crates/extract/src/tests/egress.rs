//! The egress rules, each shown by the attack it stops: a spec asking for the function's own
//! credentials or another dataset's secret, a URL to a host the run does not allow, a secret
//! over `http://`, a redirect to another origin, a huge page, a secret cut by the error snippet.
//! Each loopback [`Recorder`] counts what reaches it, so "refused before any request" is a
//! count of zero.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use graphetl_core::ErrorName;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use super::{BUCKET, DATASET, TestResult, env, window};
use crate::secrets::{Secret, SecretError, SecretErrorKind, SecretRef, SecretResolver};
use crate::{ExtractError, HttpOptions, LocalSecrets, SourceHosts, extract_http_with};
use graphetl_core::spec::HttpSource;

type Answer = Arc<dyn Fn(&str) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync>;

/// A loopback server that answers with `answer(path)` and records each request's headers.
struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
}

impl Recorder {
    async fn start(answer: Answer) -> std::io::Result<Recorder> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let answer = answer.clone();
                let log = log.clone();
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let mut headers: BTreeMap<String, String> = request
                        .headers()
                        .iter()
                        .map(|(k, v)| {
                            (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into())
                        })
                        .collect();
                    headers.insert(":uri".into(), request.uri().to_string());
                    if let Ok(mut log) = log.lock() {
                        log.push(headers);
                    }
                    let (status, headers, body) = answer(request.uri().path());
                    let mut response = Response::new(Full::new(Bytes::from(body)));
                    *response.status_mut() =
                        hyper::StatusCode::from_u16(status).unwrap_or_default();
                    for (name, value) in headers {
                        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
                            response.headers_mut().insert(name, value);
                        }
                    }
                    async move { Ok::<_, Infallible>(response) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Ok(Recorder { addr, seen })
    }

    /// A server answering every path with one empty page.
    async fn empty_page() -> std::io::Result<Recorder> {
        Recorder::start(Arc::new(|_| (200, Vec::new(), r#"{"data": []}"#.to_owned()))).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(usize::MAX)
    }

    fn saw_value(&self, needle: &str) -> bool {
        self.seen
            .lock()
            .map(|s| s.iter().flat_map(|h| h.values()).any(|v| v.contains(needle)))
            .unwrap_or(true)
    }
}

fn source(url: String, headers: &[(&str, &str)]) -> HttpSource {
    HttpSource {
        url,
        records_path: "data".into(),
        cursor_path: None,
        records_per_file: 100,
        headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        url_secrets: BTreeMap::new(),
        rate_limit_per_second: 0.0,
        timeout_seconds: 5,
        max_attempts: 1,
    }
}

/// Answers every `env:` name with a value that must never leave: the function's credentials.
fn leaky_env() -> LocalSecrets {
    LocalSecrets::with_lookup(|name| Some(format!("LEAKED-{name}")))
}

async fn run(
    source: &HttpSource,
    secrets: &impl SecretResolver,
    options: &HttpOptions,
) -> Result<crate::ExtractResult, ExtractError> {
    let env = env().await.map_err(|e| ExtractError::BadSource(e.to_string()))?;
    extract_http_with(source, &window(), &env.store, BUCKET, DATASET, secrets, options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_cannot_name_the_functions_credentials_or_another_datasets_secret() -> TestResult {
    let target = Recorder::empty_page().await?;
    let options = HttpOptions::default();
    for (reference, expected) in [
        ("env:AWS_SECRET_ACCESS_KEY", "AWS_* variables hold the function's own credentials"),
        ("env:AWS_SESSION_TOKEN", "AWS_* variables"),
        ("env:aws_access_key_id", "AWS_* variables"),
        ("env:HOME", "only variables named GRAPHETL_SECRET_*"),
        ("ssm:/graphetl/other-dataset/token", "expected ssm:/graphetl/service-calls/NAME"),
        ("ssm:/graphetl/service-calls/../other/token", "outside this dataset's secrets"),
        (
            "secretsmanager:graphetl/other/api",
            "expected secretsmanager:graphetl/service-calls/NAME",
        ),
        ("secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:x", "outside this dataset"),
    ] {
        let spec = source(target.url("/api"), &[("X-Api-Key", reference)]);
        let error = run(&spec, &leaky_env(), &options).await.err().ok_or("should be refused")?;
        assert!(
            matches!(&error, ExtractError::Secret { source, .. } if source.kind() == SecretErrorKind::Refused),
            "{reference}: {error:?}"
        );
        assert_eq!(error.error_name(), ErrorName::BadSpec);
        assert!(error.to_string().contains(expected), "{reference}: {error}");
        assert!(!error.to_string().contains("LEAKED"), "{error}");
    }
    assert_eq!(target.requests(), 0, "no request was sent");

    // The resolver refuses too, for a reference that did not come through the spec rules.
    let direct = leaky_env().resolve_now(&SecretRef::Env("AWS_SECRET_ACCESS_KEY".into()));
    assert_eq!(direct.err().map(|e| e.kind()), Some(SecretErrorKind::Refused));

    // A prefixed variable is read and sent.
    let spec = source(target.url("/api"), &[("X-Api-Key", "env:GRAPHETL_SECRET_API_KEY")]);
    run(&spec, &leaky_env(), &options).await?;
    assert_eq!(target.requests(), 1);
    assert!(target.saw_value("LEAKED-GRAPHETL_SECRET_API_KEY"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_the_deployment_does_not_allow_is_refused_before_any_request() -> TestResult {
    let target = Recorder::empty_page().await?;
    let spec = source(target.url("/api"), &[]);
    for hosts in
        [SourceHosts::from_list("api.example.com, data.example.org"), SourceHosts::from_list("")]
    {
        let options = HttpOptions { hosts: hosts.clone(), ..HttpOptions::default() };
        let error = run(&spec, &leaky_env(), &options).await.err().ok_or("should be refused")?;
        assert!(matches!(error, ExtractError::Refused { .. }), "{error:?}");
        assert_eq!(error.error_name(), ErrorName::BadSpec);
        let text = error.to_string();
        assert!(text.contains("host 127.0.0.1 is not allowed"), "{text}");
        assert!(text.contains("GRAPHETL_SOURCE_ALLOWED_HOSTS"), "{text}");
    }
    assert_eq!(target.requests(), 0, "no request was sent");

    let allowed =
        HttpOptions { hosts: SourceHosts::from_list("127.0.0.1"), ..HttpOptions::default() };
    run(&spec, &leaky_env(), &allowed).await?;
    assert_eq!(target.requests(), 1, "a listed host is fetched");
    Ok(())
}

/// Counts lookups, so a refusal can be shown to come before any secret is read.
#[derive(Default)]
struct CountingSecrets(AtomicUsize);

impl SecretResolver for CountingSecrets {
    async fn resolve(&self, _reference: &SecretRef) -> Result<Secret, SecretError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Secret::new("s3cr3t-value"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_header_over_cleartext_http_is_refused_before_it_is_read() -> TestResult {
    let secrets = CountingSecrets::default();
    let hosts =
        HttpOptions { hosts: SourceHosts::from_list("api.example.com"), ..HttpOptions::default() };
    let spec = source(
        "http://api.example.com/calls?start={start}".into(),
        &[("Authorization", "env:GRAPHETL_SECRET_TOKEN")],
    );
    let error = run(&spec, &secrets, &hosts).await.err().ok_or("should be refused")?;
    assert!(matches!(error, ExtractError::Refused { .. }), "{error:?}");
    assert!(error.to_string().contains("cleartext to api.example.com; use https://"), "{error}");
    assert_eq!(secrets.0.load(Ordering::SeqCst), 0, "the secret was never even read");

    // A scheme other than http(s) is refused whatever the headers.
    let spec = source("file:///etc/passwd".into(), &[]);
    let error = run(&spec, &secrets, &HttpOptions::default()).await.err().ok_or("refused")?;
    assert!(matches!(error, ExtractError::Refused { .. }), "{error:?}");

    // Loopback http carries secrets (they never leave the machine: local tests, local sources).
    let target = Recorder::empty_page().await?;
    let spec = source(target.url("/api"), &[("Authorization", "env:GRAPHETL_SECRET_TOKEN")]);
    run(&spec, &secrets, &HttpOptions::default()).await?;
    assert!(target.saw_value("s3cr3t-value"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_header_never_follows_a_redirect_to_another_origin() -> TestResult {
    let elsewhere = Recorder::empty_page().await?;
    let steal = elsewhere.url("/steal");
    let origin = Recorder::start(Arc::new(move |path| match path {
        "/moved" => (302, vec![("location", "/api".to_owned())], String::new()),
        "/api" => (200, Vec::new(), r#"{"data": [{"a": 1}]}"#.to_owned()),
        _ => (302, vec![("location", steal.clone())], String::new()),
    }))
    .await?;
    let headers = [("X-Api-Key", "env:GRAPHETL_SECRET_KEY")];

    let spec = source(origin.url("/redirect-away"), &headers);
    let error = run(&spec, &leaky_env(), &HttpOptions::default()).await.err().ok_or("refused")?;
    assert!(matches!(error, ExtractError::Refused { .. }), "{error:?}");
    assert_eq!(error.error_name(), ErrorName::BadSpec, "not retried");
    let text = error.to_string();
    assert!(
        text.contains("HTTP 302 Found to") && text.contains("only same-origin redirects"),
        "{text}"
    );
    assert_eq!(elsewhere.requests(), 0, "nothing reached the other server");
    assert_eq!(origin.requests(), 1);

    // A same-origin redirect is followed, with the header.
    let spec = source(origin.url("/moved"), &headers);
    let result = run(&spec, &leaky_env(), &HttpOptions::default()).await?;
    assert_eq!(result.records, 1);
    assert_eq!(origin.requests(), 3);
    assert_eq!(elsewhere.requests(), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_over_the_size_cap_fails_naming_the_page() -> TestResult {
    let big = format!(r#"{{"data": ["{}"]}}"#, "x".repeat(64 * 1024));
    let target = Recorder::start(Arc::new(move |_| (200, Vec::new(), big.clone()))).await?;
    let spec = source(target.url("/huge"), &[]);
    let options = HttpOptions { max_page_bytes: 16 * 1024, ..HttpOptions::default() };
    let error = run(&spec, &leaky_env(), &options).await.err().ok_or("should fail")?;
    assert!(matches!(error, ExtractError::PageTooLarge { limit: 16384, .. }), "{error:?}");
    assert!(error.to_string().contains("/huge: the page is larger than 16384 bytes"), "{error}");
    assert_eq!(error.error_name(), ErrorName::SourceRejected);
    let roomy = HttpOptions { max_page_bytes: 1024 * 1024, ..HttpOptions::default() };
    assert_eq!(run(&spec, &leaky_env(), &roomy).await?.records, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_crossing_the_snippet_cut_is_redacted_whole() -> TestResult {
    const VALUE: &str = "LEAKED-GRAPHETL_SECRET_KEY";
    // The echoed secret starts 290 characters in: the 300-character cut falls inside it.
    let body = format!("{} {VALUE} trailing", "e".repeat(289));
    let target = Recorder::start(Arc::new(move |_| (403, Vec::new(), body.clone()))).await?;
    let spec = source(target.url("/api"), &[("X-Api-Key", "env:GRAPHETL_SECRET_KEY")]);
    let error = run(&spec, &leaky_env(), &HttpOptions::default()).await.err().ok_or("rejected")?;
    assert!(matches!(error, ExtractError::Rejected { status: 403, .. }), "{error:?}");
    let text = format!("{error} {error:?}");
    assert!(!text.contains("LEAKED"), "no part of the secret: {text}");
    assert!(text.contains("<redac"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_secret_reaches_only_the_request_and_is_redacted_everywhere_else() -> TestResult {
    // The API wants ?api_key=…: the spec writes {secret.key}, never the key.
    let secrets = LocalSecrets::with_lookup(|name| {
        (name == "GRAPHETL_SECRET_KEY").then(|| "k3y/with space".to_owned())
    });
    let echo = Recorder::start(Arc::new(|_| (401, Vec::new(), "bad key".to_owned()))).await?;
    let mut spec = source(echo.url("/api?api_key={secret.key}&start={start}"), &[]);
    spec.url_secrets.insert("key".into(), "env:GRAPHETL_SECRET_KEY".into());
    let error = run(&spec, &secrets, &HttpOptions::default()).await.err().ok_or("rejected")?;
    assert!(matches!(error, ExtractError::Rejected { status: 401, .. }), "{error:?}");
    assert!(echo.saw_value("/api?api_key=k3y%2Fwith%20space&start="), "the request has the key");
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("api_key={secret.key}") && !shown.contains("k3y"), "{shown}");

    // A connection error's message (which quotes the URL) is redacted too.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = closed.local_addr()?.port();
    drop(closed);
    spec.url = format!("http://127.0.0.1:{port}/api?api_key={{secret.key}}");
    let error = run(&spec, &secrets, &HttpOptions::default()).await.err().ok_or("unreachable")?;
    assert!(matches!(error, ExtractError::Unavailable { .. }), "{error:?}");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("k3y"), "{shown}");

    // The same rules as headers: not another dataset's secret, not the function's credentials.
    spec.url_secrets.insert("key".into(), "env:AWS_SECRET_ACCESS_KEY".into());
    let error = run(&spec, &leaky_env(), &HttpOptions::default()).await.err().ok_or("refused")?;
    assert!(
        error.to_string().contains("{secret.key}: env:AWS_SECRET_ACCESS_KEY is refused"),
        "{error}"
    );
    Ok(())
}
