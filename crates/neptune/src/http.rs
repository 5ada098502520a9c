//! Neptune's Gremlin HTTP endpoint: a pooled HTTP/1.1 client that posts `{"gremlin":"…"}` to
//! `<endpoint>/gremlin`, signs each request with SigV4 for `neptune-db`, parses typed and untyped
//! GraphSON answers, and retries by Neptune's error `code`.
//!
//! - Credentials come from a [`CredentialsSource`]: [`CachedCredentials`] over `aws-config`'s
//!   default provider chain (refreshed 5 minutes before expiry), or [`StaticCredentials`].
//!   [`Auth::None`] turns IAM off (a local server or a cluster without IAM auth).
//! - Every attempt is signed anew (a signature is valid for about 5 minutes) over exactly the bytes
//!   sent, with `content-type`, `host` and (if configured) `accept` signed; nothing else may
//!   rewrite those headers afterwards.
//! - [`classify`] maps a failed answer to a [`RetryClass`]; [`RetryPolicy`] holds one
//!   [`Backoff`] per class. `ReadOnlyViolationException` (the writer moved after a failover)
//!   drops the pooled client so the next connection resolves the cluster endpoint again.
//! - [`NeptuneError::error_name`] gives the stable name the load step reports.
//!
//! Sleeps use `tokio::time`, so tests on a paused clock run the retry schedule instantly.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use futures::future::BoxFuture;
use graphetl_core::ErrorName;
/// How a random part is applied to a delay (the workspace's one jitter kind).
pub use graphetl_core::backoff::Jitter;
use serde_json::Value;

use graphetl_graph::gremlin::Request;

/// The SigV4 service name of Neptune's data plane.
pub const SERVICE: &str = "neptune-db";

// ---------------------------------------------------------------------------------------------
// Credentials

/// Where signing credentials come from. Implementations cache as they see fit; the client asks
/// once per attempt.
pub trait CredentialsSource: Send + Sync + fmt::Debug {
    /// Credentials valid for at least the next request.
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, NeptuneError>>;
}

/// Fixed credentials, for tests and for callers that manage rotation themselves.
#[derive(Debug, Clone)]
pub struct StaticCredentials(Credentials);

impl StaticCredentials {
    /// Long-term (no token) or temporary (with a session token) credentials that never expire
    /// as far as the client knows.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> StaticCredentials {
        StaticCredentials(Credentials::new(
            access_key_id,
            secret_access_key,
            session_token,
            None,
            "graphetl-static",
        ))
    }

    /// Wraps credentials as they are.
    pub fn from_credentials(credentials: Credentials) -> StaticCredentials {
        StaticCredentials(credentials)
    }
}

impl CredentialsSource for StaticCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, NeptuneError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

#[derive(Debug)]
struct Cached {
    credentials: Credentials,
    fetched_at: SystemTime,
}

