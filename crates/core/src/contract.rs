//! The JSON contracts between states: Map items, Lambda events and their responses.
//!
//! These shapes are what the ASL passes around (`ItemSelector`, `ResultPath`), so a change here
//! is a change of the state machine's interface: keep fields stable, add rather than rename.
//! Fixture round-trip tests pin them.

use serde::{Deserialize, Serialize};

/// One Map item of the TransformFiles step: the event of the `transform` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformItem {
    /// Bucket holding the raw file (and the curated and quarantine outputs).
    pub bucket: String,
    /// Key of the raw file.
    pub key: String,
    /// Dataset name; its spec is read from `datasets/<dataset>.toml` in the bucket.
    pub dataset: String,
    /// The run (execution name) this item belongs to; carried into logs.
    pub run_id: String,
}

/// One object written by the transform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// Object key.
    pub key: String,
    /// Hive partition path, e.g. `dt=2026-11-20/hour=03` (empty when unpartitioned).
    pub partition: String,
    /// Rows in the object.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// What the transform did with one file: the response of the `transform` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileResult {
    /// Bucket of the raw file.
    pub bucket: String,
    /// Key of the raw file.
    pub key: String,
    /// Dataset name.
    pub dataset: String,
    /// Rows read (data rows, header excluded).
    pub rows_in: u64,
    /// Rows written to curated Parquet.
    pub rows_written: u64,
    /// Rows sent to quarantine (`rows_in = rows_written + rows_rejected`).
    pub rows_rejected: u64,
    /// Size of the raw file in bytes.
    pub bytes_in: u64,
    /// Curated Parquet objects, one per partition present in the file.
    pub outputs: Vec<OutputFile>,
    /// The quarantine object, when any row was rejected.
    pub quarantine: Option<OutputFile>,
    /// Spec columns whose input field is absent from the file's header or schema (all null).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_fields: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_item_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/transform-item.json");
        let item: TransformItem = serde_json::from_str(fixture)?;
        assert_eq!(item.key, "raw/service-calls/dt=2026-11-20/hour=03/part-00000.json.gz");
        let back: serde_json::Value = serde_json::to_value(&item)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }

    #[test]
    fn transform_item_rejects_unknown_and_missing_fields() {
        let unknown = r#"{"bucket":"b","key":"k","dataset":"d","run_id":"r","extra":1}"#;
        assert!(serde_json::from_str::<TransformItem>(unknown).is_err());
        let missing = r#"{"bucket":"b","key":"k","run_id":"r"}"#;
        let e = serde_json::from_str::<TransformItem>(missing).err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("dataset")));
    }

    #[test]
    fn file_result_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/file-result.json");
        let result: FileResult = serde_json::from_str(fixture)?;
        assert_eq!(result.rows_in, result.rows_written + result.rows_rejected);
        let back: serde_json::Value = serde_json::to_value(&result)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }
}
