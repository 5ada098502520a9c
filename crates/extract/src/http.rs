//! The `http` source kind: page a JSON API over a window with a cursor, politely.
//!
//! Each page is fetched under the rate limit (one request every `1 / rate` seconds at most,
//! retries included), with a per-request timeout. 429, 408, 5xx, timeouts and connection
//! errors are retried up to `max_attempts` times per page, waiting what `Retry-After` says
//! (seconds or an HTTP date, capped) or else a capped exponential backoff with jitter; any other
//! 4xx fails at once. Header values are resolved once, marked sensitive, and never logged; a
//! rejected page's body is quoted in the error only with every secret value blanked out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::SecondsFormat;
use graphetl_core::backoff;
use graphetl_core::contract::{ExtractResult, Window};
use graphetl_core::spec::HttpSource;
use graphetl_storage::ObjectStore;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::value::RawValue;

use crate::ExtractError;
use crate::clock::{Clock, TokioClock};
use crate::secrets::{SecretRef, SecretResolver};
use crate::writer::PartWriter;

/// Which hosts an `http` source may reach: the egress rule of the run, set by whoever runs the
/// extract, never by the spec (whose URL is what the rule guards against).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SourceHosts {
    /// A local run on the user's own machine (the default): the host of the spec's URL, and
    /// every page and redirect stays on it.
    #[default]
    SpecHost,
    /// The deployed function: only these hosts (exact names or IP literals, any port), from
    /// `GRAPHETL_SOURCE_ALLOWED_HOSTS` (the template's `SourceAllowedHosts`); empty refuses
    /// every `http` source.
    Only(Vec<String>),
}

impl SourceHosts {
    /// Parses a comma-separated host list (`GRAPHETL_SOURCE_ALLOWED_HOSTS`) into [`SourceHosts::Only`].
    pub fn from_list(list: &str) -> SourceHosts {
        SourceHosts::Only(
            list.split(',')
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        )
    }
}

/// Longest page body read by default (16 MiB): a page is parsed whole, so a 512 MB function
/// must not be asked for one without bound.
pub const DEFAULT_MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;

/// Longest rejected body read for an error message.
const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;

/// How pages are retried and paced; the defaults suit a real API.
#[derive(Clone)]
pub struct HttpOptions {
    /// The hosts the source may reach.
    pub hosts: SourceHosts,
    /// Longest page body; a longer one fails with [`ExtractError::PageTooLarge`].
    pub max_page_bytes: u64,
    /// The clock the rate limit and the backoff sleep on.
    pub clock: Arc<dyn Clock>,
    /// First backoff delay (doubled per attempt).
    pub backoff_base: Duration,
    /// Longest backoff delay.
    pub backoff_cap: Duration,
    /// Longest wait a `Retry-After` may ask for.
    pub max_retry_after: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            hosts: SourceHosts::default(),
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
            clock: Arc::new(TokioClock::default()),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("hosts", &self.hosts)
            .field("max_page_bytes", &self.max_page_bytes)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_cap", &self.backoff_cap)
            .field("max_retry_after", &self.max_retry_after)
            .finish_non_exhaustive()
    }
}

/// Pages `source` over `window` into raw files of `dataset` in `bucket`, with default options.
pub async fn extract_http<S: ObjectStore, R: SecretResolver>(
    source: &HttpSource,
    window: &Window,
    store: &S,
    bucket: &str,
    dataset: &str,
    secrets: &R,
) -> Result<ExtractResult, ExtractError> {
    extract_http_with(source, window, store, bucket, dataset, secrets, &HttpOptions::default())
        .await
}