/// Caches what a provider returns and asks it again [`CachedCredentials::REFRESH_BEFORE_EXPIRY`]
/// before the credentials expire (or, for credentials without an expiry, once they are
/// [`CachedCredentials::MAX_AGE_WITHOUT_EXPIRY`] old). One refresh runs at a time: parallel
/// writers wait for it instead of all calling the provider.
#[derive(Debug)]
pub struct CachedCredentials<P> {
    provider: P,
    cache: tokio::sync::Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl<P: ProvideCredentials> CachedCredentials<P> {
    /// How long before expiry credentials are refreshed.
    pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
    /// How long credentials without an expiry are kept (the provider is cheap to ask again).
    pub const MAX_AGE_WITHOUT_EXPIRY: Duration = Duration::from_secs(15 * 60);

    /// A cache over `provider`.
    pub fn new(provider: P) -> CachedCredentials<P> {
        CachedCredentials {
            provider,
            cache: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the provider was asked.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn is_fresh(cached: &Cached, now: SystemTime) -> bool {
        match cached.credentials.expiry() {
            Some(expiry) => now
                .checked_add(Self::REFRESH_BEFORE_EXPIRY)
                .is_some_and(|refresh_at| refresh_at < expiry),
            None => now
                .duration_since(cached.fetched_at)
                .is_ok_and(|age| age < Self::MAX_AGE_WITHOUT_EXPIRY),
        }
    }

    async fn get(&self) -> Result<Credentials, NeptuneError> {
        let mut cache = self.cache.lock().await;
        let now = SystemTime::now();
        if let Some(cached) = cache.as_ref().filter(|c| Self::is_fresh(c, now)) {
            return Ok(cached.credentials.clone());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let credentials = self.provider.provide_credentials().await.map_err(credentials_error)?;
        *cache = Some(Cached { credentials: credentials.clone(), fetched_at: now });
        Ok(credentials)
    }
}

impl CachedCredentials<SharedCredentialsProvider> {
    /// The standard chain (environment, profile, web identity, ECS, IMDS), cached.
    pub async fn default_chain() -> CachedCredentials<SharedCredentialsProvider> {
        let chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
            .build()
            .await;
        CachedCredentials::new(SharedCredentialsProvider::new(chain))
    }
}

impl<P: ProvideCredentials> CredentialsSource for CachedCredentials<P> {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, NeptuneError>> {
        Box::pin(self.get())
    }
}

/// The region of the standard region chain (`AWS_REGION`, profile, IMDS), if any.
pub async fn default_region() -> Option<String> {
    use aws_config::meta::region::ProvideRegion;
    let chain = aws_config::default_provider::region::default_provider();
    chain.region().await.map(|region| region.as_ref().to_owned())
}

fn credentials_error(error: CredentialsError) -> NeptuneError {
    let transient =
        matches!(error, CredentialsError::ProviderTimedOut(_) | CredentialsError::ProviderError(_));
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    NeptuneError::Credentials { message, transient }
}

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No signature (IAM auth off).
    None,
    /// SigV4 for `neptune-db` in `region`.
    Iam {
        /// The cluster's region.
        region: String,
        /// Where credentials come from.
        credentials: Arc<dyn CredentialsSource>,
    },
}

/// The headers that carry a SigV4 signature for a POST of `body` to `url`, where `headers` are
/// the other headers that will be sent and signed (`host` is derived from `url`, with its port
/// unless it is the scheme's default). Returns `authorization`, `x-amz-date` and, for temporary
/// credentials, `x-amz-security-token`.
pub fn sign_post(
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, NeptuneError> {
    sign_request("POST", credentials, region, time, url, headers, body)
}

/// [`sign_post`] for any method: the signature headers for `method` `url` (its query string
/// included, canonicalized by the signer) with `headers` and `body`.
pub fn sign_request(
    method: &str,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, NeptuneError> {
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| NeptuneError::Signing(e.to_string()))?
        .into();
    let signable =
        SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
            .map_err(|e| NeptuneError::Signing(e.to_string()))?;
    let (instructions, _signature) =
        sign(signable, &params).map_err(|e| NeptuneError::Signing(e.to_string()))?.into_parts();
    let (signed, _params) = instructions.into_parts();
    Ok(signed.into_iter().map(|h| (h.name(), h.value().to_owned())).collect())
}

// ---------------------------------------------------------------------------------------------
// Retries

/// What to do about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// `ConcurrentModificationException`: retry soon, with jitter.
    Conflict,
    /// Throttling, query limit, too many requests, internal failure, HTTP 429/5xx without a
    /// known code: exponential backoff.
    Throttled,
    /// `MemoryLimitExceededException`, `TimeLimitExceededException`: a few slow retries.
    Heavy,
    /// `ReadOnlyViolationException` (and server shutdown or maintenance): rebuild the HTTP
    /// client so the cluster endpoint is resolved again, then retry.
    Reconnect,
    /// No answer: connect failure, timeout, reset connection.
    Connection,
    /// Retrying fails the same way.
    Permanent,
}

/// An exponential backoff: `first × multiplier^(attempt−1)`, capped at `max`, then jittered
/// ([`graphetl_core::backoff`] computes it), for at most `retries` retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry (before jitter).
    pub first: Duration,
    /// Growth per retry (0 counts as 1).
    pub multiplier: u32,
    /// Cap on the delay (before jitter).
    pub max: Duration,
    /// Retries allowed (attempts = retries + 1).
    pub retries: u32,
    /// Jitter applied to each delay.
    pub jitter: Jitter,
}

impl Backoff {
    /// The pause before retry `attempt` (1 = the first retry), or `None` once `retries` are used.
    pub fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Option<Duration> {
        if attempt == 0 || attempt > self.retries {
            return None;
        }
        let formula = graphetl_core::backoff::Backoff {
            base: self.first,
            multiplier: f64::from(self.multiplier),
            cap: self.max,
            jitter: self.jitter,
        };
        Some(formula.delay(attempt, &mut |max| rng.u64(0..=max)))
    }
}

/// One [`Backoff`] per [`RetryClass`]. Each class counts its own retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// [`RetryClass::Conflict`]: AWS suggests ~100 ms first, short backoff, many tries.
    pub conflict: Backoff,
    /// [`RetryClass::Throttled`].
    pub throttled: Backoff,
    /// [`RetryClass::Heavy`]: 5–10 s, at most twice.
    pub heavy: Backoff,
    /// [`RetryClass::Reconnect`]: enough to ride out a failover (~30 s).
    pub reconnect: Backoff,
    /// [`RetryClass::Connection`].
    pub connection: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        let ms = Duration::from_millis;
        RetryPolicy {
            conflict: Backoff {
                first: ms(100),
                multiplier: 2,
                max: ms(2_000),
                retries: 10,
                jitter: Jitter::Full,
            },
            throttled: Backoff {
                first: ms(500),
                multiplier: 2,
                max: ms(16_000),
                retries: 8,
                jitter: Jitter::Full,
            },
            heavy: Backoff {
                first: ms(10_000),
                multiplier: 1,
                max: ms(10_000),
                retries: 2,
                jitter: Jitter::Equal,
            },
            reconnect: Backoff {
                first: ms(1_000),
                multiplier: 2,
                max: ms(8_000),
                retries: 6,
                jitter: Jitter::Equal,
            },
            connection: Backoff {
                first: ms(200),
                multiplier: 2,
                max: ms(5_000),
                retries: 4,
                jitter: Jitter::Full,
            },
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> RetryPolicy {
        let none = Backoff {
            first: Duration::ZERO,
            multiplier: 1,
            max: Duration::ZERO,
            retries: 0,
            jitter: Jitter::None,
        };
        RetryPolicy {
            conflict: none,
            throttled: none,
            heavy: none,
            reconnect: none,
            connection: none,
        }
    }

    /// The backoff of a retriable class; `None` for [`RetryClass::Permanent`].
    pub fn backoff(&self, class: RetryClass) -> Option<&Backoff> {
        match class {
            RetryClass::Conflict => Some(&self.conflict),
            RetryClass::Throttled => Some(&self.throttled),
            RetryClass::Heavy => Some(&self.heavy),
            RetryClass::Reconnect => Some(&self.reconnect),
            RetryClass::Connection => Some(&self.connection),
            RetryClass::Permanent => None,
        }
    }

    /// The pause before the `attempt`-th retry of `class`, or `None` to give up.
    pub fn delay(
        &self,
        class: RetryClass,
        attempt: u32,
        rng: &mut fastrand::Rng,
    ) -> Option<Duration> {
        self.backoff(class)?.delay(attempt, rng)
    }
}

/// The class of a failed answer. A known Neptune `code` decides; an unknown code is permanent;
/// without a code (a proxy's HTML page, an empty body) HTTP 429 and 5xx back off and the rest is
/// permanent.
pub fn classify(status: u16, code: Option<&str>) -> RetryClass {
    match code {
        Some("ConcurrentModificationException") => RetryClass::Conflict,
        Some(
            "ThrottlingException"
            | "QueryLimitExceededException"
            | "TooManyRequestsException"
            | "InternalFailureException",
        ) => RetryClass::Throttled,
        Some("MemoryLimitExceededException" | "TimeLimitExceededException") => RetryClass::Heavy,
        Some(
            "ReadOnlyViolationException"
            | "ServerShutdownException"
            | "CancelledByMaintenanceException",
        ) => RetryClass::Reconnect,
        Some(_) => RetryClass::Permanent,
        None if status == 429 || (500..=599).contains(&status) => RetryClass::Throttled,
        None => RetryClass::Permanent,
    }
}

/// Permanent codes that mean the data of the chunk is wrong (an edge whose vertex is missing, a
/// conflicting id), as opposed to a bug or a configuration problem.
const BAD_INPUT_CODES: &[&str] = &["ConstraintViolationException", "IllegalArgumentException"];

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a Gremlin request failed (after the retries its class allows).
#[derive(Debug, Clone, thiserror::Error)]
pub enum NeptuneError {
    /// Neptune (or something in front of it) answered with an error status.
    #[error("{}", server_message(*status, code.as_deref(), message, request_id.as_deref(), *attempts))]
    Server {
        /// HTTP status.
        status: u16,
        /// Neptune's `code` (`ConcurrentModificationException`, …), if the body had one.
        code: Option<String>,
        /// Neptune's `detailedMessage` (or `message`), else the start of the body.
        message: String,
        /// Neptune's `requestId`.
        request_id: Option<String>,
        /// Attempts made, the failed last one included.
        attempts: u32,
    },
    /// No HTTP answer: connect failure, timeout, reset.
    #[error("request to Neptune failed after {attempts} attempt(s): {message}")]
    Transport {
        /// The error chain.
        message: String,
        /// Whether it was a timeout.
        timeout: bool,
        /// Whether the connection could not be made.
        connect: bool,
        /// Attempts made.
        attempts: u32,
    },
    /// Credentials could not be had.
    #[error("credentials for signing Neptune requests: {message}")]
    Credentials {
        /// The provider's error chain.
        message: String,
        /// Whether asking again may succeed (provider timeout or error).
        transient: bool,
    },
    /// The request could not be signed.
    #[error("signing the Neptune request: {0}")]
    Signing(String),
    /// The client could not be set up (bad endpoint URL, TLS setup).
    #[error("Neptune client configuration: {0}")]
    Config(String),
    /// A success status whose body is not a Gremlin response.
    #[error("unexpected response from Neptune (HTTP {status}): {message}")]
    BadResponse {
        /// HTTP status.
        status: u16,
        /// What is wrong with it.
        message: String,
    },
}

fn server_message(
    status: u16,
    code: Option<&str>,
    message: &str,
    request_id: Option<&str>,
    attempts: u32,
) -> String {
    let request = request_id.map(|id| format!(", request {id}")).unwrap_or_default();
    let head = match code {
        Some(code) => format!("Neptune {code} (HTTP {status}{request})"),
        None => format!("HTTP {status} from Neptune without an error code{request}"),
    };
    format!("{head} after {attempts} attempt(s): {message}")
}

impl NeptuneError {
    /// What a retry of this error would be.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            NeptuneError::Server { status, code, .. } => classify(*status, code.as_deref()),
            NeptuneError::Transport { .. } => RetryClass::Connection,
            NeptuneError::Credentials { transient: true, .. } => RetryClass::Connection,
            NeptuneError::Credentials { transient: false, .. }
            | NeptuneError::Signing(_)
            | NeptuneError::Config(_)
            | NeptuneError::BadResponse { .. } => RetryClass::Permanent,
        }
    }

