//! A local HTTP source: the service-calls API shape served on 127.0.0.1, so the `http` source
//! kind runs without the internet (`graphetl serve-source`, `run --local`, tests).
//!
//! `GET /api/calls?start=T&end=T&cursor=C` answers `{"data": [...], "next_cursor": "…" | null}`
//! with the records whose instant is in `[start, end)`, `page_size` at a time, in time order;
//! the cursor is the offset of the next page. Generated records are made page by page as they
//! are asked for, so serving ten million of them holds no more than a page. Failure injection answers every Nth request
//! with 429 (`Retry-After`) or 503 instead, and a required header answers 401 when missing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::generator::{GeneratedRecords, GeneratorConfig, TimedRecord};

/// What an injected failure answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFailure {
    /// 429 Too Many Requests with `Retry-After: <seconds>`.
    TooManyRequests {
        /// The `Retry-After` value.
        retry_after_seconds: u64,
    },
    /// 503 Service Unavailable (no `Retry-After`).
    Unavailable,
}

/// How the local source answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Records per page (at least 1).
    pub page_size: usize,
    /// Answer every Nth request (1st, 2nd… counted from 1) with `failure`; 0 = never.
    pub fail_every: u64,
    /// The injected answer.
    pub failure: InjectedFailure,
    /// A header (name, value) every request must carry, else 401.
    pub require_header: Option<(String, String)>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            page_size: 1000,
            fail_every: 0,
            failure: InjectedFailure::Unavailable,
            require_header: None,
        }
    }
}

/// What the source serves: records it was given, or generated ones made on demand.
enum Records {
    Held(Vec<TimedRecord>),
    Generated(GeneratedRecords),
}

impl Records {
    /// The index of the first record at or after `millis`.
    fn partition_point(&self, millis: i64) -> u64 {
        match self {
            Records::Held(records) => records.partition_point(|r| r.at_millis < millis) as u64,
            Records::Generated(records) => records.partition_point(millis),
        }
    }

    /// Writes records `from..to` as a JSON array into `out`.
    fn write_json(&self, from: u64, to: u64, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'[');
        for index in from..to {
            if index > from {
                out.push(b',');
            }
            match self {
                Records::Held(records) => {
                    if let Some(r) = usize::try_from(index).ok().and_then(|i| records.get(i)) {
                        serde_json::to_writer(&mut *out, &r.record)?;
                    }
                }
                Records::Generated(records) => {
                    serde_json::to_writer(&mut *out, &records.record(index).record)?;
                }
            }
        }
        out.push(b']');
        Ok(())
    }
}

/// A page being made ahead of its request: (window's first record, page's offset, window's
/// end record), and the body.
type Prefetch = ((u64, u64, u64), JoinHandle<serde_json::Result<Vec<u8>>>);

struct State {
    records: Records,
    options: ServeOptions,
    requests: AtomicU64,
    /// Generated records only: the page after the one last answered, made on a blocking
    /// thread while the client works on the one it has (clients page in order).
    prefetch: std::sync::Mutex<Option<Prefetch>>,
}

/// A running local source; it stops when dropped.
pub struct LocalSource {
    addr: SocketAddr,
    state: Arc<State>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LocalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSource").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl LocalSource {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `[source] url` template to point a spec at this server.
    pub fn url_template(&self) -> String {
        format!("http://{}/api/calls?start={{start}}&end={{end}}&cursor={{cursor}}", self.addr)
    }

    /// Requests answered so far (injected failures included).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Stops serving and waits until the server task is gone.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // Aborted on purpose: a cancelled JoinError is the expected outcome.
            let _ = task.await;
        }
    }
}

impl Drop for LocalSource {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves `records` on `addr` (port 0 picks a free one) on the current tokio runtime.
pub async fn serve_source(
    mut records: Vec<TimedRecord>,
    options: ServeOptions,
    addr: SocketAddr,
) -> std::io::Result<LocalSource> {
    records.sort_by_key(|r| r.at_millis);
    serve(Records::Held(records), options, addr).await
}

/// Serves the records `config` generates, each made when a page asks for it.
pub async fn serve_generated(
    config: &GeneratorConfig,
    options: ServeOptions,
    addr: SocketAddr,
) -> std::io::Result<LocalSource> {
    serve(Records::Generated(GeneratedRecords::new(config)), options, addr).await
}

async fn serve(
    records: Records,
    options: ServeOptions,
    addr: SocketAddr,
) -> std::io::Result<LocalSource> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(State {
        records,
        options,
        requests: AtomicU64::new(0),
        prefetch: std::sync::Mutex::new(None),
    });
    let task = tokio::spawn(accept_loop(listener, state.clone()));
    tracing::info!(%addr, "local source listening");
    Ok(LocalSource { addr, state, task: Some(task) })
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request: Request<Incoming>| {
                            let state = state.clone();
                            async move { Ok::<_, Infallible>(state.answer(&request).await) }
                        });
                        if let Err(e) =
                            http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
                        {
                            tracing::debug!(error = %e, "local source connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "local source cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

fn respond(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Decodes `%XX` and `+` in a query value.
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| decode(value))
    })
}