/// [`extract_http`] with explicit retry, pacing and clock options.
pub async fn extract_http_with<S: ObjectStore, R: SecretResolver>(
    source: &HttpSource,
    window: &Window,
    store: &S,
    bucket: &str,
    dataset: &str,
    secrets: &R,
    options: &HttpOptions,
) -> Result<ExtractResult, ExtractError> {
    // Every rule is checked before a secret is read or a request is sent.
    let references = parse_headers(source, dataset)?;
    let url_references = parse_url_secrets(source, dataset)?;
    let secret_headers =
        references.iter().any(|(_, r)| r.is_secret()) || !url_references.is_empty();
    let first = render_url(&source.url, window, "");
    let origin = Egress::new(&options.hosts, &first, secret_headers)?;
    let (headers, mut secret_values) = resolve_headers(&references, secrets).await?;
    let mut url_values = Vec::new();
    for (placeholder, reference) in &url_references {
        let value = secrets
            .resolve(reference)
            .await
            .map_err(|source| ExtractError::Secret { header: placeholder.clone(), source })?;
        let encoded = encode(value.expose());
        if !value.expose().is_empty() {
            secret_values.push(value.expose().to_owned());
            secret_values.push(encoded.clone());
        }
        url_values.push((placeholder.clone(), encoded));
    }
    let client = build_client(source)?;
    let mut fetcher = Fetcher {
        client,
        headers,
        secret_values,
        egress: origin,
        source,
        options,
        limiter: Limiter::new(source.rate_limit_per_second),
        rng: fastrand::Rng::new(),
        stats: FetchStats::default(),
    };
    let mut parts = PartWriter::new(store, bucket, dataset, window, source.records_per_file);
    let mut cursor = String::new();
    let mut pages = 0u64;
    // `url` is what errors and logs show: URL secrets stay `{secret.NAME}` there and are
    // filled in only for the request.
    let mut url = render_url(&source.url, window, &cursor);
    let request = fill_url_secrets(&url, &url_values);
    fetcher.egress.check(&request, &url)?;
    let mut body = fetcher.fetch(&request, &url).await?;
    loop {
        pages += 1;
        let page = read_page(&body, &source.records_path, source.cursor_path.as_deref())
            .map_err(|reason| ExtractError::BadPage { url: url.clone(), reason })?;
        tracing::debug!(url = %url, records = page.records.len(), "page");
        let next = match page.next_cursor {
            None => None,
            Some(next) if next == cursor => {
                return Err(ExtractError::BadPage {
                    url,
                    reason: format!(
                        "the next cursor is the same as this page's (\"{next}\"); the source would be paged forever"
                    ),
                });
            }
            Some(next) => Some(next),
        };
        let Some(next) = next else {
            write_records(&mut parts, &page.records).await?;
            break;
        };
        // The next page is asked for before this one is written: the source prepares it
        // while this page is compressed.
        let next_url = render_url(&source.url, window, &next);
        let next_request = fill_url_secrets(&next_url, &url_values);
        fetcher.egress.check(&next_request, &next_url)?;
        let (next_body, ()) = tokio::try_join!(
            fetcher.fetch(&next_request, &next_url),
            write_records(&mut parts, &page.records)
        )?;
        body = next_body;
        url = next_url;
        cursor = next;
    }
    let written = parts.finish().await?;
    tracing::info!(
        dataset,
        window = %window,
        prefix = %written.prefix,
        pages,
        files = written.files,
        records = written.records,
        stale_deleted = written.stale_deleted,
        "extracted"
    );
    let stats = fetcher.stats;
    Ok(ExtractResult {
        prefix: written.prefix,
        files: written.files,
        records: written.records,
        pages,
        retries: stats.retries,
        retry_wait_ms: millis(stats.retry_wait),
        rate_limit_wait_ms: millis(stats.rate_limit_wait),
    })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn parse_headers(
    source: &HttpSource,
    dataset: &str,
) -> Result<Vec<(String, SecretRef)>, ExtractError> {
    source
        .headers
        .iter()
        .map(|(name, text)| {
            SecretRef::parse_for(text, dataset)
                .map(|reference| (name.clone(), reference))
                .map_err(|source| ExtractError::Secret { header: name.clone(), source })
        })
        .collect()
}

/// The `url_secrets` as (`{secret.NAME}`, reference), under the same rules as headers.
fn parse_url_secrets(
    source: &HttpSource,
    dataset: &str,
) -> Result<Vec<(String, SecretRef)>, ExtractError> {
    source
        .url_secrets
        .iter()
        .map(|(name, text)| {
            let placeholder = format!("{{secret.{name}}}");
            SecretRef::parse_for(text, dataset)
                .map(|reference| (placeholder.clone(), reference))
                .map_err(|source| ExtractError::Secret { header: placeholder, source })
        })
        .collect()
}

/// The request URL: every `{secret.NAME}` replaced by its URL-encoded value.
fn fill_url_secrets(url: &str, values: &[(String, String)]) -> String {
    values.iter().fold(url.to_owned(), |url, (placeholder, value)| url.replace(placeholder, value))
}

async fn resolve_headers<R: SecretResolver>(
    references: &[(String, SecretRef)],
    secrets: &R,
) -> Result<(HeaderMap, Vec<String>), ExtractError> {
    let mut headers = HeaderMap::new();
    let mut secret_values = Vec::new();
    for (name, reference) in references {
        let secret_error = |source| ExtractError::Secret { header: name.clone(), source };
        let value = secrets.resolve(reference).await.map_err(secret_error)?;
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ExtractError::BadSource(format!("\"{name}\" is not a header name")))?;
        let mut header_value = HeaderValue::from_str(value.expose()).map_err(|_| {
            ExtractError::BadSource(format!(
                "the value of header {name} ({}) is not a valid header value",
                reference.describe()
            ))
        })?;
        if reference.is_secret() {
            header_value.set_sensitive(true);
            if !value.expose().is_empty() {
                secret_values.push(value.expose().to_owned());
            }
        }
        headers.insert(header, header_value);
    }
    Ok((headers, secret_values))
}

