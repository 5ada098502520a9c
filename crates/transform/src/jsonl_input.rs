//! JSON lines input. Each line is scanned once: only the fields the spec needs are captured
//! (as raw JSON, so numbers keep their exact text), the rest are skipped without allocation.

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;

use graphetl_core::DatasetSpec;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::TransformError;
use crate::cells::Cell;
use crate::read::TextInput;
use crate::sink::RowSink;

/// A JSON object key, borrowed from the line when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Captures the raw values of `wanted` keys of one JSON object into `slots`.
struct Capture<'w, 'de> {
    wanted: &'w [&'w str],
    slots: &'w mut Vec<Option<&'de RawValue>>,
}

impl<'de> DeserializeSeed<'de> for Capture<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Capture<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.wanted.iter().position(|w| *w == key) {
                Some(i) => self.slots[i] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

fn capture<'de>(
    text: &'de str,
    wanted: &[&str],
    slots: &mut Vec<Option<&'de RawValue>>,
) -> Result<(), serde_json::Error> {
    slots.clear();
    slots.resize(wanted.len(), None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Capture { wanted, slots }.deserialize(&mut deserializer)?;
    deserializer.end()
}

/// Follows the rest of a dotted path into nested objects.
fn descend<'de>(mut value: &'de RawValue, rest: &[String]) -> Option<&'de RawValue> {
    for segment in rest {
        let mut slot = Vec::with_capacity(1);
        capture(value.get(), &[segment.as_str()], &mut slot).ok()?;
        value = slot.first().copied().flatten()?;
    }
    Some(value)
}

fn scalar_text(raw: &RawValue) -> Result<Option<Cow<'_, str>>, &'static str> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<&str>(text) {
            Ok(s) => Ok(Some(Cow::Borrowed(s))),
            Err(_) => serde_json::from_str::<String>(text)
                .map(|s| Some(Cow::Owned(s)))
                .map_err(|_| "invalid JSON string"),
        },
        Some(b'n') => Ok(None),
        Some(b'[') => Err("array"),
        Some(b'{') => Err("object"),
        Some(_) => Ok(Some(Cow::Borrowed(text))),
        None => Ok(None),
    }
}

fn cell_of<'de>(raw: Option<&'de RawValue>, is_list: bool, is_string: bool) -> Cell<'de> {
    let Some(raw) = raw else { return Cell::Absent };
    match scalar_text(raw) {
        Ok(Some(text)) => Cell::Text(text),
        Ok(None) => Cell::Absent,
        Err("array") if is_list => match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
            Ok(elements) => {
                let mut items = Vec::with_capacity(elements.len());
                for element in elements {
                    match scalar_text(element) {
                        Ok(Some(text)) => items.push(text),
                        Ok(None) => {}
                        Err(_) => {
                            return Cell::Invalid {
                                raw: raw.get().to_owned(),
                                reason: "list items must be scalars".into(),
                            };
                        }
                    }
                }
                Cell::Items(items)
            }
            Err(e) => Cell::Invalid { raw: raw.get().to_owned(), reason: e.to_string() },
        },
        Err(kind @ ("array" | "object")) if is_string => {
            let _ = kind;
            Cell::Text(Cow::Borrowed(raw.get()))
        }
        Err(kind) => Cell::Invalid {
            raw: raw.get().to_owned(),
            reason: format!("expected a single value, found a JSON {kind}"),
        },
    }
}

/// Reads a JSON-lines file into the sink.
pub(crate) fn read_jsonl(
    spec: &DatasetSpec,
    input: TextInput,
    sink: &mut RowSink<'_>,
) -> Result<(), TransformError> {
    let TextInput { mut reader, errors } = input;
    // Distinct first path segments, and for each column which one it starts from.
    let mut wanted: Vec<&str> = Vec::new();
    let mut slot_of: Vec<usize> = Vec::with_capacity(spec.columns.len());
    for column in &spec.columns {
        let first = column.from_path.first().map_or(column.from.as_str(), String::as_str);
        let at = wanted.iter().position(|w| *w == first).unwrap_or_else(|| {
            wanted.push(first);
            wanted.len() - 1
        });
        slot_of.push(at);
    }
    let kinds: Vec<(bool, bool)> = spec
        .columns
        .iter()
        .map(|c| {
            use graphetl_core::ColumnType::{ListString, String};
            (c.ty == ListString, c.ty == String)
        })
        .collect();
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut line_no: u64 = 0;
    let mut data_rows: u64 = 0;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| errors.classify(e, line_no + 1))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let text =
            std::str::from_utf8(&line).map_err(|_| TransformError::InvalidUtf8 { row: line_no })?;
        let text = text.trim_end_matches(['\n', '\r']);
        // A UTF-8 byte order mark before the first line is not part of the data.
        let text = if line_no == 1 { text.trim_start_matches('\u{feff}') } else { text };
        if text.trim().is_empty() {
            continue;
        }
        data_rows += 1;
        let render = || match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => value,
            Err(_) => serde_json::Value::String(text.to_owned()),
        };
        let mut slots: Vec<Option<&RawValue>> = Vec::with_capacity(wanted.len());
        if let Err(e) = capture(text, &wanted, &mut slots) {
            let reason = if e.is_data() {
                "the line is not a JSON object".to_owned()
            } else {
                format!("invalid JSON: {e}")
            };
            sink.push_bad_row(line_no, "", text, &reason, &render)?;
            continue;
        }
        let cells: Vec<Cell<'_>> = spec
            .columns
            .iter()
            .zip(&slot_of)
            .zip(&kinds)
            .map(|((column, slot), (is_list, is_string))| {
                let top = slots.get(*slot).copied().flatten();
                let raw = match column.from_path.get(1..) {
                    Some(rest) if !rest.is_empty() => top.and_then(|t| descend(t, rest)),
                    _ => top,
                };
                cell_of(raw, *is_list, *is_string)
            })
            .collect();
        sink.push_row(line_no, &cells, &render)?;
    }
    if data_rows == 0 && line_no == 0 {
        return Err(TransformError::NoData);
    }
    Ok(())
}
