//! lambda-kit: tracing (JSON in Lambda), the AWS SDK configuration and the settings from the
//! environment (read here and nowhere else in a function), and `StepError` → `Diagnostic` with
//! the stable error name as `errorType`.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use graphetl_core::errors::StepError;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The error a Lambda binary's `main` returns at init.
pub type Error = lambda_runtime::Error;

/// Turns a step error into the Lambda error payload (`errorType` = stable name).
pub fn diagnostic(error: &StepError) -> Diagnostic {
    Diagnostic { error_type: error.name.as_str().to_owned(), error_message: error.cause.clone() }
}

/// The AWS SDK configuration (region, credentials, `AWS_ENDPOINT_URL`, retries), loaded once per
/// cold start: every client of a function is built from this one value.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

/// Sets up JSON logs for CloudWatch, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// Runs `handler` as the Lambda's function: decodes each event, encodes the response, and
/// reports failures with their stable names.
pub async fn run<E, R, F, Fut>(handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(E) -> Fut + Send + Sync,
    Fut: Future<Output = Result<R, StepError>> + Send,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let handler = &handler;
        async move {
            let payload: E = serde_json::from_value(event.payload).map_err(|e| {
                diagnostic(&StepError::new(
                    graphetl_core::ErrorName::BadEvent,
                    format!("the event does not match the contract: {e}"),
                ))
            })?;
            handler(payload).await.map_err(|e| {
                tracing::error!(error_type = e.name.as_str(), cause = %e.cause, "step failed");
                diagnostic(&e)
            })
        }
    }))
    .await
}

/// Like [`run`], but the handler also gets the invocation's deadline as an [`Instant`] (from the
/// Lambda context), so long steps can stop cleanly before the function is killed.
pub async fn run_with_deadline<E, R, F, Fut>(handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(E, Instant) -> Fut + Send + Sync,
    Fut: Future<Output = Result<R, StepError>> + Send,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let handler = &handler;
        async move {
            let deadline = deadline_instant(event.context.deadline, SystemTime::now());
            let payload: E = serde_json::from_value(event.payload).map_err(|e| {
                diagnostic(&StepError::new(
                    graphetl_core::ErrorName::BadEvent,
                    format!("the event does not match the contract: {e}"),
                ))
            })?;
            handler(payload, deadline).await.map_err(|e| {
                tracing::error!(error_type = e.name.as_str(), cause = %e.cause, "step failed");
                diagnostic(&e)
            })
        }
    }))
    .await
}

/// Deadlines below this many milliseconds (2001-09-09 as an epoch time) are not epoch times.
/// Lambda sends `Lambda-Runtime-Deadline-Ms` as Unix time in milliseconds; local emulators do
/// not always: `cargo lambda watch` (1.9.2) sends `600000`, a duration.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The [`Instant`] of a deadline given in milliseconds since the epoch (the Lambda context's),
/// seen at `now`; a deadline already past is "now". A value too small to be an epoch time is
/// taken as milliseconds from now, so a step run under an emulator is not cut off at once.
pub fn deadline_instant(deadline_epoch_ms: u64, now: SystemTime) -> Instant {
    if deadline_epoch_ms < EPOCH_MS_FLOOR {
        return Instant::now() + Duration::from_millis(deadline_epoch_ms);
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_epoch_ms);
    let left = deadline.duration_since(now).unwrap_or(Duration::ZERO);
    Instant::now() + left
}

/// Typed settings of the aggregate function, read once at init.
#[derive(Debug, Clone)]
pub struct AggregateSettings {
    /// Rows per result chunk (`GRAPHETL_CHUNK_ROWS`, default
    /// [`crate::handlers::aggregate::DEFAULT_ROWS_PER_CHUNK`]): one chunk is one load invocation.
    pub rows_per_chunk: std::num::NonZeroUsize,
    /// Where queries run: `GRAPHETL_ATHENA_DATABASE` (or `GRAPHETL_GLUE_DATABASE`),
    /// `GRAPHETL_ATHENA_WORKGROUP`, `GRAPHETL_ATHENA_OUTPUT`.
    pub athena: graphetl_athena::athena::AthenaConfig,
}