/// The egress rule of one extract: which host its pages may reach, and whether they carry
/// secrets (then `https` is required unless the host is loopback).
struct Egress {
    allowed: Vec<String>,
    setting: &'static str,
    secret_headers: bool,
}

/// A URL's scheme and host (lowercase, IPv6 without brackets), or why it has none.
fn scheme_and_host(url: &str) -> Result<(String, String), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let host = match parsed.host_str() {
        // The parser lowercases names and normalises IP literals (`[::1]`, `127.0.0.1`).
        Some(host) if !host.is_empty() => {
            host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_owned()
        }
        _ => return Err("the URL has no host".to_owned()),
    };
    Ok((parsed.scheme().to_owned(), host))
}

impl Egress {
    fn new(hosts: &SourceHosts, first: &str, secret_headers: bool) -> Result<Egress, ExtractError> {
        let (allowed, setting) = match hosts {
            SourceHosts::SpecHost => {
                let (_, host) = scheme_and_host(first)
                    .map_err(|reason| ExtractError::Refused { url: first.to_owned(), reason })?;
                (vec![host], "the spec's URL (a local run)")
            }
            SourceHosts::Only(list) => (list.clone(), "GRAPHETL_SOURCE_ALLOWED_HOSTS"),
        };
        let egress = Egress { allowed, setting, secret_headers };
        egress.check(first, first)?;
        Ok(egress)
    }

    /// Refuses `url` unless its host is allowed and a secret would not travel in cleartext;
    /// an error shows `shown` (the URL without its secrets).
    fn check(&self, url: &str, shown: &str) -> Result<(), ExtractError> {
        let refuse = |reason: String| ExtractError::Refused { url: shown.to_owned(), reason };
        let (scheme, host) = scheme_and_host(url).map_err(|_| {
            let shown_reason = scheme_and_host(shown).err().unwrap_or_else(|| "not a URL".into());
            refuse(shown_reason)
        })?;
        if scheme != "https" && scheme != "http" {
            return Err(refuse(format!("scheme {scheme}: only http and https are fetched")));
        }
        if !self.allowed.contains(&host) {
            let allowed = if self.allowed.is_empty() {
                "no host".to_owned()
            } else {
                self.allowed.join(", ")
            };
            return Err(refuse(format!(
                "host {host} is not allowed; {} allows {allowed}",
                self.setting
            )));
        }
        if scheme == "http" && self.secret_headers && !graphetl_core::spec::is_loopback_host(&host)
        {
            return Err(refuse(format!(
                "a secret header over http:// would travel in cleartext to {host}; use https://"
            )));
        }
        Ok(())
    }
}

