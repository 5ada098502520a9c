//! The faults `graphetl chaos` injects into a local run, drawn from a seed: which fault (if
//! any) each S3 request, Lambda invocation, aggregate query, Neptune write and source API
//! request gets, and how many of each kind were injected. The local runner (`local.rs`) calls
//! these hooks; the campaign itself is `chaos.rs`.
//!
//! A fault is drawn from a hash of (seed, run, site, request or invocation payload), and only
//! on the first time that request or payload is seen, so the same seed injects the same faults
//! whatever the order the concurrent invocations run in, and a retry always succeeds.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use graphetl_core::ErrorName;
use graphetl_core::errors::StepError;
use graphetl_extract::source::{InjectedFailure, ServeOptions};
use graphetl_graph::local::SharedGraph;
use graphetl_graph::model::GraphBatch;
use graphetl_graph::sink::{GraphSink, SinkError, UpsertStats};
use graphetl_storage::{
    Fault, FaultProxy, LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY, RetrySettings, S3Store,
};
use serde::Serialize;
use serde_json::Value;

/// A Lambda invocation answered `Lambda.TooManyRequestsException` before it ran.
pub(crate) const LAMBDA_THROTTLED: &str = "lambda throttled";
/// A Lambda invocation that wrote its output and then failed with `Lambda.ServiceException`.
pub(crate) const LAMBDA_CRASHED: &str = "lambda crashed after output";
const ATHENA_THROTTLED: &str = "athena throttled";
const ATHENA_TRANSIENT: &str = "athena transient";
const NEPTUNE_CONFLICT: &str = "neptune ConcurrentModification";
const NEPTUNE_THROTTLED: &str = "neptune throttling";
const NEPTUNE_READ_ONLY: &str = "neptune ReadOnlyViolation";
const NEPTUNE_5XX: &str = "neptune 5xx mid-batch";
const S3_SLOW_DOWN: &str = "s3 SlowDown";
const S3_500: &str = "s3 500";
const S3_RESET: &str = "s3 connection reset";
const S3_STALL: &str = "s3 stalled request";
const SOURCE_429: &str = "source 429 Retry-After";
const SOURCE_503: &str = "source 503";

/// Every fault kind, in table order.
pub(crate) const KINDS: [&str; 14] = [
    S3_SLOW_DOWN,
    S3_500,
    S3_RESET,
    S3_STALL,
    LAMBDA_THROTTLED,
    LAMBDA_CRASHED,
    ATHENA_THROTTLED,
    ATHENA_TRANSIENT,
    NEPTUNE_CONFLICT,
    NEPTUNE_THROTTLED,
    NEPTUNE_READ_ONLY,
    NEPTUNE_5XX,
    SOURCE_429,
    SOURCE_503,
];

/// The faults of one run: what to inject where, and what was injected.
#[derive(Debug)]
pub(crate) struct Faults {
    seed: u64,
    rate: f64,
    seen: Mutex<HashMap<u64, u32>>,
    injected: Mutex<BTreeMap<&'static str, u64>>,
    task_failures: AtomicU64,
}

