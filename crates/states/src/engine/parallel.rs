//! The Parallel state: `ParallelStateStarted`, every branch at once on the same input (after
//! `InputPath` and `Parameters`), then `ParallelStateSucceeded` with the branches' outputs in
//! order, or the first branch error (`ParallelStateFailed` is recorded by [`super::retry`] once
//! no retrier takes it).

use std::sync::Arc;

use serde_json::Value;

use super::Engine;
use super::execution::{Ctx, Next};
use super::progress::RunPath;
use crate::asl::{Parallel, State};
use crate::error::StatesError;
use crate::query::{self, Frame};

impl Engine {
    /// Runs a Parallel state with its retriers and catchers.
    pub(super) async fn run_parallel(
        self: &Arc<Self>,
        ctx: &Ctx,
        path: &RunPath,
        state: &State,
        parallel: &Parallel,
        raw: &Value,
        frame: &Frame,
    ) -> Result<(Value, Next), StatesError> {
        let handlers = (&parallel.retry[..], &parallel.catch[..]);
        self.run_retried(ctx, state, handlers, "ParallelStateFailed", (raw, frame), |context| {
            Box::pin(async move {
                self.parallel_attempt(ctx, path, state, parallel, (raw, frame), &context).await
            })
        })
        .await
    }

    /// One attempt: all branches, then `ResultSelector`/`ResultPath`/`OutputPath`.
    async fn parallel_attempt(
        self: &Arc<Self>,
        ctx: &Ctx,
        path: &RunPath,
        state: &State,
        parallel: &Parallel,
        (raw, frame): (&Value, &Frame),
        context: &Value,
    ) -> Result<Value, StatesError> {
        let language = query::language(state);
        let scope = self.scope(context, frame);
        self.push(ctx, "ParallelStateStarted", None)?;
        let effective = language.effective_input(state, raw, &scope)?;
        let branch_input = language.parameters(state, effective, &scope)?;
        // A redrive runs again only the branches that had not finished.
        let paths: Vec<RunPath> =
            (0..parallel.branches.len()).map(|i| path.child(&state.name, i)).collect();
        let runs = parallel.branches.iter().zip(&paths).map(|(branch, path)| {
            self.run_machine(ctx, path, branch, branch_input.clone(), frame.visible())
        });
        let results = futures::future::join_all(runs).await;
        let outputs = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        self.push(ctx, "ParallelStateSucceeded", None)?;
        language.state_output(state, raw, Value::Array(outputs), &scope)
    }
}
