//! The per-file transform engine: one raw file in, typed Parquet per partition plus a
//! quarantine file of rejected rows out.
//!
//! Any number of partitions: the first [`TransformOptions::open_writers`] partitions of a file
//! are written directly; rows of the others are spilled to the work directory in sorted runs and
//! merged back one partition at a time (`spill.rs`), so memory does not grow with partitions.
//!
//! Input is CSV, JSON lines or Parquet (gzip detected by suffix or magic bytes); the dataset spec
//! gives the output schema and the conversions. A row with any conversion failure goes to the
//! quarantine file whole, with its reasons; nothing is dropped silently. Memory is bounded by the
//! batch and row-group sizes, not by the file size.
//!
//! This crate works on local paths only: it does not know about S3, Lambda or async runtimes.
//! Outputs are written under a work directory the caller owns; the caller publishes them only
//! when [`transform_file`] succeeds, so a broken file leaves no partial output behind.

mod cells;
mod csv_input;
mod encoder;
mod error;
mod jsonl_input;
mod parquet_input;
mod read;
mod sink;
mod spill;

/// Each reader's property on arbitrary bytes, shared by the property tests and fuzz/ (tests and
/// the `fuzzing` feature only).
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz_check;

use std::path::{Path, PathBuf};

use graphetl_core::DatasetSpec;
use graphetl_core::spec::InputFormat;

pub use error::TransformError;
pub use sink::output_schema;

/// Tuning knobs of the engine; the defaults suit a Lambda with 512 MB–1 GB of memory.
#[derive(Debug, Clone)]
pub struct TransformOptions {
    /// Rows per Arrow batch handed to the Parquet writer.
    pub batch_rows: usize,
    /// Rows per Parquet row group at most.
    pub row_group_rows: usize,
    /// Encoded bytes per row group at most (the writer flushes early above it).
    pub row_group_bytes: usize,
    /// zstd level of the output.
    pub zstd_level: i32,
    /// Partition writers open at once; rows of further partitions go through the spill.
    pub open_writers: usize,
    /// Bytes of converted rows the spill buffers before writing a sorted run to disk.
    pub spill_bytes: usize,
}

impl Default for TransformOptions {
    fn default() -> TransformOptions {
        TransformOptions {
            batch_rows: 8 * 1024,
            row_group_rows: 128 * 1024,
            row_group_bytes: 64 << 20,
            zstd_level: 3,
            open_writers: 8,
            spill_bytes: 32 << 20,
        }
    }
}

/// One Parquet file written for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionFile {
    /// Hive partition path (`dt=2026-11-20/hour=03`), empty when the spec has no partition.
    pub partition: String,
    /// Where the file was written (inside the work directory).
    pub path: PathBuf,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// The quarantine file of rejected rows (JSON lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineFile {
    /// Where the file was written (inside the work directory).
    pub path: PathBuf,
    /// Rejected rows.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransformOutput {
    /// Data rows read.
    pub rows_in: u64,
    /// Rows written to Parquet.
    pub rows_written: u64,
    /// Rows sent to quarantine.
    pub rows_rejected: u64,
    /// Size of the input file in bytes.
    pub bytes_in: u64,
    /// One Parquet file per partition present in the input, sorted by partition.
    pub files: Vec<PartitionFile>,
    /// The quarantine file, when any row was rejected.
    pub quarantine: Option<QuarantineFile>,
    /// Spec columns whose input field is absent from the file's header or schema.
    pub missing_fields: Vec<String>,
}

/// Transforms the file at `input` (named `source_name` in quarantine records) as `spec` says,
/// writing outputs under `work_dir`.
pub fn transform_file(
    spec: &DatasetSpec,
    input: &Path,
    source_name: &str,
    work_dir: &Path,
    options: &TransformOptions,
) -> Result<TransformOutput, TransformError> {
    let bytes_in = std::fs::metadata(input)
        .map_err(|source| TransformError::Io { path: input.to_path_buf(), source })?
        .len();
    if bytes_in == 0 {
        return Err(TransformError::EmptyFile);
    }
    let mut sink = sink::RowSink::new(spec, source_name, work_dir, options)?;
    match spec.input.format {
        InputFormat::Csv => {
            let reader = read::open_text(input, spec.input.max_record_bytes)?;
            csv_input::read_csv(spec, reader, &mut sink)?;
        }
        InputFormat::JsonLines => {
            let reader = read::open_text(input, spec.input.max_record_bytes)?;
            jsonl_input::read_jsonl(spec, reader, &mut sink)?;
        }
        InputFormat::Parquet => parquet_input::read_parquet(spec, input, options, &mut sink)?,
    }
    let mut output = sink.finish()?;
    output.bytes_in = bytes_in;
    Ok(output)
}

#[cfg(test)]
mod tests;
