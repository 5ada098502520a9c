//! The typed failures of one file. Each names what is wrong in words an operator can act on.

use std::path::PathBuf;

use graphetl_core::ErrorName;

/// Why a file could not be transformed. Nothing is published when this is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// The file has no bytes at all.
    #[error("the file is empty (0 bytes)")]
    EmptyFile,
    /// The file has bytes but no data: a gzip of nothing, or only blank lines.
    #[error(
        "the file has no data: nothing is left after gzip decompression and blank lines (expected at least a header)"
    )]
    NoData,
    /// The gzip stream is truncated or corrupt.
    #[error("the gzip stream is truncated or corrupt: {message}")]
    Gzip {
        /// The decoder's message.
        message: String,
    },
    /// A line or record is not valid UTF-8.
    #[error("row {row}: the text is not valid UTF-8")]
    InvalidUtf8 {
        /// 1-based row (JSON lines: line) number.
        row: u64,
    },
    /// A line or record exceeds the configured limit.
    #[error(
        "row {row}: a line is longer than input.max_record_bytes ({limit} bytes); is this the right format?"
    )]
    RecordTooLong {
        /// 1-based row (JSON lines: line) number.
        row: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The CSV header looks split by another delimiter.
    #[error(
        "the CSV header is one field containing '{found}'; the spec says delimiter '{expected}' (set input.delimiter = \"{found}\"?)"
    )]
    WrongDelimiter {
        /// The spec's delimiter.
        expected: char,
        /// The delimiter the header seems to use.
        found: char,
    },
    /// The CSV could not be parsed.
    #[error("row {row}: malformed CSV: {message}")]
    Csv {
        /// 1-based data row number.
        row: u64,
        /// The parser's message.
        message: String,
    },
    /// The file's header or schema does not have what the spec needs.
    #[error("the file does not match the spec: {message}")]
    SchemaMismatch {
        /// What is missing or incompatible.
        message: String,
    },
    /// A file the spec says is Parquet does not have Parquet's magic bytes.
    #[error(
        "the file is not Parquet: it does not start and end with the magic bytes PAR1 (input.format = \"parquet\" in the dataset spec; is it {looks_like}?)"
    )]
    NotParquet {
        /// What the first bytes look like (gzip, text, ...).
        looks_like: &'static str,
    },
    /// The Parquet input could not be read.
    #[error("cannot read the Parquet input: {message}")]
    Parquet {
        /// The reader's message.
        message: String,
    },
    /// A bad row in a spec with `on_bad_row = "fail_file"`.
    #[error(
        "row {row}: column {column}: {reason} (value {value:?}); on_bad_row = \"fail_file\" fails the whole file"
    )]
    BadRow {
        /// 1-based row number.
        row: u64,
        /// Output column name.
        column: String,
        /// The raw value (possibly shortened).
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Rows spread over more partitions than the spec allows one file.
    #[error(
        "the file's rows fall into more than {limit} partitions (partition.max_partitions_per_file = {limit} in the dataset spec); raise that key if the file really spans that many, or check the partition column's values"
    )]
    TooManyPartitions {
        /// The limit.
        limit: usize,
    },
    /// Local I/O failed (reading the input or writing the work directory).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Writing the Parquet output failed.
    #[error("cannot write Parquet output: {message}")]
    Output {
        /// The writer's message.
        message: String,
    },
}

impl TransformError {
    /// The stable error name Step Functions sees.
    pub fn error_name(&self) -> ErrorName {
        match self {
            TransformError::Io { .. } | TransformError::Output { .. } => ErrorName::Internal,
            _ => ErrorName::BadInput,
        }
    }
}
