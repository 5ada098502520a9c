//! The Amazon Athena adapter (feature `aws`): [`AthenaEngine`] runs a resolved query with
//! StartQueryExecution, polls it to a final state and reads its result CSV from S3.
//!
//! - Start: in the configured workgroup and database, with a `ClientRequestToken` derived from
//!   the run id and the query name ([`client_request_token`]), so a retried invocation attaches
//!   to the query the first one started instead of starting a duplicate. `TooManyRequestsException`
//!   (concurrency limit) and `ThrottlingException` are retried with capped exponential backoff and
//!   full jitter, a bounded number of times, then [`QueryError::Throttled`].
//! - Token generations: a token whose execution already ended retryably (FAILED with
//!   `Retryable`, or CANCELLED, e.g. stopped near an earlier deadline), or that Athena rejects
//!   because it was used with other parameters ("Idempotent parameters do not match": the SQL
//!   changed), would pin every retry of the run to that execution. Such a token is skipped and the
//!   next generation's token ([`client_request_token_for`]) is tried, at most
//!   [`MAX_TOKEN_GENERATIONS`] per query and run.
//! - Poll: GetQueryExecution with capped exponential backoff and full jitter (no fixed sleeps)
//!   until SUCCEEDED, FAILED or CANCELLED. FAILED is classified from `Status.AthenaError`:
//!   `Retryable` → [`QueryError::Transient`], category 2 (user) or type 1006 (syntax) →
//!   [`QueryError::Invalid`], anything else → [`QueryError::Failed`], with Athena's
//!   `StateChangeReason`.
//! - Deadline: with a deadline (the Lambda's), no query starts within `stop_margin` of it, and a
//!   running query is stopped (StopQueryExecution) when that point is reached:
//!   [`QueryError::Transient`].
//! - Results: column names and types from one GetQueryResults call with `MaxResults=1`; the rows
//!   from the result CSV at the execution's `ResultConfiguration.OutputLocation`, streamed through
//!   the [`ObjectStore`] to a temporary file and parsed from there (not paged through
//!   GetQueryResults). NULL and `""` stay distinct (see `result_csv`).

mod result_csv;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::io::BufReader;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_athena::Client;
use aws_sdk_athena::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_athena::types::{
    QueryExecution, QueryExecutionContext, QueryExecutionState, QueryExecutionStatus,
    ResultConfiguration,
};
use graphetl_core::backoff;
use graphetl_storage::ObjectStore;
use sha2::{Digest, Sha256};

use crate::engine::{QueryEngine, QueryError, QueryResult, QuerySpecResolved};
use result_csv::{Column, ColumnKind, read_result};

/// Environment variable naming the workgroup (default `primary`).
pub const ENV_WORKGROUP: &str = "GRAPHETL_ATHENA_WORKGROUP";
/// Environment variable naming the default database of the queries (required, or
/// [`ENV_GLUE_DATABASE`]).
pub const ENV_DATABASE: &str = "GRAPHETL_ATHENA_DATABASE";
/// Fallback for [`ENV_DATABASE`]: the name `infra/template.yaml` gives the aggregate function.
pub const ENV_GLUE_DATABASE: &str = "GRAPHETL_GLUE_DATABASE";
/// Environment variable with the `s3://` result location (optional: the workgroup's otherwise).
pub const ENV_OUTPUT: &str = "GRAPHETL_ATHENA_OUTPUT";

/// How many token generations one query of one run may use (see the module doc).
pub const MAX_TOKEN_GENERATIONS: u32 = 8;

/// Capped exponential backoff with full jitter: attempt `n` waits a uniformly random time in
/// `[0, min(cap, initial × multiplier^n)]`, computed by [`graphetl_core::backoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub initial: Duration,
    /// Growth of the ceiling per attempt (0 counts as 1).
    pub multiplier: u32,
    /// The largest ceiling.
    pub cap: Duration,
}

impl Backoff {
    /// The shared formula with this backoff's numbers and full jitter.
    fn formula(&self) -> backoff::Backoff {
        backoff::Backoff {
            base: self.initial,
            multiplier: f64::from(self.multiplier),
            cap: self.cap,
            jitter: backoff::Jitter::Full,
        }
    }

