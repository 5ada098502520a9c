//! The Task state: each attempt renders `Parameters`, records `TaskScheduled`/`TaskStarted`
//! (or the legacy `LambdaFunction…` events for a bare function ARN), calls the resource under
//! `TimeoutSeconds`/`HeartbeatSeconds`, and records the outcome; then `ResultSelector`,
//! `ResultPath` and `OutputPath`. Mocked responses (MockConfigFile) replace the call.
//!
//! Resources: `lambda:invoke`, legacy Lambda function ARNs and `states:startExecution`
//! (see [`super::child`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map as JsonMap, Value, json};

use super::Engine;
use super::execution::{Ctx, Next, is_quota, json_map, payload};
use crate::asl::{Dynamic, ExecMode, Resource, State, Task};
use crate::error::{StatesError, names};
use crate::query::{self, Frame, QueryLanguage, Scope};
use crate::resolve::FunctionError;

/// How a Task's resource shows in its history events.
struct Shown {
    /// A bare function ARN: `LambdaFunction…` events instead of `Task…` events.
    legacy: bool,
    /// `resourceType` (`lambda`, `states`).
    resource_type: &'static str,
    /// `resource` (`invoke`, `startExecution.sync`, ...).
    resource: &'static str,
}

impl Shown {
    fn of(task: &Task) -> Shown {
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
        let legacy = matches!(task.resource, Resource::LambdaFunction { .. });
        Shown { legacy, resource_type, resource }
    }

    /// Adds `resourceType` and `resource` to event details.
    fn tag(&self, details: &mut JsonMap<String, Value>) {
        details.insert("resourceType".into(), json!(self.resource_type));
        details.insert("resource".into(), json!(self.resource));
    }
}

/// Reads a `TimeoutSeconds`-style field (`name`), literal, by path (read with `path_scope`:
/// no context, no variables) or as a JSONata expression (with the state's scope): a positive
/// integer.
fn seconds_field(
    language: &dyn QueryLanguage,
    (path_scope, state_scope): (&Scope<'_>, &Scope<'_>),
    field: Option<&Dynamic<u64>>,
    name: &str,
    effective: &Value,
) -> Result<Option<u64>, StatesError> {
    match field {
        Some(Dynamic::Fixed(seconds)) => Ok(Some(*seconds)),
        Some(dynamic) => {
            let (field, scope) = match dynamic {
                Dynamic::Path(_) => (format!("{name}Path"), path_scope),
                _ => (name.to_owned(), state_scope),
            };
            let value = crate::query::read_dynamic(language, name, dynamic, effective, scope)?
                .unwrap_or_default();
            value.as_u64().filter(|s| *s >= 1).map(Some).ok_or_else(|| {
                StatesError::new(
                    names::RUNTIME,
                    format!("{field} {} is not a positive integer: {value}", dynamic.source()),
                )
            })
        }
        None => Ok(None),
    }
}

