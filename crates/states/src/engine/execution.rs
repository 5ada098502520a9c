//! One execution from `ExecutionStarted` (or `ExecutionRedriven`) to
//! `ExecutionSucceeded`/`Failed`/`TimedOut`: its names and ARNs, the execution timeout (and
//! EXPRESS's five minutes), the history and its quota, the loop from `StartAt` (or the state a
//! redrive continues in) through `Next` to an end, the progress a redrive continues from, and
//! the context object (`$$`).

use std::sync::{Arc, Mutex};

use serde_json::{Map as JsonMap, Value, json};

use super::progress::{Progress, RunPath, Unit};
use super::{Engine, Execution, ExecutionSummary, Status};
use crate::asl::StateMachine;
use crate::error::{StatesError, names};
use crate::history::{History, QUOTA_CAUSE};
use crate::query::Frame;
use crate::resolve::BoxFuture;

/// EXPRESS executions run at most five minutes.
const EXPRESS_MAX_SECONDS: u64 = 300;

/// Where a state goes after it completes.
pub(super) enum Next {
    Goto(String),
    End,
}

/// One execution in progress.
pub(super) struct Ctx {
    pub(super) arn: String,
    pub(super) name: String,
    pub(super) machine_name: String,
    pub(super) machine_arn: String,
    pub(super) input: Value,
    pub(super) start_iso: String,
    /// The history so far (shared with [`Engine::live_history`] while it runs).
    pub(super) history: Arc<Mutex<History>>,
    /// How many times the execution was redriven (`$$.Execution.RedriveCount`).
    pub(super) redrive_count: u32,
    /// When it was last redriven (`$$.Execution.RedriveTime`).
    pub(super) redrive_iso: Option<String>,
    /// What this attempt has done.
    pub(super) progress: Mutex<Progress>,
    /// What the previous attempt had done (empty unless redriving).
    pub(super) previous: Mutex<Progress>,
}

impl Ctx {
    /// A fresh execution's context.
    pub(super) fn new(names: &Names<'_>, input: Value, start_iso: String, history: History) -> Ctx {
        Ctx {
            arn: names.arn.clone(),
            name: names.name.to_owned(),
            machine_name: names.machine.to_owned(),
            machine_arn: names.machine_arn.clone(),
            input,
            start_iso,
            history: Arc::new(Mutex::new(history)),
            redrive_count: 0,
            redrive_iso: None,
            progress: Mutex::new(Progress::default()),
            previous: Mutex::new(Progress::default()),
        }
    }

    /// Runs `f` on this attempt's progress.
    pub(super) fn progress<T>(&self, f: impl FnOnce(&mut Progress) -> T) -> T {
        match self.progress.lock() {
            Ok(mut progress) => f(&mut progress),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Runs `f` on the previous attempt's progress.
    pub(super) fn previous<T>(&self, f: impl FnOnce(&mut Progress) -> T) -> T {
        match self.previous.lock() {
            Ok(mut previous) => f(&mut previous),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Whether the previous attempt had finished the run at `path` (a redrive skips it).
    pub(super) fn previously_done(&self, path: &RunPath) -> bool {
        self.previous(|p| p.is_done(path))
    }
}

/// The names and ARNs an execution runs under.
pub(super) struct Names<'a> {
    /// The state machine's registered name (for children, `parent/Label`).
    pub(super) machine: &'a str,
    /// The execution name.
    pub(super) name: &'a str,
    /// The execution ARN.
    pub(super) arn: String,
    /// The state machine ARN.
    pub(super) machine_arn: String,
}

pub(super) fn quota_error() -> StatesError {
    StatesError::new(names::RUNTIME, QUOTA_CAUSE)
}

/// Whether an error is the history quota, which nothing retries or catches.
pub(super) fn is_quota(error: &StatesError) -> bool {
    error.error == names::RUNTIME && error.cause == QUOTA_CAUSE
}

/// A history event's details with the payload under `field` (`input`, `output`).
pub(super) fn payload(field: &str, value: &Value) -> JsonMap<String, Value> {
    crate::history::payload_details(field, value)
}

/// A JSON object as event details (anything else is no details).
pub(super) fn json_map(value: Value) -> JsonMap<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => JsonMap::new(),
    }
}

impl Engine {
    /// Runs one execution to its end; `express` drops the history quota and caps its duration.
    pub(super) async fn run_execution(
        self: &Arc<Self>,
        names: Names<'_>,
        machine: &StateMachine,
        input: Value,
        express: bool,
    ) -> Execution {
        let start_millis = self.now_millis();
        // EXPRESS executions keep no service history (no event quota) but stop after 5 minutes.
        let history_limit = if express { usize::MAX } else { self.options.history_limit };
        let history = History::with_limit(history_limit);
        let ctx = Ctx::new(&names, input, self.iso(start_millis), history);
        self.drive(ctx, machine, express, start_millis).await
    }