/// Follows a redirect only to the same origin (scheme, host and port) as the page that sent
/// it, so a secret header never reaches another host and https is never downgraded; any
/// other redirect is answered as the 3xx it is (and fails as [`ExtractError::Refused`]).
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().last().is_some_and(|from| {
            from.scheme() == attempt.url().scheme()
                && from.host() == attempt.url().host()
                && from.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if same && attempt.previous().len() < 10 { attempt.follow() } else { attempt.stop() }
    })
}

fn build_client(source: &HttpSource) -> Result<reqwest::Client, ExtractError> {
    // reqwest is built without a bundled rustls provider: use aws-lc-rs, as the AWS SDK does.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile; either is fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    let timeout = Duration::from_secs(source.timeout_seconds.max(1));
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .user_agent(concat!("graphetl-extract/", env!("CARGO_PKG_VERSION")))
        .redirect(same_origin_redirects())
        .build()
        .map_err(|e| ExtractError::BadSource(format!("cannot build the HTTP client: {e}")))
}

/// Requests no more often than once per interval (retries included).
struct Limiter {
    interval: Option<Duration>,
    next: Duration,
}

impl Limiter {
    fn new(per_second: f64) -> Limiter {
        let interval = (per_second.is_finite() && per_second > 0.0)
            .then(|| Duration::try_from_secs_f64(1.0 / per_second).ok())
            .flatten();
        Limiter { interval, next: Duration::ZERO }
    }

    /// Waits for the next slot; returns how long it waited.
    async fn wait(&mut self, clock: &dyn Clock) -> Duration {
        let Some(interval) = self.interval else { return Duration::ZERO };
        let now = clock.now();
        let waited = self.next.saturating_sub(now);
        if !waited.is_zero() {
            clock.sleep(waited).await;
        }
        self.next = clock.now().max(self.next) + interval;
        waited
    }
}

enum Failure {
    Throttled { retry_after: Option<Duration> },
    Transient { reason: String, retry_after: Option<Duration> },
}

struct Fetcher<'a> {
    client: reqwest::Client,
    headers: HeaderMap,
    secret_values: Vec<String>,
    egress: Egress,
    source: &'a HttpSource,
    options: &'a HttpOptions,
    limiter: Limiter,
    rng: fastrand::Rng,
    stats: FetchStats,
}

/// What paging cost beyond the requests themselves.
#[derive(Debug, Clone, Copy, Default)]
struct FetchStats {
    /// Attempts beyond the first, over all pages.
    retries: u64,
    /// Time slept before those retries (Retry-After or backoff).
    retry_wait: Duration,
    /// Time the rate limit held requests back.
    rate_limit_wait: Duration,
}

