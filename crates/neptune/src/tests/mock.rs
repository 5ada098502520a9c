//! A loopback mock of Neptune's Gremlin HTTP endpoint (hyper 1 on a tokio listener). It records
//! every request (connection, arrival and answer order, headers, body), checks its SigV4
//! signature with the reference signer, plays scripted replies in arrival order (success after
//! the script runs out) and simulates latency with tokio's clock. Below it, the client fixtures
//! the http, writers and load tests share.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::http::{Auth, ClientConfig, NeptuneClient, StaticCredentials};
use tokio::task::JoinHandle;

use super::sigv4::Signable;

/// One scripted reply.
#[derive(Debug, Clone)]
pub(super) enum Reply {
    /// Success after `latency` (the server's default latency if `None`).
    Ok(Option<Duration>),
    /// Neptune's error body with this status and code.
    Error { status: u16, code: &'static str, message: &'static str },
    /// A raw body (a proxy's page, garbage).
    Raw { status: u16, body: &'static str },
    /// A body built by the test (stream pages, loader answers).
    Body { status: u16, body: String },
    /// HTTP 307 to `location` (a hostile proxy or a hijacked endpoint).
    Redirect { location: String },
}

impl Reply {
    pub(super) fn error(status: u16, code: &'static str) -> Reply {
        Reply::Error { status, code, message: "injected by the mock" }
    }
}

/// What signature the server expects.
#[derive(Debug, Clone)]
pub(super) struct Expect {
    pub(super) access_key: String,
    pub(super) secret: String,
    pub(super) region: String,
    pub(super) token: Option<String>,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(super) struct Recorded {
    pub(super) connection: u64,
    pub(super) arrived: u64,
    pub(super) answered: Option<u64>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: String,
    /// `METHOD /path?query`.
    pub(super) target: String,
    pub(super) gremlin: String,
    /// `Err` with the reason when the signature (or its absence) was wrong.
    pub(super) auth_check: Result<(), String>,
    pub(super) status: Option<u16>,
}

impl Recorded {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub(super) fn is_edge_request(&self) -> bool {
        self.gremlin.starts_with("g.mergeE") || self.gremlin.contains(".outE(")
    }
}

#[derive(Debug)]
struct State {
    script: Mutex<VecDeque<Reply>>,
    log: Mutex<Vec<Recorded>>,
    clock: AtomicU64,
    connections: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    latency: Duration,
    expect: Option<Expect>,
    untyped: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The server; stops when dropped.
pub(super) struct MockNeptune {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for MockNeptune {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockNeptune {
    /// Starts on 127.0.0.1 with a random port. `expect: None` means requests must be unsigned.
    pub(super) async fn start(expect: Option<Expect>, latency: Duration) -> MockNeptune {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("binding the mock: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let state = Arc::new(State {
            script: Mutex::new(VecDeque::new()),
            log: Mutex::new(Vec::new()),
            clock: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            latency,
            expect,
            untyped: AtomicU64::new(0),
        });
        let server_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let connection = server_state.connections.fetch_add(1, Ordering::SeqCst) + 1;
                let state = Arc::clone(&server_state);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(Arc::clone(&state), connection, request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        MockNeptune { addr, state, task }
    }

    pub(super) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(super) fn host(&self) -> String {
        self.addr.to_string()
    }

    pub(super) fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state.script).extend(replies);
    }

    pub(super) fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.log).clone()
    }

    pub(super) fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    pub(super) fn untyped_answers(&self) -> u64 {
        self.state.untyped.load(Ordering::SeqCst)
    }

