//! The local engine: DataFusion running a dataset's SQL over its curated Parquet on this machine.
//!
//! [`LocalEngine`] registers the dataset's curated folder (`curated/<dataset>/dt=…/hour=…/`,
//! the files the transform step wrote, read straight from the local S3 endpoint's folder or any
//! copy of it) as one table with the spec's columns plus the Hive partition columns `dt` (and
//! `hour`) as strings, the way the Athena table declares them. The SQL text is exactly what
//! Athena runs; where Trino and DataFusion differ, [`register_trino_aliases`] adds functions
//! under Trino's names (see its docs for the list and the semantics each keeps).
//!
//! Results are converted to [`ResultValue`]s with the same types the Athena adapter gives:
//! integers → `Int`, floats and decimals → `Float`, strings → `String`, booleans → `Bool`,
//! timestamps and dates → `Timestamp` (ISO-8601 UTC, millisecond precision).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Date64Array, Float16Array, Float32Array,
    Float64Array, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::DataFusionError;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use graphetl_core::contract::{ResultValue, Row};
use graphetl_core::spec::DatasetSpec;

use crate::engine::{QueryEngine, QueryError, QueryResult, QuerySpecResolved};

pub use crate::aliases::register_trino_aliases;

/// Why the local engine could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LocalEngineError {
    /// The curated folder exists but is not a folder, or cannot be read.
    #[error("curated data {path}: {message}")]
    Curated {
        /// The folder.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// DataFusion refused the table (a bug or an unusual schema).
    #[error("cannot register table {table}: {source}")]
    Register {
        /// Table name.
        table: String,
        /// DataFusion's error.
        source: DataFusionError,
    },
}

/// DataFusion over one dataset's curated Parquet, answering [`QueryEngine::run`].
#[derive(Clone)]
pub struct LocalEngine {
    ctx: SessionContext,
}

impl std::fmt::Debug for LocalEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngine").field("session", &self.ctx.session_id()).finish()
    }
}

/// The partition columns of a spec's curated layout, in folder order.
pub fn partition_columns(spec: &DatasetSpec) -> Vec<&'static str> {
    match &spec.partition {
        Some(p) if p.hour => vec!["dt", "hour"],
        Some(_) => vec!["dt"],
        None => Vec::new(),
    }
}