    /// Neptune's error code, if it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            NeptuneError::Server { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Attempts made before giving up (1 when the error came without a request, e.g. a bad
    /// configuration).
    pub fn attempts(&self) -> u32 {
        match self {
            NeptuneError::Server { attempts, .. } | NeptuneError::Transport { attempts, .. } => {
                *attempts
            }
            _ => 1,
        }
    }

    fn set_attempts(&mut self, n: u32) {
        if let NeptuneError::Server { attempts, .. } | NeptuneError::Transport { attempts, .. } =
            self
        {
            *attempts = n;
        }
    }

    /// The stable name the load step reports: throttling → `NeptuneThrottled`; conflicts, heavy
    /// queries, failover and connection failures → `NeptuneTransient`; permanent errors →
    /// `BadInput` when Neptune rejected the data, else `Internal` (a malformed query, access
    /// denied, a configuration problem).
    pub fn error_name(&self) -> ErrorName {
        match self.retry_class() {
            RetryClass::Throttled => ErrorName::NeptuneThrottled,
            RetryClass::Conflict
            | RetryClass::Heavy
            | RetryClass::Reconnect
            | RetryClass::Connection => ErrorName::NeptuneTransient,
            RetryClass::Permanent => match self.code() {
                Some(code) if BAD_INPUT_CODES.contains(&code) => ErrorName::BadInput,
                _ => ErrorName::Internal,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GremlinResponse {
    /// Neptune's `requestId`.
    pub request_id: Option<String>,
    /// `result.data` as a list, with GraphSON type wrappers removed.
    pub values: Vec<Value>,
}

impl GremlinResponse {
    /// The returned values as text (ids are strings; numbers and other values as JSON).
    pub fn ids(&self) -> Vec<String> {
        self.values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }
}

/// Removes GraphSON 3 type wrappers (`{"@type":"g:List","@value":[…]}` → `[…]`,
/// `{"@type":"g:Int64","@value":5}` → `5`), recursively.
pub fn untype(value: Value) -> Value {
    match value {
        Value::Object(mut map) if map.len() == 2 && map.contains_key("@type") => {
            match map.remove("@value") {
                Some(inner) => untype(inner),
                None => Value::Object(map),
            }
        }
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, untype(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(untype).collect()),
        other => other,
    }
}

/// Parses a success body, typed (GraphSON 3 with `@type`) or untyped.
pub fn parse_response(body: &[u8]) -> Result<GremlinResponse, String> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON ({e}): {}", excerpt(body)))?;
    let Value::Object(mut top) = json else {
        return Err(format!("not a JSON object: {}", excerpt(body)));
    };
    let request_id = match top.remove("requestId") {
        Some(Value::String(id)) => Some(id),
        _ => None,
    };
    let data = match top.remove("result") {
        Some(Value::Object(mut result)) => result.remove("data").unwrap_or(Value::Null),
        Some(Value::Null) | None => Value::Null,
        Some(_) => return Err(format!("`result` is not an object: {}", excerpt(body))),
    };
    let values = match untype(data) {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        single => vec![single],
    };
    Ok(GremlinResponse { request_id, values })
}

/// Neptune's error body: `{"requestId","code","detailedMessage"}` (newer engines add `message`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Request id.
    pub request_id: Option<String>,
    /// Error code.
    pub code: Option<String>,
    /// The explanation.
    pub detailed_message: Option<String>,
    /// The same text on newer engines.
    pub message: Option<String>,
}

/// Turns a failed answer into an error carrying Neptune's code and message.
pub fn error_from_response(status: u16, body: &[u8]) -> NeptuneError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let parsed = parsed.unwrap_or_default();
    let message = parsed
        .detailed_message
        .or(parsed.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| excerpt(body));
    NeptuneError::Server {
        status,
        code: parsed.code.filter(|c| !c.is_empty()),
        message,
        request_id: parsed.request_id,
        attempts: 1,
    }
}

fn excerpt(body: &[u8]) -> String {
    const LIMIT: usize = 500;
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(empty body)".to_owned(),
        None => text.into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The client

/// How to reach and talk to a cluster.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://<cluster-endpoint>:8182` (a path after the port is kept; `/gremlin` is added).
    pub endpoint: String,
    /// Signing.
    pub auth: Auth,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Whole-request timeout. Neptune's own `neptune_query_timeout` defaults to 120 s.
    pub request_timeout: Option<Duration>,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Option<Duration>,
    /// Idle connections kept per host (at least the number of writers).
    pub pool_max_idle_per_host: usize,
    /// `Accept` header (signed). `None` lets Neptune answer typed GraphSON 3, which every engine
    /// supports; `application/vnd.gremlin-v3.0+json;types=false` asks for untyped JSON.
    pub accept: Option<String>,
    /// Use `HTTPS_PROXY`/`HTTP_PROXY` from the environment (off: Neptune lives in a VPC).
    pub proxy_from_env: bool,
    /// Retry schedule.
    pub retry: RetryPolicy,
    /// Seed of the jitter; `None` seeds from the system.
    pub jitter_seed: Option<u64>,
}

impl ClientConfig {
    /// Defaults for `endpoint`: 5 s connect timeout, 150 s request timeout, 60 s idle
    /// keep-alive, 64 idle connections, typed GraphSON, the default retry policy.
    pub fn new(endpoint: impl Into<String>, auth: Auth) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            auth,
            connect_timeout: Some(Duration::from_secs(5)),
            request_timeout: Some(Duration::from_secs(150)),
            pool_idle_timeout: Some(Duration::from_secs(60)),
            pool_max_idle_per_host: 64,
            accept: None,
            proxy_from_env: false,
            retry: RetryPolicy::default(),
            jitter_seed: None,
        }
    }
}