    /// The ceiling of attempt `attempt` (0-based): `min(cap, initial × multiplier^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.formula().step(attempt.saturating_add(1))
    }

    /// A random wait for attempt `attempt` (0-based), in `[0, ceiling(attempt)]` (full jitter).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.formula().delay(attempt.saturating_add(1), &mut |max| fastrand::u64(0..=max))
    }
}

/// Where and how the adapter runs queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaConfig {
    /// The workgroup the queries run in.
    pub workgroup: String,
    /// The default database for unqualified table names.
    pub database: String,
    /// The `s3://` result location sent with each query; `None` uses the workgroup's. A
    /// workgroup that overrides client-side settings wins either way.
    pub output_location: Option<String>,
    /// Waits between GetQueryExecution polls (default 250 ms, ×2, cap 5 s).
    pub poll: Backoff,
    /// Waits after a throttled call (default 1 s, ×2, cap 20 s).
    pub throttle: Backoff,
    /// Attempts of a StartQueryExecution that keeps being throttled (default 6).
    pub start_attempts: u32,
    /// Consecutive throttled polls (or GetQueryResults calls) tolerated before giving up, leaving
    /// the query running for a retry to attach to (default 10).
    pub poll_throttle_attempts: u32,
    /// No query starts, and a running one is stopped, this long before the deadline (default 30 s).
    pub stop_margin: Duration,
}

impl AthenaConfig {
    /// The defaults for `database` in the `primary` workgroup, with the workgroup's result location.
    pub fn new(database: impl Into<String>) -> AthenaConfig {
        AthenaConfig {
            workgroup: "primary".into(),
            database: database.into(),
            output_location: None,
            poll: Backoff {
                initial: Duration::from_millis(250),
                multiplier: 2,
                cap: Duration::from_secs(5),
            },
            throttle: Backoff {
                initial: Duration::from_secs(1),
                multiplier: 2,
                cap: Duration::from_secs(20),
            },
            start_attempts: 6,
            poll_throttle_attempts: 10,
            stop_margin: Duration::from_secs(30),
        }
    }

    /// Reads [`ENV_WORKGROUP`], [`ENV_DATABASE`] (else [`ENV_GLUE_DATABASE`]) and [`ENV_OUTPUT`]
    /// through `lookup` (the Lambda kit passes the environment). Empty values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AthenaConfig, AthenaConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let database = get(ENV_DATABASE)
            .or_else(|| get(ENV_GLUE_DATABASE))
            .ok_or(AthenaConfigError::MissingDatabase)?;
        let mut config = AthenaConfig::new(database);
        if let Some(workgroup) = get(ENV_WORKGROUP) {
            config.workgroup = workgroup;
        }
        if let Some(output) = get(ENV_OUTPUT) {
            split_s3_url(&output)
                .map_err(|reason| AthenaConfigError::BadOutput { value: output.clone(), reason })?;
            config.output_location = Some(output);
        }
        Ok(config)
    }
}

/// Why the adapter's configuration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AthenaConfigError {
    /// No database was given.
    #[error(
        "{ENV_DATABASE} (or {ENV_GLUE_DATABASE}) is not set: name the Athena database (Glue \
         catalog) that holds the curated tables"
    )]
    MissingDatabase,
    /// The result location is not an `s3://bucket/prefix` URL.
    #[error("{ENV_OUTPUT}={value:?}: {reason}")]
    BadOutput {
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

/// Splits `s3://bucket/key` into bucket and key (the key may be empty).
fn split_s3_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url.strip_prefix("s3://").ok_or("not an s3:// URL")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err("no bucket in the URL".into());
    }
    Ok((bucket, key))
}

/// The `ClientRequestToken` of the first start of query `name` in run `run_id`: the hex SHA-256
/// of `graphetl/<run_id>/<name>` (64 characters; Athena takes 32–128).
pub fn client_request_token(run_id: &str, name: &str) -> String {
    client_request_token_for(run_id, name, 0)
}