impl LocalEngine {
    /// An engine whose table `table` is the curated Parquet under `curated_dir`
    /// (`…/curated/<dataset>/`). A folder that does not exist yet is an empty table, so a
    /// window without data gives empty results rather than an error.
    pub async fn over_dir(
        spec: &DatasetSpec,
        table: &str,
        curated_dir: &Path,
    ) -> Result<LocalEngine, LocalEngineError> {
        let ctx = new_context();
        let file_schema = graphetl_transform::output_schema(spec);
        let partitions = partition_columns(spec);
        let register_err = |source: DataFusionError| LocalEngineError::Register {
            table: table.to_owned(),
            source,
        };

        let has_files = match std::fs::metadata(curated_dir) {
            Ok(meta) if meta.is_dir() => true,
            Ok(_) => {
                return Err(LocalEngineError::Curated {
                    path: curated_dir.display().to_string(),
                    message: "is not a folder".to_owned(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                return Err(LocalEngineError::Curated {
                    path: curated_dir.display().to_string(),
                    message: e.to_string(),
                });
            }
        };

        if has_files {
            let url = ListingTableUrl::parse(dir_url(curated_dir)).map_err(register_err)?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(
                    partitions.iter().map(|name| ((*name).to_owned(), DataType::Utf8)).collect(),
                );
            let config =
                ListingTableConfig::new(url).with_listing_options(options).with_schema(file_schema);
            let provider = ListingTable::try_new(config).map_err(register_err)?;
            ctx.register_table(table, Arc::new(provider)).map_err(register_err)?;
        } else {
            let mut fields: Vec<Field> =
                file_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.extend(partitions.iter().map(|name| Field::new(*name, DataType::Utf8, false)));
            let schema = Arc::new(Schema::new(fields));
            let empty = MemTable::try_new(schema, vec![vec![]]).map_err(register_err)?;
            ctx.register_table(table, Arc::new(empty)).map_err(register_err)?;
        }
        Ok(LocalEngine { ctx })
    }

    /// An engine over tables the caller registers (tests, tools): Trino aliases included.
    pub fn with_context(ctx: SessionContext) -> LocalEngine {
        register_trino_aliases(&ctx);
        LocalEngine { ctx }
    }

    /// The DataFusion session (to register more tables).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Runs `sql` and returns its result (the body of [`QueryEngine::run`]).
    pub async fn query(&self, name: &str, sql: &str) -> Result<QueryResult, QueryError> {
        let frame = self.ctx.sql(sql).await.map_err(|e| classify(name, e))?;
        let columns: Vec<String> =
            frame.schema().fields().iter().map(|f| f.name().clone()).collect();
        let batches = frame.collect().await.map_err(|e| classify(name, e))?;
        let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
        for batch in &batches {
            batch_rows(name, batch, &columns, &mut rows)?;
        }
        Ok(QueryResult { columns, rows })
    }
}

impl QueryEngine for LocalEngine {
    async fn run(&self, query: &QuerySpecResolved) -> Result<QueryResult, QueryError> {
        self.query(&query.name, &query.sql).await
    }
}

fn new_context() -> SessionContext {
    // One partition: rows reach every aggregate in the same order on every run, so floating
    // sums and the like are bit-for-bit the same twice (local runs promise identical outputs).
    let config = SessionConfig::new().with_target_partitions(1);
    let ctx = SessionContext::new_with_config(config);
    register_trino_aliases(&ctx);
    ctx
}

/// `file:///abs/path/` for a folder (trailing slash: a folder, not a file).
fn dir_url(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let text = abs.to_string_lossy();
    let trimmed = text.trim_end_matches('/');
    format!("file://{trimmed}/")
}

/// SQL errors (syntax, unknown names, types) are the user's to fix; the rest are failures.
fn classify(query: &str, error: DataFusionError) -> QueryError {
    let message = error.to_string();
    match error.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_) => {
            QueryError::Invalid { query: query.to_owned(), message }
        }
        _ => QueryError::Failed { query: query.to_owned(), message },
    }
}

fn batch_rows(
    query: &str,
    batch: &RecordBatch,
    columns: &[String],
    rows: &mut Vec<Row>,
) -> Result<(), QueryError> {
    let start = rows.len();
    rows.extend((0..batch.num_rows()).map(|_| Row::new()));
    for (name, array) in columns.iter().zip(batch.columns()) {
        let values = column_values(array).map_err(|message| QueryError::Failed {
            query: query.to_owned(),
            message: format!("column {name}: {message}"),
        })?;
        for (row, value) in rows[start..].iter_mut().zip(values) {
            row.insert(name.clone(), value);
        }
    }
    Ok(())
}

macro_rules! ints {
    ($array:expr, $ty:ty) => {{
        let a = $array.as_any().downcast_ref::<$ty>().ok_or("unexpected array type")?;
        a.iter().map(|v| v.map_or(ResultValue::Null, |n| ResultValue::Int(i64::from(n)))).collect()
    }};
}

/// One column's values as [`ResultValue`]s (nulls as `Null`).
fn column_values(array: &ArrayRef) -> Result<Vec<ResultValue>, String> {
    let values: Vec<ResultValue> = match array.data_type() {
        DataType::Null => vec![ResultValue::Null; array.len()],
        DataType::Boolean => {
            let a = array.as_any().downcast_ref::<BooleanArray>().ok_or("not booleans")?;
            a.iter().map(|v| v.map_or(ResultValue::Null, ResultValue::Bool)).collect()
        }
        DataType::Int8 => ints!(array, Int8Array),
        DataType::Int16 => ints!(array, Int16Array),
        DataType::Int32 => ints!(array, Int32Array),
        DataType::Int64 => ints!(array, Int64Array),
        DataType::UInt8 => ints!(array, UInt8Array),
        DataType::UInt16 => ints!(array, UInt16Array),
        DataType::UInt32 => ints!(array, UInt32Array),
        DataType::UInt64 => {
            let a = array.as_any().downcast_ref::<UInt64Array>().ok_or("not u64")?;
            let mut out = Vec::with_capacity(a.len());
            for v in a.iter() {
                out.push(match v {
                    None => ResultValue::Null,
                    Some(n) => ResultValue::Int(
                        i64::try_from(n).map_err(|_| format!("{n} does not fit a bigint"))?,
                    ),
                });
            }
            out
        }
        DataType::Float16 => {
            let a = array.as_any().downcast_ref::<Float16Array>().ok_or("not f16")?;
            a.iter()
                .map(|v| v.map_or(ResultValue::Null, |x| ResultValue::Float(x.into())))
                .collect()
        }
        DataType::Float32 => {
            let a = array.as_any().downcast_ref::<Float32Array>().ok_or("not f32")?;
            a.iter()
                .map(|v| v.map_or(ResultValue::Null, |x| ResultValue::Float(f64::from(x))))
                .collect()
        }
        DataType::Float64 => {
            let a = array.as_any().downcast_ref::<Float64Array>().ok_or("not f64")?;
            a.iter().map(|v| v.map_or(ResultValue::Null, ResultValue::Float)).collect()
        }
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => {
            let floats = cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
            return column_values(&floats);
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings = cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
            strings
                .as_string::<i32>()
                .iter()
                .map(|v| v.map_or(ResultValue::Null, |s| ResultValue::String(s.to_owned())))
                .collect()
        }
        DataType::Dictionary(_, value) if is_text(value) => {
            let strings = cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
            return column_values(&strings);
        }
        DataType::Timestamp(..) => {
            let micros = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))
                .map_err(|e| e.to_string())?;
            let micros = micros
                .as_primitive_opt::<datafusion::arrow::datatypes::TimestampMicrosecondType>()
                .ok_or("not a timestamp")?;
            micros
                .iter()
                .map(|v| v.map_or(ResultValue::Null, |us| ResultValue::Timestamp(iso_millis(us))))
                .collect()
        }
        DataType::Date32 => {
            let a = array.as_any().downcast_ref::<Date32Array>().ok_or("not a date")?;
            a.iter()
                .map(|v| {
                    v.map_or(ResultValue::Null, |days| {
                        ResultValue::Timestamp(iso_millis(i64::from(days) * 86_400_000_000))
                    })
                })
                .collect()
        }
        DataType::Date64 => {
            let a = array.as_any().downcast_ref::<Date64Array>().ok_or("not a date")?;
            a.iter()
                .map(|v| {
                    v.map_or(ResultValue::Null, |ms| {
                        ResultValue::Timestamp(iso_millis(ms.saturating_mul(1000)))
                    })
                })
                .collect()
        }
        _ => {
            // Lists, structs, intervals…: their display text, as Athena's CSV would give.
            let options = FormatOptions::default();
            let formatter =
                ArrayFormatter::try_new(array.as_ref(), &options).map_err(|e| e.to_string())?;
            (0..array.len())
                .map(|i| {
                    if array.is_null(i) {
                        ResultValue::Null
                    } else {
                        ResultValue::String(formatter.value(i).to_string())
                    }
                })
                .collect()
        }
    };
    Ok(values)
}

fn is_text(ty: &DataType) -> bool {
    matches!(ty, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// `2025-06-01T10:00:00.250Z` (always three fractional digits; sub-millisecond digits floored,
/// Athena's timestamp precision).
fn iso_millis(micros: i64) -> String {
    let millis = micros.div_euclid(1000);
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => millis.to_string(),
    }
}