impl AggregateSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<AggregateSettings, Error> {
        Ok(AggregateSettings::from_lookup(|name| std::env::var(name).ok())?)
    }

    /// Reads the settings through `lookup` (an environment variable's value by name).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AggregateSettings, String> {
        let rows = match lookup("GRAPHETL_CHUNK_ROWS").filter(|v| !v.trim().is_empty()) {
            None => crate::handlers::aggregate::DEFAULT_ROWS_PER_CHUNK,
            Some(value) => {
                value.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("GRAPHETL_CHUNK_ROWS={value:?} is not a positive number")
                })?
            }
        };
        let rows_per_chunk = std::num::NonZeroUsize::new(rows).ok_or("GRAPHETL_CHUNK_ROWS is 0")?;
        let athena = graphetl_athena::athena::AthenaConfig::from_lookup(&lookup)
            .map_err(|e| e.to_string())?;
        Ok(AggregateSettings { rows_per_chunk, athena })
    }
}

/// Typed settings of the transform function, read once at init.
#[derive(Debug, Clone)]
pub struct TransformSettings {
    /// Where temporary files go (`GRAPHETL_WORK_DIR`, default the system temp dir, `/tmp` in Lambda).
    pub work_dir: std::path::PathBuf,
}

impl TransformSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<TransformSettings, Error> {
        let work_dir = std::env::var_os("GRAPHETL_WORK_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        if !work_dir.is_dir() {
            return Err(
                format!("GRAPHETL_WORK_DIR {} is not a directory", work_dir.display()).into()
            );
        }
        Ok(TransformSettings { work_dir })
    }
}

/// Typed settings of the extract function, read once at init.
#[derive(Debug, Clone)]
pub struct ExtractSettings {
    /// Records a `generator` source writes per window (`GRAPHETL_GENERATOR_RECORDS`,
    /// default 10000).
    pub generator_records: u64,
    /// The hosts an `http` source may reach (`GRAPHETL_SOURCE_ALLOWED_HOSTS`, comma-separated,
    /// set from the template's `SourceAllowedHosts`); unset or empty refuses every `http`
    /// source, since the spec's URL alone must never decide where the function connects.
    pub source_hosts: graphetl_extract::SourceHosts,
}

impl ExtractSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<ExtractSettings, Error> {
        let generator_records = match std::env::var("GRAPHETL_GENERATOR_RECORDS") {
            Err(_) => 10_000,
            Ok(value) => value.trim().parse::<u64>().map_err(|_| {
                format!("GRAPHETL_GENERATOR_RECORDS={value:?} is not a number of records")
            })?,
        };
        let source_hosts = graphetl_extract::SourceHosts::from_list(
            &std::env::var("GRAPHETL_SOURCE_ALLOWED_HOSTS").unwrap_or_default(),
        );
        Ok(ExtractSettings { generator_records, source_hosts })
    }
}

/// Typed settings of the load function, read once at init.
///
/// Each setting is read from `GRAPHETL_NEPTUNE_<NAME>` (the names `infra/template.yaml` sets),
/// falling back to `NEPTUNE_<NAME>`: `ENDPOINT` (required: a host or `https://host:port`),
/// `PORT` (added when the endpoint has none), `IAM_AUTH` (default `true`), `WRITERS` (default
/// 2 × this function's vCPUs) and `ENGINE_VERSION` (default `1.3.2.0`; picks the mergeV form).
///
/// The bulk path is on when `BULK_ROLE_ARN` is set (the IAM role the cluster assumes to read the
/// data bucket; it must be attached to the cluster): chunks of at least `BULK_MIN_RECORDS`
/// records (default 100,000) are written as CSV under `runs/<run_id>/bulk/…` and loaded with a
/// `/loader` job, polled every `BULK_POLL_SECONDS` (default 5) for at most
/// `BULK_MAX_WAIT_SECONDS` (default 780, under the function's 900 s timeout). The loader's
/// region is `AWS_REGION` (set by Lambda).
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// `https://host:port` of the cluster endpoint.
    pub endpoint: String,
    /// Whether requests are SigV4-signed (IAM database authentication).
    pub iam_auth: bool,
    /// Parallel writers, each with one request in flight.
    pub writers: usize,
    /// Neptune engine version.
    pub engine_version: graphetl_graph::EngineVersion,
    /// The bulk path's settings (`None`: every chunk is upserted). The prefix is set per item.
    pub bulk: Option<graphetl_neptune::bulk::BulkConfig>,
}