/// A failed function as Step Functions reports it: `Lambda.*` service errors as they are, a
/// function's own error with the JSON cause `{errorMessage, errorType, requestId, stackTrace}`.
fn function_error(error: FunctionError) -> StatesError {
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

impl Engine {
    /// Runs a Task state with its retriers and catchers.
    pub(super) async fn run_task(
        self: &Arc<Self>,
        ctx: &Ctx,
        state: &State,
        task: &Task,
        raw: &Value,
        frame: &Frame,
    ) -> Result<(Value, Next), StatesError> {
        let invocation = AtomicU64::new(0);
        let invocation = &invocation;
        let handlers = (&task.retry[..], &task.catch[..]);
        self.run_with_retry(ctx, state, handlers, None, (raw, frame), |retry_count| {
            let engine = self;
            let index = invocation.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                let context =
                    engine.context(ctx, &state.name, &engine.iso(engine.now_millis()), retry_count);
                let scope = engine.scope(&context, frame);
                let language = query::language(state);
                let effective = language.effective_input(state, raw, &scope)?;
                let parameters = language.parameters(state, effective.clone(), &scope)?;
                let result = engine
                    .attempt_task(ctx, state, task, parameters, (&effective, &scope), index)
                    .await?;
                language.state_output(state, raw, result, &scope)
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
        (effective, state_scope): (&Value, &Scope<'_>),
        invocation: u64,
    ) -> Result<Value, StatesError> {
        let language = query::language(state);
        let empty = json!({});
        let no_variables = Frame::default();
        let scope = self.scope(&empty, &no_variables);
        let timeout = seconds_field(
            language,
            (&scope, state_scope),
            task.timeout.as_ref(),
            "TimeoutSeconds",
            effective,
        )?;
        // Local functions never send heartbeats, so HeartbeatSeconds bounds the whole call.
        let heartbeat = seconds_field(
            language,
            (&scope, state_scope),
            task.heartbeat.as_ref(),
            "HeartbeatSeconds",
            effective,
        )?;
        let deadline = match (timeout, heartbeat) {
            (Some(t), Some(h)) if h < t => {
                Some((h, "no heartbeat was received within HeartbeatSeconds"))
            }
            (Some(t), _) => Some((t, "Task timed out")),
            (None, Some(h)) => Some((h, "no heartbeat was received within HeartbeatSeconds")),
            (None, None) => None,
        };
        let shown = Shown::of(task);
        self.record_scheduled(ctx, task, &shown, &parameters, timeout)?;
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
        self.record_outcome(ctx, &shown, outcome)
    }

    /// `TaskScheduled` and `TaskStarted` (or `LambdaFunctionScheduled`/`Started`).
    fn record_scheduled(
        &self,
        ctx: &Ctx,
        task: &Task,
        shown: &Shown,
        parameters: &Value,
        timeout: Option<u64>,
    ) -> Result<(), StatesError> {
        if shown.legacy {
            let mut details = payload("input", parameters);
            details.insert("resource".into(), json!(task.resource_arn));
            if let Some(seconds) = timeout {
                details.insert("timeoutInSeconds".into(), json!(seconds));
            }
            self.push(ctx, "LambdaFunctionScheduled", Some(details))?;
            return self.push(ctx, "LambdaFunctionStarted", None);
        }
        let mut details = JsonMap::new();
        shown.tag(&mut details);
        details.insert("region".into(), json!(self.options.region.clone()));
        details.insert("parameters".into(), json!(parameters.to_string()));
        if let Some(seconds) = timeout {
            details.insert("timeoutInSeconds".into(), json!(seconds));
        }
        self.push(ctx, "TaskScheduled", Some(details))?;
        let mut started = JsonMap::new();
        shown.tag(&mut started);
        self.push(ctx, "TaskStarted", Some(started))
    }

    /// `TaskSucceeded`, `TaskFailed` or `TaskTimedOut` (or their `LambdaFunction…` forms).
    fn record_outcome(
        &self,
        ctx: &Ctx,
        shown: &Shown,
        outcome: Result<Value, StatesError>,
    ) -> Result<Value, StatesError> {
        match outcome {
            Ok(result) => {
                if shown.legacy {
                    self.push(ctx, "LambdaFunctionSucceeded", Some(payload("output", &result)))?;
                } else {
                    let mut details = payload("output", &result);
                    shown.tag(&mut details);
                    self.push(ctx, "TaskSucceeded", Some(details))?;
                }
                Ok(result)
            }
            Err(error) if is_quota(&error) => Err(error),
            Err(error) => {
                let timed_out = error.error == names::TIMEOUT;
                let kind = match (shown.legacy, timed_out) {
                    (true, true) => "LambdaFunctionTimedOut",
                    (true, false) => "LambdaFunctionFailed",
                    (false, true) => "TaskTimedOut",
                    (false, false) => "TaskFailed",
                };
                let mut details = json_map(json!({"error": error.error, "cause": error.cause}));
                if !shown.legacy {
                    shown.tag(&mut details);
                }
                self.push(ctx, kind, Some(details))?;
                Err(error)
            }
        }
    }

    /// Calls a task's resource (or returns its mocked response).
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
}
