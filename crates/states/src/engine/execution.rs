//! One execution from `ExecutionStarted` to `ExecutionSucceeded`/`Failed`/`TimedOut`: its
//! names and ARNs, the execution timeout (and EXPRESS's five minutes), the history and its
//! quota, the loop from `StartAt` through `Next` to an end, and the context object (`$$`).

use std::sync::{Arc, Mutex};

use serde_json::{Map as JsonMap, Value, json};

use super::{Engine, Execution, ExecutionSummary, Status};
use crate::asl::StateMachine;
use crate::error::{StatesError, names};
use crate::history::{History, QUOTA_CAUSE};
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
    pub(super) history: Mutex<History>,
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
        let timeout_seconds = if express {
            Some(
                machine.timeout_seconds.map_or(EXPRESS_MAX_SECONDS, |t| t.min(EXPRESS_MAX_SECONDS)),
            )
        } else {
            machine.timeout_seconds
        };
        let ctx = Ctx {
            arn: names.arn.clone(),
            name: names.name.to_owned(),
            machine_name: names.machine.to_owned(),
            machine_arn: names.machine_arn.clone(),
            input: input.clone(),
            start_iso: self.iso(start_millis),
            history: Mutex::new(History::with_limit(history_limit)),
        };
        let outcome = self.run_to_end(&ctx, machine, &input, timeout_seconds).await;
        let stop_millis = self.now_millis();
        let history = ctx.history.into_inner().unwrap_or_else(|p| p.into_inner());
        let execution = Execution {
            arn: names.arn,
            name: names.name.to_owned(),
            state_machine_arn: names.machine_arn,
            status: Status::Succeeded,
            input,
            output: None,
            error: None,
            cause: None,
            start_millis,
            stop_millis,
            history,
        };
        let execution = finish(execution, outcome);
        if let Ok(mut executions) = self.executions.lock() {
            executions.push(ExecutionSummary {
                arn: execution.arn.clone(),
                state_machine: names.machine.to_owned(),
                status: execution.status.as_str(),
                events: execution.history.len(),
            });
        }
        self.keep_execution(&execution);
        execution
    }

    /// `ExecutionStarted`, then the states, within the execution timeout.
    async fn run_to_end(
        self: &Arc<Self>,
        ctx: &Ctx,
        machine: &StateMachine,
        input: &Value,
        timeout_seconds: Option<u64>,
    ) -> Result<Value, (Status, StatesError)> {
        let mut details = payload("input", input);
        details.insert(
            "roleArn".into(),
            json!(format!("arn:aws:iam::{}:role/graphetl-local", self.options.account)),
        );
        let started = self.push(ctx, "ExecutionStarted", Some(details));
        let run = async {
            started?;
            self.run_machine(ctx, machine, input.clone()).await
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

    /// Runs the states of one machine (an execution, a branch or an iteration) from `StartAt`.
    pub(super) fn run_machine<'a>(
        self: &'a Arc<Self>,
        ctx: &'a Ctx,
        machine: &'a StateMachine,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
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

    /// The context object (`$$`) of a state entered at `entered` on its `retry_count`th retry.
    pub(super) fn context(&self, ctx: &Ctx, state: &str, entered: &str, retry_count: u32) -> Value {
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
