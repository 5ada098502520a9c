//! Entering and leaving a state (`…StateEntered`/`…StateExited` events), dispatch by state
//! kind, and the simple states: Pass, Wait, Succeed and Fail. Choice, Task, Parallel and Map
//! have their own modules.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Engine;
use super::execution::{Ctx, Next, is_quota, payload};
use super::progress::RunPath;
use crate::asl::{Fail, State, StateKind, StringSource, Transition, Wait};
use crate::error::{StatesError, names};
use crate::query::{self, Frame, Scope};

/// The history event types of entering and leaving a state of a type (a Fail state never
/// leaves, so it has no exited event).
fn event_kinds(type_name: &str) -> (&'static str, &'static str) {
    match type_name {
        "Pass" => ("PassStateEntered", "PassStateExited"),
        "Task" => ("TaskStateEntered", "TaskStateExited"),
        "Choice" => ("ChoiceStateEntered", "ChoiceStateExited"),
        "Wait" => ("WaitStateEntered", "WaitStateExited"),
        "Succeed" => ("SucceedStateEntered", "SucceedStateExited"),
        "Fail" => ("FailStateEntered", ""),
        "Parallel" => ("ParallelStateEntered", "ParallelStateExited"),
        _ => ("MapStateEntered", "MapStateExited"),
    }
}

/// Where a state goes when it completes normally.
pub(super) fn transition(state: &State) -> Next {
    match &state.transition {
        Transition::Next(next) => Next::Goto(next.clone()),
        _ => Next::End,
    }
}

/// The start of the cause AWS gives a `States.Runtime` error raised while running a state.
const RUNTIME_PREFIX: &str = "An error occurred while executing the state '";

/// A `States.Runtime` error from a state's own processing with AWS's cause prefix: "An error
/// occurred while executing the state 'Name' (entered at the event id #2). " (recorded in
/// LocalStack's `scenarios/test_base_scenarios.snapshot.json`). Errors already prefixed by an
/// inner state, other errors and the history quota are left as they are.
fn runtime_in_state(error: StatesError, state: &str, entered_id: u64) -> StatesError {
    let prefixed = error.error == names::RUNTIME || error.error == names::QUERY_EVALUATION_ERROR;
    if !prefixed || is_quota(&error) || error.cause.starts_with(RUNTIME_PREFIX) {
        return error;
    }
    let cause = format!(
        "{RUNTIME_PREFIX}{state}' (entered at the event id #{entered_id}). {}",
        error.cause
    );
    StatesError::new(error.error, cause)
}

/// The longest delay a Wait state takes: AWS waits until 24,855 days ahead and fails 24,856
/// days ahead with "Wait state delay is too long." (LocalStack `base/test_wait.snapshot.json`,
/// `test_timestamp_too_far_in_future_boundary`), i.e. seconds held in a 32-bit signed integer.
const MAX_WAIT_SECONDS: u64 = i32::MAX as u64;

/// A `SecondsPath` value as a number of seconds, with AWS's causes (LocalStack
/// `base/test_wait.snapshot.json`, `test_base_wait_seconds_path`, and `logs/test_logs.snapshot.json`
/// for a path that matches nothing).
fn seconds_from(selected: Result<Value, StatesError>, path: &str) -> Result<u64, StatesError> {
    let runtime = |message: String| StatesError::new(names::RUNTIME, message);
    let value = selected.map_err(|_| {
        runtime(format!("The SecondsPath parameter does not reference an input value: {path}"))
    })?;
    if let Some(seconds) = value.as_u64() {
        return Ok(seconds);
    }
    if value.as_i64().is_some() {
        return Err(runtime(format!(
            "The SecondsPath parameter references a negative value: {path} == {value}"
        )));
    }
    let shown = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    Err(runtime(format!(
        "The SecondsPath parameter cannot be parsed as a long value: {path} == {shown}"
    )))
}

fn millis_until(now: i64, at: i64) -> u64 {
    u64::try_from(at.saturating_sub(now)).unwrap_or(0)
}

impl Engine {
    /// Runs one state: its entered event, its body (with retries and catchers where it has
    /// them) and its exited event.
    pub(super) async fn run_state(
        self: &Arc<Self>,
        ctx: &Ctx,
        path: &RunPath,
        state: &State,
        raw: Value,
        frame: &Frame,
    ) -> Result<(Value, Next), StatesError> {
        let (entered_kind, exited_kind) = event_kinds(state.kind.type_name());
        let mut entered = payload("input", &raw);
        entered.insert("name".into(), json!(state.name));
        let entered_id = self.push_id(ctx, entered_kind, Some(entered))?;
        let entered_iso = self.iso(self.now_millis());
        let context = self.context(ctx, &state.name, &entered_iso, 0);
        let scope = self.scope(&context, frame);
        let outcome = match &state.kind {
            StateKind::Fail(fail) => Err(self.fail(state, fail, &raw, &scope)),
            StateKind::Task(task) => self.run_task(ctx, state, task, &raw, frame).await,
            StateKind::Parallel(parallel) => {
                self.run_parallel(ctx, path, state, parallel, &raw, frame).await
            }
            StateKind::Map(map) => self.run_map_state(ctx, path, state, map, &raw, frame).await,
            StateKind::Choice(choice) => self.run_choice(state, choice, &raw, &scope),
            _ => self.run_simple(state, &raw, &scope).await,
        };
        let (output, next) = outcome.map_err(|e| runtime_in_state(e, &state.name, entered_id))?;
        let mut exited = payload("output", &output);
        exited.insert("name".into(), json!(state.name));
        if let Some(assigned) = frame.pending() {
            // AWS records each assigned value as its JSON text.
            let shown: serde_json::Map<String, Value> = assigned
                .into_iter()
                .map(|(name, value)| (name, Value::String(value.to_string())))
                .collect();
            exited.insert("assignedVariables".into(), Value::Object(shown));
            exited.insert("assignedVariablesDetails".into(), json!({"truncated": false}));
        }
        self.push(ctx, exited_kind, Some(exited))?;
        Ok((output, next))
    }

