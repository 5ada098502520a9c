//! The row sink: converts cells to typed values, routes good rows to one Parquet file per
//! partition and bad rows to the quarantine file.
//!
//! The first `open_writers` partitions of a file get an open writer; rows of later partitions go
//! to the [`Spill`] and are written after the input ends, one partition at a time. Both paths
//! hand each partition's rows to its writer in input order in batches of exactly `batch_rows`,
//! so a partition's file has the same bytes whichever path it took.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use graphetl_core::DatasetSpec;
use graphetl_core::convert::Value;
use graphetl_core::spec::{Column, ColumnType, OnBadRow};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::cells::Cell;
use crate::encoder::Encoder;
use crate::spill::{Key, Spill, decode_row};
use crate::{PartitionFile, QuarantineFile, TransformError, TransformOptions, TransformOutput};

/// Longest raw value copied into a quarantine record.
const MAX_QUARANTINE_VALUE: usize = 4096;

/// The Arrow schema of the curated Parquet for a spec.
pub fn output_schema(spec: &DatasetSpec) -> SchemaRef {
    let fields: Vec<Field> =
        spec.columns.iter().map(|c| Field::new(&c.name, arrow_type(c.ty), !c.required)).collect();
    Arc::new(Schema::new(fields))
}

fn list_item_field() -> Arc<Field> {
    Arc::new(Field::new("element", DataType::Utf8, false))
}

fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String => DataType::Utf8,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Decimal { precision, scale } => {
            DataType::Decimal128(precision, i8::try_from(scale).unwrap_or(i8::MAX))
        }
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::ListString => DataType::List(list_item_field()),
    }
}