/// The token of generation `generation`: generation 0 is [`client_request_token`], generation
/// `g > 0` hashes `graphetl/<run_id>/<name>#<g>`.
pub fn client_request_token_for(run_id: &str, name: &str, generation: u32) -> String {
    let mut seed = format!("graphetl/{run_id}/{name}");
    if generation > 0 {
        seed.push_str(&format!("#{generation}"));
    }
    Sha256::digest(seed.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A failed API call, classified.
#[derive(Debug)]
enum CallError {
    /// `TooManyRequestsException`, `ThrottlingException`: back off and retry.
    Throttled(String),
    /// A network failure, timeout or server error: a later retry may work.
    Transient(String),
    /// `InvalidRequestException`.
    Invalid(String),
    /// Anything else (permissions, unknown errors).
    Failed(String),
}

const THROTTLING_CODES: &[&str] = &[
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
];

impl CallError {
    fn from_sdk<E, R>(operation: &str, err: &SdkError<E, R>) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let detail = format!("{operation}: {}", DisplayErrorContext(err));
        match err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let message = match (e.code(), e.message()) {
                    (Some(code), Some(message)) => format!("{operation}: {code}: {message}"),
                    _ => detail,
                };
                match e.code() {
                    Some(code) if THROTTLING_CODES.contains(&code) => CallError::Throttled(message),
                    Some("InvalidRequestException") => CallError::Invalid(message),
                    Some("InternalServerException" | "ServiceUnavailable" | "InternalFailure") => {
                        CallError::Transient(message)
                    }
                    _ => CallError::Failed(message),
                }
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => CallError::Transient(detail),
            _ => CallError::Failed(detail),
        }
    }

    fn into_query_error(self, query: &str) -> QueryError {
        let query = query.to_owned();
        match self {
            CallError::Throttled(message) => QueryError::Throttled { query, message },
            CallError::Transient(message) => QueryError::Transient { query, message },
            CallError::Invalid(message) => QueryError::Invalid { query, message },
            CallError::Failed(message) => QueryError::Failed { query, message },
        }
    }
}

/// The engine's time: "now" for the deadline checks and the waits between calls. Production
/// uses [`SystemClock`]; tests drive time with a manual clock, so the deadline path does not
/// depend on a wall-clock margin (tokio's paused clock would also fire the SDK's own timeouts).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits `delay`.
    fn sleep(&self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Real time: [`Instant::now`] and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(delay))
    }
}

/// The [`QueryEngine`] on Amazon Athena; results are read through `S`.
#[derive(Debug, Clone)]
pub struct AthenaEngine<S> {
    client: Client,
    store: S,
    config: AthenaConfig,
    deadline: Option<Instant>,
    clock: Arc<dyn Clock>,
}

impl<S: ObjectStore> AthenaEngine<S> {
    /// An engine on `client` that reads result files through `store`. With a `deadline`, no query
    /// starts and none keeps running past `deadline - config.stop_margin`.
    pub fn new(
        client: Client,
        store: S,
        config: AthenaConfig,
        deadline: Option<Instant>,
    ) -> AthenaEngine<S> {
        AthenaEngine { client, store, config, deadline, clock: Arc::new(SystemClock) }
    }

    /// An engine whose client is built from the function's one SDK configuration.
    pub fn from_sdk_config(
        sdk_config: &aws_config::SdkConfig,
        store: S,
        config: AthenaConfig,
    ) -> AthenaEngine<S> {
        AthenaEngine::new(Client::new(sdk_config), store, config, None)
    }

    /// The same engine with another deadline (one per Lambda invocation).
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> AthenaEngine<S> {
        self.deadline = deadline;
        self
    }

    /// The same engine on another clock (tests: a manual one).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> AthenaEngine<S> {
        self.clock = clock;
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &AthenaConfig {
        &self.config
    }

    /// The point at which no query may run any more, if there is a deadline.
    fn stop_at(&self) -> Option<Instant> {
        // A margin larger than the time since the clock's origin: treat as already reached.
        self.deadline
            .map(|d| d.checked_sub(self.config.stop_margin).unwrap_or_else(|| self.clock.now()))
    }

    fn past(&self, stop_at: Option<Instant>) -> bool {
        stop_at.is_some_and(|at| self.clock.now() >= at)
    }