fn millis(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| t.timestamp_millis())
}

impl State {
    async fn answer(self: &Arc<Self>, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if request.uri().path() != "/api/calls" {
            return respond(StatusCode::NOT_FOUND, &json!({"error": "no such resource"}));
        }
        if let Some((name, value)) = &self.options.require_header {
            let given = request.headers().get(name.as_str()).and_then(|v| v.to_str().ok());
            if given != Some(value.as_str()) {
                return respond(
                    StatusCode::UNAUTHORIZED,
                    &json!({"error": "missing or wrong credentials"}),
                );
            }
        }
        if self.options.fail_every > 0 && n.is_multiple_of(self.options.fail_every) {
            return match self.options.failure {
                InjectedFailure::TooManyRequests { retry_after_seconds } => {
                    let mut response =
                        respond(StatusCode::TOO_MANY_REQUESTS, &json!({"error": "slow down"}));
                    if let Ok(value) = retry_after_seconds.to_string().parse() {
                        response.headers_mut().insert(hyper::header::RETRY_AFTER, value);
                    }
                    response
                }
                InjectedFailure::Unavailable => {
                    respond(StatusCode::SERVICE_UNAVAILABLE, &json!({"error": "try later"}))
                }
            };
        }
        let query = request.uri().query().unwrap_or("");
        let (Some(start), Some(end)) = (
            query_param(query, "start").as_deref().and_then(millis),
            query_param(query, "end").as_deref().and_then(millis),
        ) else {
            return respond(
                StatusCode::BAD_REQUEST,
                &json!({"error": "start and end must be RFC 3339 times"}),
            );
        };
        let cursor = query_param(query, "cursor").unwrap_or_default();
        let offset = if cursor.is_empty() {
            0
        } else {
            match cursor.parse::<usize>() {
                Ok(offset) => offset,
                Err(_) => {
                    return respond(StatusCode::BAD_REQUEST, &json!({"error": "bad cursor"}));
                }
            }
        };
        let from = self.records.partition_point(start);
        let to = self.records.partition_point(end).max(from);
        let in_window = to - from;
        let page_size = self.options.page_size.max(1) as u64;
        let begin = (offset as u64).min(in_window);
        let stop = begin.saturating_add(page_size).min(in_window);
        let ready = self.take_prefetched((from, begin, to)).await;
        let body = match ready {
            Some(body) => body,
            None => self.page_body(from, begin, stop, in_window),
        };
        if stop < in_window && matches!(self.records, Records::Generated(_)) {
            let next_stop = stop.saturating_add(page_size).min(in_window);
            let state = self.clone();
            let task = tokio::task::spawn_blocking(move || {
                state.page_body(from, stop, next_stop, in_window)
            });
            if let Ok(mut slot) = self.prefetch.lock() {
                *slot = Some(((from, stop, to), task));
            }
        }
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                return respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"error": format!("a record cannot be written: {e}")}),
                );
            }
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        response
    }

    /// The prefetched body of the page `key` names, if that is the one made.
    async fn take_prefetched(&self, key: (u64, u64, u64)) -> Option<serde_json::Result<Vec<u8>>> {
        let taken = self.prefetch.lock().ok().and_then(|mut slot| slot.take())?;
        match taken {
            (made, task) if made == key => task.await.ok(),
            (_, task) => {
                task.abort();
                None
            }
        }
    }

    /// The body of the page holding records `begin..stop` of the window starting at `from`.
    fn page_body(
        &self,
        from: u64,
        begin: u64,
        stop: u64,
        in_window: u64,
    ) -> serde_json::Result<Vec<u8>> {
        let mut body = Vec::with_capacity(((stop - begin) as usize).saturating_mul(320) + 64);
        body.extend_from_slice(b"{\"data\":");
        self.records.write_json(from + begin, from + stop, &mut body)?;
        body.extend_from_slice(b",\"next_cursor\":");
        match (stop < in_window).then(|| stop.to_string()) {
            Some(next) => body.extend_from_slice(format!("\"{next}\"").as_bytes()),
            None => body.extend_from_slice(b"null"),
        }
        body.push(b'}');
        Ok(body)
    }
}