/// A request that succeeded, possibly after retries.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The answer.
    pub response: GremlinResponse,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
}

/// Neptune's Gremlin HTTP endpoint. Cheap to share (`&self` everywhere); parallel writers use one
/// client and its connection pool.
#[derive(Debug)]
pub struct NeptuneClient {
    config: ClientConfig,
    url: String,
    base: String,
    /// The pooled client and its generation (bumped by each rebuild).
    http: Mutex<(u64, reqwest::Client)>,
    rebuilds: AtomicU64,
    rng: Mutex<fastrand::Rng>,
}

static CRYPTO_PROVIDER: Once = Once::new();

/// reqwest is built without a bundled rustls provider; use aws-lc-rs (the AWS SDK's) unless the
/// process already installed one.
fn ensure_crypto_provider() {
    CRYPTO_PROVIDER.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Err only if another thread installed one in between, which is just as good.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
    });
}

fn gremlin_url(endpoint: &str) -> Result<String, NeptuneError> {
    let with_scheme =
        if endpoint.contains("://") { endpoint.to_owned() } else { format!("https://{endpoint}") };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| NeptuneError::Config(format!("endpoint \"{endpoint}\": {e}")))?;
    // SigV4 headers and the session token must not travel in cleartext: http only to this
    // machine (a local mock or tunnel).
    let loopback = match url.host_str() {
        Some(host) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    };
    if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
        return Err(NeptuneError::Config(format!(
            "endpoint \"{endpoint}\": the scheme must be https (http only for a loopback server)"
        )));
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(NeptuneError::Config(format!(
            "endpoint \"{endpoint}\": expected https://host:port without query or fragment"
        )));
    }
    Ok(format!("{}/gremlin", url.as_str().trim_end_matches('/')))
}