    /// Sleeps `delay`, or returns `false` without sleeping if the stop point comes first.
    async fn sleep_before(&self, stop_at: Option<Instant>, delay: Duration) -> bool {
        if stop_at.is_some_and(|at| self.clock.now() + delay >= at) {
            return false;
        }
        self.clock.sleep(delay).await;
        true
    }

    async fn run_query(&self, query: &QuerySpecResolved) -> Result<QueryResult, QueryError> {
        let name = query.name.as_str();
        let stop_at = self.stop_at();
        if self.past(stop_at) {
            return Err(QueryError::Transient {
                query: name.to_owned(),
                message: format!(
                    "not started: less than {:?} left before the Lambda deadline",
                    self.config.stop_margin
                ),
            });
        }
        for generation in 0..MAX_TOKEN_GENERATIONS {
            let token = client_request_token_for(&query.params.run_id, name, generation);
            let id = match self.start(query, &token, stop_at).await {
                Ok(id) => id,
                Err(CallError::Invalid(message)) if is_token_mismatch(&message) => {
                    tracing::warn!(
                        query = name,
                        generation,
                        %message,
                        "token already used with other parameters; trying the next generation"
                    );
                    continue;
                }
                Err(e) => return Err(e.into_query_error(name)),
            };
            tracing::info!(query = name, execution = %id, generation, "Athena query started");
            let first = self.get_execution(&id).await;
            let stale =
                first.as_ref().ok().and_then(QueryExecution::status).filter(|s| ended_retryably(s));
            if let Some(status) = stale {
                tracing::warn!(
                    query = name,
                    execution = %id,
                    generation,
                    state = ?status.state(),
                    "the token's execution already ended retryably; starting the next generation"
                );
                continue;
            }
            return self.wait(query, &id, first, stop_at).await;
        }
        Err(QueryError::Failed {
            query: name.to_owned(),
            message: format!(
                "{MAX_TOKEN_GENERATIONS} executions of this query in run {} already failed or were \
                 cancelled; start a new run",
                query.params.run_id
            ),
        })
    }

    /// StartQueryExecution, retried while throttled. Returns the execution id.
    async fn start(
        &self,
        query: &QuerySpecResolved,
        token: &str,
        stop_at: Option<Instant>,
    ) -> Result<String, CallError> {
        let attempts = self.config.start_attempts.max(1);
        let mut attempt = 0;
        loop {
            let mut request = self
                .client
                .start_query_execution()
                .query_string(&query.sql)
                .work_group(&self.config.workgroup)
                .query_execution_context(
                    QueryExecutionContext::builder().database(&self.config.database).build(),
                )
                .client_request_token(token);
            if let Some(output) = &self.config.output_location {
                request = request.result_configuration(
                    ResultConfiguration::builder().output_location(output).build(),
                );
            }
            let error = match request.send().await {
                Ok(output) => {
                    return output.query_execution_id().map(str::to_owned).ok_or_else(|| {
                        CallError::Failed("StartQueryExecution returned no QueryExecutionId".into())
                    });
                }
                Err(e) => CallError::from_sdk("StartQueryExecution", &e),
            };
            let CallError::Throttled(message) = error else { return Err(error) };
            attempt += 1;
            if attempt >= attempts {
                return Err(CallError::Throttled(format!("{message} (after {attempt} attempts)")));
            }
            tracing::info!(query = %query.name, attempt, %message, "start throttled; backing off");
            if !self.sleep_before(stop_at, self.config.throttle.delay(attempt - 1)).await {
                return Err(CallError::Throttled(format!(
                    "{message} (after {attempt} attempts; not retried this close to the deadline)"
                )));
            }
        }
    }

    async fn get_execution(&self, id: &str) -> Result<QueryExecution, CallError> {
        match self.client.get_query_execution().query_execution_id(id).send().await {
            Ok(output) => output.query_execution().cloned().ok_or_else(|| {
                CallError::Failed(format!(
                    "GetQueryExecution {id}: no QueryExecution in the answer"
                ))
            }),
            Err(e) => Err(CallError::from_sdk("GetQueryExecution", &e)),
        }
    }

