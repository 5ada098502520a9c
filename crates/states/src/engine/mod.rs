//! The engine: runs a validated [`StateMachine`] with AWS's input/output processing,
//! Retry/Catch, inline and Distributed Maps, Parallel branches and nested executions, recording
//! every execution's history with AWS's event names.
//!
//! Its public API is what the CLI, the local runner and tests call (and what an HTTP server
//! would): build an [`Engine`], [`Engine::run`] an execution to completion (or
//! [`Engine::start`] one in the background), then read [`Engine::describe_execution`],
//! [`Engine::executions`], [`Engine::map_runs`] and [`Engine::failed_items`]; an
//! [`Execution`] carries its output, error and full [`History`].
//!
//! One file per concern, each state kind on its own page:
//! - `execution`: one execution from `ExecutionStarted` to its end (timeouts, EXPRESS
//!   limits, the quota), the state loop and the context object;
//! - `state`: entering and leaving a state, and the simple states (Pass, Wait, Succeed, Fail);
//!   `choice`, `task`, `parallel`, `map` (inline and distributed: item reading,
//!   batching, child executions, the result writer) for the others;
//! - `retry`: `Retry` and `Catch`, and `child`: `states:startExecution` children.
//!
//! Input and output processing goes through the query-language seam ([`crate::query`]); the
//! engine never evaluates a path or template itself.
//!
//! Time comes from tokio: on a runtime started with paused time (virtual time), waits and retry
//! delays are recorded but advance instantly. Nothing here knows about graphetl's own steps;
//! tasks call whatever [`Functions`] and state machines the caller registered.

mod child;
mod choice;
mod execution;
#[cfg(test)]
mod jsonata_fields_tests;
mod map;
mod parallel;
mod progress;
mod records;
mod redrive;
mod retry;
mod state;
mod task;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod variables_tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::time::Instant;

use crate::asl::StateMachine;
use crate::history::History;
use crate::mock::MockCase;
use crate::query::{Frame, Scope};
use crate::resolve::{Functions, ItemStore, resolve_name};
use crate::rng::Rng;

pub use records::MapRunRecord;
pub use redrive::{REDRIVE_WINDOW_MILLIS, RedriveError};
pub use retry::{error_matches, retry_delay_millis};

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
    /// How many times it was redriven.
    pub redrive_count: u32,
    /// The full history (across redrives).
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
    /// How many times it was redriven.
    pub redrive_count: u32,
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
    /// The child executions that did not succeed, in item order.
    pub failed_items: Vec<FailedItem>,
    /// How many times the Map Run was redriven.
    pub redrive_count: u32,
}

/// A Map Run child execution that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedItem {
    /// The child execution's ARN.
    pub execution_arn: String,
    /// Its input (the item or batch after ItemSelector and ItemBatcher).
    pub input: Value,
    /// Its final status.
    pub status: Status,
    /// The error name.
    pub error: Option<String>,
    /// The cause.
    pub cause: Option<String>,
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
    /// Keep every finished execution's full history and each Map Run's dates and counts
    /// ([`Engine::kept_execution`], [`Engine::map_run_records`]), as a long-running server needs.
    pub keep_records: bool,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            history_limit: crate::history::MAX_HISTORY_EVENTS,
            seed: 0x5eed,
            start_millis: chrono::Utc::now().timestamp_millis(),
            keep_records: false,
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
    /// What a redrive needs of each execution that can be redriven, by ARN.
    records: Mutex<HashMap<String, redrive::Record>>,
    /// What a server asks of finished executions and Map Runs (`keep_records`).
    kept: Mutex<records::Records>,
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
            records: Mutex::new(HashMap::new()),
            kept: Mutex::default(),
        })
    }
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
        let names = execution::Names { machine: machine_name, name, arn, machine_arn };
        self.run_execution(names, machine, input, false).await
    }

    /// Starts an execution in the background (as `StartExecution` does) and returns its ARN at
    /// once; [`Engine::describe_execution`] reports it once it has finished, and awaiting the
    /// handle gives the whole [`Execution`].
    pub fn start(
        self: &Arc<Self>,
        machine_name: &str,
        machine: Arc<StateMachine>,
        input: Value,
        name: &str,
    ) -> (String, tokio::task::JoinHandle<Execution>) {
        let arn = self.execution_arn(machine_name, name);
        let engine = self.clone();
        let (machine_name, name) = (machine_name.to_owned(), name.to_owned());
        let handle =
            tokio::spawn(async move { engine.run(&machine_name, &machine, input, &name).await });
        (arn, handle)
    }

    /// Every execution run so far, children included.
    pub fn executions(&self) -> Vec<ExecutionSummary> {
        self.executions.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The summary of one finished execution (`DescribeExecution`), by ARN.
    pub fn describe_execution(&self, arn: &str) -> Option<ExecutionSummary> {
        self.executions.lock().ok()?.iter().find(|e| e.arn == arn).cloned()
    }

    /// Every Distributed Map run so far.
    pub fn map_runs(&self) -> Vec<MapRun> {
        self.map_runs.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The child executions of a Map Run that did not succeed, in item order (what the console's
    /// "failed items" view and a ResultWriter's `FAILED` files list). Empty for an unknown ARN.
    pub fn failed_items(&self, map_run_arn: &str) -> Vec<FailedItem> {
        self.map_runs
            .lock()
            .ok()
            .and_then(|runs| runs.iter().find(|r| r.arn == map_run_arn).cloned())
            .map(|run| run.failed_items)
            .unwrap_or_default()
    }

    fn now_millis(&self) -> i64 {
        self.options.start_millis + self.started.elapsed().as_millis() as i64
    }

    fn iso(&self, millis: i64) -> String {
        chrono::DateTime::from_timestamp_millis(millis)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default()
    }

    /// What the query language sees under a context object.
    fn scope<'a>(&'a self, context: &'a Value, frame: &'a Frame) -> Scope<'a> {
        Scope::new(context, &self.rng, frame)
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
}
