//! Parquet input (e.g. a DMS export): typed source columns are taken as they are when they
//! already have the target type, and otherwise converted through their text form.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use graphetl_core::DatasetSpec;
use graphetl_core::convert::{Value, format_date, format_decimal, format_timestamp};
use graphetl_core::spec::{Column, ColumnType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};

use crate::cells::Cell;
use crate::sink::RowSink;
use crate::{TransformError, TransformOptions};

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn parquet_err(e: impl std::fmt::Display) -> TransformError {
    TransformError::Parquet { message: e.to_string() }
}

fn supported(source: &DataType) -> bool {
    match source {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(_, _)
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _) => true,
        DataType::List(item) | DataType::LargeList(item) => {
            matches!(item.data_type(), DataType::Utf8 | DataType::LargeUtf8)
        }
        _ => false,
    }
}

/// Reads a Parquet file into the sink.
pub(crate) fn read_parquet(
    spec: &DatasetSpec,
    path: &Path,
    options: &TransformOptions,
    sink: &mut RowSink<'_>,
) -> Result<(), TransformError> {
    let io_err = |source| TransformError::Io { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(io_err)?;
    check_magic(&mut file).map_err(|e| match e {
        MagicError::Io(source) => io_err(source),
        MagicError::NotParquet(looks_like) => TransformError::NotParquet { looks_like },
    })?;
    // The embedded Arrow schema (`ARROW:schema`) is not read: its decoder panics on some
    // corrupt bytes, and the Parquet schema alone gives every type this reader supports.
    let reader_options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, reader_options)
        .map_err(parquet_err)?;
    let schema = builder.schema().clone();
    let mut roots: Vec<usize> = Vec::new();
    let mut source_of: Vec<Option<String>> = Vec::with_capacity(spec.columns.len());
    for column in &spec.columns {
        match schema.fields().iter().position(|f| *f.name() == column.from) {
            Some(i) => {
                let data_type = schema.field(i).data_type();
                if !supported(data_type) {
                    return Err(TransformError::SchemaMismatch {
                        message: format!(
                            "field \"{}\" has Parquet/Arrow type {data_type}, which cannot become {} (column {})",
                            column.from, column.ty, column.name
                        ),
                    });
                }
                if !roots.contains(&i) {
                    roots.push(i);
                }
                source_of.push(Some(column.from.clone()));
            }
            None if column.required => {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(TransformError::SchemaMismatch {
                    message: format!(
                        "the file has no field \"{}\" (required by column {}); its fields are: {}",
                        column.from,
                        column.name,
                        names.join(", ")
                    ),
                });
            }
            None => {
                sink.note_missing_field(&column.name);
                source_of.push(None);
            }
        }
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(options.batch_rows.max(1))
        .build()
        .map_err(parquet_err)?;
    let mut row: u64 = 0;
    for batch in reader {
        let batch = batch.map_err(parquet_err)?;
        let arrays: Vec<Option<ArrayRef>> = source_of
            .iter()
            .map(|name| name.as_ref().and_then(|n| batch.column_by_name(n).cloned()))
            .collect();
        for index in 0..batch.num_rows() {
            row += 1;
            let cells: Vec<Cell<'_>> = spec
                .columns
                .iter()
                .zip(&arrays)
                .map(|(column, array)| match array {
                    Some(array) => cell_at(array.as_ref(), index, column),
                    None => Cell::Absent,
                })
                .collect();
            let render = || {
                let object = spec
                    .columns
                    .iter()
                    .zip(&cells)
                    .map(|(c, cell)| (c.from.clone(), cell_json(cell)))
                    .collect();
                serde_json::Value::Object(object)
            };
            sink.push_row(row, &cells, &render)?;
        }
    }
    Ok(())
}

const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

enum MagicError {
    Io(std::io::Error),
    NotParquet(&'static str),
}

/// Checks the magic bytes at both ends, so a file that is not Parquet gets one clear reason
/// instead of a footer-decoding message; leaves the file positioned at its start.
fn check_magic(file: &mut File) -> Result<(), MagicError> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata().map_err(MagicError::Io)?.len();
    let mut head = [0u8; 4];
    let mut tail = [0u8; 4];
    let n_head = file.read(&mut head).map_err(MagicError::Io)?;
    if len >= 12 {
        file.seek(SeekFrom::End(-4)).map_err(MagicError::Io)?;
        file.read_exact(&mut tail).map_err(MagicError::Io)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(MagicError::Io)?;
    if len >= 12 && &head == PARQUET_MAGIC && &tail == PARQUET_MAGIC {
        return Ok(());
    }
    let head = &head[..n_head];
    let looks_like = if head.starts_with(&[0x1f, 0x8b]) {
        "gzip"
    } else if head == PARQUET_MAGIC.as_slice() {
        "a truncated Parquet file"
    } else if head.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
        "text (CSV or JSON lines)"
    } else {
        "another binary format"
    };
    Err(MagicError::NotParquet(looks_like))
}

fn cell_json(cell: &Cell<'_>) -> serde_json::Value {
    match cell {
        Cell::Absent => serde_json::Value::Null,
        Cell::Text(t) => serde_json::Value::String(t.to_string()),
        Cell::Items(items) => {
            items.iter().map(|i| serde_json::Value::String(i.to_string())).collect()
        }
        Cell::Typed(Value::Bool(b)) => serde_json::Value::Bool(*b),
        Cell::Typed(Value::Int(i)) => serde_json::Value::from(*i),
        Cell::Typed(Value::Float(f)) => serde_json::Value::from(*f),
        Cell::Typed(Value::Date(d)) => serde_json::Value::String(format_date(*d)),
        Cell::Typed(Value::Timestamp(t)) => serde_json::Value::String(format_timestamp(*t)),
        Cell::Typed(other) => serde_json::Value::String(format!("{other:?}")),
        Cell::Invalid { raw, .. } => serde_json::Value::String(raw.clone()),
    }
}

fn int_cell<'a>(value: i128, column: &Column) -> Cell<'a> {
    match (column.ty, i64::try_from(value)) {
        (ColumnType::Int, Ok(v)) => Cell::Typed(Value::Int(v)),
        _ => Cell::Text(Cow::Owned(value.to_string())),
    }
}

fn float_cell<'a>(value: f64, column: &Column) -> Cell<'a> {
    if column.ty == ColumnType::Float && value.is_finite() {
        Cell::Typed(Value::Float(value))
    } else {
        Cell::Text(Cow::Owned(value.to_string()))
    }
}

fn micros_cell<'a>(micros: Option<i64>, column: &Column) -> Cell<'a> {
    let Some(micros) = micros else {
        return Cell::Invalid { raw: String::new(), reason: "timestamp out of range".into() };
    };
    match column.ty {
        ColumnType::Timestamp => Cell::Typed(Value::Timestamp(micros)),
        ColumnType::Date => match i32::try_from(micros.div_euclid(MICROS_PER_DAY)) {
            Ok(days) => Cell::Typed(Value::Date(days)),
            Err(_) => Cell::Invalid { raw: micros.to_string(), reason: "date out of range".into() },
        },
        _ => Cell::Text(Cow::Owned(format_timestamp(micros))),
    }
}

fn cell_at<'a>(array: &'a dyn Array, i: usize, column: &Column) -> Cell<'a> {
    if array.is_null(i) {
        return Cell::Absent;
    }
    match array.data_type() {
        DataType::Utf8 => Cell::Text(Cow::Borrowed(array.as_string::<i32>().value(i))),
        DataType::LargeUtf8 => Cell::Text(Cow::Borrowed(array.as_string::<i64>().value(i))),
        DataType::Utf8View => Cell::Text(Cow::Borrowed(array.as_string_view().value(i))),
        DataType::Binary | DataType::LargeBinary => {
            let bytes = if let DataType::Binary = array.data_type() {
                array.as_binary::<i32>().value(i)
            } else {
                array.as_binary::<i64>().value(i)
            };
            match std::str::from_utf8(bytes) {
                Ok(text) => Cell::Text(Cow::Borrowed(text)),
                Err(_) => Cell::Invalid {
                    raw: format!("{bytes:?}"),
                    reason: "binary value is not UTF-8 text".into(),
                },
            }
        }
        DataType::Boolean => {
            let v = array.as_boolean().value(i);
            if column.ty == ColumnType::Bool {
                Cell::Typed(Value::Bool(v))
            } else {
                Cell::Text(Cow::Borrowed(if v { "true" } else { "false" }))
            }
        }
        DataType::Int8 => int_cell(i128::from(array.as_primitive::<Int8Type>().value(i)), column),
        DataType::Int16 => int_cell(i128::from(array.as_primitive::<Int16Type>().value(i)), column),
        DataType::Int32 => int_cell(i128::from(array.as_primitive::<Int32Type>().value(i)), column),
        DataType::Int64 => int_cell(i128::from(array.as_primitive::<Int64Type>().value(i)), column),
        DataType::UInt8 => int_cell(i128::from(array.as_primitive::<UInt8Type>().value(i)), column),
        DataType::UInt16 => {
            int_cell(i128::from(array.as_primitive::<UInt16Type>().value(i)), column)
        }
        DataType::UInt32 => {
            int_cell(i128::from(array.as_primitive::<UInt32Type>().value(i)), column)
        }
        DataType::UInt64 => {
            int_cell(i128::from(array.as_primitive::<UInt64Type>().value(i)), column)
        }
        DataType::Float32 => {
            float_cell(f64::from(array.as_primitive::<Float32Type>().value(i)), column)
        }
        DataType::Float64 => float_cell(array.as_primitive::<Float64Type>().value(i), column),
        DataType::Decimal128(_, scale) => {
            let unscaled = array.as_primitive::<Decimal128Type>().value(i);
            match u8::try_from(*scale) {
                Ok(scale) => Cell::Text(Cow::Owned(format_decimal(unscaled, scale))),
                Err(_) => Cell::Invalid {
                    raw: unscaled.to_string(),
                    reason: "negative decimal scale is not supported".into(),
                },
            }
        }
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(i);
            match column.ty {
                ColumnType::Date => Cell::Typed(Value::Date(days)),
                _ => micros_cell(i64::from(days).checked_mul(MICROS_PER_DAY), column),
            }
        }
        DataType::Date64 => {
            let millis = array.as_primitive::<Date64Type>().value(i);
            micros_cell(millis.checked_mul(1000), column)
        }
        DataType::Timestamp(unit, _) => {
            let micros = match unit {
                TimeUnit::Second => {
                    array.as_primitive::<TimestampSecondType>().value(i).checked_mul(1_000_000)
                }
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(i).checked_mul(1000)
                }
                TimeUnit::Microsecond => {
                    Some(array.as_primitive::<TimestampMicrosecondType>().value(i))
                }
                TimeUnit::Nanosecond => {
                    let nanos = array.as_primitive::<TimestampNanosecondType>().value(i);
                    if nanos % 1000 != 0 {
                        return Cell::Invalid {
                            raw: nanos.to_string(),
                            reason: "nanosecond precision would be lost (timestamps are stored in microseconds)".into(),
                        };
                    }
                    Some(nanos / 1000)
                }
            };
            micros_cell(micros, column)
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let values = if let DataType::List(_) = array.data_type() {
                array.as_list::<i32>().value(i)
            } else {
                array.as_list::<i64>().value(i)
            };
            let items: Vec<Cow<'a, str>> = match values.data_type() {
                DataType::Utf8 => values
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(|s| Cow::Owned(s.to_owned()))
                    .collect(),
                _ => values
                    .as_string::<i64>()
                    .iter()
                    .flatten()
                    .map(|s| Cow::Owned(s.to_owned()))
                    .collect(),
            };
            Cell::Items(items)
        }
        other => Cell::Invalid {
            raw: String::new(),
            reason: format!("unsupported Parquet type {other}"),
        },
    }
}