    /// Runs (or continues, when `ctx` carries a previous attempt) an execution to its end,
    /// then keeps its record and summary.
    pub(super) async fn drive(
        self: &Arc<Self>,
        ctx: Ctx,
        machine: &StateMachine,
        express: bool,
        start_millis: i64,
    ) -> Execution {
        let timeout_seconds = if express {
            Some(
                machine.timeout_seconds.map_or(EXPRESS_MAX_SECONDS, |t| t.min(EXPRESS_MAX_SECONDS)),
            )
        } else {
            machine.timeout_seconds
        };
        self.note_live(&ctx.arn, Some(&ctx.history));
        let outcome = self.run_to_end(&ctx, machine, timeout_seconds).await;
        let stop_millis = self.now_millis();
        self.note_live(&ctx.arn, None);
        let Ctx { arn, name, machine_name, machine_arn, input, history, progress, .. } = ctx;
        let history = match Arc::try_unwrap(history) {
            Ok(history) => history.into_inner().unwrap_or_else(|p| p.into_inner()),
            Err(shared) => {
                shared.lock().map(|h| h.clone()).unwrap_or_else(|p| p.into_inner().clone())
            }
        };
        let execution = Execution {
            arn,
            name,
            state_machine_arn: machine_arn,
            status: Status::Succeeded,
            input,
            output: None,
            error: None,
            cause: None,
            start_millis,
            stop_millis,
            redrive_count: ctx.redrive_count,
            history,
        };
        let execution = finish(execution, outcome);
        self.summarize(&execution, &machine_name);
        let progress = progress.into_inner().unwrap_or_else(|p| p.into_inner());
        self.keep_record(&execution, &machine_name, (express, ctx.redrive_iso), progress);
        self.keep_execution(&execution);
        execution
    }

    /// Adds or updates the execution's entry in [`Engine::executions`].
    fn summarize(&self, execution: &Execution, machine_name: &str) {
        let summary = ExecutionSummary {
            arn: execution.arn.clone(),
            state_machine: machine_name.to_owned(),
            status: execution.status.as_str(),
            events: execution.history.len(),
            redrive_count: execution.redrive_count,
        };
        if let Ok(mut executions) = self.executions.lock() {
            match executions.iter_mut().find(|e| e.arn == summary.arn) {
                Some(existing) => *existing = summary,
                None => executions.push(summary),
            }
        }
    }

    /// `ExecutionStarted` (or `ExecutionRedriven`), then the states, within the execution
    /// timeout.
    async fn run_to_end(
        self: &Arc<Self>,
        ctx: &Ctx,
        machine: &StateMachine,
        timeout_seconds: Option<u64>,
    ) -> Result<Value, (Status, StatesError)> {
        let started = if ctx.redrive_count > 0 {
            self.push(
                ctx,
                "ExecutionRedriven",
                Some(json_map(json!({"redriveCount": ctx.redrive_count}))),
            )
        } else {
            let mut details = payload("input", &ctx.input);
            details.insert(
                "roleArn".into(),
                json!(format!("arn:aws:iam::{}:role/graphetl-local", self.options.account)),
            );
            self.push(ctx, "ExecutionStarted", Some(details))
        };
        let run = async {
            started?;
            let root = RunPath::root();
            self.run_machine(ctx, &root, machine, ctx.input.clone(), &JsonMap::new()).await
        };
        match timeout_seconds {
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
        }
    }

