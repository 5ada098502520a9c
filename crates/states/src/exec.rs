//! The interpreter: runs a validated [`StateMachine`] with AWS's input/output processing,
//! Retry/Catch, inline and Distributed Maps, Parallel branches and nested executions, recording
//! every execution's history with AWS's event names.
//!
//! Time comes from tokio: on a runtime started with paused time (virtual time), waits and retry
//! delays are recorded but advance instantly. Nothing here knows about graphetl's own steps;
//! tasks call whatever [`Functions`] and state machines the caller registered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde_json::{Map as JsonMap, Value, json};
use tokio::time::Instant;

use crate::asl::{
    Catcher, Dynamic, ExecMode, ExecutionType, Io, Jitter, Map, MapMode, PathField,
    ReaderInputType, ReaderSource, Resource, Retrier, State, StateKind, StateMachine, StringSource,
    Task, Transition, Wait,
};
use crate::error::{StatesError, names};
use crate::history::{History, QUOTA_CAUSE};
use crate::mock::MockCase;
use crate::resolve::{Functions, ItemStore, resolve_name};
use crate::rng::Rng;

/// Inline Map iterations run at most this many at once, as on AWS.
const INLINE_MAP_MAX_CONCURRENCY: usize = 40;
/// Distributed Map children run at most this many at once when nothing else is set.
const DISTRIBUTED_MAP_DEFAULT_CONCURRENCY: usize = 10_000;
/// EXPRESS executions run at most five minutes.
const EXPRESS_MAX_SECONDS: u64 = 300;

/// Final status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Ended in a Succeed state or a terminal state's output.
    Succeeded,
    /// Ended with an uncaught error.
    Failed,
    /// Ran past its `TimeoutSeconds`.
    TimedOut,
}

impl Status {
    /// The API spelling (`SUCCEEDED`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
        }
    }
}

/// A finished execution.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Execution ARN.
    pub arn: String,
    /// Execution name.
    pub name: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// Final status.
    pub status: Status,
    /// Execution input.
    pub input: Value,
    /// Output on success.
    pub output: Option<Value>,
    /// Error name on failure.
    pub error: Option<String>,
    /// Cause on failure.
    pub cause: Option<String>,
    /// Start, milliseconds since the epoch.
    pub start_millis: i64,
    /// Stop, milliseconds since the epoch.
    pub stop_millis: i64,
    /// The full history.
    pub history: History,
}

/// A summary of an execution the engine ran (children included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSummary {
    /// Execution ARN.
    pub arn: String,
    /// Its state machine (for children, `parent/Label`).
    pub state_machine: String,
    /// Final status.
    pub status: &'static str,
    /// Number of history events.
    pub events: usize,
}

/// What a Distributed Map run did.
#[derive(Debug, Clone)]
pub struct MapRun {
    /// Map Run ARN.
    pub arn: String,
    /// The parent execution's ARN.
    pub execution_arn: String,
    /// Child executions that succeeded.
    pub succeeded: u64,
    /// Child executions that failed.
    pub failed: u64,
    /// Items or batches never started.
    pub pending: u64,
    /// Where ResultWriter wrote its manifest, if it did.
    pub manifest: Option<(String, String)>,
}

/// Settings of an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Region in ARNs.
    pub region: String,
    /// Account in ARNs.
    pub account: String,
    /// History quota per execution (AWS: 25,000).
    pub history_limit: usize,
    /// Seed of the random numbers (jitter, MathRandom, UUIDs, child names).
    pub seed: u64,
    /// Wall-clock time at start, milliseconds since the epoch (history timestamps).
    pub start_millis: i64,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            history_limit: crate::history::MAX_HISTORY_EVENTS,
            seed: 0x5eed,
            start_millis: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// Runs state machines locally.
pub struct Engine {
    functions: Functions,
    machines: HashMap<String, Arc<StateMachine>>,
    store: Option<Arc<dyn ItemStore>>,
    mocks: Option<MockCase>,
    options: EngineOptions,
    rng: Mutex<Rng>,
    started: Instant,
    counter: AtomicU64,
    executions: Mutex<Vec<ExecutionSummary>>,
    map_runs: Mutex<Vec<MapRun>>,
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    functions: Functions,
    machines: HashMap<String, Arc<StateMachine>>,
    store: Option<Arc<dyn ItemStore>>,
    mocks: Option<MockCase>,
    options: EngineOptions,
}

impl EngineBuilder {
    /// Adds the local functions tasks may invoke.
    pub fn functions(mut self, functions: Functions) -> EngineBuilder {
        self.functions = functions;
        self
    }

    /// Registers a state machine that `states:startExecution` tasks may start, under a name,
    /// placeholder or ARN.
    pub fn machine(mut self, name: &str, machine: Arc<StateMachine>) -> EngineBuilder {
        self.machines.insert(resolve_name(name), machine);
        self
    }

    /// The object store behind ItemReader and ResultWriter.
    pub fn store(mut self, store: Arc<dyn ItemStore>) -> EngineBuilder {
        self.store = Some(store);
        self
    }

    /// Mocked task responses (Step Functions Local's MockConfigFile test case).
    pub fn mocks(mut self, mocks: MockCase) -> EngineBuilder {
        self.mocks = Some(mocks);
        self
    }

    /// Engine settings.
    pub fn options(mut self, options: EngineOptions) -> EngineBuilder {
        self.options = options;
        self
    }

    /// Builds the engine.
    pub fn build(self) -> Arc<Engine> {
        Arc::new(Engine {
            functions: self.functions,
            machines: self.machines,
            store: self.store,
            mocks: self.mocks,
            rng: Mutex::new(Rng::seeded(self.options.seed)),
            options: self.options,
            started: Instant::now(),
            counter: AtomicU64::new(0),
            executions: Mutex::new(Vec::new()),
            map_runs: Mutex::new(Vec::new()),
        })
    }
}

/// Where a state goes after it completes.
enum Next {
    Goto(String),
    End,
}

/// One execution in progress.
struct Ctx {
    arn: String,
    name: String,
    machine_name: String,
    machine_arn: String,
    input: Value,
    start_iso: String,
    history: Mutex<History>,
}

fn quota_error() -> StatesError {
    StatesError::new(names::RUNTIME, QUOTA_CAUSE)
}

fn is_quota(error: &StatesError) -> bool {
    error.error == names::RUNTIME && error.cause == QUOTA_CAUSE
}

/// Whether an `ErrorEquals` list matches an error name.
pub fn error_matches(list: &[String], error: &str) -> bool {
    list.iter().any(|e| {
        e == error
            || (e == names::ALL && error != names::RUNTIME && error != names::DATA_LIMIT_EXCEEDED)
            || (e == names::TASK_FAILED
                && error != names::TIMEOUT
                && error != names::RUNTIME
                && error != names::DATA_LIMIT_EXCEEDED)
    })
}

