//! CSV input: header mapping, delimiter sanity check, one row at a time as byte records.

use std::borrow::Cow;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

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
            Ok(false) => return Err(TransformError::NoData),
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
    // A name the spec reads that appears twice is ambiguous: which field holds the value?
    for column in &spec.columns {
        let mut positions =
            header.iter().enumerate().filter(|(_, h)| **h == column.from).map(|(i, _)| i + 1);
        if let (Some(first), Some(second)) = (positions.next(), positions.next()) {
            return Err(TransformError::SchemaMismatch {
                message: format!(
                    "the header names \"{}\" twice (fields {first} and {second}; column {} reads it), so its value is ambiguous",
                    column.from, column.name
                ),
            });
        }
    }
    // Quarantine records are objects keyed by the header only when its names are distinct, so
    // no field of a bad row is lost to a repeated key.
    let distinct_names =
        header.iter().collect::<std::collections::HashSet<_>>().len() == header.len();
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
    // A reader thread parses records in chunks while this thread converts them; recycled
    // chunks keep their buffers, so steady state allocates nothing.
    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<csv::ByteRecord>>(CHUNKS_IN_FLIGHT + 2);
    std::thread::scope(|scope| {
        scope.spawn(move || parse_chunks(&mut csv, &chunk_tx, &recycle_rx));
        let result =
            convert_chunks(&header, distinct_names, &index, &chunk_rx, &recycle_tx, errors, sink);
        // Unblock the reader if we stopped early, so the scope can end.
        drop(chunk_rx);
        drop(recycle_tx);
        result
    })
}

/// Records parsed per chunk.
const CHUNK_RECORDS: usize = 1024;
/// Chunks queued between the reader and the converter at most.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A chunk of parsed records (the first `filled` are valid), or the error that ended parsing.
struct Chunk {
    records: Vec<csv::ByteRecord>,
    filled: usize,
    error: Option<csv::Error>,
}

fn parse_chunks<R: std::io::Read>(
    csv: &mut csv::Reader<R>,
    chunks: &SyncSender<Chunk>,
    recycled: &Receiver<Vec<csv::ByteRecord>>,
) {
    loop {
        let mut records = recycled.try_recv().unwrap_or_default();
        if records.len() < CHUNK_RECORDS {
            records.resize_with(CHUNK_RECORDS, csv::ByteRecord::new);
        }
        let mut filled = 0;
        let mut error = None;
        let mut done = false;
        while filled < CHUNK_RECORDS {
            match csv.read_byte_record(&mut records[filled]) {
                Ok(true) => filled += 1,
                Ok(false) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    done = true;
                    break;
                }
            }
        }
        if chunks.send(Chunk { records, filled, error }).is_err() || done {
            return;
        }
    }
}

fn convert_chunks(
    header: &[String],
    distinct_names: bool,
    index: &[Option<usize>],
    chunks: &Receiver<Chunk>,
    recycle: &SyncSender<Vec<csv::ByteRecord>>,
    errors: ReadErrors,
    sink: &mut RowSink<'_>,
) -> Result<(), TransformError> {
    let mut row: u64 = 0;
    for chunk in chunks {
        for record in &chunk.records[..chunk.filled] {
            row += 1;
            convert_record(header, distinct_names, index, record, row, sink)?;
        }
        if let Some(e) = chunk.error {
            return Err(csv_error(errors, e, row + 1));
        }
        let _ = recycle.try_send(chunk.records);
    }
    Ok(())
}

fn convert_record(
    header: &[String],
    distinct_names: bool,
    index: &[Option<usize>],
    record: &csv::ByteRecord,
    row: u64,
    sink: &mut RowSink<'_>,
) -> Result<(), TransformError> {
    let render = || {
        let fields = record.iter().map(|f| String::from_utf8_lossy(f).into_owned());
        if distinct_names && record.len() == header.len() {
            serde_json::Value::Object(
                header.iter().cloned().zip(fields.map(serde_json::Value::String)).collect(),
            )
        } else {
            serde_json::Value::Array(fields.map(serde_json::Value::String).collect())
        }
    };
    if record.len() != header.len() {
        return sink.push_bad_row(
            row,
            "",
            "",
            &format!("the row has {} fields; the header has {}", record.len(), header.len()),
            &render,
        );
    }
    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(index.len());
    for position in index {
        let cell = match position.and_then(|i| record.get(i)) {
            None => Cell::Absent,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Cell::Text(Cow::Borrowed(text)),
                Err(_) => return Err(TransformError::InvalidUtf8 { row }),
            },
        };
        cells.push(cell);
    }
    sink.push_row(row, &cells, &render)
}
