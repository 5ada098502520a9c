//! The object-store calls of a Distributed Map's ItemReader and ResultWriter: which store,
//! and the rendered `Parameters` and bucket.

use std::sync::Arc;

use serde_json::Value;

use super::MapCall;
use crate::engine::Engine;
use crate::error::StatesError;
use crate::query::jsonpath::PayloadTemplate;
use crate::resolve::ItemStore;

impl Engine {
    /// The store, rendered parameters and bucket of an ItemReader or ResultWriter call; with no
    /// store configured, fails with `error` (the reader's or writer's error name).
    pub(super) fn s3_call(
        &self,
        template: &PayloadTemplate,
        call: &MapCall<'_>,
        error: &str,
        what: &str,
    ) -> Result<(&Arc<dyn ItemStore>, Value, String), StatesError> {
        let store = self.store.as_ref().ok_or_else(|| {
            StatesError::new(error, format!("no object store is configured for the {what}"))
        })?;
        let parameters = call.language.render(template, call.effective, &call.scope)?;
        let bucket =
            parameters.get("Bucket").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok((store, parameters, bucket))
    }
}