/// Bulk loads wait at most this long by default: under the load function's 900 s timeout.
pub const DEFAULT_BULK_MAX_WAIT_SECONDS: u64 = 780;

/// The engine version assumed when none is configured.
pub const DEFAULT_ENGINE_VERSION: &str = "1.3.2.0";

impl LoadSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<LoadSettings, Error> {
        Ok(LoadSettings::from_lookup(|name| std::env::var(name).ok())?)
    }

    /// Reads the settings through `lookup` (an environment variable's value by name).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<LoadSettings, String> {
        let get = |name: &str| {
            let prefixed = format!("GRAPHETL_NEPTUNE_{name}");
            match lookup(&prefixed).filter(|v| !v.trim().is_empty()) {
                Some(value) => Some((prefixed, value.trim().to_owned())),
                None => {
                    let plain = format!("NEPTUNE_{name}");
                    lookup(&plain)
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| (plain, v.trim().to_owned()))
                }
            }
        };
        let (_, endpoint) =
            get("ENDPOINT").ok_or("GRAPHETL_NEPTUNE_ENDPOINT (or NEPTUNE_ENDPOINT) is not set")?;
        let port = match get("PORT") {
            Some((name, value)) => Some(
                value
                    .parse::<u16>()
                    .map_err(|_| format!("{name}={value:?} is not a port number"))?,
            ),
            None => None,
        };
        let iam_auth = match get("IAM_AUTH") {
            None => true,
            Some((name, value)) => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(format!("{name}={value:?} is not true or false")),
            },
        };
        let writers = match get("WRITERS") {
            None => graphetl_neptune::default_writers(
                std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            ),
            Some((name, value)) => match value.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("{name}={value:?} is not a positive number")),
            },
        };
        let engine_version = match get("ENGINE_VERSION") {
            None => DEFAULT_ENGINE_VERSION.parse().map_err(|e| format!("{e}"))?,
            Some((name, value)) => value.parse().map_err(|e| format!("{name}={value:?}: {e}"))?,
        };
        let bulk = match get("BULK_ROLE_ARN") {
            None => None,
            Some((_, role)) => {
                let region = lookup("AWS_REGION")
                    .or_else(|| lookup("AWS_DEFAULT_REGION"))
                    .filter(|r| !r.trim().is_empty())
                    .ok_or("the bulk path (GRAPHETL_NEPTUNE_BULK_ROLE_ARN) needs AWS_REGION")?;
                let mut config = graphetl_neptune::bulk::BulkConfig::new(role, region.trim(), "");
                let number = |name: &str, default: u64| match get(name) {
                    None => Ok(default),
                    Some((name, value)) => match value.parse::<u64>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err(format!("{name}={value:?} is not a positive number")),
                    },
                };
                config.min_records =
                    usize::try_from(number("BULK_MIN_RECORDS", config.min_records as u64)?)
                        .unwrap_or(usize::MAX);
                config.poll_interval =
                    std::time::Duration::from_secs(number("BULK_POLL_SECONDS", 5)?);
                config.max_wait = std::time::Duration::from_secs(number(
                    "BULK_MAX_WAIT_SECONDS",
                    DEFAULT_BULK_MAX_WAIT_SECONDS,
                )?);
                Some(config)
            }
        };
        Ok(LoadSettings {
            endpoint: endpoint_url(&endpoint, port),
            iam_auth,
            writers,
            engine_version,
            bulk,
        })
    }
}

/// `https://host[:port][/path]` from a host or URL, with `port` added when it has none.
fn endpoint_url(endpoint: &str, port: Option<u16>) -> String {
    let (scheme, rest) = match endpoint.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => ("https", endpoint),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    match port {
        Some(port) if !has_port => format!("{scheme}://{authority}:{port}{path}"),
        _ => format!("{scheme}://{authority}{path}"),
    }
}