/// The delay before retry `attempt` (1-based) of a retrier, before jitter, in milliseconds.
pub fn retry_delay_millis(retrier: &Retrier, attempt: u32) -> u64 {
    let base = retrier.interval_seconds as f64
        * retrier.backoff_rate.powi(attempt.saturating_sub(1) as i32);
    let capped = match retrier.max_delay_seconds {
        Some(max) => base.min(max as f64),
        None => base,
    };
    (capped * 1000.0).min(1e15) as u64
}

fn payload(field: &str, value: &Value) -> JsonMap<String, Value> {
    crate::history::payload_details(field, value)
}

impl Engine {
    /// Starts building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            functions: Functions::new(),
            machines: HashMap::new(),
            store: None,
            mocks: None,
            options: EngineOptions::default(),
        }
    }

    /// The registered functions (for their counters).
    pub fn functions(&self) -> &Functions {
        &self.functions
    }

    /// Every execution run so far, children included.
    pub fn executions(&self) -> Vec<ExecutionSummary> {
        self.executions.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Every Distributed Map run so far.
    pub fn map_runs(&self) -> Vec<MapRun> {
        self.map_runs.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn now_millis(&self) -> i64 {
        self.options.start_millis + self.started.elapsed().as_millis() as i64
    }

    fn iso(&self, millis: i64) -> String {
        chrono::DateTime::from_timestamp_millis(millis)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default()
    }

    fn random_f64(&self) -> f64 {
        self.rng.lock().map(|mut r| r.next_f64()).unwrap_or(0.5)
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut Rng) -> T) -> T {
        match self.rng.lock() {
            Ok(mut rng) => f(&mut rng),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// A deterministic UUID-shaped name for a child execution.
    fn child_name(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let r = self.with_rng(|rng| rng.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) as u16,
            (n >> 36) & 0xfff,
            (n >> 24) & 0xfff,
            n & 0xffff_ffff_ffff
        )
    }

    fn machine_arn(&self, machine: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{machine}",
            self.options.region, self.options.account
        )
    }

    fn execution_arn(&self, machine: &str, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:execution:{machine}:{name}",
            self.options.region, self.options.account
        )
    }

    fn push(
        &self,
        ctx: &Ctx,
        kind: &'static str,
        details: Option<JsonMap<String, Value>>,
    ) -> Result<(), StatesError> {
        let now = self.now_millis();
        let mut history = ctx
            .history
            .lock()
            .map_err(|_| StatesError::new(names::RUNTIME, "history lock poisoned"))?;
        history.push(kind, now, details.map(Value::Object)).map(|_| ()).map_err(|_| quota_error())
    }

    /// Runs `machine` (registered as `machine_name`) to completion as an execution named `name`.
    pub async fn run(
        self: &Arc<Self>,
        machine_name: &str,
        machine: &StateMachine,
        input: Value,
        name: &str,
    ) -> Execution {
        let arn = self.execution_arn(machine_name, name);
        let machine_arn = self.machine_arn(machine_name);
        self.run_with_arns(machine_name, machine, input, name, (arn, machine_arn), false).await
    }

    async fn run_with_arns(
        self: &Arc<Self>,
        machine_name: &str,
        machine: &StateMachine,
        input: Value,
        name: &str,
        (arn, machine_arn): (String, String),
        express: bool,
    ) -> Execution {
        let start_millis = self.now_millis();
        // EXPRESS executions keep no service history (no event quota) but stop after 5 minutes.
        let history_limit = if express { usize::MAX } else { self.options.history_limit };
        let timeout_seconds = if express {
            Some(
                machine.timeout_seconds.map_or(EXPRESS_MAX_SECONDS, |t| t.min(EXPRESS_MAX_SECONDS)),
            )
        } else {
            machine.timeout_seconds
        };
        let ctx = Ctx {
            arn: arn.clone(),
            name: name.to_owned(),
            machine_name: machine_name.to_owned(),
            machine_arn: machine_arn.clone(),
            input: input.clone(),
            start_iso: self.iso(start_millis),
            history: Mutex::new(History::with_limit(history_limit)),
        };
        let mut details = payload("input", &input);
        details.insert(
            "roleArn".into(),
            json!(format!("arn:aws:iam::{}:role/graphetl-local", self.options.account)),
        );
        let started = self.push(&ctx, "ExecutionStarted", Some(details));
        let run = async {
            started?;
            self.run_machine(&ctx, machine, input.clone()).await
        };
        let outcome = match timeout_seconds {
            Some(seconds) => {
                match tokio::time::timeout(std::time::Duration::from_secs(seconds), run).await {
                    Ok(result) => result.map_err(|e| (Status::Failed, e)),
                    Err(_) => Err((
                        Status::TimedOut,
                        StatesError::new(
                            names::TIMEOUT,
                            format!("The execution exceeded its TimeoutSeconds ({seconds})"),
                        ),
                    )),
                }
            }
            None => run.await.map_err(|e| (Status::Failed, e)),
        };
        let stop_millis = self.now_millis();
        let mut history = ctx.history.into_inner().unwrap_or_else(|p| p.into_inner());
        let execution = match outcome {
            Ok(output) => {
                let details = payload("output", &output);
                if history
                    .push("ExecutionSucceeded", stop_millis, Some(Value::Object(details)))
                    .is_err()
                {
                    history.push_final(
                        "ExecutionFailed",
                        stop_millis,
                        Some(json!({"error": names::RUNTIME, "cause": QUOTA_CAUSE})),
                    );
                    Execution {
                        arn,
                        name: name.to_owned(),
                        state_machine_arn: machine_arn,
                        status: Status::Failed,
                        input,
                        output: None,
                        error: Some(names::RUNTIME.into()),
                        cause: Some(QUOTA_CAUSE.into()),
                        start_millis,
                        stop_millis,
                        history,
                    }
                } else {
                    Execution {
                        arn,
                        name: name.to_owned(),
                        state_machine_arn: machine_arn,
                        status: Status::Succeeded,
                        input,
                        output: Some(output),
                        error: None,
                        cause: None,
                        start_millis,
                        stop_millis,
                        history,
                    }
                }
            }
            Err((status, error)) => {
                let kind = if status == Status::TimedOut {
                    "ExecutionTimedOut"
                } else {
                    "ExecutionFailed"
                };
                history.push_final(
                    kind,
                    stop_millis,
                    Some(json!({"error": error.error, "cause": error.cause})),
                );
                Execution {
                    arn,
                    name: name.to_owned(),
                    state_machine_arn: machine_arn,
                    status,
                    input,
                    output: None,
                    error: Some(error.error),
                    cause: Some(error.cause),
                    start_millis,
                    stop_millis,
                    history,
                }
            }
        };
        if let Ok(mut executions) = self.executions.lock() {
            executions.push(ExecutionSummary {
                arn: execution.arn.clone(),
                state_machine: machine_name.to_owned(),
                status: execution.status.as_str(),
                events: execution.history.len(),
            });
        }
        execution
    }

    /// Runs the states of one machine (an execution, a branch or an iteration) from `StartAt`.
    fn run_machine<'a>(
        self: &'a Arc<Self>,
        ctx: &'a Ctx,
        machine: &'a StateMachine,
        input: Value,
    ) -> crate::resolve::BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            let mut name = machine.start_at.clone();
            let mut input = input;
            loop {
                let state = machine.state(&name).ok_or_else(|| {
                    StatesError::new(names::RUNTIME, format!("no state named {name}"))
                })?;
                let (output, next) = self.run_state(ctx, state, input).await?;
                match next {
                    Next::End => return Ok(output),
                    Next::Goto(target) => {
                        name = target;
                        input = output;
                    }
                }
            }
        })
    }

    fn context(&self, ctx: &Ctx, state: &str, entered: &str, retry_count: u32) -> Value {
        json!({
            "Execution": {
                "Id": ctx.arn,
                "Input": ctx.input,
                "Name": ctx.name,
                "RoleArn": format!("arn:aws:iam::{}:role/graphetl-local", self.options.account),
                "StartTime": ctx.start_iso,
            },
            "State": {"Name": state, "EnteredTime": entered, "RetryCount": retry_count},
            "StateMachine": {"Id": ctx.machine_arn, "Name": ctx.machine_name},
        })
    }

    async fn run_state(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        raw: Value,
    ) -> Result<(Value, Next), StatesError> {
        let type_name = state.kind.type_name();
        let entered_kind: &'static str = match type_name {
            "Pass" => "PassStateEntered",
            "Task" => "TaskStateEntered",
            "Choice" => "ChoiceStateEntered",
            "Wait" => "WaitStateEntered",
            "Succeed" => "SucceedStateEntered",
            "Fail" => "FailStateEntered",
            "Parallel" => "ParallelStateEntered",
            _ => "MapStateEntered",
        };
        let exited_kind: &'static str = match type_name {
            "Pass" => "PassStateExited",
            "Task" => "TaskStateExited",
            "Choice" => "ChoiceStateExited",
            "Wait" => "WaitStateExited",
            "Succeed" => "SucceedStateExited",
            "Parallel" => "ParallelStateExited",
            _ => "MapStateExited",
        };
        let mut entered = payload("input", &raw);
        entered.insert("name".into(), json!(state.name));
        self.push(ctx, entered_kind, Some(entered))?;
        let entered_iso = self.iso(self.now_millis());
        let context = self.context(ctx, &state.name, &entered_iso, 0);

        let result = match &state.kind {
            StateKind::Fail(fail) => {
                let effective = raw.clone();
                let read = |fixed: &Option<String>,
                            source: &Option<StringSource>|
                 -> Result<Option<String>, StatesError> {
                    if let Some(text) = fixed {
                        return Ok(Some(text.clone()));
                    }
                    let value = match source {
                        Some(StringSource::Path(path)) => path.select(&effective, &context)?,
                        Some(StringSource::Intrinsic(call)) => {
                            self.with_rng(|rng| call.eval(&effective, &context, rng))?
                        }
                        None => return Ok(None),
                    };
                    Ok(Some(value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())))
                };
                let error = read(&fail.error, &fail.error_path)?.unwrap_or_default();
                let cause = read(&fail.cause, &fail.cause_path)?.unwrap_or_default();
                return Err(StatesError::new(error, cause));
            }
            StateKind::Task(task) => self.run_task(ctx, state, task, &raw).await,
            StateKind::Parallel(parallel) => {
                let raw_ref = &raw;
                self.run_with_retry(ctx, state, &parallel.retry, &parallel.catch, raw_ref, |_| {
                    Box::pin(async move {
                        self.run_parallel(ctx, state, raw_ref, &context_for(self, ctx, state)).await
                    })
                })
                .await
            }
            StateKind::Map(map) => {
                let raw_ref = &raw;
                self.run_with_retry(ctx, state, &map.retry, &map.catch, raw_ref, |_| {
                    Box::pin(async move { self.run_map(ctx, state, map, raw_ref).await })
                })
                .await
            }
            _ => self
                .run_simple(ctx, state, &raw, &context)
                .await
                .map(|(output, next)| Flow::Done(output, next)),
        };
        match result? {
            Flow::Done(output, next) => {
                if !matches!(state.kind, StateKind::Fail(_)) {
                    let mut exited = payload("output", &output);
                    exited.insert("name".into(), json!(state.name));
                    self.push(ctx, exited_kind, Some(exited))?;
                }
                Ok((output, next))
            }
        }
    }

    /// Pass, Choice, Wait and Succeed.
    async fn run_simple(
        &self,
        ctx: &Ctx,
        state: &State,
        raw: &Value,
        context: &Value,
    ) -> Result<(Value, Next), StatesError> {
        let _ = ctx;
        let effective = input_path(&state.io, raw, context)?;
        match &state.kind {
            StateKind::Pass { result } => {
                let produced = match (result, &state.io.parameters) {
                    (Some(result), _) => result.clone(),
                    (None, Some(parameters)) => {
                        self.with_rng(|rng| parameters.render(&effective, context, rng))?
                    }
                    (None, None) => effective.clone(),
                };
                let placed = result_path(&state.io, raw, produced)?;
                Ok((output_path(&state.io, placed, context)?, transition(state)))
            }
            StateKind::Choice(choice) => {
                for branch in &choice.choices {
                    if branch.rule.eval(&effective, context)? {
                        return Ok((
                            output_path(&state.io, effective, context)?,
                            Next::Goto(branch.next.clone()),
                        ));
                    }
                }
                match &choice.default {
                    Some(default) => Ok((
                        output_path(&state.io, effective, context)?,
                        Next::Goto(default.clone()),
                    )),
                    None => Err(StatesError::new(
                        names::NO_CHOICE_MATCHED,
                        format!(
                            "No Matches! (state {}: no choice rule matched and there is no Default)",
                            state.name
                        ),
                    )),
                }
            }
            StateKind::Wait(wait) => {
                let millis = match wait {
                    Wait::Seconds(seconds) => seconds.saturating_mul(1000),
                    Wait::SecondsPath(path) => {
                        let value = path.select(&effective, context)?;
                        let seconds = value.as_u64().ok_or_else(|| {
                            StatesError::new(
                                names::RUNTIME,
                                format!(
                                    "SecondsPath {} is not a non-negative integer: {value}",
                                    path.as_str()
                                ),
                            )
                        })?;
                        seconds.saturating_mul(1000)
                    }
                    Wait::Timestamp(at) => millis_until(self.now_millis(), at.timestamp_millis()),
                    Wait::TimestampPath(path) => {
                        let value = path.select(&effective, context)?;
                        let text = value.as_str().unwrap_or_default();
                        let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| {
                            StatesError::new(
                                names::RUNTIME,
                                format!(
                                    "TimestampPath {} is not an RFC 3339 timestamp: {value}",
                                    path.as_str()
                                ),
                            )
                        })?;
                        millis_until(self.now_millis(), at.timestamp_millis())
                    }
                };
                tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
                Ok((output_path(&state.io, effective, context)?, transition(state)))
            }
            StateKind::Succeed => Ok((output_path(&state.io, effective, context)?, Next::End)),
            _ => Err(StatesError::new(
                names::RUNTIME,
                format!("state {} is not a simple state", state.name),
            )),
        }
    }

    /// Runs a state body with its retriers and catchers. `attempt` runs one try and returns
    /// the state's output (after ResultSelector/ResultPath/OutputPath).
    async fn run_with_retry<'a, F>(
        self: &'a Arc<Self>,
        ctx: &'a Ctx,
        state: &'a State,
        retriers: &'a [Retrier],
        catchers: &'a [Catcher],
        raw: &'a Value,
        attempt: F,
    ) -> Result<Flow, StatesError>
    where
        F: Fn(u32) -> crate::resolve::BoxFuture<'a, Result<Value, StatesError>>,
    {
        let mut counts = vec![0u32; retriers.len()];
        let mut retries = 0u32;
        loop {
            match attempt(retries).await {
                Ok(output) => return Ok(Flow::Done(output, transition(state))),
                Err(error) if is_quota(&error) => return Err(error),
                Err(error) => {
                    if let Some(index) =
                        retriers.iter().position(|r| error_matches(&r.error_equals, &error.error))
                    {
                        let retrier = &retriers[index];
                        if counts[index] < retrier.max_attempts {
                            counts[index] += 1;
                            retries += 1;
                            let mut delay = retry_delay_millis(retrier, counts[index]);
                            if retrier.jitter == Jitter::Full {
                                delay = (delay as f64 * self.random_f64()) as u64;
                            }
                            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                            continue;
                        }
                    }
                    return self.catch(ctx, state, catchers, raw, error);
                }
            }
        }
    }

    fn catch(
        &self,
        ctx: &Ctx,
        state: &State,
        catchers: &[Catcher],
        raw: &Value,
        error: StatesError,
    ) -> Result<Flow, StatesError> {
        let _ = ctx;
        let Some(catcher) = catchers.iter().find(|c| error_matches(&c.error_equals, &error.error))
        else {
            return Err(error);
        };
        let error_output = json!({"Error": error.error, "Cause": error.cause});
        let output = match &catcher.result_path {
            PathField::Default => error_output,
            PathField::Null => raw.clone(),
            PathField::Path(path) => {
                let mut placed = raw.clone();
                path.set(&mut placed, error_output)?;
                placed
            }
        };
        let _ = state;
        Ok(Flow::Done(output, Next::Goto(catcher.next.clone())))
    }

    async fn run_task(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        task: &Task,
        raw: &Value,
    ) -> Result<Flow, StatesError> {
        let invocation = AtomicU64::new(0);
        let invocation = &invocation;
        self.run_with_retry(ctx, state, &task.retry, &task.catch, raw, |retry_count| {
            let engine = self;
            let index = invocation.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                let context =
                    engine.context(ctx, &state.name, &engine.iso(engine.now_millis()), retry_count);
                let effective = input_path(&state.io, raw, &context)?;
                let parameters = match &state.io.parameters {
                    Some(template) => {
                        engine.with_rng(|rng| template.render(&effective, &context, rng))?
                    }
                    None => effective.clone(),
                };
                let result =
                    engine.attempt_task(ctx, state, task, parameters, &effective, index).await?;
                let selected = match &state.io.result_selector {
                    Some(template) => {
                        engine.with_rng(|rng| template.render(&result, &context, rng))?
                    }
                    None => result,
                };
                let placed = result_path(&state.io, raw, selected)?;
                output_path(&state.io, placed, &context)
            })
        })
        .await
    }

    /// One attempt of a task: the scheduled/started/succeeded-or-failed events and the call.
    async fn attempt_task(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        task: &Task,
        parameters: Value,
        effective: &Value,
        invocation: u64,
    ) -> Result<Value, StatesError> {
        let timeout = seconds_field(task.timeout.as_ref(), "TimeoutSecondsPath", effective)?;
        // Local functions never send heartbeats, so HeartbeatSeconds bounds the whole call.
        let heartbeat = seconds_field(task.heartbeat.as_ref(), "HeartbeatSecondsPath", effective)?;
        let deadline = match (timeout, heartbeat) {
            (Some(t), Some(h)) if h < t => {
                Some((h, "no heartbeat was received within HeartbeatSeconds"))
            }
            (Some(t), _) => Some((t, "Task timed out")),
            (None, Some(h)) => Some((h, "no heartbeat was received within HeartbeatSeconds")),
            (None, None) => None,
        };
        let legacy = matches!(task.resource, Resource::LambdaFunction { .. });
        let (resource_type, resource) = match &task.resource {
            Resource::LambdaInvoke => ("lambda", "invoke"),
            Resource::LambdaFunction { .. } => ("lambda", "function"),
            Resource::StartExecution { mode: ExecMode::FireAndForget } => {
                ("states", "startExecution")
            }
            Resource::StartExecution { mode: ExecMode::Sync } => ("states", "startExecution.sync"),
            Resource::StartExecution { mode: ExecMode::Sync2 } => {
                ("states", "startExecution.sync:2")
            }
        };
        let region = self.options.region.clone();
        if legacy {
            let mut details = payload("input", &parameters);
            details.insert("resource".into(), json!(task.resource_arn));
            if let Some(seconds) = timeout {
                details.insert("timeoutInSeconds".into(), json!(seconds));
            }
            self.push(ctx, "LambdaFunctionScheduled", Some(details))?;
            self.push(ctx, "LambdaFunctionStarted", None)?;
        } else {
            let mut details = JsonMap::new();
            details.insert("resourceType".into(), json!(resource_type));
            details.insert("resource".into(), json!(resource));
            details.insert("region".into(), json!(region));
            details.insert("parameters".into(), json!(parameters.to_string()));
            if let Some(seconds) = timeout {
                details.insert("timeoutInSeconds".into(), json!(seconds));
            }
            self.push(ctx, "TaskScheduled", Some(details))?;
            self.push(
                ctx,
                "TaskStarted",
                Some(json_map(json!({"resourceType": resource_type, "resource": resource}))),
            )?;
        }
        let call = self.call_task(ctx, state, task, parameters, invocation);
        let outcome = match deadline {
            Some((seconds, why)) => {
                match tokio::time::timeout(std::time::Duration::from_secs(seconds), call).await {
                    Ok(result) => result,
                    Err(_) => {
                        Err(StatesError::new(names::TIMEOUT, format!("{why} ({seconds} seconds)")))
                    }
                }
            }
            None => call.await,
        };
        match outcome {
            Ok(result) => {
                if legacy {
                    self.push(ctx, "LambdaFunctionSucceeded", Some(payload("output", &result)))?;
                } else {
                    let mut details = payload("output", &result);
                    details.insert("resourceType".into(), json!(resource_type));
                    details.insert("resource".into(), json!(resource));
                    self.push(ctx, "TaskSucceeded", Some(details))?;
                }
                Ok(result)
            }
            Err(error) if is_quota(&error) => Err(error),
            Err(error) => {
                let timed_out = error.error == names::TIMEOUT;
                let kind = match (legacy, timed_out) {
                    (true, true) => "LambdaFunctionTimedOut",
                    (true, false) => "LambdaFunctionFailed",
                    (false, true) => "TaskTimedOut",
                    (false, false) => "TaskFailed",
                };
                let mut details = json_map(json!({"error": error.error, "cause": error.cause}));
                if !legacy {
                    details.insert("resourceType".into(), json!(resource_type));
                    details.insert("resource".into(), json!(resource));
                }
                self.push(ctx, kind, Some(details))?;
                Err(error)
            }
        }
    }

    async fn call_task(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        task: &Task,
        parameters: Value,
        invocation: u64,
    ) -> Result<Value, StatesError> {
        let _ = invocation;
        if let Some(mocks) = &self.mocks
            && let Some(response) = mocks.response(&ctx.arn, &ctx.machine_name, &state.name)
        {
            if matches!(
                task.resource,
                Resource::StartExecution { mode: ExecMode::Sync | ExecMode::Sync2 }
            ) {
                self.push(
                    ctx,
                    "TaskSubmitted",
                    Some(json_map(json!({"resourceType": "states", "resource": "startExecution"}))),
                )?;
            }
            return response;
        }
        match &task.resource {
            Resource::LambdaInvoke => {
                let function = parameters
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let event = parameters.get("Payload").cloned().unwrap_or_else(|| json!({}));
                match self.functions.invoke(&function, event).await {
                    Ok(payload) => Ok(json!({
                        "ExecutedVersion": "$LATEST",
                        "Payload": payload,
                        "SdkHttpMetadata": {"HttpStatusCode": 200},
                        "SdkResponseMetadata": {"RequestId": "local"},
                        "StatusCode": 200,
                    })),
                    Err(e) => Err(function_error(e)),
                }
            }
            Resource::LambdaFunction { function } => {
                self.functions.invoke(function, parameters).await.map_err(function_error)
            }
            Resource::StartExecution { mode } => self.start_child(ctx, *mode, parameters).await,
        }
    }

    async fn start_child(
        self: &Arc<Self>,
        ctx: &Ctx,
        mode: ExecMode,
        parameters: Value,
    ) -> Result<Value, StatesError> {
        let reference =
            parameters.get("StateMachineArn").and_then(Value::as_str).unwrap_or_default();
        let machine_name = resolve_name(reference);
        let Some(machine) = self.machines.get(&machine_name).cloned() else {
            return Err(StatesError::new(
                "StepFunctions.StateMachineDoesNotExistException",
                format!(
                    "State Machine Does Not Exist: '{reference}' (no local state machine is registered as \"{machine_name}\")"
                ),
            ));
        };
        let input = parameters.get("Input").cloned().unwrap_or_else(|| json!({}));
        let name = parameters
            .get("Name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| self.child_name());
        let arn = self.execution_arn(&machine_name, &name);
        let start_iso = self.iso(self.now_millis());
        if mode == ExecMode::FireAndForget {
            let engine = self.clone();
            tokio::spawn(async move {
                engine.run(&machine_name, &machine, input, &name).await;
            });
            return Ok(json!({"ExecutionArn": arn, "StartDate": start_iso}));
        }
        self.push(ctx, "TaskSubmitted", Some(json_map(json!({
            "resourceType": "states",
            "resource": if mode == ExecMode::Sync { "startExecution.sync" } else { "startExecution.sync:2" },
            "output": json!({"ExecutionArn": arn, "StartDate": start_iso}).to_string(),
            "outputDetails": {"truncated": false},
        }))))?;
        let child = self.run(&machine_name, &machine, input, &name).await;
        let description = describe(&child, mode == ExecMode::Sync2, self);
        match child.status {
            Status::Succeeded => Ok(description),
            _ => Err(StatesError::new(names::TASK_FAILED, description.to_string())),
        }
    }

    async fn run_parallel(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        raw: &Value,
        context: &Value,
    ) -> Result<Value, StatesError> {
        let StateKind::Parallel(parallel) = &state.kind else {
            return Err(StatesError::new(names::RUNTIME, "not a Parallel state"));
        };
        self.push(ctx, "ParallelStateStarted", None)?;
        let effective = input_path(&state.io, raw, context)?;
        let branch_input = match &state.io.parameters {
            Some(template) => self.with_rng(|rng| template.render(&effective, context, rng))?,
            None => effective,
        };
        let runs = parallel
            .branches
            .iter()
            .map(|branch| self.run_machine(ctx, branch, branch_input.clone()));
        let results = futures::future::join_all(runs).await;
        let mut outputs = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(output) => outputs.push(output),
                Err(error) => {
                    if !is_quota(&error) {
                        self.push(ctx, "ParallelStateFailed", None)?;
                    }
                    return Err(error);
                }
            }
        }
        self.push(ctx, "ParallelStateSucceeded", None)?;
        finish_result(self, &state.io, raw, Value::Array(outputs), context)
    }

    async fn run_map(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        map: &Map,
        raw: &Value,
    ) -> Result<Value, StatesError> {
        let context = self.context(ctx, &state.name, &self.iso(self.now_millis()), 0);
        let effective = input_path(&state.io, raw, &context)?;
        let result = match map.mode {
            MapMode::Inline => self.run_inline_map(ctx, state, map, &effective, &context).await,
            MapMode::Distributed { .. } => {
                self.run_distributed_map(ctx, state, map, &effective, &context).await
            }
        };
        match result {
            Ok(output) => {
                self.push(ctx, "MapStateSucceeded", None)?;
                finish_result(self, &state.io, raw, output, &context)
            }
            Err(error) => {
                if !is_quota(&error) {
                    self.push(ctx, "MapStateFailed", None)?;
                }
                Err(error)
            }
        }
    }

    fn items_of(
        &self,
        map: &Map,
        effective: &Value,
        context: &Value,
    ) -> Result<Vec<Value>, StatesError> {
        let items = match &map.items_path {
            Some(path) => path.select(effective, context)?,
            None => effective.clone(),
        };
        match items {
            Value::Array(items) => Ok(items),
            other => Err(StatesError::new(
                names::RUNTIME,
                format!(
                    "Map: the items at ItemsPath must be a JSON array, found {}",
                    type_of(&other)
                ),
            )),
        }
    }

    fn select_item(
        &self,
        map: &Map,
        effective: &Value,
        context: &Value,
        index: usize,
        item: &Value,
    ) -> Result<Value, StatesError> {
        match &map.item_selector {
            Some(template) => {
                let mut item_context = context.clone();
                if let Value::Object(object) = &mut item_context {
                    object.insert("Map".into(), json!({"Item": {"Index": index, "Value": item}}));
                }
                self.with_rng(|rng| template.render(effective, &item_context, rng))
            }
            None => Ok(item.clone()),
        }
    }

    fn concurrency(
        &self,
        map: &Map,
        effective: &Value,
        default: usize,
    ) -> Result<usize, StatesError> {
        let value = match &map.max_concurrency {
            Some(Dynamic::Fixed(n)) => u64::from(*n),
            Some(Dynamic::Path(path)) => {
                let value = path.select(effective, &json!({}))?;
                value.as_u64().ok_or_else(|| {
                    StatesError::new(
                        names::RUNTIME,
                        format!(
                            "MaxConcurrencyPath {} is not a non-negative integer: {value}",
                            path.as_str()
                        ),
                    )
                })?
            }
            None => 0,
        };
        Ok(if value == 0 {
            default
        } else {
            usize::try_from(value).unwrap_or(default).min(default)
        })
    }

    async fn run_inline_map(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        map: &Map,
        effective: &Value,
        context: &Value,
    ) -> Result<Value, StatesError> {
        let items = self.items_of(map, effective, context)?;
        self.push(ctx, "MapStateStarted", Some(json_map(json!({"length": items.len()}))))?;
        let limit = self.concurrency(map, effective, INLINE_MAP_MAX_CONCURRENCY)?;
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            inputs.push(self.select_item(map, effective, context, index, item)?);
        }
        let name = state.name.clone();
        let iterations = inputs.into_iter().enumerate().map(|(index, input)| {
            let name = name.clone();
            async move {
                self.push(
                    ctx,
                    "MapIterationStarted",
                    Some(json_map(json!({"name": name, "index": index}))),
                )?;
                match self.run_machine(ctx, &map.processor, input).await {
                    Ok(output) => {
                        self.push(
                            ctx,
                            "MapIterationSucceeded",
                            Some(json_map(json!({"name": name, "index": index}))),
                        )?;
                        Ok(output)
                    }
                    Err(error) => {
                        if !is_quota(&error) {
                            self.push(
                                ctx,
                                "MapIterationFailed",
                                Some(json_map(json!({"name": name, "index": index}))),
                            )?;
                        }
                        Err(error)
                    }
                }
            }
        });
        let mut stream = futures::stream::iter(iterations).buffered(limit.max(1));
        let mut outputs = Vec::new();
        while let Some(result) = stream.next().await {
            outputs.push(result?);
        }
        Ok(Value::Array(outputs))
    }

    async fn read_items(
        &self,
        map: &Map,
        effective: &Value,
        context: &Value,
    ) -> Result<Vec<Value>, StatesError> {
        let Some(reader) = &map.item_reader else {
            return self.items_of(map, effective, context);
        };
        let (store, parameters, bucket) = self.s3_call(
            &reader.parameters,
            effective,
            context,
            names::ITEM_READER_FAILED,
            "ItemReader",
        )?;
        let reader_error = |message: String| StatesError::new(names::ITEM_READER_FAILED, message);
        let mut items = match &reader.source {
            ReaderSource::ListObjectsV2 => {
                let prefix = parameters.get("Prefix").and_then(Value::as_str).unwrap_or_default();
                store
                    .list(&bucket, prefix)
                    .await
                    .map_err(reader_error)?
                    .into_iter()
                    .map(|o| json!({"Etag": o.etag, "Key": o.key, "LastModified": o.last_modified, "Size": o.size, "StorageClass": "STANDARD"}))
                    .collect::<Vec<_>>()
            }
            ReaderSource::GetObject { input_type } => {
                let key = parameters.get("Key").and_then(Value::as_str).unwrap_or_default();
                let body = store.get(&bucket, key).await.map_err(reader_error)?;
                let text = String::from_utf8(body)
                    .map_err(|_| reader_error(format!("s3://{bucket}/{key} is not UTF-8")))?;
                parse_items(input_type, &text)
                    .map_err(|e| reader_error(format!("s3://{bucket}/{key}: {e}")))?
            }
        };
        let max_items = match &reader.max_items {
            Some(Dynamic::Fixed(n)) => Some(*n),
            Some(Dynamic::Path(path)) => {
                let value = path.select(effective, context)?;
                Some(value.as_u64().ok_or_else(|| {
                    StatesError::new(
                        names::RUNTIME,
                        format!(
                            "MaxItemsPath {} is not a non-negative integer: {value}",
                            path.as_str()
                        ),
                    )
                })?)
            }
            None => None,
        };
        if let Some(max) = max_items {
            items.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        }
        Ok(items)
    }

    /// The store, rendered parameters and bucket of an ItemReader or ResultWriter call.
    fn s3_call(
        &self,
        template: &crate::query::jsonpath::PayloadTemplate,
        effective: &Value,
        context: &Value,
        error: &str,
        what: &str,
    ) -> Result<(&Arc<dyn ItemStore>, Value, String), StatesError> {
        let store = self.store.as_ref().ok_or_else(|| {
            StatesError::new(error, format!("no object store is configured for the {what}"))
        })?;
        let parameters = self.with_rng(|rng| template.render(effective, context, rng))?;
        let bucket =
            parameters.get("Bucket").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok((store, parameters, bucket))
    }

    fn batches(
        &self,
        map: &Map,
        effective: &Value,
        context: &Value,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, StatesError> {
        let Some(batcher) = &map.item_batcher else { return Ok(items) };
        let read = |field: &Option<Dynamic<u64>>| -> Result<Option<u64>, StatesError> {
            match field {
                Some(Dynamic::Fixed(n)) => Ok(Some(*n)),
                Some(Dynamic::Path(path)) => {
                    let value = path.select(effective, context)?;
                    value.as_u64().map(Some).ok_or_else(|| {
                        StatesError::new(
                            names::RUNTIME,
                            format!("{} is not a positive integer: {value}", path.as_str()),
                        )
                    })
                }
                None => Ok(None),
            }
        };
        let max_items = read(&batcher.max_items_per_batch)?.unwrap_or(u64::MAX).max(1);
        let max_bytes = read(&batcher.max_input_bytes_per_batch)?.unwrap_or(262_144);
        let batch_input = match &batcher.batch_input {
            Some(template) => Some(self.with_rng(|rng| template.render(effective, context, rng))?),
            None => None,
        };
        let mut batches = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut bytes = 0u64;
        for item in items {
            let size = item.to_string().len() as u64 + 1;
            if !current.is_empty()
                && (current.len() as u64 >= max_items || bytes + size > max_bytes)
            {
                batches.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(item);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        Ok(batches
            .into_iter()
            .map(|items| match &batch_input {
                Some(input) => json!({"BatchInput": input, "Items": items}),
                None => json!({"Items": items}),
            })
            .collect())
    }

    async fn run_distributed_map(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        map: &Map,
        effective: &Value,
        context: &Value,
    ) -> Result<Value, StatesError> {
        let length = if map.item_reader.is_some() {
            0
        } else {
            self.items_of(map, effective, context).map(|i| i.len()).unwrap_or(0)
        };
        self.push(ctx, "MapStateStarted", Some(json_map(json!({"length": length}))))?;
        let label = map.label.clone().unwrap_or_else(|| state.name.clone());
        let run_id = self.child_name();
        let child_machine = format!("{}/{label}", ctx.machine_name);
        let map_run_arn = format!(
            "arn:aws:states:{}:{}:mapRun:{}/{label}:{run_id}",
            self.options.region, self.options.account, ctx.machine_name
        );
        self.push(ctx, "MapRunStarted", Some(json_map(json!({"mapRunArn": map_run_arn}))))?;
        let outcome = self
            .distributed_body(ctx, map, effective, context, &child_machine, &map_run_arn, &run_id)
            .await;
        match outcome {
            Ok(output) => {
                self.push(ctx, "MapRunSucceeded", None)?;
                Ok(output)
            }
            Err(error) => {
                self.push(
                    ctx,
                    "MapRunFailed",
                    Some(json_map(json!({"error": error.error, "cause": error.cause}))),
                )?;
                Err(error)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn distributed_body(
        self: &Arc<Self>,
        ctx: &Ctx,
        map: &Map,
        effective: &Value,
        context: &Value,
        child_machine: &str,
        map_run_arn: &str,
        run_id: &str,
    ) -> Result<Value, StatesError> {
        let items = self.read_items(map, effective, context).await?;
        let mut selected = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            selected.push(self.select_item(map, effective, context, index, item)?);
        }
        let inputs = self.batches(map, effective, context, selected)?;
        let total = inputs.len() as u64;
        let limit = self.concurrency(map, effective, DISTRIBUTED_MAP_DEFAULT_CONCURRENCY)?;
        let tolerated_count = match &map.tolerated_failure_count {
            Some(Dynamic::Fixed(n)) => Some(*n),
            Some(Dynamic::Path(path)) => {
                Some(path.select(effective, context)?.as_u64().ok_or_else(|| {
                    StatesError::new(names::RUNTIME, "ToleratedFailureCount cannot be negative")
                })?)
            }
            None => None,
        };
        let tolerated_percentage = match &map.tolerated_failure_percentage {
            Some(Dynamic::Fixed(p)) => Some(*p),
            Some(Dynamic::Path(path)) => {
                let value =
                    path.select(effective, context)?.as_f64().filter(|p| (0.0..=100.0).contains(p));
                Some(value.ok_or_else(|| {
                    StatesError::new(
                        names::RUNTIME,
                        "ToleratedFailurePercentage must be between 0 and 100",
                    )
                })?)
            }
            None => None,
        };
        let exceeded = |failed: u64| -> bool {
            let by_count = tolerated_count.is_some_and(|c| failed > c);
            let by_pct = tolerated_percentage
                .is_some_and(|p| total > 0 && (failed as f64) * 100.0 / (total as f64) > p);
            let strict = tolerated_count.is_none() && tolerated_percentage.is_none() && failed > 0;
            by_count || by_pct || strict
        };
        let processor = &map.processor;
        let express =
            matches!(map.mode, MapMode::Distributed { execution_type: ExecutionType::Express });
        let pending_inputs = inputs.clone();
        let children = inputs.into_iter().enumerate().map(|(index, input)| {
            let name = self.child_name();
            let arn = format!(
                "arn:aws:states:{}:{}:execution:{child_machine}:{name}",
                self.options.region, self.options.account
            );
            let machine_arn = self.machine_arn(child_machine);
            async move {
                let execution = self
                    .run_with_arns(
                        child_machine,
                        processor,
                        input,
                        &name,
                        (arn, machine_arn),
                        express,
                    )
                    .await;
                (index, execution)
            }
        });
        let mut stream = futures::stream::iter(children).buffer_unordered(limit.max(1));
        let mut finished: Vec<(usize, Execution)> = Vec::new();
        let mut failed = 0u64;
        let mut stopped = false;
        while let Some((index, execution)) = stream.next().await {
            if execution.status != Status::Succeeded {
                failed += 1;
            }
            finished.push((index, execution));
            if exceeded(failed) {
                stopped = true;
                break;
            }
        }
        drop(stream);
        finished.sort_by_key(|(index, _)| *index);
        let succeeded =
            finished.iter().filter(|(_, e)| e.status == Status::Succeeded).count() as u64;
        let pending = total - finished.len() as u64;
        let started: std::collections::HashSet<usize> = finished.iter().map(|(i, _)| *i).collect();
        let never_started: Vec<Value> = pending_inputs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !started.contains(i))
            .map(|(_, input)| input)
            .collect();
        let manifest = match &map.result_writer {
            Some(writer) => Some(
                self.write_results(
                    writer,
                    effective,
                    context,
                    map_run_arn,
                    run_id,
                    &finished,
                    &never_started,
                )
                .await?,
            ),
            None => None,
        };
        if let Ok(mut runs) = self.map_runs.lock() {
            runs.push(MapRun {
                arn: map_run_arn.to_owned(),
                execution_arn: ctx.arn.clone(),
                succeeded,
                failed,
                pending,
                manifest: manifest.clone(),
            });
        }
        if stopped || exceeded(failed) {
            return Err(StatesError::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                format!(
                    "The specified tolerated failure threshold was exceeded: {failed} of {total} child executions failed"
                ),
            ));
        }
        Ok(match manifest {
            Some((bucket, key)) => {
                json!({"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}})
            }
            None => Value::Array(
                finished
                    .into_iter()
                    .map(|(_, e)| {
                        e.output.unwrap_or_else(|| json!({"Error": e.error, "Cause": e.cause}))
                    })
                    .collect(),
            ),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_results(
        &self,
        writer: &crate::asl::ResultWriter,
        effective: &Value,
        context: &Value,
        map_run_arn: &str,
        run_id: &str,
        finished: &[(usize, Execution)],
        pending: &[Value],
    ) -> Result<(String, String), StatesError> {
        let (store, parameters, bucket) = self.s3_call(
            &writer.parameters,
            effective,
            context,
            names::RESULT_WRITER_FAILED,
            "ResultWriter",
        )?;
        let prefix = parameters
            .get("Prefix")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        let base = if prefix.is_empty() { run_id.to_owned() } else { format!("{prefix}/{run_id}") };
        let record = |e: &Execution| {
            let mut r = json!({
                "ExecutionArn": e.arn,
                "Name": e.name,
                "StateMachineArn": e.state_machine_arn,
                "Input": e.input.to_string(),
                "InputDetails": {"Included": true},
                "Status": e.status.as_str(),
                "StartDate": self.iso(e.start_millis),
                "StopDate": self.iso(e.stop_millis),
                "RedriveCount": 0,
            });
            if let Value::Object(object) = &mut r {
                match &e.output {
                    Some(output) => {
                        object.insert("Output".into(), json!(output.to_string()));
                        object.insert("OutputDetails".into(), json!({"Included": true}));
                        object.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
                        object.insert(
                            "RedriveStatusReason".into(),
                            json!("Execution is SUCCEEDED and cannot be redriven"),
                        );
                    }
                    None => {
                        object.insert("Error".into(), json!(e.error));
                        object.insert("Cause".into(), json!(e.cause));
                        object.insert("RedriveStatus".into(), json!("REDRIVABLE"));
                    }
                }
            }
            r
        };
        let succeeded: Vec<Value> = finished
            .iter()
            .filter(|(_, e)| e.status == Status::Succeeded)
            .map(|(_, e)| record(e))
            .collect();
        let failed: Vec<Value> = finished
            .iter()
            .filter(|(_, e)| e.status != Status::Succeeded)
            .map(|(_, e)| record(e))
            .collect();
        let mut files = json!({"FAILED": [], "PENDING": [], "SUCCEEDED": []});
        let write_error = |e: String| StatesError::new(names::RESULT_WRITER_FAILED, e);
        for (kind, records) in [("SUCCEEDED", succeeded), ("FAILED", failed)] {
            if records.is_empty() {
                continue;
            }
            let key = format!("{base}/{kind}_0.json");
            let body = Value::Array(records).to_string().into_bytes();
            let size = body.len();
            store.put(&bucket, &key, body).await.map_err(write_error)?;
            if let Some(list) = files.get_mut(kind).and_then(Value::as_array_mut) {
                list.push(json!({"Key": key, "Size": size}));
            }
        }
        if !pending.is_empty() {
            let key = format!("{base}/PENDING_0.json");
            let records: Vec<Value> = pending
                .iter()
                .map(|input| json!({"Input": input.to_string(), "InputDetails": {"Included": true}, "Status": "PENDING"}))
                .collect();
            let body = Value::Array(records).to_string().into_bytes();
            let size = body.len();
            store.put(&bucket, &key, body).await.map_err(write_error)?;
            if let Some(list) = files.get_mut("PENDING").and_then(Value::as_array_mut) {
                list.push(json!({"Key": key, "Size": size}));
            }
        }
        let manifest_key = format!("{base}/manifest.json");
        let manifest =
            json!({"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files});
        store
            .put(&bucket, &manifest_key, manifest.to_string().into_bytes())
            .await
            .map_err(write_error)?;
        Ok((bucket, manifest_key))
    }
}

/// The result of a state body that completed (normally or through a catcher).
enum Flow {
    Done(Value, Next),
}

fn context_for(engine: &Engine, ctx: &Ctx, state: &State) -> Value {
    engine.context(ctx, &state.name, &engine.iso(engine.now_millis()), 0)
}

/// Reads a `TimeoutSeconds`-style field, literal or by path (a positive integer).
fn seconds_field(
    field: Option<&Dynamic<u64>>,
    name: &str,
    effective: &Value,
) -> Result<Option<u64>, StatesError> {
    match field {
        Some(Dynamic::Fixed(seconds)) => Ok(Some(*seconds)),
        Some(Dynamic::Path(path)) => {
            let value = path.select(effective, &json!({}))?;
            value.as_u64().filter(|s| *s >= 1).map(Some).ok_or_else(|| {
                StatesError::new(
                    names::RUNTIME,
                    format!("{name} {} is not a positive integer: {value}", path.as_str()),
                )
            })
        }
        None => Ok(None),
    }
}

fn json_map(value: Value) -> JsonMap<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => JsonMap::new(),
    }
}

fn function_error(error: crate::resolve::FunctionError) -> StatesError {
    if error.error_type.starts_with("Lambda.") {
        return StatesError::new(error.error_type, error.error_message);
    }
    let cause = json!({
        "errorMessage": error.error_message,
        "errorType": error.error_type,
        "requestId": "local",
        "stackTrace": [],
    });
    StatesError::new(error.error_type, cause.to_string())
}

fn describe(child: &Execution, parsed: bool, engine: &Engine) -> Value {
    let encode = |v: &Value| if parsed { v.clone() } else { json!(v.to_string()) };
    let mut description = json!({
        "ExecutionArn": child.arn,
        "Input": encode(&child.input),
        "InputDetails": {"Included": true},
        "Name": child.name,
        "StartDate": engine.iso(child.start_millis),
        "StateMachineArn": child.state_machine_arn,
        "Status": child.status.as_str(),
        "StopDate": engine.iso(child.stop_millis),
    });
    if let Value::Object(object) = &mut description {
        match &child.output {
            Some(output) => {
                object.insert("Output".into(), encode(output));
                object.insert("OutputDetails".into(), json!({"Included": true}));
            }
            None => {
                object.insert("Error".into(), json!(child.error));
                object.insert("Cause".into(), json!(child.cause));
            }
        }
    }
    description
}

fn parse_items(input_type: &ReaderInputType, text: &str) -> Result<Vec<Value>, String> {
    match input_type {
        ReaderInputType::Json => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err("the object is not a JSON array".into()),
            Err(e) => Err(format!("invalid JSON: {e}")),
        },
        ReaderInputType::Jsonl => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| format!("line {}: invalid JSON: {e}", i + 1))
            })
            .collect(),
        ReaderInputType::Csv { header_location, delimiter } => {
            let mut rows = text
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| l.split(delimiter.as_char()).map(str::to_owned).collect::<Vec<_>>());
            let header: Vec<String> = match header_location {
                crate::asl::CsvHeaderLocation::FirstRow => {
                    rows.next().ok_or("the CSV has no header row")?
                }
                crate::asl::CsvHeaderLocation::Given(names) => names.clone(),
            };
            let mut seen = std::collections::BTreeSet::new();
            if let Some(duplicate) = header.iter().find(|h| !seen.insert(h.as_str())) {
                return Err(format!("duplicate CSV header \"{duplicate}\""));
            }
            Ok(rows
                .map(|row| {
                    let object: JsonMap<String, Value> =
                        header.iter().cloned().zip(row.into_iter().map(Value::String)).collect();
                    Value::Object(object)
                })
                .collect())
        }
    }
}

fn millis_until(now: i64, at: i64) -> u64 {
    u64::try_from(at.saturating_sub(now)).unwrap_or(0)
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn transition(state: &State) -> Next {
    match &state.transition {
        Transition::Next(next) => Next::Goto(next.clone()),
        _ => Next::End,
    }
}

fn input_path(io: &Io, raw: &Value, context: &Value) -> Result<Value, StatesError> {
    match &io.input_path {
        PathField::Default => Ok(raw.clone()),
        PathField::Null => Ok(json!({})),
        PathField::Path(path) => path.select(raw, context),
    }
}

fn result_path(io: &Io, raw: &Value, result: Value) -> Result<Value, StatesError> {
    match &io.result_path {
        PathField::Default => Ok(result),
        PathField::Null => Ok(raw.clone()),
        PathField::Path(path) => {
            let mut placed = raw.clone();
            path.set(&mut placed, result)?;
            Ok(placed)
        }
    }
}

fn output_path(io: &Io, value: Value, context: &Value) -> Result<Value, StatesError> {
    match &io.output_path {
        PathField::Default => Ok(value),
        PathField::Null => Ok(json!({})),
        PathField::Path(path) => path.select(&value, context),
    }
}

fn finish_result(
    engine: &Engine,
    io: &Io,
    raw: &Value,
    result: Value,
    context: &Value,
) -> Result<Value, StatesError> {
    let selected = match &io.result_selector {
        Some(template) => engine.with_rng(|rng| template.render(&result, context, rng))?,
        None => result,
    };
    let placed = result_path(io, raw, selected)?;
    output_path(io, placed, context)
}