impl Fetcher<'_> {
    /// Fetches `request`; errors and logs name `url` (the same URL without its secrets).
    async fn fetch(&mut self, request: &str, url: &str) -> Result<Vec<u8>, ExtractError> {
        let attempts = self.source.max_attempts.max(1);
        let timeout = Duration::from_secs(self.source.timeout_seconds.max(1));
        let clock = self.options.clock.as_ref();
        for attempt in 1..=attempts {
            self.stats.rate_limit_wait += self.limiter.wait(clock).await;
            let sent = self
                .client
                .get(request)
                .headers(self.headers.clone())
                .timeout(timeout)
                .send()
                .await;
            let failure = match sent {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers().get(RETRY_AFTER));
                    if status.is_success() {
                        match read_capped(response, self.options.max_page_bytes).await {
                            Ok(None) => {
                                return Err(ExtractError::PageTooLarge {
                                    url: url.to_owned(),
                                    limit: self.options.max_page_bytes,
                                });
                            }
                            Ok(Some(body)) => return Ok(body),
                            Err(e) => Failure::Transient {
                                reason: self
                                    .redact(&format!("reading the page failed: {}", describe(&e))),
                                retry_after: None,
                            },
                        }
                    } else if status.is_redirection() {
                        let location = response
                            .headers()
                            .get(reqwest::header::LOCATION)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("(no Location)")
                            .to_owned();
                        return Err(ExtractError::Refused {
                            url: url.to_owned(),
                            reason: format!(
                                "HTTP {status} to {}: only same-origin redirects are followed",
                                self.redact(&location)
                            ),
                        });
                    } else if status.as_u16() == 429 {
                        Failure::Throttled { retry_after }
                    } else if status.is_server_error() || status.as_u16() == 408 {
                        Failure::Transient { reason: format!("HTTP {status}"), retry_after }
                    } else {
                        let body = read_capped(response, MAX_ERROR_BODY_BYTES)
                            .await
                            .ok()
                            .flatten()
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                            .unwrap_or_default();
                        return Err(ExtractError::Rejected {
                            url: url.to_owned(),
                            status: status.as_u16(),
                            body: self.snippet(&body),
                        });
                    }
                }
                Err(e) if e.is_builder() => {
                    return Err(ExtractError::BadSource(
                        self.redact(&format!("cannot request {url}: {}", describe(&e))),
                    ));
                }
                Err(e) if e.is_timeout() => Failure::Transient {
                    reason: format!("no answer within {}s", timeout.as_secs()),
                    retry_after: None,
                },
                Err(e) => {
                    Failure::Transient { reason: self.redact(&describe(&e)), retry_after: None }
                }
            };
            let (reason, retry_after) = match &failure {
                Failure::Throttled { retry_after } => ("HTTP 429".to_owned(), *retry_after),
                Failure::Transient { reason, retry_after } => (reason.clone(), *retry_after),
            };
            if attempt == attempts {
                return Err(match failure {
                    Failure::Throttled { .. } => {
                        ExtractError::Throttled { url: url.to_owned(), attempts }
                    }
                    Failure::Transient { reason, .. } => {
                        ExtractError::Unavailable { url: url.to_owned(), attempts, reason }
                    }
                });
            }
            let delay = match retry_after {
                Some(asked) => asked.min(self.options.max_retry_after),
                None => self.backoff(attempt),
            };
            tracing::warn!(
                url = %url,
                attempt,
                attempts,
                reason = %reason,
                delay_ms = delay.as_millis() as u64,
                "page failed; retrying"
            );
            self.stats.retries += 1;
            self.stats.retry_wait += delay;
            clock.sleep(delay).await;
        }
        // The loop returns on its last attempt.
        Err(ExtractError::Unavailable {
            url: url.to_owned(),
            attempts,
            reason: "no attempt was made".to_owned(),
        })
    }

    /// Capped exponential backoff with equal jitter (half the step, plus up to half again),
    /// doubling from `backoff_base` up to `backoff_cap`.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let formula = backoff::Backoff {
            base: self.options.backoff_base,
            multiplier: 2.0,
            cap: self.options.backoff_cap,
            jitter: backoff::Jitter::Equal,
        };
        formula.delay(attempt, &mut |max| self.rng.u64(0..=max))
    }

    /// `text` with every secret value blanked out.
    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secret_values {
            text = text.replace(secret.as_str(), "<redacted>");
        }
        text
    }

    /// The start of a response body for an error message, with secret values blanked out
    /// before it is cut, so no part of a secret crossing the cut survives.
    fn snippet(&self, body: &str) -> String {
        let text: String = self.redact(body.trim()).chars().take(300).collect();
        if text.is_empty() { String::new() } else { format!(": {text}") }
    }
}

