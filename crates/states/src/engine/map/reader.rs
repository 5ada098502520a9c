//! A Distributed Map's ItemReader: the objects under a prefix (`s3:listObjectsV2`, one item per
//! object) or one object's contents (`s3:getObject` as JSON, JSONL or CSV), capped by
//! `ReaderConfig.MaxItems(Path)`. Store failures (after retries of throttling) are
//! `States.ItemReaderFailed`.

use serde_json::{Map as JsonMap, Value, json};

use super::MapCall;
use super::store::retrying;
use crate::asl::{CsvHeaderLocation, Dynamic, ReaderInputType, ReaderSource};
use crate::engine::Engine;
use crate::error::{StatesError, names};
use crate::resolve::ItemStoreError;

/// Parses an object's text into items.
fn parse_items(input_type: &ReaderInputType, text: &str) -> Result<Vec<Value>, String> {
    match input_type {
        ReaderInputType::Json => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err("the object is not a JSON array".into()),
            Err(e) => Err(format!("invalid JSON: {e}")),
        },
        ReaderInputType::Jsonl => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| format!("line {}: invalid JSON: {e}", i + 1))
            })
            .collect(),
        ReaderInputType::Csv { header_location, delimiter } => {
            let mut rows = text
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| l.split(delimiter.as_char()).map(str::to_owned).collect::<Vec<_>>());
            let header: Vec<String> = match header_location {
                CsvHeaderLocation::FirstRow => rows.next().ok_or("the CSV has no header row")?,
                CsvHeaderLocation::Given(names) => names.clone(),
            };
            let mut seen = std::collections::BTreeSet::new();
            if let Some(duplicate) = header.iter().find(|h| !seen.insert(h.as_str())) {
                return Err(format!("duplicate CSV header \"{duplicate}\""));
            }
            Ok(rows
                .map(|row| {
                    let object: JsonMap<String, Value> =
                        header.iter().cloned().zip(row.into_iter().map(Value::String)).collect();
                    Value::Object(object)
                })
                .collect())
        }
    }
}

impl Engine {
    /// The items of a Distributed Map: from its ItemReader, else from `ItemsPath`.
    pub(super) async fn read_items(&self, call: &MapCall<'_>) -> Result<Vec<Value>, StatesError> {
        let Some(reader) = &call.map.item_reader else {
            return call.items();
        };
        let (store, parameters, bucket) =
            self.s3_call(&reader.parameters, call, names::ITEM_READER_FAILED, "ItemReader")?;
        let reader_error = |message: String| StatesError::new(names::ITEM_READER_FAILED, message);
        let store_error = |e: ItemStoreError| reader_error(e.message);
        let mut items = match &reader.source {
            ReaderSource::ListObjectsV2 => {
                let prefix = parameters.get("Prefix").and_then(Value::as_str).unwrap_or_default();
                retrying(|| store.list(&bucket, prefix))
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .map(|o| json!({"Etag": o.etag, "Key": o.key, "LastModified": o.last_modified, "Size": o.size, "StorageClass": "STANDARD"}))
                    .collect::<Vec<_>>()
            }
            ReaderSource::GetObject { input_type } => {
                let key = parameters.get("Key").and_then(Value::as_str).unwrap_or_default();
                let body = retrying(|| store.get(&bucket, key)).await.map_err(store_error)?;
                let text = String::from_utf8(body)
                    .map_err(|_| reader_error(format!("s3://{bucket}/{key} is not UTF-8")))?;
                parse_items(input_type, &text)
                    .map_err(|e| reader_error(format!("s3://{bucket}/{key}: {e}")))?
            }
        };
        let max_items = match &reader.max_items {
            Some(Dynamic::Fixed(n)) => Some(*n),
            Some(dynamic) => {
                let value = call.dynamic("MaxItems", dynamic)?;
                let field = match dynamic {
                    Dynamic::Path(_) => "MaxItemsPath",
                    _ => "MaxItems",
                };
                Some(value.as_u64().ok_or_else(|| {
                    StatesError::new(
                        names::RUNTIME,
                        format!(
                            "{field} {} is not a non-negative integer: {value}",
                            dynamic.source()
                        ),
                    )
                })?)
            }
            None => None,
        };
        if let Some(max) = max_items {
            items.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        }
        Ok(items)
    }
}