    /// Polls execution `id` (first look: `current`) to a final state, stopping it at the stop point.
    async fn wait(
        &self,
        query: &QuerySpecResolved,
        id: &str,
        mut current: Result<QueryExecution, CallError>,
        stop_at: Option<Instant>,
    ) -> Result<QueryResult, QueryError> {
        let name = query.name.as_str();
        let mut polls = 0u32;
        let mut throttled = 0u32;
        loop {
            let delay = match current {
                Ok(execution) => {
                    throttled = 0;
                    let status = execution.status();
                    match status.and_then(QueryExecutionStatus::state) {
                        Some(QueryExecutionState::Succeeded) => {
                            return self.read_results(query, id, &execution).await;
                        }
                        Some(QueryExecutionState::Failed) => {
                            return Err(failed_error(name, id, status));
                        }
                        Some(QueryExecutionState::Cancelled) => {
                            return Err(QueryError::Transient {
                                query: name.to_owned(),
                                message: format!(
                                    "execution {id} was cancelled: {}",
                                    reason(status).unwrap_or("no reason given")
                                ),
                            });
                        }
                        _ => {}
                    }
                    polls += 1;
                    self.config.poll.delay(polls - 1)
                }
                Err(CallError::Throttled(message)) => {
                    throttled += 1;
                    if throttled >= self.config.poll_throttle_attempts.max(1) {
                        // Left running: a retry with the same token attaches to it.
                        return Err(QueryError::Throttled {
                            query: name.to_owned(),
                            message: format!("{message} (execution {id}, {throttled} polls)"),
                        });
                    }
                    self.config.throttle.delay(throttled - 1)
                }
                // Not stopped: the query may still succeed, and a retry with the same token
                // attaches to it.
                Err(e) => return Err(e.into_query_error(name)),
            };
            if self.past(stop_at) {
                return Err(self.stop(name, id).await);
            }
            let delay = match stop_at {
                Some(at) => delay.min(at.saturating_duration_since(self.clock.now())),
                None => delay,
            };
            self.clock.sleep(delay).await;
            current = self.get_execution(id).await;
        }
    }

    /// StopQueryExecution near the deadline; the query is reported transient either way.
    async fn stop(&self, name: &str, id: &str) -> QueryError {
        let outcome = self.client.stop_query_execution().query_execution_id(id).send().await;
        let message = match outcome {
            Ok(_) => {
                tracing::warn!(query = name, execution = %id, "stopped near the Lambda deadline");
                format!("execution {id} stopped near the Lambda deadline")
            }
            Err(e) => {
                let e = CallError::from_sdk("StopQueryExecution", &e);
                tracing::error!(query = name, execution = %id, error = ?e, "cannot stop the query");
                format!(
                    "execution {id} reached the Lambda deadline and could not be stopped: {e:?}"
                )
            }
        };
        QueryError::Transient { query: name.to_owned(), message }
    }

