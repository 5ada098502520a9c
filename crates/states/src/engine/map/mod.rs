//! The Map state: `InputPath`, then the items (from `ItemsPath` or an ItemReader), each
//! item's input (`ItemSelector`), the iterations, and `MapStateSucceeded`/`MapStateFailed`
//! with `ResultSelector`/`ResultPath`/`OutputPath` on the results.
//!
//! `inline` runs iterations inside the parent's history; `distributed` runs each item or
//! batch as a child execution of a Map Run, reading items through `reader` (S3
//! `listObjectsV2`/`getObject`), grouping them in `batcher` and exporting results through
//! `result_writer`.

mod batcher;
mod distributed;
mod inline;
mod reader;
mod result_writer;
mod store;

use std::sync::Arc;

use serde_json::{Value, json};

use super::Engine;
use super::execution::{Ctx, Next};
use super::progress::RunPath;
use crate::asl::{Dynamic, Map, MapMode, State};
use crate::error::{StatesError, names};
use crate::query::{self, Frame, QueryLanguage, Scope};

/// What every part of one Map state's run reads: the state, its language, its effective input
/// and the scope of its context object.
struct MapCall<'a> {
    /// The run the Map state is in.
    path: &'a RunPath,
    state: &'a State,
    map: &'a Map,
    language: &'static dyn QueryLanguage,
    effective: &'a Value,
    scope: Scope<'a>,
}

impl MapCall<'_> {
    /// A `…Path` field read from the effective input, or a JSONata expression field
    /// (`field`) evaluated on it; never called for a literal.
    fn dynamic<T>(&self, field: &str, dynamic: &Dynamic<T>) -> Result<Value, StatesError> {
        crate::query::read_dynamic(self.language, field, dynamic, self.effective, &self.scope)
            .map(Option::unwrap_or_default)
    }

    /// The items at `ItemsPath` (a JSON array). Anything else fails with AWS's cause
    /// `Reference path "$.x" must point to array.` (a `$$` path shown from its context root,
    /// as AWS's TestState answered in LocalStack
    /// `test_state/test_state_context_object.snapshot.json`, `test_state_map_context_object`).
    fn items(&self) -> Result<Vec<Value>, StatesError> {
        match self.language.items(self.map, self.effective, &self.scope)? {
            Value::Array(items) => Ok(items),
            _ => {
                let path = self.map.items_path.as_ref().map_or("$", |p| p.as_str());
                let path = path.strip_prefix('$').filter(|p| p.starts_with('$')).unwrap_or(path);
                Err(StatesError::new(
                    names::RUNTIME,
                    format!("Reference path \"{path}\" must point to array."),
                ))
            }
        }
    }

    /// Every item's input after `ItemSelector`.
    fn select_items(&self, items: &[Value]) -> Result<Vec<Value>, StatesError> {
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            inputs.push(self.language.item_input(
                self.map,
                self.effective,
                &self.scope,
                index,
                item,
            )?);
        }
        Ok(inputs)
    }

    /// `MaxConcurrency(Path)`, where 0 or absent means `default` (which also caps it).
    fn concurrency(&self, default: usize) -> Result<usize, StatesError> {
        let value = match &self.map.max_concurrency {
            Some(Dynamic::Fixed(n)) => u64::from(*n),
            Some(dynamic) => {
                let empty = json!({});
                let (field, value) = match dynamic {
                    Dynamic::Path(path) => (
                        "MaxConcurrencyPath",
                        self.language.select(
                            path,
                            self.effective,
                            &self.scope.with_context(&empty),
                        )?,
                    ),
                    _ => ("MaxConcurrency", self.dynamic("MaxConcurrency", dynamic)?),
                };
                value.as_u64().ok_or_else(|| {
                    StatesError::new(
                        names::RUNTIME,
                        format!(
                            "{field} {} is not a non-negative integer: {value}",
                            dynamic.source()
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
}

impl Engine {
    /// Runs a Map state with its retriers and catchers.
    pub(super) async fn run_map_state(
        self: &Arc<Self>,
        ctx: &Ctx,
        path: &RunPath,
        state: &State,
        map: &Map,
        raw: &Value,
        frame: &Frame,
    ) -> Result<(Value, Next), StatesError> {
        let handlers = (&map.retry[..], &map.catch[..]);
        self.run_retried(ctx, state, handlers, "MapStateFailed", (raw, frame), |context| {
            Box::pin(
                async move { self.run_map(ctx, path, state, map, (raw, frame), &context).await },
            )
        })
        .await
    }

    /// One attempt of a Map state.
    async fn run_map(
        self: &Arc<Self>,
        ctx: &Ctx,
        path: &RunPath,
        state: &State,
        map: &Map,
        (raw, frame): (&Value, &Frame),
        context: &Value,
    ) -> Result<Value, StatesError> {
        let language = query::language(state);
        let scope = self.scope(context, frame);
        let effective = language.effective_input(state, raw, &scope)?;
        let call = MapCall { path, state, map, language, effective: &effective, scope };
        let result = match map.mode {
            MapMode::Inline => self.run_inline_map(ctx, &call).await,
            MapMode::Distributed { .. } => self.run_distributed_map(ctx, &call).await,
        };
        // `MapStateFailed` is recorded by `run_retried` once no retrier takes the error.
        let output = result?;
        self.push(ctx, "MapStateSucceeded", None)?;
        language.state_output(state, raw, output, &scope)
    }
}