enum Builder {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Decimal(Decimal128Builder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    List(ListBuilder<StringBuilder>),
}

impl Builder {
    fn new(ty: ColumnType, capacity: usize) -> Builder {
        match ty {
            ColumnType::String => {
                Builder::Str(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Bool => Builder::Bool(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Int => Builder::Int(Int64Builder::with_capacity(capacity)),
            ColumnType::Float => Builder::Float(Float64Builder::with_capacity(capacity)),
            ColumnType::Decimal { precision, scale } => Builder::Decimal(
                Decimal128Builder::with_capacity(capacity)
                    .with_data_type(arrow_type(ColumnType::Decimal { precision, scale })),
            ),
            ColumnType::Date => Builder::Date(Date32Builder::with_capacity(capacity)),
            ColumnType::Timestamp => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            ColumnType::ListString => Builder::List(
                ListBuilder::with_capacity(StringBuilder::new(), capacity)
                    .with_field(list_item_field()),
            ),
        }
    }

    /// Appends a value that the column's converter produced (so its variant matches).
    fn append(&mut self, value: Option<&Value<'_>>) {
        match (self, value) {
            (Builder::Str(b), Some(Value::Str(s))) => b.append_value(s),
            (Builder::Bool(b), Some(Value::Bool(v))) => b.append_value(*v),
            (Builder::Int(b), Some(Value::Int(v))) => b.append_value(*v),
            (Builder::Float(b), Some(Value::Float(v))) => b.append_value(*v),
            (Builder::Decimal(b), Some(Value::Decimal(v))) => b.append_value(*v),
            (Builder::Date(b), Some(Value::Date(v))) => b.append_value(*v),
            (Builder::Timestamp(b), Some(Value::Timestamp(v))) => b.append_value(*v),
            (Builder::List(b), Some(Value::List(items))) => {
                for item in items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (Builder::Str(b), _) => b.append_null(),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Int(b), _) => b.append_null(),
            (Builder::Float(b), _) => b.append_null(),
            (Builder::Decimal(b), _) => b.append_null(),
            (Builder::Date(b), _) => b.append_null(),
            (Builder::Timestamp(b), _) => b.append_null(),
            (Builder::List(b), _) => b.append(false),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Decimal(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::List(b) => Arc::new(b.finish()),
        }
    }
}

/// One partition's Parquet file being written: its column builders and the encoder slot.
struct PartWriter {
    partition: String,
    path: PathBuf,
    builders: Vec<Builder>,
    buffered: usize,
    rows: u64,
    slot: usize,
}

fn output_err(e: impl std::fmt::Display) -> TransformError {
    TransformError::Output { message: e.to_string() }
}

impl PartWriter {
    fn append(&mut self, values: &[Option<Value<'_>>]) {
        for (builder, value) in self.builders.iter_mut().zip(values) {
            builder.append(value.as_ref());
        }
        self.buffered += 1;
        self.rows += 1;
    }

    fn flush_batch(
        &mut self,
        schema: &SchemaRef,
        encoder: &mut Encoder,
    ) -> Result<(), TransformError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(output_err)?;
        encoder.write(self.slot, batch)?;
        self.buffered = 0;
        Ok(())
    }
}

struct Quarantine {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

/// A conversion failure of one column.
struct Failure {
    column: String,
    value: String,
    reason: String,
}

fn shorten(text: &str) -> String {
    if text.len() <= MAX_QUARANTINE_VALUE {
        return text.to_owned();
    }
    let mut end = MAX_QUARANTINE_VALUE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…(truncated, {} bytes)", &text[..end], text.len())
}

/// Receives rows from a reader and writes the outputs.
pub(crate) struct RowSink<'s> {
    spec: &'s DatasetSpec,
    source_name: &'s str,
    work_dir: &'s Path,
    options: &'s TransformOptions,
    schema: SchemaRef,
    properties: WriterProperties,
    /// Open writers, and which one serves each (day, hour) key.
    parts: Vec<PartWriter>,
    slots: HashMap<Key, usize>,
    /// Partitions whose rows go to the spill, and the spill itself once a row needed it.
    spilled: HashSet<Key>,
    spill: Option<Spill>,
    /// Distinct partitions allowed (the spec's `partition.max_partitions_per_file`).
    max_partitions: usize,
    encoder: Encoder,
    quarantine: Option<Quarantine>,
    rows_in: u64,
    missing_fields: Vec<String>,
}

impl<'s> RowSink<'s> {
    pub(crate) fn new(
        spec: &'s DatasetSpec,
        source_name: &'s str,
        work_dir: &'s Path,
        options: &'s TransformOptions,
    ) -> Result<RowSink<'s>, TransformError> {
        let level = ZstdLevel::try_new(options.zstd_level).map_err(output_err)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(options.row_group_bytes.max(1)))
            .set_created_by(format!("graphetl {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(RowSink {
            spec,
            source_name,
            work_dir,
            options,
            schema: output_schema(spec),
            properties,
            parts: Vec::new(),
            slots: HashMap::new(),
            spilled: HashSet::new(),
            spill: None,
            max_partitions: spec.partition.as_ref().map_or(1, |p| p.max_partitions_per_file),
            encoder: Encoder::start()?,
            quarantine: None,
            rows_in: 0,
            missing_fields: Vec::new(),
        })
    }

    /// The spec's columns, in output order.
    pub(crate) fn columns(&self) -> &'s [Column] {
        &self.spec.columns
    }

    /// Records that a column's input field is absent from the whole file.
    pub(crate) fn note_missing_field(&mut self, column: &str) {
        self.missing_fields.push(column.to_owned());
    }

    /// Merges the spill back and writes its partitions one at a time: each writer is closed
    /// before the next opens.
    fn write_spilled(
        &mut self,
        spill: Spill,
        written: &mut Vec<(String, PathBuf, u64)>,
    ) -> Result<(), TransformError> {
        let schema = self.schema.clone();
        let batch_rows = self.options.batch_rows.max(1);
        let columns = self.columns();
        let mut current: Option<(Key, PartWriter)> = None;
        spill.into_merge()?.for_each(|key, payload| {
            if current.as_ref().is_none_or(|(k, _)| *k != key) {
                if let Some((_, part)) = current.take() {
                    self.close_partition(part, written)?;
                }
                let slot = written.len();
                current = Some((key, self.open_partition(&Self::partition_text(key), slot)?));
            }
            let Some((_, part)) = current.as_mut() else {
                return Err(output_err("spilled partition writer vanished"));
            };
            let mut values = Vec::with_capacity(columns.len());
            decode_row(columns, payload, &mut values)
                .ok_or_else(|| output_err("a spilled row does not match the spec's columns"))?;
            part.append(&values);
            if part.buffered >= batch_rows {
                part.flush_batch(&schema, &mut self.encoder)?;
            }
            Ok(())
        })?;
        if let Some((_, part)) = current.take() {
            self.close_partition(part, written)?;
        }
        Ok(())
    }

    fn close_partition(
        &mut self,
        mut part: PartWriter,
        written: &mut Vec<(String, PathBuf, u64)>,
    ) -> Result<(), TransformError> {
        part.flush_batch(&self.schema, &mut self.encoder)?;
        self.encoder.close(part.slot)?;
        written.push((part.partition, part.path, part.rows));
        Ok(())
    }

    /// Converts and routes one row. `record` renders the raw row for the quarantine file.
    pub(crate) fn push_row(
        &mut self,
        row: u64,
        cells: &[Cell<'_>],
        record: &dyn Fn() -> serde_json::Value,
    ) -> Result<(), TransformError> {
        self.rows_in += 1;
        let columns = self.columns();
        let mut values: Vec<Option<Value<'_>>> = Vec::with_capacity(columns.len());
        let mut failures: Vec<Failure> = Vec::new();
        for (column, cell) in columns.iter().zip(cells) {
            match convert_cell(column, cell) {
                Ok(value) => values.push(value),
                Err((value, reason)) => {
                    failures.push(Failure { column: column.name.clone(), value, reason });
                    values.push(None);
                }
            }
        }
        let partition = if failures.is_empty() {
            match self.partition_key(&values) {
                Ok(p) => Some(p),
                Err(reason) => {
                    let column = self
                        .spec
                        .partition
                        .as_ref()
                        .map(|p| columns[p.dt_column].name.clone())
                        .unwrap_or_default();
                    failures.push(Failure { column, value: String::new(), reason });
                    None
                }
            }
        } else {
            None
        };
        match partition {
            Some(partition) if failures.is_empty() => self.write_good(partition, &values),
            _ => self.reject(row, failures, record),
        }
    }

    /// Rejects a row that could not be split into fields at all.
    pub(crate) fn push_bad_row(
        &mut self,
        row: u64,
        column: &str,
        value: &str,
        reason: &str,
        record: &dyn Fn() -> serde_json::Value,
    ) -> Result<(), TransformError> {
        self.rows_in += 1;
        let failure = Failure {
            column: column.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        self.reject(row, vec![failure], record)
    }

    /// The (day, hour) partition key of a row; (-1, -1) when the spec has no partition.
    fn partition_key(&self, values: &[Option<Value<'_>>]) -> Result<(i64, i64), String> {
        let Some(spec) = &self.spec.partition else { return Ok((-1, -1)) };
        let (day, hour) = match values.get(spec.dt_column) {
            Some(Some(Value::Timestamp(micros))) => {
                let seconds = micros.div_euclid(1_000_000);
                (seconds.div_euclid(86_400), seconds.rem_euclid(86_400) / 3600)
            }
            Some(Some(Value::Date(days))) => (i64::from(*days), 0),
            _ => {
                return Err(format!(
                    "the partition column {} is null",
                    self.spec.columns[spec.dt_column].name
                ));
            }
        };
        Ok((day, if spec.hour { hour } else { -1 }))
    }

    fn partition_text(key: (i64, i64)) -> String {
        let (day, hour) = key;
        if day == -1 && hour == -1 {
            return String::new();
        }
        let date = graphetl_core::convert::format_date(i32::try_from(day).unwrap_or(i32::MAX));
        if hour >= 0 { format!("dt={date}/hour={hour:02}") } else { format!("dt={date}") }
    }

    fn write_good(&mut self, key: Key, values: &[Option<Value<'_>>]) -> Result<(), TransformError> {
        let slot = match self.slots.get(&key) {
            Some(slot) => *slot,
            None if self.spilled.contains(&key) => return self.spill_row(key, values),
            None => {
                self.check_partition_count()?;
                if self.parts.len() >= self.options.open_writers.max(1) {
                    self.spilled.insert(key);
                    return self.spill_row(key, values);
                }
                let writer = self.open_partition(&Self::partition_text(key), self.parts.len())?;
                self.parts.push(writer);
                self.slots.insert(key, self.parts.len() - 1);
                self.parts.len() - 1
            }
        };
        let schema = self.schema.clone();
        let batch_rows = self.options.batch_rows.max(1);
        let Some(part) = self.parts.get_mut(slot) else {
            return Err(output_err("partition writer vanished"));
        };
        part.append(values);
        if part.buffered >= batch_rows {
            part.flush_batch(&schema, &mut self.encoder)?;
        }
        Ok(())
    }

    /// Fails the file when one more partition would exceed the spec's bound.
    fn check_partition_count(&self) -> Result<(), TransformError> {
        if self.parts.len() + self.spilled.len() >= self.max_partitions {
            return Err(TransformError::TooManyPartitions { limit: self.max_partitions });
        }
        Ok(())
    }

    fn spill_row(&mut self, key: Key, values: &[Option<Value<'_>>]) -> Result<(), TransformError> {
        let spill = self.spill.get_or_insert_with(|| {
            Spill::new(self.work_dir.join("spill"), self.options.spill_bytes)
        });
        spill.push(key, values)
    }

    fn open_partition(
        &mut self,
        partition: &str,
        slot: usize,
    ) -> Result<PartWriter, TransformError> {
        let dir = if partition.is_empty() {
            self.work_dir.join("curated")
        } else {
            self.work_dir.join("curated").join(partition)
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TransformError::Io { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join("part.parquet");
        let file = File::create(&path).map_err(io(&path))?;
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            self.schema.clone(),
            Some(self.properties.clone()),
        )
        .map_err(output_err)?;
        self.encoder.open(slot, writer)?;
        let capacity = self.options.batch_rows.max(1);
        Ok(PartWriter {
            partition: partition.to_owned(),
            path,
            builders: self.spec.columns.iter().map(|c| Builder::new(c.ty, capacity)).collect(),
            buffered: 0,
            rows: 0,
            slot,
        })
    }

    fn reject(
        &mut self,
        row: u64,
        failures: Vec<Failure>,
        record: &dyn Fn() -> serde_json::Value,
    ) -> Result<(), TransformError> {
        if self.spec.input.on_bad_row == OnBadRow::FailFile {
            let first = failures.into_iter().next();
            let (column, value, reason) =
                first.map(|f| (f.column, f.value, f.reason)).unwrap_or_default();
            return Err(TransformError::BadRow { row, column, value: shorten(&value), reason });
        }
        if self.quarantine.is_none() {
            std::fs::create_dir_all(self.work_dir).map_err(|source| TransformError::Io {
                path: self.work_dir.to_path_buf(),
                source,
            })?;
            let path = self.work_dir.join("quarantine.jsonl");
            let file = File::create(&path)
                .map_err(|source| TransformError::Io { path: path.clone(), source })?;
            self.quarantine = Some(Quarantine { path, out: BufWriter::new(file), rows: 0 });
        }
        let errors: Vec<serde_json::Value> = failures
            .iter()
            .map(|f| serde_json::json!({"column": f.column, "value": shorten(&f.value), "reason": f.reason}))
            .collect();
        let first = &failures[0];
        let line = serde_json::json!({
            "file": self.source_name,
            "row": row,
            "column": first.column,
            "value": shorten(&first.value),
            "reason": first.reason,
            "errors": errors,
            "record": record(),
        });
        if let Some(q) = &mut self.quarantine {
            let write = |q: &mut Quarantine| -> std::io::Result<()> {
                serde_json::to_writer(&mut q.out, &line)?;
                q.out.write_all(b"\n")
            };
            write(q).map_err(|source| TransformError::Io { path: q.path.clone(), source })?;
            q.rows += 1;
        }
        Ok(())
    }

    /// Writes the spilled partitions, flushes and closes every writer and returns what was
    /// written.
    pub(crate) fn finish(mut self) -> Result<TransformOutput, TransformError> {
        for part in &mut self.parts {
            part.flush_batch(&self.schema, &mut self.encoder)?;
        }
        let mut written: Vec<(String, PathBuf, u64)> =
            self.parts.iter().map(|p| (p.partition.clone(), p.path.clone(), p.rows)).collect();
        if let Some(spill) = self.spill.take() {
            self.write_spilled(spill, &mut written)?;
        }
        self.encoder.finish()?;
        written.sort_by(|a, b| a.0.cmp(&b.0));
        let mut files = Vec::with_capacity(written.len());
        let mut rows_written = 0;
        for (partition, path, rows) in written {
            let bytes = std::fs::metadata(&path)
                .map_err(|source| TransformError::Io { path: path.clone(), source })?
                .len();
            rows_written += rows;
            files.push(PartitionFile { partition, path, rows, bytes });
        }
        let quarantine = match self.quarantine {
            Some(mut q) => {
                q.out
                    .flush()
                    .map_err(|source| TransformError::Io { path: q.path.clone(), source })?;
                let bytes = std::fs::metadata(&q.path)
                    .map_err(|source| TransformError::Io { path: q.path.clone(), source })?
                    .len();
                Some(QuarantineFile { path: q.path, rows: q.rows, bytes })
            }
            None => None,
        };
        let rows_rejected = quarantine.as_ref().map_or(0, |q| q.rows);
        Ok(TransformOutput {
            rows_in: self.rows_in,
            rows_written,
            rows_rejected,
            bytes_in: 0,
            files,
            quarantine,
            missing_fields: self.missing_fields,
        })
    }
}

/// Converts one cell for `column`: `Ok(None)` is null, `Err((raw, reason))` rejects the row.
fn convert_cell<'a>(
    column: &Column,
    cell: &'a Cell<'a>,
) -> Result<Option<Value<'a>>, (String, String)> {
    let value = match cell {
        Cell::Absent => None,
        Cell::Text(text) => {
            if column.is_null(text) {
                None
            } else {
                match column.converter.convert(text) {
                    Ok(v) => Some(v),
                    Err(e) => return Err((text.to_string(), e.0)),
                }
            }
        }
        Cell::Items(items) => {
            if column.ty != ColumnType::ListString {
                return Err((format!("{items:?}"), "expected a single value, found a list".into()));
            }
            let kept: Vec<Cow<'a, str>> = items
                .iter()
                .map(|i| i.trim())
                .filter(|i| !i.is_empty())
                .map(Cow::Borrowed)
                .collect();
            Some(Value::List(kept))
        }
        Cell::Typed(value) => Some(value.clone()),
        Cell::Invalid { raw, reason } => return Err((raw.clone(), reason.clone())),
    };
    if value.is_none() && column.required {
        let raw = match cell {
            Cell::Text(t) => t.to_string(),
            _ => String::new(),
        };
        return Err((raw, "required value is missing".into()));
    }
    Ok(value)
}