    /// Runs the states of one machine (an execution, a branch or an iteration) at `path` from
    /// `StartAt`, in a variable scope that starts with the `outer` scope's variables (its own
    /// assignments stay inside it) — or from where the previous attempt stopped, with the
    /// variables it had there (a run it had finished is not run again: its output stands).
    pub(super) fn run_machine<'a>(
        self: &'a Arc<Self>,
        ctx: &'a Ctx,
        path: &'a RunPath,
        machine: &'a StateMachine,
        input: Value,
        outer: &JsonMap<String, Value>,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
        let mut frame = Frame::new(outer.clone());
        Box::pin(async move {
            let (mut name, mut input) = match ctx.previous(|p| p.take(path)) {
                Some(Unit::Done(output)) => {
                    ctx.progress(|p| p.set(path, Unit::Done(output.clone())));
                    return Ok(output);
                }
                Some(Unit::At { state, input, variables }) => {
                    frame = Frame::new(variables);
                    (state, input)
                }
                None => (machine.start_at.clone(), input),
            };
            loop {
                let state = machine.state(&name).ok_or_else(|| {
                    StatesError::new(names::RUNTIME, format!("no state named {name}"))
                })?;
                ctx.progress(|p| {
                    let variables = frame.visible().clone();
                    p.set(path, Unit::At { state: name.clone(), input: input.clone(), variables })
                });
                let (output, next) = self.run_state(ctx, path, state, input, &frame).await?;
                frame.commit();
                ctx.progress(|p| p.forget_inside(path, &name));
                match next {
                    Next::End => {
                        ctx.progress(|p| p.set(path, Unit::Done(output.clone())));
                        return Ok(output);
                    }
                    Next::Goto(target) => {
                        name = target;
                        input = output;
                    }
                }
            }
        })
    }

    /// The context object (`$$`) of a state entered at `entered` on its `retry_count`th retry.
    pub(super) fn context(&self, ctx: &Ctx, state: &str, entered: &str, retry_count: u32) -> Value {
        let mut execution = json!({
            "Id": ctx.arn,
            "Input": ctx.input,
            "Name": ctx.name,
            "RoleArn": format!("arn:aws:iam::{}:role/graphetl-local", self.options.account),
            "StartTime": ctx.start_iso,
            "RedriveCount": ctx.redrive_count,
        });
        if let (Some(time), Value::Object(object)) = (&ctx.redrive_iso, &mut execution) {
            object.insert("RedriveTime".into(), json!(time));
        }
        json!({
            "Execution": execution,
            "State": {"Name": state, "EnteredTime": entered, "RetryCount": retry_count},
            "StateMachine": {"Id": ctx.machine_arn, "Name": ctx.machine_name},
        })
    }

    /// The context object of a state entered now, on its first try.
    pub(super) fn context_now(&self, ctx: &Ctx, state: &str) -> Value {
        self.context(ctx, state, &self.iso(self.now_millis()), 0)
    }

    /// Appends an event to the execution's history; fails with the quota error when it is full.
    pub(super) fn push(
        &self,
        ctx: &Ctx,
        kind: &'static str,
        details: Option<JsonMap<String, Value>>,
    ) -> Result<(), StatesError> {
        self.push_id(ctx, kind, details).map(|_| ())
    }

    /// [`Self::push`] that returns the new event's id.
    pub(super) fn push_id(
        &self,
        ctx: &Ctx,
        kind: &'static str,
        details: Option<JsonMap<String, Value>>,
    ) -> Result<u64, StatesError> {
        let now = self.now_millis();
        let mut history = ctx
            .history
            .lock()
            .map_err(|_| StatesError::new(names::RUNTIME, "history lock poisoned"))?;
        history.push(kind, now, details.map(Value::Object)).map_err(|_| quota_error())
    }
}

/// The execution's last event and final fields from its outcome. A success whose
/// `ExecutionSucceeded` does not fit in the quota fails with the quota error instead.
fn finish(mut execution: Execution, outcome: Result<Value, (Status, StatesError)>) -> Execution {
    let stop = execution.stop_millis;
    let failure = match outcome {
        Ok(output) => {
            let details = payload("output", &output);
            if execution
                .history
                .push("ExecutionSucceeded", stop, Some(Value::Object(details)))
                .is_ok()
            {
                execution.output = Some(output);
                return execution;
            }
            (Status::Failed, quota_error())
        }
        Err(failure) => failure,
    };
    let (status, error) = failure;
    let kind = if status == Status::TimedOut { "ExecutionTimedOut" } else { "ExecutionFailed" };
    execution.history.push_final(
        kind,
        stop,
        Some(json!({"error": error.error, "cause": error.cause})),
    );
    execution.status = status;
    execution.error = Some(error.error);
    execution.cause = Some(error.cause);
    execution
}