    /// Column names and types from GetQueryResults (`MaxResults=1`), retried while throttled.
    async fn columns(&self, name: &str, id: &str) -> Result<Vec<Column>, QueryError> {
        let mut throttled = 0u32;
        let output = loop {
            let sent =
                self.client.get_query_results().query_execution_id(id).max_results(1).send().await;
            match sent {
                Ok(output) => break output,
                Err(e) => match CallError::from_sdk("GetQueryResults", &e) {
                    CallError::Throttled(message) => {
                        throttled += 1;
                        if throttled >= self.config.poll_throttle_attempts.max(1) {
                            return Err(QueryError::Throttled { query: name.to_owned(), message });
                        }
                        self.clock.sleep(self.config.throttle.delay(throttled - 1)).await;
                    }
                    other => return Err(other.into_query_error(name)),
                },
            }
        };
        let infos = output
            .result_set()
            .and_then(|set| set.result_set_metadata())
            .map(|meta| meta.column_info())
            .unwrap_or_default();
        let mut columns: Vec<Column> = Vec::with_capacity(infos.len());
        for info in infos {
            if columns.iter().any(|c| c.name == info.name()) {
                return Err(QueryError::Invalid {
                    query: name.to_owned(),
                    message: format!(
                        "two result columns are named {:?}; give each a distinct alias",
                        info.name()
                    ),
                });
            }
            columns.push(Column {
                name: info.name().to_owned(),
                athena_type: info.r#type().to_owned(),
                kind: ColumnKind::of(info.r#type()),
            });
        }
        Ok(columns)
    }

    async fn read_results(
        &self,
        query: &QuerySpecResolved,
        id: &str,
        execution: &QueryExecution,
    ) -> Result<QueryResult, QueryError> {
        let name = query.name.as_str();
        let failed = |message: String| QueryError::Failed { query: name.to_owned(), message };
        let location = execution
            .result_configuration()
            .and_then(ResultConfiguration::output_location)
            .ok_or_else(|| {
                failed(format!(
                    "execution {id} has no ResultConfiguration.OutputLocation (managed query \
                     results are not supported: give the workgroup an S3 result location)"
                ))
            })?;
        let (bucket, key) = split_s3_url(location)
            .map_err(|reason| failed(format!("result location {location:?}: {reason}")))?;
        let columns = self.columns(name, id).await?;
        let file = tempfile::Builder::new()
            .prefix("graphetl-athena-")
            .suffix(".csv")
            .tempfile()
            .map_err(|e| failed(format!("cannot create a temporary file: {e}")))?;
        let bytes = self.store.get_to_file(bucket, key, file.path()).await.map_err(|e| {
            let message = format!("cannot read the result {location}: {e}");
            if e.is_transient() {
                QueryError::Transient { query: name.to_owned(), message }
            } else {
                failed(message)
            }
        })?;
        let reader = std::fs::File::open(file.path())
            .map_err(|e| failed(format!("cannot open the downloaded result: {e}")))?;
        let result = read_result(BufReader::new(reader), &columns)
            .map_err(|e| failed(format!("result {location}: {e}")))?;
        tracing::info!(
            query = name,
            execution = %id,
            rows = result.rows.len(),
            bytes,
            "Athena result read"
        );
        Ok(result)
    }
}

impl<S: ObjectStore> QueryEngine for AthenaEngine<S> {
    fn run(
        &self,
        query: &QuerySpecResolved,
    ) -> impl Future<Output = Result<QueryResult, QueryError>> + Send {
        self.run_query(query)
    }
}

fn reason(status: Option<&QueryExecutionStatus>) -> Option<&str> {
    let status = status?;
    status
        .state_change_reason()
        .or_else(|| status.athena_error().and_then(|e| e.error_message()))
        .filter(|r| !r.is_empty())
}

/// FAILED (retryable) or CANCELLED: the execution behind a token is no use to a retry.
fn ended_retryably(status: &QueryExecutionStatus) -> bool {
    match status.state() {
        Some(QueryExecutionState::Cancelled) => true,
        Some(QueryExecutionState::Failed) => status.athena_error().is_some_and(|e| e.retryable()),
        _ => false,
    }
}

/// Athena's answer to a token reused with different parameters.
fn is_token_mismatch(message: &str) -> bool {
    message.to_ascii_lowercase().contains("idempotent parameters do not match")
}

/// Athena's error category for errors the query's author caused.
const USER_ERROR_CATEGORY: i32 = 2;
/// Athena's error type for a syntax error.
const SYNTAX_ERROR_TYPE: i32 = 1006;

fn failed_error(query: &str, id: &str, status: Option<&QueryExecutionStatus>) -> QueryError {
    let query = query.to_owned();
    let error = status.and_then(QueryExecutionStatus::athena_error);
    let mut message = reason(status).unwrap_or("no reason given").to_owned();
    if let Some(e) = error {
        message.push_str(&format!(
            " (execution {id}; Athena error category {}, type {})",
            e.error_category().map_or("?".into(), |c| c.to_string()),
            e.error_type().map_or("?".into(), |t| t.to_string()),
        ));
    } else {
        message.push_str(&format!(" (execution {id})"));
    }
    match error {
        Some(e) if e.retryable() => QueryError::Transient { query, message },
        Some(e)
            if e.error_category() == Some(USER_ERROR_CATEGORY)
                || e.error_type() == Some(SYNTAX_ERROR_TYPE) =>
        {
            QueryError::Invalid { query, message }
        }
        _ => QueryError::Failed { query, message },
    }
}
