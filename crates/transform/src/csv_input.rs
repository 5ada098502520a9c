//! CSV input: header mapping, delimiter sanity check, one row at a time as byte records.

use std::borrow::Cow;

use graphetl_core::DatasetSpec;

use crate::TransformError;
use crate::cells::Cell;
use crate::read::{ReadErrors, TextInput};
use crate::sink::RowSink;

const OTHER_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

fn csv_error(errors: ReadErrors, e: csv::Error, row: u64) -> TransformError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => errors.classify(io, row),
        other => TransformError::Csv { row, message: format!("{other:?}") },
    }
}

/// Reads a CSV file into the sink.
pub(crate) fn read_csv(
    spec: &DatasetSpec,
    input: TextInput,
    sink: &mut RowSink<'_>,
) -> Result<(), TransformError> {
    let TextInput { reader, errors } = input;
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(spec.input.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let header: Vec<String> = if spec.input.header {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Err(TransformError::EmptyFile),
            Err(e) => return Err(csv_error(errors, e, 0)),
        }
        let mut names = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let name =
                std::str::from_utf8(field).map_err(|_| TransformError::InvalidUtf8 { row: 0 })?;
            let name = if i == 0 { name.trim_start_matches('\u{feff}') } else { name };
            names.push(name.trim().to_owned());
        }
        names
    } else {
        spec.input.field_names.clone()
    };
    if header.len() == 1 && spec.columns.len() > 1 {
        let found = OTHER_DELIMITERS
            .iter()
            .filter(|d| **d != spec.input.delimiter)
            .find(|d| header[0].as_bytes().contains(d));
        if let Some(found) = found {
            return Err(TransformError::WrongDelimiter {
                expected: char::from(spec.input.delimiter),
                found: char::from(*found),
            });
        }
    }
    let mut index: Vec<Option<usize>> = Vec::with_capacity(spec.columns.len());
    for column in &spec.columns {
        let position = header.iter().position(|h| *h == column.from);
        if position.is_none() {
            if column.required {
                return Err(TransformError::SchemaMismatch {
                    message: format!(
                        "the header has no field \"{}\" (required by column {}); the header is: {}",
                        column.from,
                        column.name,
                        header.join(", ")
                    ),
                });
            }
            sink.note_missing_field(&column.name);
        }
        index.push(position);
    }
    let mut row: u64 = 0;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(errors, e, row + 1)),
        }
        row += 1;
        let render = || {
            let fields = record.iter().map(|f| String::from_utf8_lossy(f).into_owned());
            if record.len() == header.len() {
                serde_json::Value::Object(
                    header.iter().cloned().zip(fields.map(serde_json::Value::String)).collect(),
                )
            } else {
                serde_json::Value::Array(fields.map(serde_json::Value::String).collect())
            }
        };
        if record.len() != header.len() {
            sink.push_bad_row(
                row,
                "",
                "",
                &format!("the row has {} fields; the header has {}", record.len(), header.len()),
                &render,
            )?;
            continue;
        }
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(index.len());
        for position in &index {
            let cell = match position.and_then(|i| record.get(i)) {
                None => Cell::Absent,
                Some(bytes) => match std::str::from_utf8(bytes) {
                    Ok(text) => Cell::Text(Cow::Borrowed(text)),
                    Err(_) => return Err(TransformError::InvalidUtf8 { row }),
                },
            };
            cells.push(cell);
        }
        sink.push_row(row, &cells, &render)?;
    }
    Ok(())
}