fn build_http(config: &ClientConfig) -> Result<reqwest::Client, NeptuneError> {
    ensure_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .http1_only()
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_max_idle_per_host(config.pool_max_idle_per_host)
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .tcp_nodelay(true)
        // Neptune never redirects; following one would send the signed headers (and the
        // session token) to whatever host the Location names.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(timeout) = config.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = config.request_timeout {
        builder = builder.timeout(timeout);
    }
    if !config.proxy_from_env {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| NeptuneError::Config(error_chain(&e)))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

impl NeptuneClient {
    /// A client for `config.endpoint`.
    pub fn new(config: ClientConfig) -> Result<NeptuneClient, NeptuneError> {
        let url = gremlin_url(&config.endpoint)?;
        let base = url.trim_end_matches("/gremlin").to_owned();
        let http = build_http(&config)?;
        let rng = match config.jitter_seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        Ok(NeptuneClient {
            config,
            url,
            base,
            http: Mutex::new((0, http)),
            rebuilds: AtomicU64::new(0),
            rng: Mutex::new(rng),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The URL requests are posted to (`…/gremlin`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The endpoint without `/gremlin` (`https://host:port`), for the other HTTP APIs
    /// (`/propertygraph/stream`, `/loader`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// How many times the HTTP client was rebuilt (after `ReadOnlyViolationException` or a
    /// failed connect).
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds.load(Ordering::Relaxed)
    }

    fn current_http(&self) -> (u64, reqwest::Client) {
        match self.http.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the pooled client unless another writer already did since `generation`, so a
    /// burst of failures on one stale pool rebuilds it once.
    fn rebuild(&self, generation: u64) -> Result<(), NeptuneError> {
        let fresh = build_http(&self.config)?;
        let mut guard = match self.http.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.0 == generation {
            *guard = (generation + 1, fresh);
            self.rebuilds.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn jitter_delay(&self, class: RetryClass, retry: u32) -> Option<Duration> {
        let mut rng = match self.rng.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.config.retry.delay(class, retry, &mut rng)
    }

    /// Sends one request (its [`Request::body`]), retrying as its error class allows.
    pub async fn execute(&self, request: &Request) -> Result<Executed, NeptuneError> {
        self.execute_body(request.body()).await
    }

    /// Sends a `{"gremlin":"…"}` body, retrying as the error class allows.
    pub async fn execute_body(&self, body: String) -> Result<Executed, NeptuneError> {
        let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
        if let Some(accept) = &self.config.accept {
            headers.push(("accept", accept));
        }
        let sent = self.send("POST", &self.url, &headers, Bytes::from(body)).await?;
        let response = parse_response(&sent.body)
            .map_err(|message| NeptuneError::BadResponse { status: sent.status, message })?;
        Ok(Executed { response, attempts: sent.attempts })
    }

    /// GETs `path_and_query` (e.g. `/propertygraph/stream?limit=10`) under [`Self::base_url`],
    /// signed and retried like a Gremlin request. Returns the 2xx answer's raw body.
    pub async fn get(&self, path_and_query: &str) -> Result<Sent, NeptuneError> {
        let url = format!("{}{path_and_query}", self.base);
        self.send("GET", &url, &[], Bytes::new()).await
    }

    /// POSTs a JSON `body` to `path` under [`Self::base_url`] (e.g. `/loader`), signed and
    /// retried like a Gremlin request. Returns the 2xx answer's raw body.
    pub async fn post_json(&self, path: &str, body: String) -> Result<Sent, NeptuneError> {
        let url = format!("{}{path}", self.base);
        self.send("POST", &url, &[("content-type", "application/json")], Bytes::from(body)).await
    }

    /// Sends one request, retrying as the error class allows; `Ok` only for a 2xx answer.
    async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Sent, NeptuneError> {
        let mut attempts: u32 = 0;
        let mut retries_per_class: Vec<(RetryClass, u32)> = Vec::new();
        loop {
            attempts += 1;
            let (generation, http) = self.current_http();
            let mut error = match self.attempt(&http, method, url, headers, &body).await {
                Ok((status, body)) => return Ok(Sent { status, body, attempts }),
                Err(error) => error,
            };
            let class = error.retry_class();
            let retry = match retries_per_class.iter_mut().find(|(c, _)| *c == class) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    retries_per_class.push((class, 1));
                    1
                }
            };
            let Some(delay) = self.jitter_delay(class, retry) else {
                error.set_attempts(attempts);
                return Err(error);
            };
            let reconnect = class == RetryClass::Reconnect
                || matches!(error, NeptuneError::Transport { connect: true, .. });
            if reconnect {
                self.rebuild(generation)?;
            }
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        http: &reqwest::Client,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &Bytes,
    ) -> Result<(u16, Bytes), NeptuneError> {
        let mut builder = match method {
            "GET" => http.get(url),
            _ => http.post(url),
        };
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Auth::Iam { region, credentials } = &self.config.auth {
            let credentials = credentials.credentials().await?;
            let signed =
                sign_request(method, &credentials, region, SystemTime::now(), url, headers, body)?;
            for (name, value) in signed {
                builder = builder.header(name, value);
            }
        }
        if method != "GET" {
            builder = builder.body(body.clone());
        }
        let response = builder.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| transport_error(&e))?;
        if (200..300).contains(&status) {
            Ok((status, body))
        } else {
            Err(error_from_response(status, &body))
        }
    }
}

/// A 2xx answer to a request sent by [`NeptuneClient::get`] or [`NeptuneClient::post_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// HTTP status.
    pub status: u16,
    /// The raw body.
    pub body: Bytes,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
}

fn transport_error(error: &reqwest::Error) -> NeptuneError {
    NeptuneError::Transport {
        message: error_chain(error),
        timeout: error.is_timeout(),
        connect: error.is_connect(),
        attempts: 1,
    }
}
