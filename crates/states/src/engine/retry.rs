//! `Retry` and `Catch` of Task, Parallel and Map states: which retrier or catcher matches an
//! error (`States.ALL` and `States.TaskFailed` included), the backoff delay with
//! `MaxDelaySeconds` and `FULL` jitter, and the catcher's output and `Next`.
//!
//! Retriers keep their own attempt counts for one visit of a state; the history quota is never
//! retried or caught.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Engine;
use super::execution::{Ctx, Next, is_quota};
use super::state::transition;
use crate::asl::{Catcher, Jitter, Retrier, State};
use crate::error::{StatesError, names};
use crate::query::{self, Frame, Scope};
use crate::resolve::BoxFuture;

/// Whether an `ErrorEquals` list matches an error name.
///
/// `States.Runtime` matches nothing, not even a list that names it: the developer guide says it
/// "isn't retriable, and will always cause the execution to fail", and AWS's recorded history of
/// a Task with `"Catch": [{"ErrorEquals": ["States.Runtime"]}]` ends in `ExecutionFailed`
/// (LocalStack `scenarios/test_base_scenarios.snapshot.json`, `test_catch_states_runtime`).
pub fn error_matches(list: &[String], error: &str) -> bool {
    if error == names::RUNTIME {
        return false;
    }
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

impl Engine {
    /// Runs a state body with its retriers and catchers. `attempt` runs one try (given the
    /// retry count) and returns the state's output (after ResultSelector/ResultPath/OutputPath).
    ///
    /// `failed` is the event a Parallel or Map records once its last attempt has failed
    /// (`ParallelStateFailed`, `MapStateFailed`; none for `States.Runtime`), before a catcher
    /// takes over: AWS records none
    /// between attempts, a retried attempt starts again at `…StateStarted` (LocalStack
    /// `scenarios/test_base_scenarios.snapshot.json`, `test_parallel_state_retry`,
    /// `test_map_state_retry`).
    pub(super) async fn run_with_retry<'a, F>(
        self: &'a Arc<Self>,
        ctx: &'a Ctx,
        state: &'a State,
        (retriers, catchers): (&'a [Retrier], &'a [Catcher]),
        failed: Option<&'static str>,
        (raw, frame): (&'a Value, &'a Frame),
        attempt: F,
    ) -> Result<(Value, Next), StatesError>
    where
        F: Fn(u32) -> BoxFuture<'a, Result<Value, StatesError>>,
    {
        let mut counts = vec![0u32; retriers.len()];
        let mut retries = 0u32;
        loop {
            let error = match attempt(retries).await {
                Ok(output) => return Ok((output, transition(state))),
                Err(error) if is_quota(&error) => return Err(error),
                Err(error) => error,
            };
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
            // A States.Runtime error ends the execution with no failed event (recorded: a Map
            // whose ToleratedFailureCountPath is -1 goes from MapStateStarted to
            // ExecutionFailed, `test_map_state_tolerated_failure_count_path`).
            if let Some(kind) = failed
                && error.error != names::RUNTIME
            {
                self.push(ctx, kind, None)?;
            }
            let context = self.context_now(ctx, &state.name);
            return catch(state, catchers, raw, error, &self.scope(&context, frame));
        }
    }

    /// A Parallel or Map state with `Retry`/`Catch` whose every attempt sees a fresh context
    /// object; `failed` is its failed event, recorded once no retrier takes the error.
    pub(super) async fn run_retried<'a, F>(
        self: &'a Arc<Self>,
        ctx: &'a Ctx,
        state: &'a State,
        handlers: (&'a [Retrier], &'a [Catcher]),
        failed: &'static str,
        input: (&'a Value, &'a Frame),
        body: F,
    ) -> Result<(Value, Next), StatesError>
    where
        F: Fn(Value) -> BoxFuture<'a, Result<Value, StatesError>>,
    {
        self.run_with_retry(ctx, state, handlers, Some(failed), input, |_| {
            body(self.context_now(ctx, &state.name))
        })
        .await
    }
}

/// The first catcher that matches an error: its output and `Next`; the error itself if none.
fn catch(
    state: &State,
    catchers: &[Catcher],
    raw: &Value,
    error: StatesError,
    scope: &Scope<'_>,
) -> Result<(Value, Next), StatesError> {
    let Some(catcher) = catchers.iter().find(|c| error_matches(&c.error_equals, &error.error))
    else {
        return Err(error);
    };
    let error_output = json!({"Error": error.error, "Cause": error.cause});
    // Only the catcher's Assign runs, not the state's.
    scope.frame.clear_pending();
    let output = query::language(state).catcher_output(catcher, raw, error_output, scope)?;
    Ok((output, Next::Goto(catcher.next.clone())))
}