/// The body, or `None` when it is longer than `limit` bytes (read no further than that).
async fn read_capped(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// A reqwest error with its causes, on one line.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` as seconds or an HTTP date (a date in the past means now).
pub(crate) fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The page URL: `{start}` and `{end}` as RFC 3339 UTC times, `{cursor}` (empty on the first
/// page), each URL-encoded.
pub(crate) fn render_url(template: &str, window: &Window, cursor: &str) -> String {
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    template
        .replace("{start}", &encode(&time(window.start())))
        .replace("{end}", &encode(&time(window.end())))
        .replace("{cursor}", &encode(cursor))
}

/// One page, read without building its records: each record stays the raw JSON text the
/// source sent (numbers keep their exact digits), and the next cursor.
#[derive(Debug)]
pub(crate) struct Page<'b> {
    /// The records, in page order.
    pub(crate) records: Vec<&'b RawValue>,
    /// The next page's cursor: `None` on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// What kind of JSON value a raw value is.
fn raw_kind(value: &RawValue) -> &'static str {
    match value.get().trim_start().as_bytes().first() {
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

/// The member `segment` of an object (or, with `index_arrays`, the element of an array).
fn raw_child<'b>(
    value: &'b RawValue,
    segment: &str,
    index_arrays: bool,
) -> Result<Option<&'b RawValue>, String> {
    let malformed = |e: serde_json::Error| format!("the page is not JSON: {e}");
    match raw_kind(value) {
        "object" => {
            let members: std::collections::HashMap<String, &'b RawValue> =
                serde_json::from_str(value.get()).map_err(malformed)?;
            Ok(members.get(segment).copied())
        }
        "array" if index_arrays => {
            let items: Vec<&'b RawValue> = serde_json::from_str(value.get()).map_err(malformed)?;
            Ok(segment.parse::<usize>().ok().and_then(|i| items.get(i).copied()))
        }
        _ => Ok(None),
    }
}

/// Reads a page: the records array at `records_path` (dotted, through objects and array
/// indices; empty = the page itself) and the cursor at `cursor_path` (dotted, through objects;
/// absent, null or empty means the last page).
pub(crate) fn read_page<'b>(
    body: &'b [u8],
    records_path: &str,
    cursor_path: Option<&str>,
) -> Result<Page<'b>, String> {
    let page: &'b RawValue =
        serde_json::from_slice(body).map_err(|e| format!("the page is not JSON: {e}"))?;
    let shown = if records_path.is_empty() { "the page" } else { records_path };
    let mut value = Some(page);
    for segment in records_path.split('.').filter(|s| !s.is_empty()) {
        value = match value {
            Some(v) => raw_child(v, segment, true)?,
            None => None,
        };
    }
    let records = match value {
        Some(v) if raw_kind(v) == "array" => {
            serde_json::from_str(v.get()).map_err(|e| format!("the page is not JSON: {e}"))?
        }
        Some(v) if raw_kind(v) == "null" => Vec::new(),
        Some(v) => {
            return Err(format!(
                "records_path \"{shown}\" is a {}, expected an array of records",
                raw_kind(v)
            ));
        }
        None => return Err(format!("the page has no \"{shown}\" (records_path)")),
    };
    let next_cursor = match cursor_path {
        Some(path) => {
            let mut value = Some(page);
            for segment in path.split('.').filter(|s| !s.is_empty()) {
                value = match value {
                    Some(v) => raw_child(v, segment, false)?,
                    None => None,
                };
            }
            match value {
                Some(v) => {
                    let leaf: serde_json::Value = serde_json::from_str(v.get())
                        .map_err(|e| format!("the page is not JSON: {e}"))?;
                    cursor_value(&leaf, path)?
                }
                None => None,
            }
        }
        None => None,
    };
    Ok(Page { records, next_cursor })
}

/// A cursor's value: null or empty means the last page.
fn cursor_value(value: &serde_json::Value, path: &str) -> Result<Option<String>, String> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.is_empty() => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(format!(
            "cursor_path \"{path}\" is a {}, expected a string, a number or null",
            kind_of(other)
        )),
    }
}

/// Writes a page's records to the parts, in order.
async fn write_records<S: ObjectStore>(
    parts: &mut PartWriter<'_, S>,
    records: &[&RawValue],
) -> Result<(), ExtractError> {
    for record in records {
        parts.push_raw(record).await?;
    }
    Ok(())
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}
