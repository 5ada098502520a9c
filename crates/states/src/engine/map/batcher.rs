//! A Distributed Map's ItemBatcher: items grouped into `{"BatchInput", "Items"}` batches of at
//! most `MaxItemsPerBatch` items and `MaxInputBytesPerBatch` bytes (256 KiB by default).

use serde_json::{Value, json};

use super::MapCall;
use crate::asl::Dynamic;
use crate::error::{StatesError, names};

/// The children's inputs: the items themselves without an ItemBatcher, else their batches.
pub(super) fn batches(call: &MapCall<'_>, items: Vec<Value>) -> Result<Vec<Value>, StatesError> {
    let Some(batcher) = &call.map.item_batcher else { return Ok(items) };
    let read = |name: &str, field: &Option<Dynamic<u64>>| -> Result<Option<u64>, StatesError> {
        match field {
            Some(Dynamic::Fixed(n)) => Ok(Some(*n)),
            Some(dynamic) => {
                let value = call.dynamic(name, dynamic)?;
                value.as_u64().map(Some).ok_or_else(|| {
                    StatesError::new(
                        names::RUNTIME,
                        format!("{} is not a positive integer: {value}", dynamic.source()),
                    )
                })
            }
            None => Ok(None),
        }
    };
    let max_items =
        read("MaxItemsPerBatch", &batcher.max_items_per_batch)?.unwrap_or(u64::MAX).max(1);
    let max_bytes =
        read("MaxInputBytesPerBatch", &batcher.max_input_bytes_per_batch)?.unwrap_or(262_144);
    let batch_input = match &batcher.batch_input {
        Some(payload) => {
            Some(call.language.payload("BatchInput", payload, call.effective, &call.scope)?)
        }
        None => None,
    };
    Ok(group(items, max_items, max_bytes)
        .into_iter()
        .map(|items| match &batch_input {
            Some(input) => json!({"BatchInput": input, "Items": items}),
            None => json!({"Items": items}),
        })
        .collect())
}

/// Items in order, a new group whenever the next item would pass either limit.
fn group(items: Vec<Value>, max_items: u64, max_bytes: u64) -> Vec<Vec<Value>> {
    let mut batches = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut bytes = 0u64;
    for item in items {
        let size = item.to_string().len() as u64 + 1;
        if !current.is_empty() && (current.len() as u64 >= max_items || bytes + size > max_bytes) {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}