/// FNV-1a over the parts, then a splitmix64 finish: stable across processes and platforms.
pub(crate) fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Faults {
    /// The faults of run `run` of a campaign with `seed`; `rate` is the share of sites hit.
    pub(crate) fn new(seed: u64, run: u64, rate: f64) -> Faults {
        Faults {
            seed: hash(&[&seed.to_le_bytes(), &run.to_le_bytes()]),
            rate: rate.clamp(0.0, 1.0),
            seen: Mutex::default(),
            injected: Mutex::default(),
            task_failures: AtomicU64::new(0),
        }
    }

    /// Picks one of `kinds` for the first sight of `key` at `site`, with probability `rate`.
    fn pick(
        &self,
        site: &str,
        key: &str,
        rate: f64,
        kinds: &[&'static str],
    ) -> Option<&'static str> {
        let h = hash(&[&self.seed.to_le_bytes(), site.as_bytes(), key.as_bytes()]);
        let first = {
            let mut seen = self.seen.lock().ok()?;
            let count = seen.entry(h).or_insert(0);
            *count += 1;
            *count == 1
        };
        if !first || kinds.is_empty() || (h % 1_000_000) as f64 >= rate * 1_000_000.0 {
            return None;
        }
        let kind = kinds[((h >> 32) % kinds.len() as u64) as usize];
        self.count(kind);
        Some(kind)
    }

    fn count(&self, kind: &'static str) {
        if let Ok(mut injected) = self.injected.lock() {
            *injected.entry(kind).or_insert(0) += 1;
        }
    }

    /// The fault of a Lambda invocation of function `name` (throttled, or crashed after its
    /// output for transform and load), if any.
    pub(crate) fn lambda(&self, name: &str, payload: &Value) -> Option<&'static str> {
        let kinds: &[&'static str] = match name {
            "transform" | "load" => &[LAMBDA_THROTTLED, LAMBDA_CRASHED],
            _ => &[LAMBDA_THROTTLED],
        };
        self.pick(&format!("lambda {name}"), &payload.to_string(), self.rate, kinds)
    }

    /// A handler answered an error (an injected one included): the state machine retried it.
    pub(crate) fn count_task_failure(&self) {
        self.task_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Failed task attempts so far (each one retried by the state machine in a run that
    /// succeeded).
    pub(crate) fn task_failures(&self) -> u64 {
        self.task_failures.load(Ordering::Relaxed)
    }

    /// The fault of an aggregate query (Athena throttled, or a retryable FAILED), if any.
    pub(crate) fn athena(&self, request: &impl Serialize) -> Option<StepError> {
        let key = serde_json::to_string(request).unwrap_or_default();
        match self.pick("athena", &key, self.rate, &[ATHENA_THROTTLED, ATHENA_TRANSIENT])? {
            ATHENA_THROTTLED => Some(StepError::new(
                ErrorName::AthenaThrottled,
                "injected by graphetl chaos: TooManyRequestsException from StartQueryExecution",
            )),
            _ => Some(StepError::new(
                ErrorName::AthenaTransient,
                "injected by graphetl chaos: the query FAILED with a retryable internal error",
            )),
        }
    }

    /// How the local source API fails: every Nth request (N drawn from the seed) answers 429
    /// with `Retry-After: 1` or 503.
    pub(crate) fn serve_options(&self) -> ServeOptions {
        let h = hash(&[&self.seed.to_le_bytes(), b"source"]);
        let failure = if h.is_multiple_of(2) {
            InjectedFailure::TooManyRequests { retry_after_seconds: 1 }
        } else {
            InjectedFailure::Unavailable
        };
        ServeOptions { fail_every: 2 + (h >> 8) % 4, failure, ..ServeOptions::default() }
    }

    /// Counts the source API failures the extract step retried (every one of them is injected).
    pub(crate) fn count_source(&self, retries: u64) {
        let kind = match self.serve_options().failure {
            InjectedFailure::TooManyRequests { .. } => SOURCE_429,
            InjectedFailure::Unavailable => SOURCE_503,
        };
        for _ in 0..retries {
            self.count(kind);
        }
    }

    /// Starts a fault proxy in front of the endpoint at `upstream`.
    pub(crate) async fn s3_proxy(self: &Arc<Self>, upstream: &str) -> anyhow::Result<FaultProxy> {
        let faults = Arc::clone(self);
        FaultProxy::start(upstream, move |_, line| faults.s3(line))
            .await
            .context("cannot start the S3 fault proxy")
    }

    /// The fault of one S3 request, keyed on its method, path and query (upload ids left out,
    /// they differ between runs).
    fn s3(&self, request_line: &str) -> Option<Fault> {
        let mut words = request_line.split(' ');
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query: Vec<&str> = query.split('&').filter(|p| !p.starts_with("uploadId=")).collect();
        let key = format!("{method} {path}?{}", query.join("&"));
        let kinds = [S3_SLOW_DOWN, S3_500, S3_RESET, S3_STALL];
        Some(match self.pick("s3", &key, self.rate / 4.0, &kinds)? {
            S3_SLOW_DOWN => Fault::SlowDown,
            S3_500 => Fault::InternalError,
            S3_RESET => Fault::Reset,
            _ => Fault::Stall,
        })
    }

    /// A store that goes through `proxy`, with an attempt timeout so that a stall is retried.
    pub(crate) fn store_via(&self, proxy: &FaultProxy) -> S3Store {
        let retry = RetrySettings {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            attempt_timeout: Some(Duration::from_secs(3)),
            ..RetrySettings::default()
        };
        S3Store::for_endpoint(proxy.url(), LOCAL_REGION, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, retry)
    }

    /// What was injected so far, per kind.
    pub(crate) fn injected(&self) -> BTreeMap<&'static str, u64> {
        self.injected.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// A sink around the local graph that fails some upserts the way Neptune does, with the error
/// names the real client maps them to (`GraphEtl.NeptuneThrottled` / `NeptuneTransient`); a
/// failure can come after half of the batch's vertices were written.
pub(crate) struct FaultySink {
    inner: SharedGraph,
    faults: Arc<Faults>,
    key: String,
    calls: u32,
}

impl FaultySink {
    /// A sink for one load invocation with event `item`.
    pub(crate) fn new(inner: SharedGraph, faults: Arc<Faults>, item: &impl Serialize) -> Self {
        let key = serde_json::to_string(item).unwrap_or_default();
        FaultySink { inner, faults, key, calls: 0 }
    }
}

impl GraphSink for FaultySink {
    fn upsert(&mut self, batch: &GraphBatch) -> Result<UpsertStats, SinkError> {
        self.calls += 1;
        let key = format!("{}#{}", self.key, self.calls);
        let kinds = [NEPTUNE_CONFLICT, NEPTUNE_THROTTLED, NEPTUNE_READ_ONLY, NEPTUNE_5XX];
        let Some(kind) = self.faults.pick("neptune", &key, self.faults.rate, &kinds) else {
            return self.inner.upsert(batch);
        };
        let (name, message) = match kind {
            NEPTUNE_CONFLICT => (
                ErrorName::NeptuneTransient,
                "ConcurrentModificationException: Failed to complete the operation due to conflicting concurrent operations",
            ),
            NEPTUNE_THROTTLED => {
                (ErrorName::NeptuneThrottled, "ThrottlingException: Too many requests")
            }
            NEPTUNE_READ_ONLY => (
                ErrorName::NeptuneTransient,
                "ReadOnlyViolationException: The request is rejected, the writer moved (failover)",
            ),
            _ => {
                // Half of the batch's vertices are in before the server fails.
                let half = GraphBatch {
                    vertices: batch.vertices[..batch.vertices.len() / 2].to_vec(),
                    edges: Vec::new(),
                };
                self.inner.upsert(&half)?;
                (ErrorName::NeptuneThrottled, "HTTP 503 in the middle of the batch")
            }
        };
        Err(SinkError::Neptune {
            name,
            source: Box::new(std::io::Error::other(format!(
                "injected by graphetl chaos: {message}"
            ))),
        })
    }
}