    /// Every request was signed as expected (or unsigned when nothing was expected).
    pub(super) fn assert_all_authenticated(&self) {
        for (i, request) in self.requests().iter().enumerate() {
            if let Err(reason) = &request.auth_check {
                panic!("request {i}: {reason}\n{:?}", request.headers);
            }
        }
    }
}

/// The id after the last `(T.id):'` of a query: what `….id()` returns.
fn last_id(gremlin: &str) -> String {
    let marker = "(T.id):'";
    gremlin
        .rfind(marker)
        .map(|at| &gremlin[at + marker.len()..])
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or("?")
        .to_owned()
}

fn check_auth(
    expect: Option<&Expect>,
    headers: &[(String, String)],
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<(), String> {
    let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let Some(expect) = expect else {
        return match get("authorization") {
            None => Ok(()),
            Some(a) => Err(format!("unexpected authorization header {a}")),
        };
    };
    let authorization = get("authorization").ok_or("no authorization header")?;
    let amz_date = get("x-amz-date").ok_or("no x-amz-date header")?;
    let well_formed_date = amz_date.len() == 16
        && amz_date.as_bytes().get(8) == Some(&b'T')
        && amz_date.ends_with('Z')
        && amz_date.bytes().enumerate().all(|(i, b)| i == 8 || i == 15 || b.is_ascii_digit());
    if !well_formed_date {
        return Err(format!("x-amz-date {amz_date} is not YYYYMMDDTHHMMSSZ"));
    }
    let rest = authorization
        .strip_prefix("AWS4-HMAC-SHA256 Credential=")
        .ok_or_else(|| format!("authorization {authorization} is not AWS4-HMAC-SHA256"))?;
    let mut parts = rest.split(", ");
    let credential = parts.next().unwrap_or("");
    let signed_headers = parts.next().and_then(|p| p.strip_prefix("SignedHeaders=")).unwrap_or("");
    let signature = parts.next().and_then(|p| p.strip_prefix("Signature=")).unwrap_or("");
    let scope = format!(
        "{}/{}/{}/neptune-db/aws4_request",
        expect.access_key,
        amz_date.get(..8).unwrap_or(""),
        expect.region
    );
    if credential != scope {
        return Err(format!("credential {credential}, expected {scope}"));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("signature {signature} is not 64 hex digits"));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    for required in ["host", "x-amz-date", "content-type"] {
        if required == "content-type" && method == "GET" {
            continue;
        }
        if !names.contains(&required) {
            return Err(format!("{required} is not signed: {signed_headers}"));
        }
    }
    match (&expect.token, get("x-amz-security-token")) {
        (Some(token), Some(sent)) if token == sent => {
            if !names.contains(&"x-amz-security-token") {
                return Err("the session token is not signed".into());
            }
        }
        (None, None) => {}
        (expected, sent) => {
            return Err(format!("session token {sent:?}, expected {expected:?}"));
        }
    }
    let mut signed = Vec::new();
    for name in &names {
        let value = get(name).ok_or_else(|| format!("signed header {name} was not sent"))?;
        signed.push(((*name).to_owned(), value.to_owned()));
    }
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_unstable();
    let canonical_query = pairs.join("&");
    let reference = Signable {
        method,
        query: &canonical_query,
        path,
        headers: signed,
        body,
        amz_date,
        region: &expect.region,
        service: "neptune-db",
    };
    let expected = reference.signature(&expect.secret);
    if signature != expected {
        return Err(format!("signature {signature}, the reference signer gives {expected}"));
    }
    Ok(())
}

async fn handle(
    state: Arc<State>,
    connection: u64,
    request: hyper::Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let gremlin = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("gremlin").and_then(|g| g.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let route = (parts.method.as_str(), parts.uri.path());
    let known = matches!(
        route,
        ("POST", "/gremlin") | ("GET", "/propertygraph/stream") | ("POST", "/loader")
    ) || (route.0 == "GET" && route.1.starts_with("/loader/"));
    let auth_check = if known {
        let query = parts.uri.query().unwrap_or("");
        check_auth(state.expect.as_ref(), &headers, route.0, route.1, query, &body)
    } else {
        Err(format!("{} {} is not a route of the mock", parts.method, parts.uri))
    };
    let untyped = headers.iter().any(|(n, v)| n == "accept" && v.contains("types=false"));
    let index = {
        let mut log = lock(&state.log);
        log.push(Recorded {
            connection,
            arrived: state.clock.fetch_add(1, Ordering::SeqCst),
            answered: None,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            target: format!("{} {}", parts.method, parts.uri),
            gremlin: gremlin.clone(),
            auth_check,
            status: None,
        });
        log.len() - 1
    };
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = lock(&state.script).pop_front().unwrap_or(Reply::Ok(None));
    let mut redirect = None;
    let (status, text) = match reply {
        Reply::Ok(latency) => {
            tokio::time::sleep(latency.unwrap_or(state.latency)).await;
            let id = last_id(&gremlin);
            let text = if untyped {
                state.untyped.fetch_add(1, Ordering::SeqCst);
                serde_json::json!({
                    "requestId": format!("mock-{index}"),
                    "status": {"message": "", "code": 200, "attributes": {}},
                    "result": {"data": [id], "meta": {}}
                })
            } else {
                serde_json::json!({
                    "requestId": format!("mock-{index}"),
                    "status": {"message": "", "code": 200,
                               "attributes": {"@type": "g:Map", "@value": []}},
                    "result": {"data": {"@type": "g:List", "@value": [id]},
                               "meta": {"@type": "g:Map", "@value": []}}
                })
            };
            (200, text.to_string())
        }
        Reply::Error { status, code, message } => {
            tokio::time::sleep(state.latency).await;
            let text = serde_json::json!({
                "requestId": format!("mock-{index}"),
                "code": code,
                "detailedMessage": message,
            });
            (status, text.to_string())
        }
        Reply::Raw { status, body } => (status, body.to_owned()),
        Reply::Body { status, body } => {
            tokio::time::sleep(state.latency).await;
            (status, body)
        }
        Reply::Redirect { location } => {
            redirect = Some(location);
            (307, String::new())
        }
    };
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    if let Some(record) = lock(&state.log).get_mut(index) {
        record.answered = Some(state.clock.fetch_add(1, Ordering::SeqCst));
        record.status = Some(status);
    }
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(location) = redirect.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(hyper::header::LOCATION, location);
    }
    Ok(response)
}

pub(super) const REGION: &str = "us-west-2";

pub(super) fn expect(token: Option<&str>) -> Expect {
    Expect {
        access_key: "AKIDMOCK".into(),
        secret: "mock/secret+key".into(),
        region: REGION.into(),
        token: token.map(str::to_owned),
    }
}

pub(super) fn iam(token: Option<&str>) -> Auth {
    Auth::Iam {
        region: REGION.into(),
        credentials: Arc::new(StaticCredentials::new(
            "AKIDMOCK",
            "mock/secret+key",
            token.map(str::to_owned),
        )),
    }
}

/// Test configuration: no client-side timers (on a paused clock a pending timeout would be
/// advanced to while the runtime waits for loopback I/O), seeded jitter.
pub(super) fn config(mock: &MockNeptune, auth: Auth) -> ClientConfig {
    let mut config = ClientConfig::new(mock.endpoint(), auth);
    config.connect_timeout = None;
    config.request_timeout = None;
    config.pool_idle_timeout = None;
    config.jitter_seed = Some(42);
    config
}

pub(super) fn client(config: ClientConfig) -> NeptuneClient {
    NeptuneClient::new(config).unwrap_or_else(|e| panic!("{e}"))
}