    /// A Fail state's error: `Error`/`Cause`, or `ErrorPath`/`CausePath` read from its input.
    fn fail(&self, state: &State, fail: &Fail, raw: &Value, scope: &Scope<'_>) -> StatesError {
        let language = query::language(state);
        let read = |fixed: &Option<String>,
                    source: &Option<StringSource>,
                    (field, expression): (&str, &Option<crate::jsonata::Expression>)|
         -> Result<Option<String>, StatesError> {
            if let Some(text) = fixed {
                return Ok(Some(text.clone()));
            }
            if let Some(expression) = expression {
                let value = language.expression(field, expression, raw, scope)?;
                return Ok(Some(
                    value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()),
                ));
            }
            let Some(source) = source else { return Ok(None) };
            let value = language.string(source, raw, scope)?;
            Ok(Some(value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())))
        };
        let error = match read(&fail.error, &fail.error_path, ("Error", &fail.error_expr)) {
            Ok(error) => error.unwrap_or_default(),
            Err(failure) => return failure,
        };
        match read(&fail.cause, &fail.cause_path, ("Cause", &fail.cause_expr)) {
            Ok(cause) => StatesError::new(error, cause.unwrap_or_default()),
            Err(failure) => failure,
        }
    }

    /// Pass, Wait and Succeed.
    async fn run_simple(
        &self,
        state: &State,
        raw: &Value,
        scope: &Scope<'_>,
    ) -> Result<(Value, Next), StatesError> {
        let language = query::language(state);
        let effective = language.effective_input(state, raw, scope)?;
        match &state.kind {
            StateKind::Pass { .. } => {
                let produced = language.parameters(state, effective, scope)?;
                Ok((language.state_output(state, raw, produced, scope)?, transition(state)))
            }
            StateKind::Wait(wait) => {
                let millis = self.wait_millis(state, wait, &effective, scope)?;
                tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
                Ok((language.pass_through(state, effective, scope)?, transition(state)))
            }
            StateKind::Succeed => Ok((language.pass_through(state, effective, scope)?, Next::End)),
            _ => Err(StatesError::new(
                names::RUNTIME,
                format!("state {} is not a simple state", state.name),
            )),
        }
    }

    /// How long a Wait state waits, in milliseconds.
    fn wait_millis(
        &self,
        state: &State,
        wait: &Wait,
        effective: &Value,
        scope: &Scope<'_>,
    ) -> Result<u64, StatesError> {
        let language = query::language(state);
        let millis = match wait {
            Wait::Seconds(seconds) => seconds.saturating_mul(1000),
            Wait::SecondsPath(path) => {
                seconds_from(language.select(path, effective, scope), path.as_str())?
                    .saturating_mul(1000)
            }
            Wait::Timestamp(at) => millis_until(self.now_millis(), at.timestamp_millis()),
            Wait::TimestampPath(path) => {
                let value = language.select(path, effective, scope)?;
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                let at = crate::asl::parse_timestamp(&text).map_err(|_| {
                    StatesError::new(
                        names::RUNTIME,
                        format!(
                            "The TimestampPath parameter does not reference a valid ISO-8601 \
                             extended offset date-time format string: {} == {text}",
                            path.as_str()
                        ),
                    )
                })?;
                millis_until(self.now_millis(), at.timestamp_millis())
            }
            Wait::SecondsExpr(expression) => {
                let value = language.expression("Seconds", expression, effective, scope)?;
                let seconds = value.as_u64().ok_or_else(|| {
                    StatesError::new(
                        names::QUERY_EVALUATION_ERROR,
                        format!(
                            "The JSONata expression '{}' specified for the field 'Seconds' must return a non-negative integer, found {value}.",
                            expression.as_str()
                        ),
                    )
                })?;
                seconds.saturating_mul(1000)
            }
            Wait::TimestampExpr(expression) => {
                let value = language.expression("Timestamp", expression, effective, scope)?;
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                let at = crate::asl::parse_timestamp(&text)
                    .map_err(|message| StatesError::new(names::QUERY_EVALUATION_ERROR, message))?;
                millis_until(self.now_millis(), at.timestamp_millis())
            }
        };
        if millis / 1000 > MAX_WAIT_SECONDS {
            return Err(StatesError::new(names::RUNTIME, "Wait state delay is too long."));
        }
        Ok(millis)
    }
}
