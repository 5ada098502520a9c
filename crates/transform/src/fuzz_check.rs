//! The readers' property on arbitrary input, as code: whatever the bytes, [`transform_file`]
//! returns (no panic, no hang), and when it succeeds every row read is either written or
//! quarantined. The cargo-fuzz targets in `fuzz/` and the property tests call these functions,
//! so the fuzzer and the stable suite check one property. Only built for tests and with the
//! `fuzzing` feature.

use std::path::Path;

use graphetl_core::DatasetSpec;

use crate::{TransformOptions, transform_file};

const PRODUCTS: &str = include_str!("../../../datasets/products.toml");
const SERVICE_CALLS: &str = include_str!("../../../datasets/service-calls.toml");

/// Why an input broke the property.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The bundled spec the check uses does not parse (a bug in the check, not the input).
    #[error("the check's spec is invalid: {0}")]
    Spec(String),
    /// The temporary directory or input file could not be made.
    #[error("cannot set up the input: {0}")]
    Setup(std::io::Error),
    /// A successful transform lost or invented rows.
    #[error("rows in {rows_in} != rows written {rows_written} + rows quarantined {rows_rejected}")]
    RowsLost {
        /// Rows read.
        rows_in: u64,
        /// Rows written to Parquet.
        rows_written: u64,
        /// Rows quarantined.
        rows_rejected: u64,
    },
}

/// The reader a check exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// CSV (the products spec).
    Csv,
    /// JSON lines (the service-calls spec).
    JsonLines,
    /// The gzip wrapper around JSON lines: the bytes are the compressed stream.
    Gzip,
    /// Parquet (the products spec read as Parquet); the bytes are framed as a footer too.
    Parquet,
}

fn spec_for(reader: Reader) -> Result<DatasetSpec, CheckError> {
    let text = match reader {
        Reader::Csv => PRODUCTS.to_owned(),
        Reader::JsonLines | Reader::Gzip => SERVICE_CALLS.to_owned(),
        Reader::Parquet => PRODUCTS
            .replace("format = \"csv\"", "format = \"parquet\"")
            .replace("delimiter = \",\"\n", "")
            .replace("header = true\n", ""),
    };
    let mut spec = DatasetSpec::from_toml_str(&text, "fuzz.toml")
        .map_err(|e| CheckError::Spec(e.to_string()))?;
    // A small record limit makes the line guard reachable by short inputs.
    spec.input.max_record_bytes = 1024;
    Ok(spec)
}

fn run_one(spec: &DatasetSpec, dir: &Path, name: &str, bytes: &[u8]) -> Result<(), CheckError> {
    let input = dir.join(name);
    std::fs::write(&input, bytes).map_err(CheckError::Setup)?;
    let options = TransformOptions { batch_rows: 7, row_group_rows: 13, ..Default::default() };
    let out_dir = dir.join(format!("{name}.out"));
    match transform_file(spec, &input, name, &out_dir, &options) {
        Ok(out) if out.rows_in != out.rows_written + out.rows_rejected => {
            Err(CheckError::RowsLost {
                rows_in: out.rows_in,
                rows_written: out.rows_written,
                rows_rejected: out.rows_rejected,
            })
        }
        Ok(_) | Err(_) => Ok(()),
    }
}

/// Runs `data` through `reader`; a panic inside is the fuzzer's finding.
pub fn check_input(reader: Reader, data: &[u8]) -> Result<(), CheckError> {
    let spec = spec_for(reader)?;
    let dir = tempfile::tempdir().map_err(CheckError::Setup)?;
    match reader {
        Reader::Csv => run_one(&spec, dir.path(), "input.csv", data),
        Reader::JsonLines => run_one(&spec, dir.path(), "input.jsonl", data),
        Reader::Gzip => {
            run_one(&spec, dir.path(), "input.json.gz", data)?;
            // The same bytes behind a valid gzip header, so the decoder gets past the magic.
            let mut framed = vec![0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
            framed.extend_from_slice(data);
            run_one(&spec, dir.path(), "framed.json.gz", &framed)
        }
        Reader::Parquet => {
            run_one(&spec, dir.path(), "input.parquet", data)?;
            // The bytes as a footer: PAR1, then the bytes, their length and PAR1 again.
            let mut framed = b"PAR1".to_vec();
            framed.extend_from_slice(data);
            let n = u32::try_from(data.len()).unwrap_or(u32::MAX);
            framed.extend_from_slice(&n.to_le_bytes());
            framed.extend_from_slice(b"PAR1");
            run_one(&spec, dir.path(), "framed.parquet", &framed)
        }
    }
}
