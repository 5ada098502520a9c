//! Inline Map: iterations run inside the parent execution (their events land in its history),
//! at most 40 at once, and the state's result is their outputs in item order; the first
//! failed iteration fails the state.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::{Value, json};

use super::MapCall;
use crate::engine::Engine;
use crate::engine::execution::{Ctx, is_quota, json_map};
use crate::error::StatesError;

/// Inline Map iterations run at most this many at once, as on AWS.
const INLINE_MAP_MAX_CONCURRENCY: usize = 40;

impl Engine {
    /// Runs an inline Map's iterations.
    pub(super) async fn run_inline_map(
        self: &Arc<Self>,
        ctx: &Ctx,
        call: &MapCall<'_>,
    ) -> Result<Value, StatesError> {
        let items = call.items()?;
        self.push(ctx, "MapStateStarted", Some(json_map(json!({"length": items.len()}))))?;
        let limit = call.concurrency(INLINE_MAP_MAX_CONCURRENCY)?;
        let inputs = call.select_items(&items)?;
        let name = &call.state.name;
        let iterations = inputs
            .into_iter()
            .enumerate()
            .map(|(index, input)| self.run_iteration(ctx, call, name, index, input));
        let mut stream = futures::stream::iter(iterations).buffered(limit.max(1));
        let mut outputs = Vec::new();
        while let Some(result) = stream.next().await {
            outputs.push(result?);
        }
        Ok(Value::Array(outputs))
    }

    /// One iteration with its `MapIteration…` events; one a redrive finds finished has none
    /// and keeps its output.
    async fn run_iteration(
        self: &Arc<Self>,
        ctx: &Ctx,
        call: &MapCall<'_>,
        name: &str,
        index: usize,
        input: Value,
    ) -> Result<Value, StatesError> {
        let path = call.path.child(name, index);
        // An iteration reads the Map's variables; its own assignments stay inside it.
        let outer = call.scope.frame.visible();
        if ctx.previously_done(&path) {
            return self.run_machine(ctx, &path, &call.map.processor, input, outer).await;
        }
        let details = || Some(json_map(json!({"name": name, "index": index})));
        self.push(ctx, "MapIterationStarted", details())?;
        match self.run_machine(ctx, &path, &call.map.processor, input, outer).await {
            Ok(output) => {
                self.push(ctx, "MapIterationSucceeded", details())?;
                Ok(output)
            }
            Err(error) => {
                if !is_quota(&error) {
                    self.push(ctx, "MapIterationFailed", details())?;
                }
                Err(error)
            }
        }
    }
}
